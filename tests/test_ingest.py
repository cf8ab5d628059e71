"""Read + validate: every input record becomes exactly one Conversation or one Reject."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.ingest import InputError, Validator, detect_format, expand_inputs, read_inputs
from pipeline.schema import Conversation, Reject

CONFIG = {"limits": {"max_turns": 2000, "max_turn_chars": 20000, "max_line_bytes": 10_000_000}}
SMALL = {"limits": {"max_turns": 3, "max_turn_chars": 50, "max_line_bytes": 300}}


def rec(**kw) -> dict:
    base = {"id": "c1", "turns": [{"role": "customer", "text": "在吗", "ts": 0},
                                  {"role": "agent", "text": "您好,请问有什么可以帮您?", "ts": 5}]}
    base.update(kw)
    return base


def line(obj) -> bytes:
    return orjson.dumps(obj)


def write(tmp_path: Path, name: str, lines: list[bytes]) -> Path:
    p = tmp_path / name
    p.write_bytes(b"\n".join(lines) + b"\n")
    return p


def read(paths, config=CONFIG, columns=None) -> list[Conversation | Reject]:
    return list(read_inputs([str(p) for p in paths], config, columns))


def one(tmp_path: Path, raw: bytes, config=CONFIG) -> Conversation | Reject:
    out = read([write(tmp_path, "in.jsonl", [raw])], config)
    assert len(out) == 1
    return out[0]


# ---------------------------------------------------------------------------------------------
# rejects: one bad-input kind → one reason code

T = {"role": "agent", "text": "hi", "ts": 0}

REJECTS = [
    ("json_syntax", b'{"id": "c1", "turns": [', CONFIG, "json.invalid"),
    ("json_trailing_comma", b'{"id": "c1",}', CONFIG, "json.invalid"),
    ("json_array_of_records", b'[{"id": "c1"}]', CONFIG, "record.not_object"),
    ("json_string", b'"hello"', CONFIG, "record.not_object"),
    ("json_number", b"42", CONFIG, "record.not_object"),
    ("json_null", b"null", CONFIG, "record.not_object"),
    ("id_absent", line({"turns": [T]}), CONFIG, "id.missing"),
    ("id_null", line({"id": None, "turns": [T]}), CONFIG, "id.missing"),
    ("id_empty", line({"id": "", "turns": [T]}), CONFIG, "id.missing"),
    ("id_blank", line({"id": "  ", "turns": [T]}), CONFIG, "id.missing"),
    ("id_list", line({"id": ["c1"], "turns": [T]}), CONFIG, "id.missing"),
    ("id_bool", line({"id": True, "turns": [T]}), CONFIG, "id.missing"),
    ("id_float", line({"id": 1.5, "turns": [T]}), CONFIG, "id.missing"),
    ("turns_absent", line({"id": "c1"}), CONFIG, "turns.missing"),
    ("turns_null", line({"id": "c1", "turns": None}), CONFIG, "turns.missing"),
    ("turns_empty", line({"id": "c1", "turns": []}), CONFIG, "turns.missing"),
    ("turns_object", line({"id": "c1", "turns": {"0": T}}), CONFIG, "turns.missing"),
    ("turns_string", line({"id": "c1", "turns": "你好"}), CONFIG, "turns.missing"),
    ("turn_string", line({"id": "c1", "turns": [T, "你好"]}), CONFIG, "turn.not_object"),
    ("turn_null", line({"id": "c1", "turns": [None]}), CONFIG, "turn.not_object"),
    ("text_absent", line({"id": "c1", "turns": [{"role": "agent"}]}), CONFIG, "turn.text_missing"),
    ("text_null", line({"id": "c1", "turns": [{"role": "agent", "text": None}]}), CONFIG, "turn.text_missing"),
    ("text_number", line({"id": "c1", "turns": [{"role": "agent", "text": 5}]}), CONFIG, "turn.text_invalid"),
    ("text_list", line({"id": "c1", "turns": [{"role": "agent", "text": ["a"]}]}), CONFIG, "turn.text_invalid"),
    ("text_bool", line({"id": "c1", "turns": [{"role": "agent", "text": False}]}), CONFIG, "turn.text_invalid"),
    ("all_empty", line({"id": "c1", "turns": [{"role": "agent", "text": ""},
                                              {"role": "customer", "text": "  \n"}]}), CONFIG, "turns.all_empty"),
    ("role_unknown", line({"id": "c1", "turns": [{"role": "manager", "text": "hi"}]}), CONFIG, "turn.role_invalid"),
    ("role_absent", line({"id": "c1", "turns": [{"text": "hi"}]}), CONFIG, "turn.role_invalid"),
    ("role_number", line({"id": "c1", "turns": [{"role": 1, "text": "hi"}]}), CONFIG, "turn.role_invalid"),
    ("role_list", line({"id": "c1", "turns": [{"role": ["agent"], "text": "hi"}]}), CONFIG, "turn.role_invalid"),
    ("ts_word", line(rec(turns=[{"role": "agent", "text": "hi", "ts": "yesterday"}])), CONFIG, "turn.ts_invalid"),
    ("ts_bool", line(rec(turns=[{"role": "agent", "text": "hi", "ts": True}])), CONFIG, "turn.ts_invalid"),
    ("ts_list", line(rec(turns=[{"role": "agent", "text": "hi", "ts": [1]}])), CONFIG, "turn.ts_invalid"),
    ("ts_clock_only", line(rec(turns=[{"role": "agent", "text": "hi", "ts": "09:00:12"}])), CONFIG, "turn.ts_invalid"),
    ("ts_bad_date", line(rec(turns=[{"role": "agent", "text": "hi", "ts": "2026-13-45T00:00:00"}])), CONFIG,
     "turn.ts_invalid"),
    ("end_ts_word", line(rec(turns=[{"role": "agent", "text": "hi", "ts": 1, "end_ts": "soon"}])), CONFIG,
     "turn.ts_invalid"),
    ("too_many_turns", line(rec(turns=[T] * 4)), SMALL, "record.too_large"),
    ("turn_too_long", line(rec(turns=[{"role": "agent", "text": "长" * 51}])), SMALL, "turn.too_long"),
    ("line_too_long", line(rec(pad="x" * 400)), SMALL, "line.too_large"),
    ("line_too_long_junk", b"z" * 5000, SMALL, "line.too_large"),
    ("not_utf8_nor_gb18030", b'{"id": "c1", "x": "\xff\xfe\xfd"}', CONFIG, "encoding.invalid"),
    ("binary_junk", b"\x80\xff\x00\xfe", CONFIG, "encoding.invalid"),
]


@pytest.mark.parametrize("raw,config,reason", [r[1:] for r in REJECTS], ids=[r[0] for r in REJECTS])
def test_reject_reason(tmp_path, raw, config, reason):
    out = one(tmp_path, raw, config)
    assert isinstance(out, Reject), out
    assert out.reason == reason, out.detail
    assert out.detail and out.source.line == 1


def test_reject_names_field_and_id(tmp_path):
    out = one(tmp_path, line({"id": "c9", "turns": [T, {"role": "agent", "text": 3}]}))
    assert out.id == "c9"
    assert "turns[1].text" in out.detail


def test_json_error_carries_parser_message(tmp_path):
    out = one(tmp_path, b'{"id": "c1", "turns": [}')
    assert out.reason == "json.invalid" and "line 1 column" in out.detail


# ---------------------------------------------------------------------------------------------
# accepted, with warnings / conversions

ACCEPTS = [
    ("int_id", rec(id=123), lambda c: c.id == "123", []),
    ("role_alias_zh", rec(turns=[{"role": "客服", "text": "您好"}, {"role": "用户", "text": "在吗"}]),
     lambda c: [t.role for t in c.turns] == ["agent", "customer"], ["role.alias:客服=agent", "role.alias:用户=customer"]),
    ("role_alias_case", rec(turns=[{"role": "User", "text": "a"}, {"role": "AGENT", "text": "b"},
                                   {"role": "机器人", "text": "c"}, {"role": "系统", "text": "d"}]),
     lambda c: [t.role for t in c.turns] == ["customer", "agent", "bot", "system"], ["role.alias:User=customer"]),
    ("role_alias_warned_once", rec(turns=[{"role": "坐席", "text": "a"}, {"role": "坐席", "text": "b"}]),
     lambda c: c.warnings.count("role.alias:坐席=agent") == 1, []),
    ("some_empty_turns", rec(turns=[{"role": "customer", "text": "在吗"}, {"role": "agent", "text": ""},
                                    {"role": "agent", "text": "  "}]),
     lambda c: len(c.turns) == 3 and c.turns[1].text == "", ["turn.empty:1", "turn.empty:2"]),
    ("ts_backwards", rec(turns=[{"role": "customer", "text": "a", "ts": 0}, {"role": "agent", "text": "b", "ts": 20},
                                {"role": "customer", "text": "c", "ts": 10}, {"role": "agent", "text": "d", "ts": 30}]),
     lambda c: c.turns[2].ts == 10.0, ["ts.backwards:2"]),
    ("ts_missing_ok", rec(turns=[{"role": "customer", "text": "a"}, {"role": "agent", "text": "b", "ts": None}]),
     lambda c: [t.ts for t in c.turns] == [None, None], []),
    ("ts_numeric_string", rec(turns=[{"role": "customer", "text": "a", "ts": " 12.5 "}]),
     lambda c: c.turns[0].ts == 12.5, []),
    ("iso_from_started_at", rec(started_at="2026-11-20T09:00:00+08:00",
                                turns=[{"role": "customer", "text": "a", "ts": "2026-11-20T09:00:03+08:00"},
                                       {"role": "agent", "text": "b", "ts": "2026-11-20T01:00:15Z"}]),
     lambda c: [t.ts for t in c.turns] == [3.0, 15.0], []),
    ("iso_from_first_turn", rec(turns=[{"role": "customer", "text": "a", "ts": "2026-11-20 09:00:10"},
                                       {"role": "agent", "text": "b", "ts": "2026/11/20 09:01:00"}]),
     lambda c: [t.ts for t in c.turns] == [0.0, 50.0], []),
    ("iso_naive_takes_started_at_zone", rec(started_at="2026-11-20T09:00:00+08:00",
                                            turns=[{"role": "customer", "text": "a", "ts": "2026-11-20T09:00:30"}]),
     lambda c: c.turns[0].ts == 30.0, []),
    ("iso_end_ts", rec(turns=[{"role": "agent", "text": "a", "ts": "2026-11-20T09:00:00Z",
                               "end_ts": "2026-11-20T09:00:04.5Z"}]),
     lambda c: (c.turns[0].ts, c.turns[0].end_ts) == (0.0, 4.5), []),
    ("epoch_ms", rec(turns=[{"role": "customer", "text": "a", "ts": 1763600000000},
                            {"role": "agent", "text": "b", "ts": 1763600012500}]),
     lambda c: [t.ts for t in c.turns] == [0.0, 12.5], ["ts.epoch"]),
    ("end_ts_before_ts", rec(turns=[{"role": "agent", "text": "a", "ts": 10, "end_ts": 5}]),
     lambda c: c.turns[0].end_ts is None, ["end_ts.invalid:0"]),
    ("channel_alias", rec(channel="电话"), lambda c: c.channel == "phone", ["channel.alias:电话=phone"]),
    ("channel_case", rec(channel="Chat"), lambda c: c.channel == "chat", []),
    ("channel_unknown_kept", rec(channel="email"), lambda c: c.channel == "email", ["channel.unknown:email"]),
    ("channel_wrong_type", rec(channel=5), lambda c: c.channel is None, ["channel.invalid"]),
    ("agent_wrong_type", rec(agent="A017"), lambda c: c.agent is None, ["agent.invalid"]),
    ("customer_wrong_type", rec(customer=["U1"]), lambda c: c.customer is None, ["customer.invalid"]),
    ("labels_wrong_type", rec(labels="物流"), lambda c: c.labels is None, ["labels.invalid"]),
    ("started_at_bad", rec(started_at="tomorrow"), lambda c: c.started_at is None, ["started_at.invalid"]),
    ("rating_kept", rec(rating={"score": 1, "comment": "客服态度差"}),
     lambda c: c.rating == {"score": 1, "comment": "客服态度差"}, []),
    ("rating_score_out_of_range", rec(rating={"score": 9}), lambda c: c.rating["score"] is None, ["rating.invalid"]),
    ("rating_bare_number", rec(rating=2), lambda c: c.rating == {"score": 2, "comment": None}, []),
    ("rating_wrong_type", rec(rating="bad"), lambda c: c.rating is None, ["rating.invalid"]),
    ("extra_fields_ignored", rec(foo={"bar": 1}), lambda c: c.id == "c1", []),
]


@pytest.mark.parametrize("obj,check,warnings", [a[1:] for a in ACCEPTS], ids=[a[0] for a in ACCEPTS])
def test_accepted(tmp_path, obj, check, warnings):
    out = one(tmp_path, line(obj))
    assert isinstance(out, Conversation), out
    assert check(out), out
    for w in warnings:
        assert w in out.warnings, out.warnings
    if not warnings:
        assert not [w for w in out.warnings if not w.startswith("role.alias")], out.warnings


def test_fields_and_source(tmp_path):
    obj = {"id": "c-000123", "channel": "chat", "started_at": "2026-11-20T09:00:00+08:00",
           "agent": {"id": "A017", "name": "王芳", "team": "售后一组"}, "customer": {"id": "U88"},
           "turns": [{"role": "customer", "text": "在吗?我的快递三天了还没到", "ts": 0},
                     {"role": "agent", "text": "您好,很高兴为您服务,请问有什么可以帮您?", "ts": 12.5}],
           "rating": {"score": 1, "comment": "客服态度差"}, "labels": {"issue_type": "物流", "sentiment": "negative"}}
    p = write(tmp_path, "a.jsonl", [b"", b"   ", line(obj)])
    (c,) = read([p])
    assert c.source.path == str(p) and c.source.line == 3
    assert c.agent["name"] == "王芳" and c.customer == {"id": "U88"} and c.labels["issue_type"] == "物流"
    assert [(t.index, t.role, t.ts) for t in c.turns] == [(0, "customer", 0.0), (1, "agent", 12.5)]
    assert c.warnings == []


def test_gbk_line_accepted_with_warning(tmp_path):
    raw = '{"id": "g1", "turns": [{"role": "客服", "text": "您好,很高兴为您服务"}]}'.encode("gbk")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    c = one(tmp_path, raw)
    assert isinstance(c, Conversation)
    assert c.turns[0].text == "您好,很高兴为您服务" and c.turns[0].role == "agent"
    assert "encoding.gb18030" in c.warnings


def test_bom_stripped(tmp_path):
    c = one(tmp_path, b"\xef\xbb\xbf" + line(rec()))
    assert isinstance(c, Conversation) and c.warnings == []


def test_crlf_lines(tmp_path):
    p = tmp_path / "crlf.jsonl"
    p.write_bytes(line(rec(id="a")) + b"\r\n" + line(rec(id="b")) + b"\r\n")
    assert [c.id for c in read([p])] == ["a", "b"]


def test_gzip_jsonl(tmp_path):
    p = tmp_path / "in.jsonl.gz"
    with gzip.open(p, "wb") as f:
        f.write(line(rec(id="z1")) + b"\n\n" + b"{bad\n" + line(rec(id="z2")) + b"\n")
    out = read([p])
    assert [type(o).__name__ for o in out] == ["Conversation", "Reject", "Conversation"]
    assert [o.source.line for o in out] == [1, 3, 4]


def test_truncated_gzip_is_a_reject_not_a_crash(tmp_path):
    p = tmp_path / "cut.jsonl.gz"
    data = gzip.compress(b"".join(line(rec(id=f"t{i}", pad="填充" * 50)) + b"\n" for i in range(200)))
    p.write_bytes(data[: len(data) // 2])
    out = read([p])
    assert isinstance(out[-1], Reject) and out[-1].reason == "file.unreadable"
    assert all(isinstance(o, Conversation) for o in out[:-1]) and len(out) > 1


def test_duplicate_ids_across_files(tmp_path):
    a = write(tmp_path, "a.jsonl", [line(rec(id="d1")), line(rec(id="d2"))])
    b = write(tmp_path, "b.jsonl", [line(rec(id="d2")), line(rec(id="d3"))])
    out = read([a, b])
    assert [(o.id, type(o).__name__) for o in out] == [
        ("d1", "Conversation"), ("d2", "Conversation"), ("d2", "Reject"), ("d3", "Conversation")]
    assert out[2].reason == "id.duplicate" and f"{a} line 2" in out[2].detail


def test_rejected_id_does_not_block_a_later_good_record(tmp_path):
    p = write(tmp_path, "a.jsonl", [line({"id": "r1", "turns": []}), line(rec(id="r1"))])
    assert [type(o).__name__ for o in read([p])] == ["Reject", "Conversation"]


def test_counts_add_up_on_hostile_file(tmp_path):
    lines = [
        line(rec(id="ok1")),
        b"",
        b"\xef\xbb\xbf" + line(rec(id="ok2")),
        b"{not json",
        b"[]",
        line({"id": None, "turns": [T]}),
        '{"id": "gbk", "turns": [{"role": "坐席", "text": "您好"}]}'.encode("gbk"),
        b"\xff\xfe\x00\x01",
        line(rec(id="ok1")),
        b"   \t",
        line({"id": "x", "turns": [{"role": "agent", "text": "a" * 60}]}),
        line(rec(id="big", turns=[T] * 5)),
        b"y" * 1000,
        line({"id": "e", "turns": [{"role": "agent", "text": ""}]}),
        line(rec(id="ok3", channel=7, agent="A1")),
        b'{"id": "cut", "turns": [{"role": "agent", "text": "hi"',
    ]
    p = write(tmp_path, "hostile.jsonl", lines)
    out = read([p], SMALL)
    non_blank = sum(1 for raw in lines if raw.replace(b"\xef\xbb\xbf", b"").strip())
    assert len(out) == non_blank == 14
    accepted = [o.id for o in out if isinstance(o, Conversation)]
    assert accepted == ["ok1", "ok2", "gbk", "ok3"]
    reasons = sorted(o.reason for o in out if isinstance(o, Reject))
    assert reasons == sorted(["json.invalid", "record.not_object", "id.missing", "encoding.invalid", "id.duplicate",
                              "turn.too_long", "record.too_large", "line.too_large", "turns.all_empty",
                              "json.invalid"])
    assert len({o.source.line for o in out}) == len(out)


# ---------------------------------------------------------------------------------------------
# long tables

ZH_COLUMNS = {"id": "会话ID", "turn": "轮次", "role": "角色", "text": "内容", "ts": "时间", "agent_id": "工号"}
CSV_ROWS = [  # non-contiguous conversations, turn order not row order
    ("c2", "1", "客户", "在吗,快递没到", "2026-11-20 09:00:05", "A1"),
    ("c1", "2", "agent", "您好", "3", "A2"),
    ("c2", "0", "客服", "您好,亲", "2026-11-20 09:00:00", "A1"),
    ("c1", "1", "customer", "hi, \"quoted\"\nand a newline", "1", "A2"),
    ("c2", "2", "客服", "稍等", "2026-11-20 09:00:45", "A1"),
]


def csv_text(rows, header="会话ID,轮次,角色,内容,时间,工号") -> str:
    def q(v: str) -> str:
        return '"' + v.replace('"', '""') + '"' if any(ch in v for ch in ',"\n') else v
    return header + "\n" + "".join(",".join(q(v) for v in r) + "\n" for r in rows)


def test_csv_mapped_chinese_columns_non_contiguous(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text(csv_text(CSV_ROWS), encoding="utf-8")
    out = read([p], columns=ZH_COLUMNS)
    assert [o.id for o in out] == ["c2", "c1"]
    c2, c1 = out
    assert [t.text for t in c2.turns] == ["您好,亲", "在吗,快递没到", "稍等"]
    assert [t.role for t in c2.turns] == ["agent", "customer", "agent"]
    assert [t.ts for t in c2.turns] == [0.0, 5.0, 45.0]
    assert [t.index for t in c2.turns] == [0, 1, 2]
    assert c2.agent == {"id": "A1"}
    assert c2.source.row == 1 and c1.source.row == 2 and c2.source.path == str(p)
    assert c1.turns[0].text == 'hi, "quoted"\nand a newline' and c1.turns[0].ts == 1.0


def test_csv_gbk_and_gzip(tmp_path):
    p = tmp_path / "gbk.csv"
    p.write_bytes(csv_text(CSV_ROWS).encode("gbk"))
    out = read([p], columns=ZH_COLUMNS)
    assert [o.id for o in out] == ["c2", "c1"] and all("encoding.gb18030" in o.warnings for o in out)
    # ASCII header, GBK body: detected when the body fails to decode as UTF-8
    p2 = tmp_path / "gbk_body.csv.gz"
    p2.write_bytes(gzip.compress(csv_text(CSV_ROWS, "conversation_id,turn,role,text,ts,agent_id").encode("gbk")))
    out2 = read([p2])
    assert [o.id for o in out2] == ["c2", "c1"] and out2[0].turns[1].text == "在吗,快递没到"
    assert "encoding.gb18030" in out2[0].warnings


def test_csv_bad_rows_and_cells_are_rejects_with_rows(tmp_path):
    rows = CSV_ROWS[:2] + [("", "0", "agent", "no id", "0", "A"), ("c3", "x", "agent", "bad order", "0", "A"),
                           ("c4", "0", "经理", "bad role", "0", "A")]
    text = csv_text(rows) + "c5,1,2\n" + "c6,0,agent,ok,0,A\n"
    p = tmp_path / "t.csv"
    p.write_text(text, encoding="utf-8")
    out = read([p], columns=ZH_COLUMNS)
    got = [(o.source.row, getattr(o, "reason", "ok")) for o in out]
    assert got == [(1, "ok"), (2, "ok"), (3, "id.missing"), (4, "turn.order_invalid"), (5, "turn.role_invalid"),
                   (6, "row.invalid"), (7, "ok")]
    assert "row 5" in out[4].detail


def test_csv_missing_column_is_input_error(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text(csv_text(CSV_ROWS), encoding="utf-8")
    with pytest.raises(InputError, match=r"--column id="):
        read_inputs([str(p)], CONFIG)
    with pytest.raises(InputError, match="unknown column name"):
        read_inputs([str(p)], CONFIG, {"speaker": "角色"})
    with pytest.raises(InputError, match="'渠道'"):  # an explicitly mapped optional column must exist
        read_inputs([str(p)], CONFIG, dict(ZH_COLUMNS, channel="渠道"))


def test_csv_without_turn_or_ts_columns_uses_row_order(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("conversation_id,role,text\nk1,customer,在吗\nk2,agent,hi\nk1,agent,您好\n", encoding="utf-8")
    out = read([p])
    assert [(o.id, [t.text for t in o.turns]) for o in out] == [("k1", ["在吗", "您好"]), ("k2", ["hi"])]
    assert out[0].turns[0].ts is None


def test_parquet(tmp_path):
    t = pa.table({
        "conversation_id": [7, 8, 7, 8, 7],
        "turn": [2, 0, 0, 1, 1],
        "role": ["agent", "customer", "customer", "agent", "agent"],
        "text": ["再见", "你好", "在吗", "您好", "您好"],
        "ts": [30.0, 0.0, 0.0, float("nan"), 10.0],
        "channel": [None, "phone", "chat", None, None],
        "unused": ["x"] * 5,
    })
    p = tmp_path / "t.parquet"
    pq.write_table(t, p, row_group_size=2)
    out = read([p])
    assert [o.id for o in out] == ["7", "8"]
    assert [t.text for t in out[0].turns] == ["在吗", "您好", "再见"] and out[0].channel == "chat"
    assert [t.ts for t in out[1].turns] == [0.0, None] and out[1].channel == "phone"
    assert [o.source.row for o in out] == [1, 2]


def test_parquet_timestamp_column(tmp_path):
    import datetime as dt

    base = dt.datetime(2026, 11, 20, 1, 0, 0, tzinfo=dt.timezone.utc)
    t = pa.table({"conversation_id": ["p1", "p1"], "turn": [0, 1], "role": ["customer", "agent"],
                  "text": ["a", "b"], "ts": pa.array([base, base + dt.timedelta(seconds=20)], pa.timestamp("s", "UTC"))})
    p = tmp_path / "ts.parquet"
    pq.write_table(t, p)
    (c,) = read([p])
    assert [t.ts for t in c.turns] == [0.0, 20.0]


def test_duplicate_ids_across_formats(tmp_path):
    a = tmp_path / "a.csv"
    a.write_text("conversation_id,turn,role,text,ts\nx1,0,agent,hi,0\n", encoding="utf-8")
    b = write(tmp_path, "b.jsonl", [line(rec(id="x1"))])
    out = read([a, b])
    assert isinstance(out[0], Conversation) and out[1].reason == "id.duplicate" and f"{a} row 1" in out[1].detail


# ---------------------------------------------------------------------------------------------
# inputs and formats

def test_expand_inputs(tmp_path):
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    for name in ("b.jsonl", "a.csv", "sub/c.parquet", "notes.txt", ".hidden.jsonl"):
        (d / name).write_text("x")
    assert [p.name for p in expand_inputs([str(d)])] == ["a.csv", "b.jsonl", "c.parquet"]
    assert [p.name for p in expand_inputs([str(d / "*.jsonl"), str(d / "b.jsonl")])] == ["b.jsonl"]
    with pytest.raises(InputError, match="no file matches"):
        expand_inputs([str(d / "*.nothing")])
    with pytest.raises(InputError, match="no such file"):
        expand_inputs([str(tmp_path / "missing.jsonl")])


@pytest.mark.parametrize("name,fmt", [("a.jsonl", ("jsonl", False)), ("A.JSONL.GZ", ("jsonl", True)),
                                      ("a.ndjson", ("jsonl", False)), ("a.csv", ("csv", False)),
                                      ("a.csv.gz", ("csv", True)), ("a.parquet", ("parquet", False))])
def test_detect_format(name, fmt):
    assert detect_format(name) == fmt


@pytest.mark.parametrize("name,hint", [("a.json", "rename it to .jsonl"), ("a.json.gz", "jq"),
                                       ("a.xlsx", "CSV"), ("a.txt", "supported extensions")])
def test_unknown_format_is_input_error(tmp_path, name, hint):
    p = tmp_path / name
    p.write_text("{}")
    with pytest.raises(InputError, match=hint):
        read_inputs([str(p)], CONFIG)


def test_utf16_file_lines_are_rejects_that_say_so(tmp_path):
    p = tmp_path / "u16.jsonl"
    p.write_bytes((line(rec(id="a")) + b"\n" + line(rec(id="b")) + b"\n").decode().encode("utf-16"))
    out = read([p])
    # "\n" is b"\n\x00" in UTF-16-LE: the NUL after the last newline is a third (junk) line
    assert len(out) == 3 and {o.reason for o in out} == {"encoding.invalid"}
    assert all("UTF-16" in o.detail for o in out)


def test_not_really_gzip_is_input_error(tmp_path):
    p = tmp_path / "a.jsonl.gz"
    p.write_bytes(line(rec()))
    with pytest.raises(InputError, match="gzip"):
        read_inputs([str(p)], CONFIG)


def test_validator_single_record():
    v = Validator(CONFIG)
    c = v.validate(rec(id="rt"))
    assert isinstance(c, Conversation) and c.source.path == "<input>"
    assert v.validate(rec(id="rt")).reason == "id.duplicate"


# ---------------------------------------------------------------------------------------------
# property: nothing raises, every non-blank line is one Conversation or one Reject

VALID = [line(rec(id=f"v{i}")) for i in range(5)]
junk_line = st.binary(max_size=120).map(lambda b: b.replace(b"\n", b""))
json_line = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.sampled_from(["id", "turns", "role", "text", "ts"]),
                                                             kids, max_size=4),
    max_leaves=12,
).map(orjson.dumps)
TRICKY = [  # JSON that orjson rejects or that stretches the validator
    b'{"id": 123456789012345678901234567890, "turns": []}',
    b'{"id": "n", "turns": [{"role": "agent", "text": "a", "ts": 1e400}]}',
    b'{"id": "s", "turns": [{"role": "agent", "text": "\\ud800"}]}',
    b'{"id": "t", "turns": [{"role": "agent", "text": "a\tb"}]}',
    b'{"id": "u", "turns": [{"role": "agent", "text": "a", "ts": "NaN"}]}',
    b'{"id": "w", "turns": [{"role": "agent", "text": "a", "ts": -1e300}]}',
]
any_line = st.one_of(junk_line, json_line, st.sampled_from(VALID + TRICKY),
                     st.sampled_from([b"", b"  ", b"\r", b"\xef\xbb\xbf"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(any_line, max_size=25), max_line_bytes=st.integers(1, 400))
def test_property_counts_add_up(tmp_path, lines, max_line_bytes):
    p = tmp_path / "prop.jsonl"
    p.write_bytes(b"\n".join(lines))
    limits = {"max_turns": 3, "max_turn_chars": 40, "max_line_bytes": max_line_bytes}
    out = list(read_inputs([str(p)], {"limits": limits}))
    non_blank = [i + 1 for i, raw in enumerate(lines) if raw.removeprefix(b"\xef\xbb\xbf").strip()]
    assert len(out) == len(non_blank)
    assert [o.source.line for o in out] == non_blank
    assert all(isinstance(o, (Conversation, Reject)) for o in out)
