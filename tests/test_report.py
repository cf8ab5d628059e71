"""zhijian report: every number checked on a tiny fixture worked out by hand (see the table below),
plus the loader, the bad-review reasons, masking, the Excel output and the command line.

The fixture: two runs (one day each), six conversations, two agents, two teams.

    id  day  ch     agent team score grade fatal review 1st  avg  rating comment          sentiment start→end  issue
    c1  d1   chat   A1    一组  100   优    .     .      10   12   5      满意              neutral   neutral→neutral 物流
    c2  d1   chat   A1    一组   85   良    .     yes    40   30   1      客服态度差        negative  negative→neutral 物流
    c3  d1   phone  A2    二组    0   差    yes   yes    50   20   2      —                 negative  negative→negative 退款
    c4  d2   chat   A2    二组   90   优    .     .      20   15   —      —                 —         —              物流
    c5  d2   phone  A1    一组   70   中    .     yes    70   65   2      一般,打我电话…    neutral   negative→neutral 退款
    c6  d2   chat   A2    二组   95   优    .     .      —    —    4      很专业            positive  neutral→positive —
"""

from __future__ import annotations

import copy
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

D1, D2 = "2026-11-01", "2026-11-02"
RAW_PHONE = "13812345678"  # in an unmasked evidence (run A was inspected with --no-mask)
COMMENT_PHONE = "13912345678"  # in a rating comment: comments are never shown

CONVS = [
    # id, day, channel, agent, name, team, score, grade, fatal, review, first, avg, rating, comment, sentiment, start, end, issue
    ("c1", D1, "chat", "A1", "王芳", "一组", 100.0, "优", False, False, 10.0, 12.0, 5.0, "满意", "neutral", "neutral", "neutral", "物流"),
    ("c2", D1, "chat", "A1", "王芳", "一组", 85.0, "良", False, True, 40.0, 30.0, 1.0, "客服态度差", "negative", "negative", "neutral", "物流"),
    ("c3", D1, "phone", "A2", "李娜", "二组", 0.0, "差", True, True, 50.0, 20.0, 2.0, None, "negative", "negative", "negative", "退款"),
    ("c4", D2, "chat", "A2", "李娜", "二组", 90.0, "优", False, False, 20.0, 15.0, None, None, None, None, None, "物流"),
    ("c5", D2, "phone", "A1", "王芳", "一组", 70.0, "中", False, True, 70.0, 65.0, 2.0, f"一般,打我电话{COMMENT_PHONE}", "neutral", "negative", "neutral", "退款"),
    ("c6", D2, "chat", "A2", "李娜", "二组", 95.0, "优", False, False, None, None, 4.0, "很专业", "positive", "neutral", "positive", None),
]
# conversation, rule, severity, points, item, evidence
FINDINGS = [
    ("c2", "forbidden.phrase", "major", -10.0, "服务规范.服务忌语", "你明白吗"),
    ("c2", "greeting.missing", "minor", -5.0, "服务规范.开场问候", None),
    ("c3", "forbidden.phrase", "fatal", 0.0, "服务规范.红线忌语", "你有病"),
    ("c3", "complaint.risk", "major", -10.0, "加减分项.投诉风险", f"打{RAW_PHONE}投诉"),
    ("c5", "response.first_slow", "minor", -5.0, "业务能力.首次响应", None),
    ("c5", "response.slow", "minor", -3.0, "业务能力.回复时效", None),
    ("c5", "complaint.risk", "major", -10.0, "加减分项.投诉风险", "我要投诉"),
    ("c6", "praise", "bonus", 5.0, "加减分项.客户表扬", "很专业"),
]
# reviewers' verdicts on run A (docs/REPORTS.md "Verdicts"): c3's fatal forbidden.phrase is left unjudged
VERDICTS = [
    {"conversation_id": "c2", "rule": "forbidden.phrase", "verdict": "confirmed", "reviewer": "QA1"},
    {"conversation_id": "c2", "rule": "greeting.missing", "verdict": "rejected", "reviewer": "QA1"},
    {"conversation_id": "c3", "rule": "complaint.risk", "verdict": "confirmed", "reviewer": "QA1"},
    {"conversation_id": "c3", "rule": "empathy.missing", "verdict": "missed", "reviewer": "QA1"},
    {"conversation_id": "c1", "rule": None, "verdict": None, "human_score": 95.0, "reviewer": "QA2"},
]


