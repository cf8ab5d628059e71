"""Regression tests for the report defects of issue 13 — each fails on the code before the fix:

1. a re-run reported next to its original counted twice (results, findings, read / rejected);
2. a bad review with no reason (无从判断) counted as a mention of 其他;
3. the Excel sheets 期间对比 / 预测 formatted every row ``0.00``, 方向 min/max, 达标 TRUE/FALSE;
4. the satisfaction card judged 差评率 ≤ 15 % instead of seed 001's CSAT ≥ 85 %;
5. a change that rounds to zero (▼ −0.0 pp) shown green.

The fixture is tests/test_report.py's (six conversations worked out by hand).
"""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import date, timedelta
from pathlib import Path

import pytest

pytest.importorskip("pandas")
openpyxl = pytest.importorskip("openpyxl")

from tests.test_report import CONVS, FINDINGS, cfg, kpi, report, runs, write_run  # noqa: E402,F401 — fixtures reused


def _rejects(run: Path, rows: list[dict]) -> None:
    (run / "rejects.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _reject(line: int, reason: str, cid: str | None = None) -> dict:
    return {"source": "in/day1.jsonl", "line": line, "row": None, "id": cid, "reason": reason, "detail": "…"}


def _sheet_rows(ws, first_col_value: str) -> dict[str, list]:
    """label → its row's cells, for a sheet whose first column holds labels."""
    return {row[0].value: list(row) for row in ws.iter_rows() if row[0].value is not None and row[0].value != first_col_value}


# ------------------------------------------------------------------------------------------------ 1. re-runs
@pytest.fixture(scope="module")
def rerun(tmp_path_factory):
    """Day 1 inspected, then re-run the next day with fixed rules and a repaired record; day 2 once.

    original  (finished 11-02): c1 c2 c3;  rejects: line 5 json.invalid, line 6 id c9 turns.missing
    re-run    (finished 11-03): c1 c2 c3 c9 (c2: 95, the forbidden phrase was a false alarm); rejects: line 5
    day 2     (finished 11-03): c4 c5 c6
    Truth: 7 conversations inspected, 1 rejected, 8 read; c2 scores 95; forbidden.phrase in c3 only.
    """
    from tests.test_report import D1

    root = tmp_path_factory.mktemp("rerun")
    orig = write_run(root / "day1", CONVS[:3], FINDINGS, {
        "started_at": "2026-11-02T01:00:00+08:00", "finished_at": "2026-11-02T01:05:00+08:00",
        "counts": {"read": 5, "inspected": 3, "rejected": 2, "rejects_by_reason": {"json.invalid": 1, "turns.missing": 1}}, "mask": True})
    _rejects(orig, [_reject(5, "json.invalid"), _reject(6, "turns.missing", "c9")])
    fixed_c2 = CONVS[1][:6] + (95.0, "优") + CONVS[1][8:]
    c9 = ("c9", D1, "chat", "A2", "李娜", "二组", 80.0, "良", False, False, 15.0, 15.0, None, None, "neutral", "neutral", "neutral", "物流")
    fixed_findings = [f for f in FINDINGS if not (f[0] == "c2" and f[1] == "forbidden.phrase")]
    again = write_run(root / "day1-rerun", [CONVS[0], fixed_c2, CONVS[2], c9], fixed_findings, {
        "started_at": "2026-11-03T09:00:00+08:00", "finished_at": "2026-11-03T09:05:00+08:00",
        "counts": {"read": 5, "inspected": 4, "rejected": 1, "rejects_by_reason": {"json.invalid": 1}}, "mask": True})
    _rejects(again, [_reject(5, "json.invalid")])
    day2 = write_run(root / "day2", CONVS[3:], FINDINGS, {
        "started_at": "2026-11-03T01:00:00+08:00", "finished_at": "2026-11-03T01:05:00+08:00",
        "counts": {"read": 3, "inspected": 3, "rejected": 0, "rejects_by_reason": {}}, "mask": True})
    return orig, again, day2


@pytest.mark.parametrize("order", [(1, 0, 2), (0, 1, 2), (2, 1, 0)], ids=["rerun-first", "original-first", "reversed"])
def test_a_rerun_counts_each_conversation_once_the_latest_wins(rerun, cfg, order):
    from pipeline.report.load import load_runs
    from pipeline.report.metrics import compute

    rs = load_runs([rerun[i] for i in order])
    r = compute(rs, cfg)
    cov = r.meta["coverage"]
    assert (cov["inspected"], cov["rejected"], cov["read"]) == (7, 1, 8)  # before: 7 / 13 read, 3 rejected
    assert cov["coverage"] == pytest.approx(7 / 8) and cov["rejects_by_reason"] == {"json.invalid": 1}
    scores = rs.results.set_index("id")["score"]
    assert scores["c2"] == 95.0 and scores.index.is_unique  # the re-run's result, whatever the order given
    hits = r.rule_hits.set_index("rule")
    assert hits.loc["forbidden.phrase", "conversations"] == 1  # the original run's c2 finding went with its result
    assert hits.loc["greeting.missing", "findings"] == 1  # c2's greeting finding counted once, not twice
    note = next(n for n in r.notes if n.startswith("重复会话"))
    assert "3 个会话结果、2 条拒收" in note and f"{rerun[0]} 去掉" in note and f"由较新的 {rerun[1]} 取代" in note


def test_one_run_keeps_its_own_rejected_repeat(tmp_path, cfg):
    """A repeated id inside one run is a reject (id.duplicate) next to its result: both were read."""
    from pipeline.report.load import load_runs
    from pipeline.report.metrics import compute

    run = write_run(tmp_path / "run", CONVS[:1], [], {"finished_at": "2026-11-02T01:00:00+08:00", "mask": True,
                                                      "counts": {"read": 2, "inspected": 1, "rejected": 1,
                                                                 "rejects_by_reason": {"id.duplicate": 1}}})
    _rejects(run, [_reject(2, "id.duplicate", "c1")])
    r = compute(load_runs([run]), cfg)
    assert (r.meta["coverage"]["read"], r.meta["coverage"]["rejected"]) == (2, 1) and not any("重复会话" in n for n in r.notes)


# ------------------------------------------------------------------------------------------------ 2. 无从判断 is no mention
def test_a_fallback_is_no_mention(tmp_path, cfg, report):
    from pipeline.report.load import load_runs
    from pipeline.report.metrics import compute
    from pipeline.report.reasons import load_classifier

    cl = load_classifier(cfg).classify("一般", frozenset())
    assert (cl.primary, cl.basis, cl.classes) == ("其他", "fallback", [])  # before: classes ["其他"]
    silent = [("c7",) + CONVS[2][1:12] + (1.0, None) + CONVS[2][14:]]  # rated 1, no comment, no finding
    b = compute(load_runs([write_run(tmp_path / "run", silent, [], None)]), cfg).bad_reviews["by_class"].set_index("reason")
    assert (b.loc["其他", "count"], b.loc["其他", "by_fallback"]) == (1, 1)
    assert b["comment_mentions"].sum() == 0 and b["finding_mentions"].sum() == 0
    # c2 says 态度差 and has a greeting.missing finding: the customer named 服务态度; the finding points at 其他
    # (seed 004 其他因素: 未按照公司规定的服务流程操作) — counted apart, not as the customer's mention
    bc = report.bad_reviews["by_class"].set_index("reason")
    assert bc.loc["服务态度", "comment_mentions"] == 1 and bc.loc["其他", "comment_mentions"] == 0
    assert bc.loc["其他", "finding_mentions"] == 1 and bc.loc["服务态度", "finding_mentions"] == 2  # c2, c3: forbidden.phrase


# ------------------------------------------------------------------------------------------------ 3. Excel number formats
def _with_forecasts(report):
    from pipeline.report.forecast import linear_forecast

    days = [date(2026, 10, 20) + timedelta(days=i) for i in range(14)]
    fc = {"conversations": linear_forecast("conversations", days, [21964.0 + 10 * i for i in range(14)], 7, total=True),
          "first_response_sla_compliance": linear_forecast("x", days, [0.9 - 0.001 * i for i in range(14)], 7, bounds=(0, 1)),
          "avg_score": linear_forecast("avg_score", days, [80.0 + (i % 3) for i in range(14)], 7, bounds=(0, 100))}
    return dataclasses.replace(report, forecasts=fc)


def test_xlsx_formats_each_row_by_its_metric(report, tmp_path):
    from pipeline.report.xlsx import render_xlsx

    out = tmp_path / "r.xlsx"
    render_xlsx(_with_forecasts(report), out)
    wb = openpyxl.load_workbook(out)
    comp = _sheet_rows(wb["期间对比"], "指标")
    header = [c.value for c in next(r for r in wb["期间对比"].iter_rows() if r[0].value == "指标")]
    col = {h: i for i, h in enumerate(header)}
    expected = {"红线率": "0.0%", "质检会话数": "#,##0", "首次响应 均值": "0.0", "平均分": "0.0", "客户满意度 CSAT": "0.0%"}
    for label, fmt in expected.items():
        row = comp[label]
        assert row[col["本期"]].number_format == fmt and row[col["上期"]].number_format == fmt, label  # before: 0.00
    assert comp["红线率"][col["变化"]].number_format == "+0.0%;-0.0%;0.0%"
    assert comp["质检会话数"][col["本期"]].value == 3  # day 2
    assert comp["平均分"][col["方向"]].value == "至少" and comp["红线率"][col["方向"]].value == "至多"  # before: min / max
    assert comp["平均分"][col["达标"]].value == "是" and comp["首响达标率"][col["达标"]].value == "否"  # before: TRUE / FALSE
    assert comp["平均分"][col["目标"]].number_format == "0.0" and comp["首响达标率"][col["目标"]].number_format == "0.0%"
    fc = wb["预测"]
    formats = {(r[0].value, r[1].value): r[2].number_format for r in fc.iter_rows() if r[0].value and r[1].value not in (None, "日期")}
    assert formats[("质检会话数", "下期合计")] == "#,##0" and formats[("首响达标率", "下期日均")] == "0.0%"
    assert formats[("平均分", "下期日均")] == "0.0"
    overview = {r[1].value: r for r in wb["概览"].iter_rows() if r[1].value}
    assert overview["fatal_rate"][2].number_format == "0.0%" and overview["conversations"][2].number_format == "#,##0"
    assert overview["avg_score"][6].value == "否" and overview["fatal_rate"][4].value == "至多"  # 440/6 < 80


# ------------------------------------------------------------------------------------------------ 4. CSAT
def test_csat_is_judged_against_seed_001(report, cfg, tmp_path):
    from pipeline.report.cli import headline
    from pipeline.report.html import render_html

    csat = kpi(report, "csat")  # ratings 5, 1, 2, 2, 4: two of five at 4 or above
    assert (csat.value, csat.n, csat.target, csat.direction, csat.met) == (pytest.approx(2 / 5), 5, 0.85, "min", False)
    bad = kpi(report, "bad_rating_rate")
    assert bad.value == pytest.approx(3 / 5) and bad.target is None  # its own metric; seed 001's 85 % is CSAT's target
    page = render_html(report, {})
    card = page.split('data-kpi="csat"')[1].split('<div class="card"')[0]
    assert "≥ 85.0% 未达标" in card and "n = 5" in card
    assert "达标" not in page.split('data-kpi="bad_rating_rate"')[1].split('<div class="card"')[0]
    assert "✗ 客户满意度 CSAT 40.0 % (目标 ≥ 85 %)" in headline(report, tmp_path / "r.html")
    daily = report.daily.set_index("day")["csat"]
    assert list(daily) == [pytest.approx(1 / 3), pytest.approx(1 / 2)]  # day 1: 5 1 2; day 2: 2 4


def test_csat_satisfied_level_is_configured(runs, cfg):
    from pipeline.report.load import load_runs
    from pipeline.report.metrics import compute

    strict = copy.deepcopy(cfg)
    strict["report"]["csat_satisfied_at_least"] = 5
    assert kpi(compute(load_runs(runs), strict), "csat").value == pytest.approx(1 / 5)


# ------------------------------------------------------------------------------------------------ 5. a change that rounds to zero
@pytest.mark.parametrize("key, kind, change, arrow, verdict, text", [
    ("fatal_rate", "pct", -0.0004, "", None, "持平"),  # before: ▼ -0.0 个百分点, green
    ("fatal_rate", "pct", 0.0004, "", None, "持平"),
    ("fatal_rate", "pct", -0.0006, "▼", "good", "-0.1 个百分点"),
    ("csat", "pct", -0.012, "▼", "bad", "-1.2 个百分点"),
    ("avg_score", "score", 0.04, "", None, "持平"),
    ("avg_score", "score", 2.0, "▲", "good", "+2.0"),
    ("avg_response_s", "seconds", -0.049, "", None, "持平"),
    ("conversations", "count", 0.4, "", None, "持平"),
    ("conversations", "count", 1200.0, "▲", None, "+1,200"),
])
def test_change_is_judged_as_shown(key, kind, change, arrow, verdict, text):
    from pipeline.report.change import judge_change
    from pipeline.report.html_base import change_cell

    c = judge_change(key, kind, change)
    assert (c.arrow, c.verdict, c.text) == (arrow, verdict, text)
    shown = change_cell(key, kind, change)
    assert text in shown and ("good" in shown) == (verdict == "good") and ("bad" in shown) == (verdict == "bad")
    assert ("▼" in shown or "▲" in shown) == bool(arrow)


def test_xlsx_change_that_rounds_to_zero_is_neutral(report, tmp_path):
    from pipeline.report.xlsx import render_xlsx

    periods = copy.deepcopy(report.periods)
    for row in periods["comparison"]:
        if row["key"] == "fatal_rate":
            row["current"], row["previous"], row["change"] = 0.0047, 0.0051, -0.0004
    out = tmp_path / "r.xlsx"
    render_xlsx(dataclasses.replace(report, periods=periods), out)
    ws = openpyxl.load_workbook(out)["期间对比"]
    header = [c.value for c in next(r for r in ws.iter_rows() if r[0].value == "指标")]
    rows = _sheet_rows(ws, "指标")
    fatal, score = rows["红线率"], rows["平均分"]
    i, t = header.index("变化"), header.index("走向")
    assert fatal[i].value == 0 and fatal[t].value == "持平" and getattr(fatal[t].font.color, "type", None) != "rgb"  # no colour, no arrow
    assert score[t].value == "▲ 变好" and score[t].font.color.rgb.endswith("2F8A4A")  # 185/3 → 85: up and good
