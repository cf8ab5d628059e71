"""pipeline.convert.convert_csds: CSDS topic file -> SPEC JSONL.

The synthetic tests always run; the real-file tests run when the staged CSDS copy exists
(``ZHIJIAN_CSDS_VAL`` overrides its location) and are skipped with the reason otherwise.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import SHARED_DATA
from pipeline.convert import CSDS_SEPARATOR, ConvertError, convert_csds

REAL_CSDS = Path(os.environ.get("ZHIJIAN_CSDS_VAL", SHARED_DATA / "csds_topic" / "val.json"))  # ../shared next to the repo
ROLES = {"agent", "customer", "system", "bot"}
ROLE_OF = {"客服": "agent", "用户": "customer", "商家": "customer", "物流师傅": "customer", "师傅": "customer"}


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def assert_spec_conversation(rec: dict) -> None:
    """The SPEC input contract: id string, non-empty turns of {role, text}; no invented fields."""
    assert isinstance(rec["id"], str) and rec["id"]
    assert isinstance(rec["turns"], list) and rec["turns"]
    for turn in rec["turns"]:
        assert turn["role"] in ROLES
        assert isinstance(turn["text"], str)
        assert "ts" not in turn and "end_ts" not in turn  # no timestamps in CSDS: metrics stay null
    assert rec["channel"] == "chat"
    assert rec["labels"]["issue_type"] is None
    assert isinstance(rec["labels"]["topics"], list) and rec["labels"]["topics"]


# --- synthetic: always runs ---------------------------------------------------------------------

def _write(tmp_path: Path, rows) -> Path:
    src = tmp_path / "val.json"
    src.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    return src


def test_synthetic_dialogues_roles_topics_and_order(tmp_path):
    d1 = CSDS_SEPARATOR.join(["用户:咨询订单号:[订单编号]", "客服:有什么问题我可以帮您处理或解决呢?", "用户:在吗"])
    d2 = CSDS_SEPARATOR.join(["商家:你好", "客服:您好", "物流师傅:送到了:放门口", "师傅:外屏裂"])
    rows = [
        {"Dialogue": d1, "Topic": "配送周期", "QASumm": "-", "AllTopic": "配送周期，联系配送"},
        {"Dialogue": d1, "Topic": "联系配送", "QASumm": "-", "AllTopic": "配送周期，联系配送"},
        {"Dialogue": d2, "Topic": "物流损", "QASumm": "-", "AllTopic": "物流损"},
    ]
    dst = tmp_path / "out" / "csds.jsonl"
    counts = convert_csds(_write(tmp_path, rows), dst)
    recs = read_jsonl(dst)
    assert [r["id"] for r in recs] == ["csds-val-0001", "csds-val-0002"]
    assert counts["rows"] == 3 and counts["conversations"] == 2 and counts["turns"] == 7
    assert recs[0]["labels"] == {"topics": ["配送周期", "联系配送"], "issue_type": None}
    assert recs[0]["turns"][0] == {"role": "customer", "text": "咨询订单号:[订单编号]"}  # split on the first ':'
    assert [t["role"] for t in recs[1]["turns"]] == ["customer", "agent", "customer", "customer"]
    assert recs[1]["turns"][2]["text"] == "送到了:放门口"
    assert counts["speakers"] == {"用户": 2, "客服": 2, "商家": 1, "物流师傅": 1, "师傅": 1}
    for rec in recs:
        assert_spec_conversation(rec)
    assert not (tmp_path / "out" / "csds.jsonl.tmp").exists()


@pytest.mark.parametrize(
    "dialogue, message",
    [("客服:您好" + CSDS_SEPARATOR + "经理:你好", "unknown speaker"), ("没有冒号的句子", "no 'speaker:' prefix")],
)
def test_synthetic_bad_utterances_fail_loudly(tmp_path, dialogue, message):
    src = _write(tmp_path, [{"Dialogue": dialogue, "Topic": "x"}])
    with pytest.raises(ConvertError, match=message):
        convert_csds(src, tmp_path / "out.jsonl")
    assert not (tmp_path / "out.jsonl").exists()


# --- the real staged file ------------------------------------------------------------------------

needs_real = pytest.mark.skipif(
    not REAL_CSDS.is_file(),
    reason=f"CSDS topic val.json not found at {REAL_CSDS} (set ZHIJIAN_CSDS_VAL to its path to run)",
)


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    dst = tmp_path_factory.mktemp("csds") / "csds_val.jsonl"
    counts = convert_csds(REAL_CSDS, dst)
    rows = json.loads(REAL_CSDS.read_text(encoding="utf-8"))
    return counts, read_jsonl(dst), rows


@needs_real
def test_real_777_conversations_in_first_appearance_order(real):
    counts, recs, rows = real
    assert counts["rows"] == len(rows) == 1277
    assert counts["conversations"] == len(recs) == 777
    assert [r["id"] for r in recs] == [f"csds-val-{n:04d}" for n in range(1, 778)]
    first_seen = list(dict.fromkeys(row["Dialogue"] for row in rows))
    # the agent turns of conversation n come from dialogue n, in order
    for dialogue, rec in zip(first_seen, recs):
        agents = [u.partition(":")[2] for u in dialogue.split(CSDS_SEPARATOR) if u.startswith("客服:")]
        assert [t["text"] for t in rec["turns"] if t["role"] == "agent"] == agents, rec["id"]


@needs_real
def test_real_every_utterance_is_a_turn_with_its_role(real):
    counts, recs, rows = real
    first_seen = list(dict.fromkeys(row["Dialogue"] for row in rows))
    n_utterances = sum(len(d.split(CSDS_SEPARATOR)) for d in first_seen)
    assert counts["turns"] == sum(len(r["turns"]) for r in recs) == n_utterances
    for dialogue, rec in zip(first_seen, recs):
        utterances = dialogue.split(CSDS_SEPARATOR)
        assert len(rec["turns"]) == len(utterances), rec["id"]
        for utterance, turn in zip(utterances, rec["turns"]):
            speaker, _, text = utterance.partition(":")
            assert turn == {"role": ROLE_OF[speaker], "text": text}, rec["id"]
    assert set(counts["speakers"]) <= set(ROLE_OF)
    assert counts["roles"]["agent"] == counts["speakers"]["客服"]
    # placeholders survive untouched
    assert any("[订单编号]" in t["text"] for r in recs for t in r["turns"])


@needs_real
def test_real_output_is_spec_json_with_topics(real):
    _, recs, rows = real
    topics: dict[str, list[str]] = {}
    for row in rows:
        topics.setdefault(row["Dialogue"], []).append(row["Topic"])
    for rec, expected in zip(recs, topics.values()):
        assert_spec_conversation(rec)
        assert rec["labels"]["topics"] == expected
