"""``zhijian estimate --sample FILE``: the file ``zhijian sample --out`` wrote (each row carries the
design) is the human sample, without ``--load`` — the same estimate as from the loaded sample, and
a clear refusal of a file that can't be used."""

from __future__ import annotations

import orjson
import pandas as pd
import pytest
from sqlalchemy import select

from test_sampling_cli import loaded  # noqa: F401 — the sample run copied and an empty workbench database (a fixture)

from pipeline.cli import main
from pipeline.workbench import review, users
from pipeline.workbench.db import Conversation
from pipeline.workbench.load import load_run


def _estimate(capsys, *args) -> dict:
    capsys.readouterr()
    assert main(["estimate", *args, "--json"]) == 0
    return orjson.loads(capsys.readouterr().out)


def test_estimate_from_a_sample_file_equals_the_loaded_sample(loaded, tmp_path, cfg, capsys):
    run, url, factory = loaded
    with factory() as s:
        load_run(s, run, config=cfg)
        s.commit()
    out = tmp_path / "s.jsonl"
    assert main(["sample", str(run), "--size", "30", "--by", "team", "--seed", "5", "--out", str(out)]) == 0
    rows = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert {orjson.dumps(r["design"], option=orjson.OPT_SORT_KEYS) for r in rows} == {
        orjson.dumps({"by": ["team"], "bands": "flagged", "score_cuts": cfg["sampling"]["score_cuts"],
                      "allocation": cfg["sampling"]["allocation"], "min_per_stratum": cfg["sampling"]["min_per_stratum"],
                      "seed": 5}, option=orjson.OPT_SORT_KEYS)}
    ids = [r["conversation_id"] for r in rows]
    with factory() as s:  # review 12 of them (nothing marked in the queue: no --load)
        insp = users.create_user(s, "i1", "i1-password", "inspector", config=cfg)
        for ext in ids[:12]:
            conv = s.scalar(select(Conversation).where(Conversation.ext_id == ext))
            r = review.start_review(s, conv, insp)
            for f in conv.findings:
                review.set_verdict(s, r, f, "rejected" if f.rule == "forbidden.phrase" else "confirmed", None, insp)
            review.submit_review(s, r, actor=insp, config=cfg)
        s.commit()

    from_file = _estimate(capsys, str(run), "--database-url", url, "--sample", str(out))
    assert "分层抽样 s.jsonl" in from_file["notes"][0] and "已复核并计入 12 个" in from_file["notes"][0]
    assert all(r["n"] == 12 for r in from_file["rows"])
    without = _estimate(capsys, str(run), "--database-url", url)
    assert "没有加载分层样本" in without["notes"][0]  # the default still reads the workbench

    # the same sample loaded into the workbench gives the same estimate
    assert main(["sample", str(run), "--size", "30", "--by", "team", "--seed", "5", "--out", str(tmp_path / "again.jsonl"),
                 "--load", "--database-url", url]) == 0
    from_db = _estimate(capsys, str(run), "--database-url", url)
    assert pd.DataFrame(from_db["rows"]).equals(pd.DataFrame(from_file["rows"]))


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    (b"", "no sampled conversation"),
    (b"not json\n", "not JSON lines"),
    (b'{"conversation_id": "s-0001", "stratum": "x"}\n', "draw the sample again"),
    (b'{"conversation_id": "s-0001", "design": {"by": ["nope"]}}\n', "design is not usable"),
])
def test_a_sample_file_that_cannot_be_used_is_refused(loaded, tmp_path, capsys, content, message):
    run, url, _ = loaded
    path = tmp_path / "bad.jsonl"
    if content is not None:
        path.write_bytes(content)
    assert main(["estimate", str(run), "--database-url", url, "--sample", str(path)]) == 2
    assert message in capsys.readouterr().err
