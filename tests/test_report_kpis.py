"""Seed KPIs (issue 13, item 2) and the executive summary: each KPI on small hand-built run folders
whose answers are worked out by hand below (never by calling the code under test), the missing-data
cases (无数据 with the reason, never a number), the workbench read read-only, and the summary first
on the page.

Timing / complaints fixture (one day, 2026-11-10; chat SLA 30 s / reply 60 s, phone 60 s / 90 s):

    id  ch     hour  first  max   duration  rating comment            findings
    t1  chat   09    10     20    100       5      —                  complaint.risk「我要投诉13812345678」, complaint.caused
    t2  chat   09    40     30    200       3      再不处理我就投诉你们  —                        (first over)
    t3  chat   14    20     70    —         1      差评!               —                        (reply over; 差评 alone is the rating, not a complaint)
    t4  phone  09    70     100   300       —      —                  —                        (both over)
    t5  chat   14    —      —     —         4      我要投诉             complaint.risk「投诉」

    complaints: t1 (会话), t2 (评语), t5 (会话+评语) → 3 / 5;  超时工单: t2 t3 t4 → 3 of 4 timed
    peak hour (report.kpis.peak_hours = 1): 09 (t1 t2 t4) → wait (10 + 40 + 70) / 3 = 40 s
    AHT: (100 + 200 + 300) / 3 = 200 s over 3 conversations
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

RAW_PHONE = "13812345678"


def write_run(run: Path, rows: list[dict], findings: list[tuple] = (), *, manifest: dict | None = None,
              verdicts: list[dict] | None = None, extra: tuple[str, ...] = ("customer_id", "duration_s")) -> Path:
    """A RUN_DIR written with the writers' Parquet schemas; ``rows`` override the defaults per conversation.
    Of the columns `zhijian inspect` writes since issue 13, those not in ``extra`` are left out (a run made before)."""
    from pipeline.io.writers import FINDING_COLUMNS, RESULT_COLUMNS, arrow_schema

    run.mkdir(parents=True)
    out = []
    for r in rows:
        base = {"id": None, "score": 90.0, "grade": "优", "review_needed": False, "review_reasons": [], "findings": 0, "deductions": 0.0,
                "fatal": False, "channel": "chat", "started_at": "2026-11-10T10:00:00+08:00", "agent_id": "A1", "agent_name": "王芳",
                "agent_team": "一组", "rating_score": None, "rating_comment": None, "turns": 6, "first_response_s": None,
                "avg_response_s": None, "max_response_s": None, "issue_type": None, "issue_type_confidence": None, "sentiment": None,
                "sentiment_confidence": None, "customer_end": None, "warnings": [], "source_path": "x.jsonl", "source_line": 1,
                "source_row": None, "customer_id": None, "duration_s": None}
        out.append({**base, **r})
    schema = arrow_schema(RESULT_COLUMNS)
    for c in {"customer_id", "duration_s"} - set(extra):
        schema = schema.remove(schema.get_field_index(c))
    pq.write_table(pa.Table.from_pylist([{k: v for k, v in r.items() if k in schema.names} for r in out], schema=schema),
                   run / "results.parquet")
    frows = []
    for cid, rule, points, ev in findings:
        frows.append({"conversation_id": cid, "rule": rule, "category": rule, "severity": "bonus" if points > 0 else "major",
                      "points": points, "item": rule, "turn": 1, "role": "customer", "start": 0, "end": len(ev or ""), "evidence": ev,
                      "message": rule, "entry": None, "value": None, "agent_id": "A1", "agent_team": "一组", "channel": "chat",
                      "started_at": "2026-11-10T10:00:00+08:00"})
    pq.write_table(pa.Table.from_pylist(frows, schema=arrow_schema(FINDING_COLUMNS)), run / "findings.parquet")
    (run / "manifest.json").write_text(json.dumps(manifest or {"counts": {"read": len(rows), "inspected": len(rows), "rejected": 0},
                                                               "mask": True}), encoding="utf-8")
    if verdicts:
        (run / "verdicts.jsonl").write_text("".join(json.dumps(v, ensure_ascii=False) + "\n" for v in verdicts), encoding="utf-8")
    return run


@pytest.fixture(scope="module")
def cfg():
    from pipeline.config import load_config

    c = copy.deepcopy(load_config())
    c["report"]["kpis"]["peak_hours"] = 1
    return c


def compute(runs, cfg, workbench=None):
    from pipeline.report.load import load_runs
    from pipeline.report.metrics import compute as _compute

    return _compute(load_runs(runs), cfg, now=datetime(2026, 11, 21, 8, 0), workbench=workbench)


def seed(report, key):
    return next(k for k in report.seed["rows"] if k.key == key)


def at(day: str, hour: int) -> str:
    return f"{day}T{hour:02d}:00:00+08:00"


# ------------------------------------------------------------------------------------------------ timing and complaints
TIMING = [
    {"id": "t1", "channel": "chat", "started_at": at("2026-11-10", 9), "first_response_s": 10.0, "max_response_s": 20.0, "duration_s": 100.0,
     "rating_score": 5.0},
    {"id": "t2", "channel": "chat", "started_at": at("2026-11-10", 9), "first_response_s": 40.0, "max_response_s": 30.0, "duration_s": 200.0,
     "rating_score": 3.0, "rating_comment": "再不处理我就投诉你们"},
    {"id": "t3", "channel": "chat", "started_at": at("2026-11-10", 14), "first_response_s": 20.0, "max_response_s": 70.0,
     "rating_score": 1.0, "rating_comment": "差评!"},
    {"id": "t4", "channel": "phone", "started_at": at("2026-11-10", 9), "first_response_s": 70.0, "max_response_s": 100.0, "duration_s": 300.0},
    {"id": "t5", "channel": "chat", "started_at": at("2026-11-10", 14), "rating_score": 4.0, "rating_comment": "我要投诉"},
]
TIMING_FINDINGS = [("t1", "complaint.risk", 0.0, f"我要投诉{RAW_PHONE}"), ("t1", "complaint.caused", -10.0, None),
                   ("t5", "complaint.risk", 0.0, "投诉")]


@pytest.fixture(scope="module")
def timing_report(tmp_path_factory, cfg):
    run = write_run(tmp_path_factory.mktemp("timing") / "run", TIMING, TIMING_FINDINGS)
    return compute([run], cfg)


def test_over_sla_peak_hour_and_aht_by_hand(timing_report):
    over = seed(timing_report, "over_sla")
    assert (over.value, over.n) == (3, 4)  # t2 (first 40 > 30), t3 (reply 70 > 60), t4 (phone 70 > 60 and 100 > 90); t5 untimed
    assert "首响超时 2、回复超时 2" in over.note
    assert seed(timing_report, "over_sla_rate").value == pytest.approx(3 / 4)
    peak = seed(timing_report, "peak_wait_s")
    assert peak.value == pytest.approx((10 + 40 + 70) / 3) and peak.n == 3 and "09时" in peak.note
    assert (peak.target, peak.direction, peak.met) == (300.0, "max", True)  # seed 001: > 5 minutes is the problem
    hours = timing_report.seed["peak_hours"].set_index("hour")
    assert hours.loc[9, "conversations"] == 3 and bool(hours.loc[9, "peak"]) and not bool(hours.loc[14, "peak"])
    assert hours.loc[14, "first_response_mean"] == pytest.approx(20.0)  # t5 has no first response
    assert hours.loc[9, "first_response_sla_compliance"] == pytest.approx(1 / 3)  # t1 only
    aht = seed(timing_report, "aht_s")
    assert (aht.value, aht.n) == (pytest.approx(200.0), 3) and "2 个会话没有时长" in aht.note


def test_complaint_rate_and_cases(timing_report):
    rate = seed(timing_report, "complaint_rate")
    assert (rate.value, rate.n) == (pytest.approx(3 / 5), 5)  # t1 会话, t2 评语, t5 both; t3's 「差评!」 is the rating itself
    assert seed(timing_report, "complaints").value == 3
    cases = timing_report.seed["complaint_cases"].set_index("id")
    assert sorted(cases.index) == ["t1", "t2", "t5"]
    assert dict(cases["source"]) == {"t1": "会话", "t2": "评语", "t5": "会话+评语"}
    assert dict(cases["caused"]) == {"t1": "是", "t2": "否", "t5": "否"}
    assert RAW_PHONE not in cases.loc["t1", "evidence"] and cases.loc["t1", "evidence"].startswith("我要投诉")
    assert cases.loc["t2", "comment_keywords"] and "处理" not in cases.loc["t2", "comment_keywords"]  # keywords, not the comment


def test_csat_on_a_1_to_5_scale_and_no_nps(timing_report):
    csat = seed(timing_report, "csat")
    assert (csat.value, csat.n, csat.target, csat.met) == (pytest.approx(2 / 4), 4, 0.85, False)  # 5 and 4 of 5, 3, 1, 4
    nps = seed(timing_report, "nps")
    assert nps.value is None and nps.note.startswith("无数据") and "0–10" in nps.note and nps.target == 50


def test_nps_and_csat_on_a_0_to_10_scale(tmp_path, cfg):
    ratings = [10.0, 10.0, 9.0, 8.0, 7.0, 3.0, None]
    run = write_run(tmp_path / "run", [{"id": f"n{i}", "rating_score": r} for i, r in enumerate(ratings)])
    r = compute([run], cfg)
    nps = seed(r, "nps")
    # promoters ≥ 9: 3 of 6; detractors ≤ 6: 1 of 6 → 100 × (3/6 − 1/6)
    assert (nps.value, nps.n) == (pytest.approx(100 * (3 / 6 - 1 / 6)), 6) and nps.met is False
    assert seed(r, "csat").value == pytest.approx(4 / 6)  # ≥ 8 on a 0–10 scale: 10, 10, 9, 8


# ------------------------------------------------------------------------------------------------ FCR
FCR_ROWS = [  # customer, day, hour, issue type → expected (by hand, window 7 days, data end 11-20 10:00)
    ("f01", "U1", "2026-11-01", "物流"),  # U1 returns 11-05 about 物流 (4 days): not resolved
    ("f02", "U1", "2026-11-05", "物流"),  # nothing after: resolved
    ("f03", "U2", "2026-11-01", "物流"),  # U2 returns 11-03 about 退款: another issue → resolved
    ("f04", "U2", "2026-11-03", "退款"),  # resolved
    ("f05", "U3", "2026-11-02", "物流"),  # returns 11-10 (8 days > 7): resolved
    ("f06", "U3", "2026-11-10", "物流"),  # resolved
    ("f07", "U4", "2026-11-02", None),    # untyped: any return counts → 11-04: not resolved
    ("f08", "U4", "2026-11-04", "退款"),  # resolved
    ("f09", "U5", "2026-11-12", "物流"),  # window ends 11-19 ≤ 11-20: complete, resolved
    ("f10", "U6", "2026-11-20", "物流"),  # window not over: left out
    ("f11", "U7", "2026-11-06", "物流"),  # an untyped contact 11-08 matches any type: not resolved
    ("f12", "U7", "2026-11-08", None),    # resolved
    ("f13", None, "2026-11-03", "物流"),  # no customer id: left out
]


def fcr_rows(with_customer: bool = True) -> list[dict]:
    return [{"id": i, "customer_id": c if with_customer else None, "started_at": at(d, 10), "issue_type": t,
             "issue_type_confidence": 0.9 if t else None} for i, c, d, t in FCR_ROWS]


def test_fcr_by_hand(tmp_path, cfg):
    r = compute([write_run(tmp_path / "run", fcr_rows())], cfg)
    fcr = seed(r, "fcr")
    # eligible: f01–f09, f11, f12 = 11; repeats f01, f07, f11 → 8 / 11
    assert (fcr.value, fcr.n) == (pytest.approx(8 / 11), 11)
    assert (fcr.target, fcr.direction, fcr.met) == (0.8, "min", False)
    assert "1 / 13 个会话没有客户标识" in fcr.note and "customer_id" in fcr.source
    c = copy.deepcopy(cfg)
    c["report"]["kpis"]["fcr_same_issue_type"] = False  # U2's 退款 return counts too → 7 / 11
    assert seed(compute([write_run(tmp_path / "run2", fcr_rows())], c), "fcr").value == pytest.approx(7 / 11)
    c["report"]["kpis"]["fcr_window_days"] = 1  # window 1 day: every return here is ≥ 2 days later → all resolved
    one = seed(compute([write_run(tmp_path / "run3", fcr_rows())], c), "fcr")
    assert (one.value, one.n) == (1.0, 11)  # the same 11: f10 (11-20 10:00 + 1 day > the end) is still left out


def test_fcr_without_customer_ids_or_history_says_why(tmp_path, cfg):
    r = compute([write_run(tmp_path / "no-column", fcr_rows(), extra=())], cfg)
    fcr = seed(r, "fcr")
    assert fcr.value is None and fcr.n == 0 and fcr.note.startswith("无数据") and "customer_id" in fcr.note
    short = [{"id": "s1", "customer_id": "U1", "started_at": at("2026-11-10", 9)}, {"id": "s2", "customer_id": "U2", "started_at": at("2026-11-10", 12)}]
    f = seed(compute([write_run(tmp_path / "short", short)], cfg), "fcr")
    assert f.value is None and "窗口" in f.note  # one day of data, a 7-day window: unknown, not 100 %


# ------------------------------------------------------------------------------------------------ 差错率 from verdict files
def test_error_rate_from_verdict_files(tmp_path, cfg):
    rows = [{"id": f"e{i}"} for i in range(1, 7)]
    verdicts = [
        {"conversation_id": "e1", "rule": "forbidden.phrase", "verdict": "confirmed"},   # an error
        {"conversation_id": "e2", "rule": "greeting.missing", "verdict": "rejected"},    # a false alarm: no error
        {"conversation_id": "e3", "rule": "complaint.risk", "verdict": "confirmed"},     # the customer's threat, not the agent's error
        {"conversation_id": "e4", "rule": "empathy.missing", "verdict": "missed"},       # the reviewer added one: an error
        {"conversation_id": "e5", "rule": "praise", "verdict": "confirmed"},             # a bonus
    ]  # e6 was not reviewed
    r = compute([write_run(tmp_path / "run", rows, verdicts=verdicts)], cfg)
    err = seed(r, "error_rate")
    assert (err.value, err.n) == (pytest.approx(2 / 5), 5) and "verdicts" in err.source
    none = seed(compute([write_run(tmp_path / "none", rows)], cfg), "error_rate")
    assert none.value is None and "没有人工复核结果" in none.note


# ------------------------------------------------------------------------------------------------ workbench
NOW = datetime(2026, 11, 21, 8, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def workbench(tmp_path_factory):
    """The report's conversations w1–w5 (w1 w2 一组, w3 w4 w5 二组) and wX (another run) in a workbench database.

    w1  reviewed      i1 round 1: 80 (machine 90); forbidden.phrase −10 confirmed                 customer C1, turns 0 → 95 s
    w2  signed_off    appeal by the agent, overturned: i1 round 1 70, i2 round 2 85 (machine 85)   customer C1 (11-12, 3 days after w1)
                      round 1: forbidden.phrase C, praise C, greeting.missing R;  round 2: R, C, R
    w3  disputed      i2 round 1; a dispute raised 3 days before NOW, open
    w4  pending
    w5  assigned to i2
    wX  reviewed by i1 (not in the report)

    sampling: w1 w2 w3 reviewed → 3 / 5 (一组 2 / 2, 二组 1 / 3); disputes 2 (1 appeal overturned, 1 dispute open, 3 days)
    κ (round 1 vs 2 of w2): a = C C R, b = R C R → pₒ = 2/3, pₑ = 2/3·1/3 + 1/3·2/3 = 4/9 → κ = (2/9)/(5/9) = 0.4
    差错率: counted reviews w1 (round 1: a confirmed −10) and w2 (overturned → round 2: only praise confirmed) → 1 / 2
    """
    from sqlalchemy.orm import Session

    from pipeline.workbench.database import make_engine, upgrade
    from pipeline.workbench.db import Conversation, Dispute, Finding, Review, Run, User, Verdict

    root = tmp_path_factory.mktemp("wb")
    url = f"sqlite:///{root / 'workbench.db'}"
    upgrade(url)
    engine = make_engine(url)
    t0 = NOW - timedelta(days=5)
    with Session(engine) as s:
        users = {n: User(username=n, display_name=d, role=role, password_hash="x", agent_id=a)
                 for n, d, role, a in [("i1", "赵一", "inspector", None), ("i2", "钱二", "inspector", None),
                                       ("s1", "孙主管", "supervisor", None), ("a1", "王芳", "agent", "A1")]}
        s.add_all(users.values())
        run = Run(run_key="k", path="/runs/x", counts={}, versions={})
        s.add(run)
        s.flush()

        def conv(ext, team, status, machine, human=None, *, customer=None, assignee=None, turns=()):
            c = Conversation(ext_id=ext, run_id=run.id, team=team, agent_id="A1", channel="chat", machine_score=machine,
                             machine_grade="优" if machine >= 90 else "良", review_needed=True, review_reasons=[], status=status,
                             human_score=human, human_grade=None if human is None else ("良" if human >= 80 else "中"),
                             customer_id=customer, assignee_id=assignee, turns=list(turns), pii=[])
            s.add(c)
            s.flush()
            return c

        w1 = conv("w1", "一组", "reviewed", 90.0, 80.0, customer="C1", turns=[{"role": "customer", "text": "在吗", "ts": 0},
                                                                               {"role": "agent", "text": "在的", "ts": 30, "end_ts": 95}])
        w2 = conv("w2", "一组", "signed_off", 85.0, 85.0, customer="C1")
        w3 = conv("w3", "二组", "disputed", 88.0)
        conv("w4", "二组", "pending", 92.0)
        conv("w5", "二组", "assigned", 75.0, assignee=users["i2"].id)
        wx = conv("wX", "一组", "reviewed", 60.0, 60.0)

        def finding(c, pos, rule, points):
            f = Finding(conversation_id=c.id, position=pos, rule=rule, points=points, severity="bonus" if points > 0 else "major")
            s.add(f)
            s.flush()
            return f

        def review(c, rnd, who, score, when, verdicts=()):
            rv = Review(conversation_id=c.id, round=rnd, reviewer_id=users[who].id, human_score=score, submitted_at=when)
            s.add(rv)
            s.flush()
            s.add_all([Verdict(review_id=rv.id, finding_id=f.id, verdict=v) for f, v in verdicts])
            return rv

        f1 = finding(w1, 0, "forbidden.phrase", -10.0)
        review(w1, 1, "i1", 80.0, t0, [(f1, "confirmed")])
        g1, g2, g3 = finding(w2, 0, "forbidden.phrase", -10.0), finding(w2, 1, "praise", 5.0), finding(w2, 2, "greeting.missing", -5.0)
        review(w2, 1, "i1", 70.0, t0, [(g1, "confirmed"), (g2, "confirmed"), (g3, "rejected")])
        review(w2, 2, "i2", 85.0, t0 + timedelta(days=1), [(g1, "rejected"), (g2, "confirmed"), (g3, "rejected")])
        s.add(Dispute(conversation_id=w2.id, kind="appeal", state="overturned", raised_by=users["a1"].id, reason="r",
                      second_reviewer_id=users["i2"].id, signed_off_by=users["s1"].id, created_at=t0,
                      signed_off_at=t0 + timedelta(days=2), final_score=85.0))
        review(w3, 1, "i2", 88.0, t0)
        s.add(Dispute(conversation_id=w3.id, kind="dispute", state="open", raised_by=users["s1"].id, reason="r",
                      created_at=NOW - timedelta(days=3)))
        review(wx, 1, "i1", 60.0, t0)
        s.commit()
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def wb_runs(tmp_path_factory):
    rows = [{"id": "w1", "agent_team": "一组", "started_at": at("2026-11-09", 10)}, {"id": "w2", "agent_team": "一组", "started_at": at("2026-11-12", 10)},
            {"id": "w3", "agent_team": "二组", "started_at": at("2026-11-20", 10)}, {"id": "w4", "agent_team": "二组", "started_at": at("2026-11-20", 11)},
            {"id": "w5", "agent_team": "二组", "started_at": at("2026-11-20", 12)}]
    return [write_run(tmp_path_factory.mktemp("wbrun") / "run", rows, extra=())]


def digest(url: str) -> str:
    return hashlib.sha256(Path(url.removeprefix("sqlite:///")).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def wb_report(workbench, wb_runs, cfg):
    from pipeline.report.workbench import read_workbench

    before = digest(workbench)
    data = read_workbench(workbench, cfg, {"w1", "w2", "w3", "w4", "w5"}, now=NOW)
    assert digest(workbench) == before  # read-only
    return compute(wb_runs, cfg, workbench=data)


def test_workbench_sampling_disputes_inspectors(wb_report):
    assert seed(wb_report, "sampling_rate").value == pytest.approx(3 / 5)
    w = wb_report.seed["workbench"]
    teams = w["sampling_by_team"].set_index("team")
    assert teams.loc["一组", "rate"] == pytest.approx(1.0) and teams.loc["二组", "rate"] == pytest.approx(1 / 3)
    assert teams.loc["合计", "reviewed"] == 3
    d = w["disputes"].set_index("kind")
    assert (d.loc["坐席申诉", "raised"], d.loc["坐席申诉", "overturned"], d.loc["质检争议", "open"]) == (1, 1, 1)
    assert d.loc["合计", "pending_age_max_days"] == pytest.approx(3.0) and d.loc["坐席申诉", "sign_off_median_days"] == pytest.approx(2.0)
    assert (seed(wb_report, "disputes").value, seed(wb_report, "dispute_overturn_rate").value) == (2, 1.0)
    insp = w["inspectors"].set_index("reviewer")
    assert (insp.loc["i1", "first_reviews"], insp.loc["i2", "first_reviews"], insp.loc["i2", "second_reviews"]) == (2, 1, 1)  # wX not counted
    assert insp.loc["i2", "open_items"] == 1 and insp.loc["i1", "mean_abs_diff"] == pytest.approx((10 + 15) / 2)
    assert (insp.loc["i1", "disputed"], insp.loc["i1", "overturn_rate"]) == (1, 1.0)


def test_workbench_consistency_error_rate_and_agreement(wb_report, workbench, cfg):
    k = seed(wb_report, "inspector_kappa")
    assert (k.value, k.n) == (pytest.approx(0.4), 3)
    c = wb_report.seed["workbench"]["consistency"]
    assert c["agreement"] == pytest.approx(2 / 3) and c["score_mean_abs_diff"] == pytest.approx(15.0)
    assert seed(wb_report, "error_rate").value == pytest.approx(1 / 2)
    # machine vs human: the workbench's own numbers (whole database): w1 优/良, w2 良/良, wX 良/中 → 1 / 3 the same grade
    g = seed(wb_report, "grade_agreement")
    assert (g.value, g.n) == (pytest.approx(1 / 3), 3)


def test_fcr_and_aht_from_the_workbench(wb_report):
    fcr = seed(wb_report, "fcr")  # C1: w1 11-09, w2 11-12 (3 days): w1 repeats; w2's window ends 11-19 ≤ 11-20; w3–w5 have no customer
    assert (fcr.value, fcr.n) == (pytest.approx(1 / 2), 2) and "工作台" in fcr.source, fcr.note
    aht = seed(wb_report, "aht_s")  # only w1 has a timed transcript: 0 → 95 s
    assert (aht.value, aht.n) == (pytest.approx(95.0), 1)


def test_cli_reads_the_workbench_read_only_and_refuses_a_missing_one(workbench, wb_runs, tmp_path):
    from pipeline.cli import main

    before = digest(workbench)
    out = tmp_path / "r.html"
    assert main(["report", str(wb_runs[0]), "--out", str(out), "--database-url", workbench, "--quiet"]) == 0
    assert digest(workbench) == before
    page = out.read_text(encoding="utf-8")
    assert "人工抽检率(按团队)" in page and "质检员工作量与一致性" in page
    missing = tmp_path / "nope.db"
    assert main(["report", str(wb_runs[0]), "--out", str(tmp_path / "x.html"), "--database-url", f"sqlite:///{missing}"]) == 2
    assert not missing.exists()


def test_without_workbench_the_review_kpis_say_why(timing_report):
    for key in ("sampling_rate", "disputes", "dispute_overturn_rate", "inspector_kappa", "grade_agreement"):
        k = seed(timing_report, key)
        assert k.value is None and k.note.startswith("无数据") and "--database-url" in k.note, key


# ------------------------------------------------------------------------------------------------ same period (同期)
def test_same_period_from_a_purged_run_and_absent_otherwise(tmp_path, cfg):
    now_rows = [{"id": "y1", "started_at": at("2026-11-10", 10), "score": 90.0}, {"id": "y2", "started_at": at("2026-11-10", 11), "score": 80.0}]
    run = write_run(tmp_path / "now", now_rows)
    absent = compute([run], cfg).seed["same_period"]
    assert absent["available"] is False and "2025-11-10" in absent["note"] and "没有去年同期" in absent["note"]
    old = tmp_path / "old"
    old.mkdir()
    (old / "manifest.json").write_text("{}", encoding="utf-8")
    (old / "aggregates.json").write_text(json.dumps({"format": "zhijian-aggregates/1", "daily": [
        {"day": "2025-11-10", "conversations": 4, "scored_n": 4, "avg_score": 70.0, "fatal_rate": 0.25, "rated_n": 0, "csat": None,
         "grades": {"良": 4}},
        {"day": "2025-11-11", "conversations": 9, "scored_n": 9, "avg_score": 10.0}]}), encoding="utf-8")
    r = compute([run, old], cfg)
    sp = r.seed["same_period"]
    assert sp["available"] and sp["last_year"][0].isoformat() == "2025-11-10" and sp["days_last_year"] == 1
    rows = {c["key"]: c for c in sp["rows"]}
    assert (rows["conversations"]["current"], rows["conversations"]["last_year"]) == (2, 4)  # 11-11 is outside the period
    assert rows["avg_score"]["current"] == pytest.approx(85.0) and rows["avg_score"]["last_year"] == pytest.approx(70.0)
    assert rows["fatal_rate"]["last_year"] == pytest.approx(0.25) and rows["csat"]["last_year"] is None
    assert any("aggregates.json" in n for n in r.notes)
    from pipeline.cli import main

    assert main(["report", str(old), "--out", str(tmp_path / "x.html")]) == 2  # a purged run alone is no report


# ------------------------------------------------------------------------------------------------ summary and rendering
def test_executive_summary_is_first_and_honest(timing_report, tmp_path):
    from pipeline.report.html import render_html

    page = render_html(timing_report, {})
    sections = re.findall(r'<section id="([\w-]+)"', page)
    assert sections[0] == "summary" and sections[1] == "kpi" and "seed" in sections
    assert re.search(r"<nav><a href=\"#summary\">摘要</a>", page)
    summary = page.split('<section id="summary">')[1].split("</section>")[0]
    tiles = dict(re.findall(r'data-summary="([\w_]+)"><div class="label">[^<]*</div><div class="value">([^<]*(?:<[^>]+>[^<]*</[^>]+>)?)', summary))
    for key in ("coverage", "avg_score", "fatal_rate", "first_response_sla_compliance", "csat", "fcr", "complaint_rate", "nps",
                "peak_wait_s", "error_rate"):
        assert key in tiles, key
    assert tiles["fcr"] == "无数据" and tiles["nps"] == "无数据" and tiles["complaint_rate"] == "60.0%"
    assert "变差最多" in summary and "需要行动" in summary and "客户满意度 CSAT" in summary.split("需要行动")[1]  # missed target listed
    assert RAW_PHONE not in page and "再不处理我就投诉你们" not in page  # evidence masked, comments never shown


def test_seed_section_and_excel(timing_report, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    from pipeline.report.html import render_html
    from pipeline.report.xlsx import render_xlsx

    page = render_html(timing_report, {})
    seed_html = page.split('<section id="seed">')[1].split("</section>")[0]
    for key in ("fcr", "csat", "nps", "complaint_rate", "aht_s", "over_sla", "peak_wait_s", "error_rate", "sampling_rate", "disputes"):
        assert f'data-kpi="{key}"' in seed_html, key
    fcr_row = seed_html.split('data-kpi="fcr"')[1].split("</tr>")[0]
    assert "无数据" in fcr_row and "seed 001" in fcr_row and "≥ 80.0%" in fcr_row
    out = tmp_path / "r.xlsx"
    render_xlsx(timing_report, out)
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames[0] == "摘要" and {"种子指标", "高峰时段", "投诉案例", "同期对比"} <= set(wb.sheetnames)
    ws = wb["种子指标"]
    rows = {ws.cell(row=i, column=2).value: i for i in range(1, ws.max_row + 1)}
    fmt = lambda key: ws.cell(row=rows[key], column=3).number_format  # noqa: E731
    assert (fmt("complaint_rate"), fmt("aht_s"), fmt("over_sla")) == ("0.0%", "0.0", "#,##0")
    assert ws.cell(row=rows["over_sla"], column=3).value == 3 and ws.cell(row=rows["fcr"], column=3).value is None
    assert ws.cell(row=rows["fcr"], column=11).value.startswith("无数据")
    cells = "".join(str(c.value) for row in wb["投诉案例"].iter_rows() for c in row if c.value is not None)
    assert "我要投诉" in cells and RAW_PHONE not in cells and "再不处理我就投诉你们" not in cells


def test_new_sections_are_in_chinese(wb_report, timing_report):
    """The headings and messages of the summary and seed sections, with and without a workbench (as tests/test_report.py)."""
    from pipeline.report.html import render_html
    from tests.test_report import ENGLISH_ALLOWED

    refs = re.compile(r"--[\w-]+|[\w-]+(?:[._][\w-]+)+")
    for r in (wb_report, timing_report):
        page = render_html(r, {})
        page = "".join(page.split(f'<section id="{k}">')[1].split("</section>")[0] for k in ("summary", "seed"))
        texts = re.findall(r"<(?:h[1-4]|summary|th|nav)[^>]*>(.*?)</(?:h[1-4]|summary|th|nav)>", page, flags=re.S)
        texts += re.findall(r'class="(?:nodata|note|small)"[^>]*>(.*?)</(?:div|p)>', page, flags=re.S)
        words = {w for t in texts for w in re.findall(r"[A-Za-z]{3,}", refs.sub(" ", re.sub(r"<[^>]+>", " ", t)))}
        assert words <= ENGLISH_ALLOWED | {"Cohen", "manifest"}, sorted(words - ENGLISH_ALLOWED)


def test_stdout_headline_lists_seed_kpis_with_targets(timing_report):
    from pipeline.report.cli import headline

    text = headline(timing_report, Path("r.html"))
    assert "✓ 高峰时段平均等待 40.0 s (目标 ≤ 300 s)" in text and text.count("客户满意度 CSAT") == 1
    assert "首次解决率" not in text  # no value: not judged