def write_run(run: Path, convs, findings, manifest: dict | None, verdicts=None, customer_start: bool = True) -> Path:
    from pipeline.io.writers import FINDING_COLUMNS, RESULT_COLUMNS, arrow_schema

    run.mkdir(parents=True)
    rows = []
    for (cid, day, ch, aid, name, team, score, grade, fatal, review, first, avg, rating, comment, sent, start, end, issue) in convs:
        rows.append({
            "id": cid, "score": score, "grade": grade, "review_needed": review, "review_reasons": [], "findings": sum(f[0] == cid for f in findings),
            "deductions": 0.0, "fatal": fatal, "channel": ch, "started_at": f"{day}T10:00:00+08:00", "agent_id": aid, "agent_name": name,
            "agent_team": team, "rating_score": rating, "rating_comment": comment, "turns": 10, "first_response_s": first,
            "avg_response_s": avg, "max_response_s": avg, "issue_type": issue, "issue_type_confidence": 0.9 if issue else None,
            "sentiment": sent, "sentiment_confidence": 0.8 if sent else None, "customer_end": end, "customer_start": start,
            "warnings": [], "source_path": "x.jsonl", "source_line": 1, "source_row": None,
        })
    schema = arrow_schema(RESULT_COLUMNS)
    if customer_start:
        schema = schema.append(pa.field("customer_start", pa.string()))
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), run / "results.parquet")
    frows = []
    conv = {c[0]: c for c in convs}
    for cid, rule, sev, pts, item, ev in findings:
        if cid in conv:
            c = conv[cid]
            frows.append({"conversation_id": cid, "rule": rule, "category": rule, "severity": sev, "points": pts, "item": item, "turn": 1,
                          "role": "agent", "start": 0 if ev else None, "end": len(ev) if ev else None, "evidence": ev, "message": rule,
                          "entry": None, "value": None, "agent_id": c[3], "agent_team": c[5], "channel": c[2], "started_at": f"{c[1]}T10:00:00+08:00"})
    pq.write_table(pa.Table.from_pylist(frows, schema=arrow_schema(FINDING_COLUMNS)), run / "findings.parquet")
    if manifest is not None:
        (run / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    if verdicts:
        (run / "verdicts.jsonl").write_text("\n".join(json.dumps(v, ensure_ascii=False) for v in verdicts) + "\n", encoding="utf-8")
    return run


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("report")
    a = write_run(root / "run-a", CONVS[:3], FINDINGS,
                  {"counts": {"read": 4, "inspected": 3, "rejected": 1, "rejects_by_reason": {"json.invalid": 1}}, "mask": False}, VERDICTS)
    b = write_run(root / "run-b", CONVS[3:], FINDINGS, {"counts": {"read": 3, "inspected": 3, "rejected": 0, "rejects_by_reason": {}}, "mask": True})
    return [a, b]


@pytest.fixture(scope="module")
def cfg():
    from pipeline.config import load_config

    c = copy.deepcopy(load_config())
    c["report"]["min_agent_conversations"] = 1
    c["report"]["training"]["min_hits"] = 1
    return c


@pytest.fixture(scope="module")
def report(runs, cfg):
    from datetime import datetime

    from pipeline.report.load import load_runs
    from pipeline.report.metrics import compute

    return compute(load_runs(runs), cfg, now=datetime(2026, 11, 3, 8, 0))


def kpi(report, key):
    return next(m for m in report.kpis if m.key == key)


def approx(x, rel=1e-9):
    return pytest.approx(x, rel=rel, abs=1e-12)


# ------------------------------------------------------------------------------------------------ KPIs
def test_kpis_by_hand(report):
    assert report.meta["coverage"]["coverage"] == approx(6 / 7)
    assert report.meta["coverage"]["rejects_by_reason"] == {"json.invalid": 1}
    assert kpi(report, "conversations").value == 6
    assert kpi(report, "avg_score").value == approx(440 / 6)
    assert kpi(report, "fatal_rate").value == approx(1 / 6)
    assert kpi(report, "review_rate").value == approx(3 / 6)
    # first response (chat SLA 30 s, phone 60 s): 10 ✓, 40 ✗, 50 ✓, 20 ✓, 70 ✗; c6 untimed
    assert kpi(report, "first_response_mean").value == approx(190 / 5)
    assert kpi(report, "first_response_p50").value == approx(40)
    assert kpi(report, "first_response_p90").value == approx(50 + 0.6 * (70 - 50))  # linear: position 0.9 × 4 = 3.6
    sla = kpi(report, "first_response_sla_compliance")
    assert (sla.value, sla.n, sla.target, sla.met) == (approx(3 / 5), 5, 0.9, False)
    assert kpi(report, "avg_response_s").value == approx((12 + 30 + 20 + 15 + 65) / 5)
    assert kpi(report, "complaint_risk_rate").value == approx(2 / 6)
    assert kpi(report, "rating_rate").value == approx(5 / 6)
    bad = kpi(report, "bad_rating_rate")
    assert (bad.value, bad.n) == (approx(3 / 5), 5)  # ratings ≤ 2 among the rated
    assert kpi(report, "customer_negative_rate").value == approx(2 / 5)  # c4 has no sentiment
    rec = kpi(report, "negative_recovery_rate")
    assert (rec.value, rec.n) == (approx(2 / 3), 3)  # c2, c3, c5 start negative; c2, c5 end non-negative


def test_grade_mix_and_rule_hits(report):
    assert dict(zip(report.grade_mix["grade"], report.grade_mix["conversations"])) == {"优": 3, "良": 1, "中": 1, "差": 1}
    hits = report.rule_hits.set_index("rule")
    assert hits.loc["forbidden.phrase", "conversations"] == 2 and hits.loc["forbidden.phrase", "rate"] == approx(2 / 6)
    assert hits.loc["complaint.risk", "findings"] == 2 and hits.loc["complaint.risk", "points"] == -20
    assert hits.loc["praise", "kind"] == "bonus" and hits.loc["forbidden.phrase", "label"] == "服务忌语"
    ch = report.first_response_by_channel.set_index("channel")
    assert ch.loc["chat", "first_response_sla_compliance"] == approx(2 / 3)  # 10 ✓ 40 ✗ 20 ✓
    assert ch.loc["phone", "first_response_sla_compliance"] == approx(1 / 2)  # 50 ✓ 70 ✗
    assert report.first_response_dist.loc[45, "phone"] == 1 and report.first_response_dist.loc[60, "phone"] == 1


def test_trends_and_periods(report):
    daily = report.daily.set_index("day")
    assert daily.loc[D1, "avg_score"] == approx(185 / 3) and daily.loc[D2, "avg_score"] == approx(255 / 3)
    assert daily.loc[D1, "first_response_sla_compliance"] == approx(2 / 3)
    assert daily.loc[D2, "first_response_sla_compliance"] == approx(1 / 2)
    p = report.periods
    assert p["period_days"] == 1 and str(p["current"][0]) == D2 and str(p["previous"][0]) == D1
    row = next(c for c in p["comparison"] if c["key"] == "avg_score")
    assert row["change"] == approx(255 / 3 - 185 / 3) and row["met"] is True  # 85 ≥ 80
    assert report.forecasts == {} and "至少需要 14 天" in report.forecast_note


def test_agents_teams_training(report):
    a = report.agents.set_index("agent_id")
    assert a.loc["A1", "avg_score"] == approx(85) and a.loc["A1", "rank"] == 1
    assert a.loc["A2", "avg_score"] == approx(185 / 3) and a.loc["A2", "rank"] == 2
    assert a.loc["A1", "score_change"] == approx(70 - 92.5)
    assert a.loc["A1", "trend"] == [approx(92.5), approx(70)]
    t = report.teams.set_index("agent_team")
    assert t.loc["一组", "bad_rating_rate"] == approx(2 / 3) and t.loc["二组", "agents"] == 1
    tr = report.training.set_index(["agent_id", "item"])
    # everyone: 投诉风险 2 of 6 conversations, each other item 1 of 6
    assert tr.loc[("A1", "加减分项.投诉风险"), "ratio"] == approx(1.0) and not tr.loc[("A1", "加减分项.投诉风险"), "need"]
    assert tr.loc[("A1", "服务规范.服务忌语"), "ratio"] == approx(2.0)
    assert tr.loc[("A2", "服务规范.红线忌语"), "count"] == 1  # the fatal finding counts as a deduction
    # issue 13: 3 conversations are far below report.training.min_conversations — nobody is tested, nobody flagged
    assert not tr["tested"].any() and not tr["need"].any()
    items = report.training_items.set_index("item")
    assert items.loc["加减分项.投诉风险", "deductions"] == 2 and items.loc["加减分项.投诉风险", "agents_needing"] == 0
    assert items.loc["服务规范.服务忌语", "examples"] == [("你明白吗", 1)]
    assert report.team_items.loc["一组", "加减分项.投诉风险"] == approx(1 / 3)


def test_issue_types(report):
    it = report.issue_types.set_index("issue_type")
    assert list(it.index) == ["物流", "退款"]  # Pareto order
    assert it.loc["物流", "share"] == approx(0.6) and it.loc["退款", "cumulative_share"] == approx(1.0)
    assert it.loc["物流", "avg_score"] == approx(275 / 3) and it.loc["退款", "avg_score"] == approx(35)
    assert it.loc["物流", "customer_negative_rate"] == approx(0.5)  # c1 neutral, c2 negative, c4 none
    assert "1 个会话没有问题类型" in report.issue_note


def test_bad_reviews(report):
    b = report.bad_reviews
    assert b["count"] == 3 and b["rate"] == approx(3 / 5)
    d = b["detail"].set_index("id")
    assert (d.loc["c2", "reason"], d.loc["c2", "basis"]) == ("服务态度", "comment")  # 客服态度差
    assert (d.loc["c3", "reason"], d.loc["c3", "basis"]) == ("服务态度", "findings")  # no comment; forbidden.phrase
    assert (d.loc["c5", "reason"], d.loc["c5", "basis"]) == ("响应速度", "findings")  # 一般 says nothing; slow replies
    bc = b["by_class"].set_index("reason")
    assert bc["count"].to_dict() == {"服务态度": 2, "专业能力": 0, "响应速度": 1, "问题解决效果": 0, "其他": 0}
    assert bc.loc["服务态度", "backed_by_findings"] == 1.0  # c2's comment is backed by its forbidden phrase
    assert pd.isna(bc.loc["问题解决效果", "backed_by_findings"])  # no rule can back it: "—", not 0 %
    assert b["by_agent"].loc["A1", "total"] == 2 and b["by_channel"].loc["phone", "total"] == 2


def test_verdicts_precision_and_agreement(report):
    v = report.verdicts
    assert v["conversations"] == 3 and v["unmatched"] == 0
    pr = v["per_rule"].set_index("rule")
    assert pr.loc["forbidden.phrase", "precision"] == 1.0 and pr.loc["forbidden.phrase", "agreement"] == 1.0
    assert pr.loc["forbidden.phrase", "kappa"] == approx(1.0)
    assert pr.loc["greeting.missing", "precision"] == 0.0
    assert pr.loc["greeting.missing", "agreement"] == approx(2 / 3) and pr.loc["greeting.missing", "kappa"] == approx(0.0)
    assert pd.isna(pr.loc["empathy.missing", "precision"]) and pr.loc["empathy.missing", "missed"] == 1
    assert pr.loc["empathy.missing", "agreement"] == approx(2 / 3)
    assert v["scores"] == {"n": 1, "mean_abs_diff": 5.0, "within_5": 1.0, "mean_machine_minus_human": 5.0, "grade_agreement": 1.0}


def test_no_sentiment_no_verdicts_is_honest(tmp_path, cfg):
    """Until the classifiers land: sentiment numbers are None with a note, never 0; no verdicts → no section."""
    from pipeline.report.html import render_html
    from pipeline.report.load import load_runs
    from pipeline.report.metrics import compute

    blank = [c[:14] + (None, None, None, None) for c in CONVS]
    run = write_run(tmp_path / "run", blank, FINDINGS, None, customer_start=False)
    r = compute(load_runs([run]), cfg)
    neg = kpi(r, "customer_negative_rate")
    assert neg.value is None and neg.n == 0 and "情绪" in neg.note
    assert kpi(r, "negative_recovery_rate").value is None
    assert r.issue_types is None and "都没有问题类型" in r.issue_note
    assert r.verdicts is None
    assert r.meta["coverage"]["coverage"] is None  # no manifest: unknown, not 100 %
    page = render_html(r, {})
    assert 'id="verdicts"' not in page and "—" in page and "都没有问题类型" in page


# ------------------------------------------------------------------------------------------------ loader
def test_loader_reads_partitioned_runs_and_resolves_duplicates(tmp_path, runs):
    from pipeline.report.load import ReportInputError, load_runs

    part = tmp_path / "parted"
    (part / "results.parquet").mkdir(parents=True)
    (part / "findings.parquet").mkdir()
    for name in ("results", "findings"):
        table = pq.read_table(runs[1] / f"{name}.parquet")
        pq.write_table(table.slice(0, 1), part / f"{name}.parquet" / "part-000000.parquet")
        pq.write_table(table.slice(1), part / f"{name}.parquet" / "part-000001.parquet")
        (part / f"{name}.parquet" / ".part-000002.parquet.partial").write_bytes(b"half-written")
    rs = load_runs([runs[1], part])
    assert len(rs.results) == 3 and any("重复会话" in n for n in rs.notes)
    assert set(rs.results["run"]) == {1}  # the later run wins
    assert len(rs.findings) == len(pq.read_table(runs[1] / "findings.parquet"))
    with pytest.raises(ReportInputError, match="no results.parquet"):
        load_runs([tmp_path])
    bad = tmp_path / "bad"
    write_run(bad, CONVS[:1], [], None, [{"conversation_id": "c1", "rule": "praise", "verdict": "maybe"}])
    with pytest.raises(ReportInputError, match="verdict"):
        load_runs([bad])


def test_customer_start_from_results_jsonl(tmp_path, cfg):
    from pipeline.report.load import load_runs

    run = write_run(tmp_path / "run", CONVS[:2], [], None, customer_start=False)
    lines = [{"id": "c1", "turn_sentiment": [{"turn": 0, "label": "neutral"}]}, {"id": "c2", "turn_sentiment": [{"turn": 0, "label": "negative"}]}]
    (run / "results.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    rs = load_runs([run])
    assert rs.results.set_index("id")["customer_start"].to_dict() == {"c1": "neutral", "c2": "negative"}


# ------------------------------------------------------------------------------------------------ reasons, forecast, masking
def test_bad_review_lexicon_examples(cfg):
    from pipeline.report.reasons import load_classifier

    clf = load_classifier(cfg)
    assert clf.check_examples() == []
    assert clf.classify("態度很差,還讓我等了半天").classes == ["服务态度", "响应速度"]  # traditional characters normalized
    assert clf.classify("服务态度很好,就是回复太慢").primary == "响应速度"  # 态度很好 is no 态度差
    assert clf.classify("不是态度问题", {"privacy.disclosure"}).primary == "其他"
    assert clf.classify("态度冷冰冰的").keywords == ["态度冷冰冰"]  # not also 冷冰冰 inside it


def test_linear_forecast_by_hand():
    from datetime import date, timedelta

    from pipeline.report.forecast import linear_forecast, t_quantile

    days = [date(2026, 11, 1) + timedelta(days=i) for i in range(14)]
    exact = linear_forecast("x", days, [1 + 2 * i for i in range(14)], horizon=7)
    assert exact.slope_per_day == approx(2) and exact.residual_sd == pytest.approx(0, abs=1e-9)
    assert exact.yhat[0] == approx(29) and exact.lo[0] == pytest.approx(29, abs=1e-6)
    assert exact.period_value == approx(1 + 2 * 17)  # the mean of days 14…20 is day 17
    total = linear_forecast("n", days, [100.0] * 7 + [110.0] * 7, horizon=7, total=True)
    assert total.period_value == pytest.approx(7 * (total.yhat[0] + total.yhat[-1]) / 2)
    # a noisy series against the textbook formula
    ys = [5.0, 7.0, 6.0, 9.0, 8.0, 11.0, 10.0, 12.0]
    fc = linear_forecast("y", days[:8], ys, horizon=1, interval=0.95)
    n, xs = 8, list(range(8))
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    a = my - b * mx
    s = math.sqrt(sum((y - a - b * x) ** 2 for x, y in zip(xs, ys)) / (n - 2))
    half = 2.4469 * s * math.sqrt(1 + 1 / n + (8 - mx) ** 2 / sxx)  # t(0.975, 6) = 2.4469
    assert fc.yhat[0] == approx(a + 8 * b) and fc.hi[0] == pytest.approx(a + 8 * b + half, abs=2e-3)
    assert t_quantile(0.975, 12) == pytest.approx(2.1788, abs=1e-4)
    assert linear_forecast("z", days[:5], ys[:5], horizon=3) is None  # too few points


def test_pii_never_reaches_the_report(report, cfg, tmp_path):
    from pipeline.report.html import render_html
    from pipeline.report.xlsx import render_xlsx

    page = render_html(report, {})
    assert RAW_PHONE not in page and "138****5678" in page  # evidence of an unmasked run is masked again
    assert COMMENT_PHONE not in page and "一般,打我电话" not in page  # comments are never shown
    assert any("重新脱敏" in n for n in report.notes)
    out = tmp_path / "r.xlsx"
    render_xlsx(report, out)
    import zipfile

    blob = b"".join(zipfile.ZipFile(out).read(n) for n in zipfile.ZipFile(out).namelist())
    assert RAW_PHONE.encode() not in blob and COMMENT_PHONE.encode() not in blob


# ------------------------------------------------------------------------------------------------ renderers and CLI
ENGLISH_ALLOWED = {"SLA", "CSAT", "NPS", "FCR", "KPI", "P50", "P90", "zhijian", "report", "Excel"}  # the glossary's terms


def test_headings_and_messages_are_in_chinese(report, tmp_path):
    """Issue 13: "Quality inspection report", "no data", "rule hits" … — what a director reads is Chinese;
    English ids (rule ids, config keys) appear only in the method section's glossary and in tables' data."""
    import re

    from pipeline.report.html import render_html

    page = render_html(report, {})
    page = re.sub(r"<(style|script)[^>]*>.*?</\1>", "", page, flags=re.S)
    texts = re.findall(r"<(?:h[1-4]|summary|th|nav)[^>]*>(.*?)</(?:h[1-4]|summary|th|nav)>", page, flags=re.S)
    texts += re.findall(r'class="(?:nodata|note|small)"[^>]*>(.*?)</div>', page, flags=re.S)
    # configuration keys (report.forecast.min_history_days), flags (--no-mask) and file names are references, not labels
    refs = re.compile(r"--[\w-]+|[\w-]+(?:[._][\w-]+)+")
    words = {w for t in texts for w in re.findall(r"[A-Za-z]{3,}", refs.sub(" ", re.sub(r"<[^>]+>", " ", t)))}
    assert words <= ENGLISH_ALLOWED | {"Cohen", "manifest"}, sorted(words - ENGLISH_ALLOWED)
    assert "Quality inspection report" not in page and ">no data<" not in page


def test_xlsx_has_the_sheets_and_numbers(report, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    from pipeline.report.xlsx import render_xlsx

    out = tmp_path / "report.xlsx"
    render_xlsx(report, out)
    wb = openpyxl.load_workbook(out)
    for name in ("概览", "每日趋势", "坐席", "培训需求", "问题类型", "差评原因", "差评明细", "复核一致性"):
        assert name in wb.sheetnames
    ws = wb["概览"]
    values = {ws.cell(row=i, column=2).value: ws.cell(row=i, column=3).value for i in range(1, ws.max_row + 1)}
    assert values["avg_score"] == pytest.approx(440 / 6) and values["coverage"] == pytest.approx(6 / 7)
    assert values["customer_negative_rate"] == pytest.approx(0.4)
    assert wb["每日趋势"]._charts, "native Excel charts"


def test_cli_report_html_and_xlsx(runs, tmp_path):
    from pipeline.cli import main

    assert main(["report", *map(str, runs), "--out", str(tmp_path / "r.html"), "--quiet"]) == 0
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert page.count('class="chart"') >= 8 and "<script" not in page and "<link" not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "fully offline: nothing loaded from elsewhere"
    assert main(["report", str(runs[0]), "--out", str(tmp_path / "r.xlsx"), "--quiet"]) == 0
    assert (tmp_path / "r.xlsx").stat().st_size > 5000
    assert main(["report", str(tmp_path / "missing"), "--out", str(tmp_path / "x.html")]) == 2


def test_report_command_keeps_startup_light():
    code = ("import sys, argparse; import pipeline.report.cli as c; c.add_subcommands(argparse.ArgumentParser().add_subparsers()); "
            "print(sorted(m for m in ('pandas', 'matplotlib', 'openpyxl', 'pyarrow', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
