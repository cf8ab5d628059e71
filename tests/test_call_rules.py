"""Phone-call checks that need timing, not words (issue 18): interruption, silence, speech rate and
talk share — hit and miss cases through the real Inspector, with the thresholds of
pipeline/defaults.yaml ``calls:``; chats get null; out-of-order timestamps are left out, never a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import make_conversation

GREETING = ("agent", "您好，很高兴为您服务，请问有什么可以帮您？", 0.0, 5.0)


def _inspect(inspector, rows, channel="phone"):
    result = inspector.inspect(make_conversation(rows, channel=channel))
    return result, {f.rule: f for f in result.findings if f.rule.startswith("call.")}


def _calls(config):
    return config["calls"]


@pytest.mark.parametrize("overlaps, fires", [((1.5,), False), ((1.5, 2.0), True), ((0.3, 0.3, 0.3), False)])
def test_interruptions_count_overlaps_beyond_the_tolerance(inspector, config, overlaps, fires):
    rows, t = [GREETING], 6.0
    for overlap in overlaps:
        rows.append(("customer", "我想问一下这个订单能不能换一个颜色，因为", t, t + 5.0))
        rows.append(("agent", "可以的，我帮您登记。", t + 5.0 - overlap, t + 8.0))
        t += 9.0
    result, calls = _inspect(inspector, rows)
    counted = sum(o > _calls(config)["interruption_tolerance_s"] for o in overlaps)
    assert result.metrics["interruptions"] == counted
    assert ("call.interruption" in calls) is fires
    if fires:
        f = calls["call.interruption"]
        assert f.value == counted and f.turn == 1 and f.role == "customer"  # the turn cut into
        assert result.metrics["interruption_overlap_s"] == pytest.approx(sum(overlaps))


def test_a_long_gap_is_silence_but_not_after_an_announced_hold(inspector, config):
    limit = _calls(config)["silence_max_s"]
    question = ("customer", "我的退款到哪了？", 6.0, 8.0)
    dead_air = [GREETING, question, ("agent", "退款已经原路退回了。", 8.0 + limit + 5, 8.0 + limit + 9)]
    result, calls = _inspect(inspector, dead_air)
    assert calls["call.silence"].value == pytest.approx(limit + 5) and calls["call.silence"].turn == 2
    assert result.metrics["silence_max_s"] == pytest.approx(limit + 5)
    held = [GREETING, question, ("agent", "请您稍等，我帮您查询一下。", 9.0, 12.0), ("customer", "好的。", 12.5, 13.0),
            ("agent", "感谢您的耐心等待，退款已经原路退回了。", 13.0 + limit + 20, 13.0 + limit + 25)]
    result, calls = _inspect(inspector, held)
    assert "call.silence" not in calls and result.metrics["silence_max_s"] == 0.0
    short = [GREETING, question, ("agent", "退款已经原路退回了。", 8.0 + limit - 1, 8.0 + limit + 3)]
    assert "call.silence" not in _inspect(inspector, short)[1]


@pytest.mark.parametrize("seconds, pace", [(2.0, "过快"), (30.0, "过慢"), (7.0, None)])
def test_speech_rate_too_fast_or_too_slow(inspector, seconds, pace):
    text = "好的，这个问题我来给您详细说明一下处理的办法和时间。"  # 26 characters
    rows = [("agent", text, 0.0, seconds), ("customer", "好的，明白了。", seconds + 0.5, seconds + 2.0)]
    result, calls = _inspect(inspector, rows)
    assert result.metrics["agent_chars_per_s"] == pytest.approx(len(text) / seconds, abs=1e-3)
    if pace is None:
        assert "call.speech_rate" not in calls
    else:
        f = calls["call.speech_rate"]
        assert pace in f.message and f.value == pytest.approx(len(text) / seconds, abs=1e-3)


def test_talk_share_and_monologue(inspector, config):
    limit = _calls(config)["monologue_max_s"]
    long_talk = "会员积分可以抵扣现金，" * 40
    rows = [("agent", long_talk, 0.0, limit + 10.0), ("customer", "嗯。", limit + 10.5, limit + 11.0)]
    result, calls = _inspect(inspector, rows)
    talk = [f for f in result.findings if f.rule == "call.talk_share"]
    assert {round(f.value, 2) for f in talk} == {round((limit + 10) / (limit + 10.5), 2), limit + 10.0}
    assert all(f.turn == 0 for f in talk)
    balanced = [GREETING, ("customer", "我想问一下积分怎么用，能不能抵现金？", 5.5, 12.0), ("agent", "可以抵扣现金。", 12.5, 15.0)]
    assert "call.talk_share" not in _inspect(inspector, balanced)[1]


def test_a_chat_gets_null_never_a_guess(inspector):
    result, calls = _inspect(inspector, [("customer", "在吗", 0.0), ("agent", "您好，请问有什么可以帮您？", 50.0)], channel="chat")
    assert calls == {}
    for key in ("interruptions", "silence_total_s", "silence_max_s", "agent_talk_share", "agent_chars_per_s"):
        assert result.metrics[key] is None


def test_out_of_order_or_backwards_timestamps_are_left_out_not_a_crash(inspector):
    from pipeline.call_timing import measure

    rows = [GREETING, ("customer", "你好", 6.0, 8.0),
            ("agent", "请问有什么可以帮您？", 3.0, 4.0),  # starts before the turn before it (out of order)
            ("customer", "我想查订单", 10.0, 9.0),  # ends before it starts
            ("customer", "订单号是JD123", 11.0, 13.0), ("agent", "好的。", 13.5, 14.5)]
    conv = make_conversation(rows, channel="phone")
    timing = measure(conv, tolerance_s=0.5, min_gap_s=3, min_rate_turn_s=5)
    assert timing.skipped == [2, 3] and timing.metrics()["interruptions"] == 0
    result, _ = _inspect(inspector, rows)
    assert result.metrics["agent_talk_share"] is not None


def test_the_sample_calls_show_what_they_were_written_to_show(tmp_path):
    from pipeline.cli import main

    repo = Path(__file__).resolve().parents[1]
    assert main(["inspect", str(repo / "data/samples/calls.jsonl"), "--out", str(tmp_path / "o"), "--quiet", "--workers", "1"]) == 0
    got = {r["id"]: sorted({f["rule"] for f in r["findings"] if f["rule"].startswith("call.")})
           for r in map(json.loads, (tmp_path / "o" / "results.jsonl").read_text(encoding="utf-8").splitlines())}
    assert got == {"c-0001": [], "c-0002": ["call.interruption"], "c-0003": ["call.silence"], "c-0004": [],
                   "c-0005": ["call.speech_rate"], "c-0006": ["call.talk_share"]}


def test_the_report_shows_call_timing_per_agent(tmp_path):
    import openpyxl

    from pipeline.cli import main

    repo = Path(__file__).resolve().parents[1]
    run = tmp_path / "run"
    assert main(["inspect", str(repo / "data/samples/calls.jsonl"), "--out", str(run), "--quiet", "--workers", "1"]) == 0
    assert main(["report", str(run), "--out", str(tmp_path / "r.xlsx"), "--quiet"]) == 0
    ws = openpyxl.load_workbook(tmp_path / "r.xlsx")["通话节奏"]
    header = [c.value for c in ws[1]]
    (row,) = [dict(zip(header, (c.value for c in r))) for r in ws.iter_rows(min_row=2) if r[0].value == "A030"]
    assert row["有计时的通话"] == 6 and row["抢话/通"] == pytest.approx(3 / 6)
    for rule_header in ("抢话超标通话占比", "冷场通话占比", "语速超标通话占比", "占比/独白超标通话占比"):
        assert row[rule_header] == pytest.approx(1 / 6), rule_header  # one call of six shows each behaviour
    assert row["最长静音(s)"] == pytest.approx(40.5)
    wb = openpyxl.load_workbook(tmp_path / "r.xlsx")["通话节奏(团队)"]
    (team,) = [dict(zip([c.value for c in wb[1]], (c.value for c in r))) for r in wb.iter_rows(min_row=2)]
    assert team["团队"] == "热线服务组" and team["有计时的通话"] == 6 and team["抢话/通"] == pytest.approx(0.5)
    assert main(["report", str(run), "--out", str(tmp_path / "r.html"), "--quiet"]) == 0
    assert "通话节奏(电话,按坐席)" in (tmp_path / "r.html").read_text(encoding="utf-8")
