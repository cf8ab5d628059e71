"""差评 cases, part 1 (issue 19): the suggested reason class and its evidence (pipeline/cases/reason.py),
``zhijian cases evaluate-reasons`` (a tiny hand-made gold file; a clear error without one), opening cases
on ``zhijian load`` and ``zhijian cases import`` (by id, by customer and time, unmatched), and migration
0004 — the database tests on SQLite and PostgreSQL (``db_url``)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from pipeline.cases import reason
from pipeline.cases.evaluate import EvaluationError, evaluate_reasons, figures, format_figures
from pipeline.cases.export import EXPORT_COLUMNS, export_rows
from pipeline.cli import main
from pipeline.workbench.db import AuditEntry, Case, CaseNotice, Conversation, WebhookDelivery

# --------------------------------------------------------------------------- the suggestion


def F(rule, turn=1, evidence=None):
    return {"rule": rule, "turn": turn, "evidence": evidence}


SUGGESTIONS = [
    # (result, turns, review text, expected class, a rule or cue among the evidence)
    ({"findings": [F("forbidden.phrase", 3, "你听不懂吗")]}, None, None, "服务态度", "forbidden.phrase"),
    ({"findings": [F("empathy.missing")], "sentiment": {"customer_end": "negative"}}, None, None, "服务态度", "empathy.missing"),
    ({"findings": [F("response.slow")], "metrics": {"max_response_s": 300}}, None, None, "响应速度", "response.slow"),
    ({"findings": [F("privacy.disclosure")]}, None, None, "其他", "privacy.disclosure"),
    ({"questions": [{"id": "question.resolved", "answer": "否", "confidence": 0.8, "evidence_turns": [5]}]}, None, None,
     "问题解决效果", "question.resolved"),
    ({"questions": [{"id": "question.solution_explained", "answer": "否", "confidence": 0.8}]}, None, None, "专业能力",
     "question.solution_explained"),
    ({"findings": [F("question.resolved")]}, None, None, "问题解决效果", "question.resolved"),  # a failed question stored as a finding
    ({}, None, None, "问题解决效果", None),  # nothing about the agent: the outcome (the baseline)
    ({"findings": [F("greeting.missing"), F("closing.missing")]}, None, None, "问题解决效果", None),  # process slips don't outweigh it
    ({}, [{"role": "customer", "text": "在吗"}, {"role": "agent", "text": "您好"}, {"role": "customer", "text": "人呢?怎么不回"}],
     None, "响应速度", "人呢"),
    ({}, [{"role": "customer", "text": "在吗"}, {"role": "agent", "text": "您好"}], None, "问题解决效果", None),  # 在吗 before the agent spoke: a greeting
    ({}, [{"role": "agent", "text": "您好"}, {"role": "customer", "text": "你这答非所问啊"}], None, "专业能力", "答非所问"),
    ({}, None, "客服态度太差了,爱答不理", "服务态度", "态度"),
    ({}, None, "泄露我的隐私", "其他", "隐私"),
]


@pytest.mark.parametrize("result, turns, text, expected, because", SUGGESTIONS)
def test_the_suggestion_follows_seed_004s_criteria_and_names_its_evidence(result, turns, text, expected, because):
    s = reason.suggest(result, turns, text)
    assert s.reason == expected, s.points
    assert s.points[expected] == max(s.points.values())
    support = s.supporting()
    assert support and all(e.reason == expected for e in support)
    if because is not None:
        assert any(e.rule == because or e.text == because for e in support), support
    d = s.as_dict()
    assert d["reason"] == expected and d["evidence"] and all(e["detail"] for e in d["evidence"] + d["other"])
    assert s.agent_at_fault == (expected in ("服务态度", "专业能力", "响应速度"))


def test_every_finding_row_names_a_seed_class_and_a_reason():
    for rule, (cls, pts, why) in reason.FINDING_SIGNALS.items():
        assert cls in reason.CLASSES and pts >= 0 and why, rule
    for key, (cls, pts, why) in reason.QUESTION_SIGNALS.items():
        assert cls in reason.CLASSES and pts > 0 and why, key
    assert set(reason.CUES) == set(reason.CLASSES)
    assert sorted(reason.TIE_ORDER) == sorted(reason.CLASSES)


def test_a_rule_firing_many_times_counts_once_and_customer_cues_at_most_twice():
    many = reason.suggest({"findings": [F("forbidden.phrase", t) for t in range(5)]})
    assert many.points["服务态度"] == reason.FINDING_SIGNALS["forbidden.phrase"][1]
    turns = [{"role": "agent", "text": "您好"}] + [{"role": "customer", "text": "人呢"}] * 6
    chase = reason.suggest({}, turns)
    assert chase.points["响应速度"] == reason.CUES["响应速度"][0] * 1.5


# --------------------------------------------------------------------------- evaluate-reasons


def test_figures_accuracy_kappa_and_confusion_by_hand():
    rows = [{"gold": g, "also": a, "suggested": s, "gold_agent_at_fault": ga, "suggested_agent_at_fault": sa}
            for g, a, s, ga, sa in [("服务态度", [], "服务态度", True, True), ("问题解决效果", [], "问题解决效果", False, False),
                                    ("响应速度", ["服务态度"], "服务态度", True, True), ("问题解决效果", [], "服务态度", False, True)]]
    f = figures(rows)
    assert f["n"] == 4 and f["accuracy"] == 0.5 and f["accuracy_with_also"] == 0.75
    # κ: po = 0.5; gold 态度 1, 效果 2, 速度 1; suggested 态度 3, 效果 1 → pe = (1·3 + 2·1) / 16
    assert f["kappa"] == pytest.approx((0.5 - 5 / 16) / (1 - 5 / 16))
    assert f["confusion"]["问题解决效果"] == {"服务态度": 1, "专业能力": 0, "响应速度": 0, "问题解决效果": 1, "其他": 0}
    assert f["agent_at_fault_agreement"] == 0.75
    text = format_figures(f)
    assert "accuracy 50.0%" in text and "confusion" in text and "问题解决效果" in text


def test_evaluate_reasons_without_the_gold_file_says_so(tmp_path, capsys):
    code = main(["cases", "evaluate-reasons", "data/cases/reason_set.jsonl", str(tmp_path / "reason_gold.jsonl")])
    assert code == 2
    err = capsys.readouterr().err
    assert "gold file" in err and "does not exist" in err and "RUBRIC.md" in err


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory):
    """Three hand-made chats and a hand-made gold file (the real one: data/cases/reason_gold.jsonl)."""
    tmp = tmp_path_factory.mktemp("reasons")
    chats = [
        {"id": "r-1", "channel": "chat", "turns": [{"role": "customer", "text": "我的快递到哪了"},
                                                   {"role": "agent", "text": "你自己不会查吗"},
                                                   {"role": "customer", "text": "你什么态度"}]},
        {"id": "r-2", "channel": "chat", "turns": [{"role": "customer", "text": "退款什么时候到"},
                                                   {"role": "agent", "text": "您好,退款已经提交,三到五个工作日到账"},
                                                   {"role": "customer", "text": "人呢?在吗?怎么不回"}]},
        {"id": "r-3", "channel": "chat", "turns": [{"role": "customer", "text": "快递怎么还没到"},
                                                   {"role": "agent", "text": "非常抱歉让您久等了,理解您的心情,已经帮您催促物流了"},
                                                   {"role": "customer", "text": "好吧"}]},
    ]
    gold = [{"id": "r-1", "reason": "服务态度", "also": [], "agent_at_fault": True, "note": ""},
            {"id": "r-2", "reason": "响应速度", "also": [], "agent_at_fault": True, "note": ""},
            {"id": "r-3", "reason": "问题解决效果", "also": [], "agent_at_fault": False, "note": "物流慢"}]
    (tmp / "set.jsonl").write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in chats), encoding="utf-8")
    (tmp / "gold.jsonl").write_text("".join(json.dumps(g, ensure_ascii=False) + "\n" for g in gold), encoding="utf-8")
    return tmp


def test_evaluate_reasons_on_a_tiny_hand_made_gold_file(tiny_set, capsys):
    code = main(["cases", "evaluate-reasons", str(tiny_set / "set.jsonl"), str(tiny_set / "gold.jsonl"), "--json", "--rows"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 3
    got = {r["id"]: r["suggested"] for r in out["rows"]}
    assert got == {"r-1": "服务态度", "r-2": "响应速度", "r-3": "问题解决效果"}, out["rows"]
    assert out["accuracy"] == 1.0 and out["kappa"] == 1.0
    assert main(["cases", "evaluate-reasons", str(tiny_set / "set.jsonl"), str(tiny_set / "gold.jsonl")]) == 0
    assert "Cohen's κ 1.000" in capsys.readouterr().out


def test_a_gold_label_outside_the_five_classes_is_refused(tiny_set, tmp_path):
    bad = tmp_path / "gold.jsonl"
    bad.write_text(json.dumps({"id": "r-1", "reason": "态度"}, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(EvaluationError, match="not one of 服务态度"):
        evaluate_reasons(tiny_set / "set.jsonl", bad, {})


# --------------------------------------------------------------------------- opening cases


def _bad_and_complaints(s, cfg):
    bad = cfg["review"]["bad_rating_at_most"]
    rated = set(s.scalars(select(Conversation.ext_id).where(Conversation.rating_score <= bad)))
    from pipeline.workbench.db import Finding

    complaints = set(s.scalars(select(Conversation.ext_id).join(Finding, Finding.conversation_id == Conversation.id)
                               .where(Finding.rule.in_(("complaint.risk", "complaint.caused")))))
    return rated, complaints


def test_load_opens_a_case_per_bad_rating_or_complaint_once(db_url, cfg, workbench_run_dir):
    from pipeline.workbench.database import open_database
    from pipeline.workbench.load import load_run

    engine, factory = open_database(db_url)
    try:
        with factory() as s:
            summary = load_run(s, workbench_run_dir, config=cfg)
            rated, complaints = _bad_and_complaints(s, cfg)
            cases = list(s.scalars(select(Case)))
            assert rated and complaints - rated, "the sample run should have both kinds"
            assert {c.conversation_ext_id for c in cases} == rated | complaints
            assert summary.cases_opened == len(cases)
            for c in cases:
                assert c.key == f"conv:{c.conversation_ext_id}" and c.state == "open"
                assert c.source == ("rating" if c.conversation_ext_id in rated else "complaint")
                assert c.suggested_reason in reason.CLASSES and c.suggestion["evidence"]
                conv = s.get(Conversation, c.conversation_id)
                assert c.agent_id == conv.agent_id
                received = c.received_at if c.received_at.tzinfo else c.received_at.replace(tzinfo=timezone.utc)
                if conv.started_at:  # the review's time is the conversation's; without one, the time it was loaded
                    assert received == datetime.fromisoformat(conv.started_at)
                else:
                    assert datetime.now(timezone.utc) - received < timedelta(minutes=5)
                due = c.account_due if c.account_due.tzinfo else c.account_due.replace(tzinfo=timezone.utc)
                assert due - received == timedelta(hours=cfg["cases"]["account_within_h"])
            opened = s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "case.open"))
            assert opened == len(cases)
            assert s.scalar(select(func.count()).select_from(WebhookDelivery)) == 0  # no url configured: nothing queued
            again = load_run(s, workbench_run_dir, config=cfg)
            assert again.cases_opened == 0 and s.scalar(select(func.count()).select_from(Case)) == len(cases)
    finally:
        engine.dispose()


def test_load_tells_the_agent_and_their_teams_supervisor(db_url, cfg, workbench_run_dir):
    from pipeline.workbench import users
    from pipeline.workbench.database import open_database
    from pipeline.workbench.load import load_run

    engine, factory = open_database(db_url)
    try:
        with factory() as s:
            agent = users.create_user(s, "wangfang", "password-123456", "agent", agent_id="A010", team="T1", config=cfg)
            sup = users.create_user(s, "lead1", "password-123456", "supervisor", team="T1", config=cfg)
            other = users.create_user(s, "lead2", "password-123456", "supervisor", team="T2", config=cfg)
            s.commit()
            load_run(s, workbench_run_dir, config=cfg)
            mine = set(s.scalars(select(Case.id).where(Case.agent_id == "A010")))
            assert mine
            told = lambda u: set(s.scalars(select(CaseNotice.case_id).where(CaseNotice.user_id == u.id)))  # noqa: E731
            assert told(agent) == mine and mine <= told(sup)
            assert not told(other) & mine  # another team's supervisor is not told about A010's cases
            # agents without an account (no team known): every supervisor hears of them
            assert told(other) == told(sup) - mine
    finally:
        engine.dispose()


def _write_csv(path, rows):
    import csv

    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["ref", "source", "conversation_id", "customer_id", "agent_id", "at", "rating", "text"])
        w.writeheader()
        w.writerows(rows)


def test_import_matches_by_id_then_customer_and_time_and_keeps_the_unmatched(db_url, cfg, workbench_run_dir, tmp_path):
    from pipeline.cases import service
    from pipeline.workbench.database import open_database
    from pipeline.workbench.load import load_run

    engine, factory = open_database(db_url)
    try:
        with factory() as s:
            load_run(s, workbench_run_dir, config=cfg)
            good = s.scalars(select(Conversation).where(Conversation.rating_score >= 4, Conversation.customer_id.is_not(None),
                                                        Conversation.started_at.is_not(None)).order_by(Conversation.id)).all()
            by_id, by_customer = good[0], next(c for c in good[1:] if c.customer_id != good[0].customer_id)
            started = datetime.fromisoformat(by_customer.started_at)
            before = s.scalar(select(func.count()).select_from(Case))
        _write_csv(tmp_path / "reviews.csv", [
            {"ref": "TM-1", "source": "天猫", "conversation_id": by_id.ext_id, "at": "2026-12-01T10:00:00+08:00", "rating": "1",
             "text": "客服态度很差,电话 13812345678"},
            {"ref": "WB-7", "source": "微博", "customer_id": by_customer.customer_id,
             "at": (started + timedelta(hours=5)).isoformat(), "text": "等了半天没人回"},
            {"ref": "TS-3", "source": "投诉电话", "customer_id": "nobody", "agent_id": "A001", "at": "2026-12-01T09:00:00",
             "text": "客服泄露了我的隐私"},
        ])
        url_args = ["--database-url", db_url]
        assert main(["cases", "import", str(tmp_path / "reviews.csv"), *url_args]) == 0
        assert main(["cases", "import", str(tmp_path / "reviews.csv"), *url_args]) == 0  # again: nothing new
        with factory() as s:
            assert s.scalar(select(func.count()).select_from(Case)) == before + 3
            tm = s.scalar(select(Case).where(Case.key == "import:天猫:TM-1"))
            assert tm.conversation_id == by_id.id and tm.source == "import" and tm.channel == "天猫"
            # the review's own words count (态度), next to what the inspection found in the conversation
            cues = [e for e in tm.suggestion["evidence"] + tm.suggestion["other"] if e["kind"] == "review_cue"]
            assert [(e["reason"], e["text"]) for e in cues] == [("服务态度", "态度")]
            assert tm.suggestion["points"]["服务态度"] >= reason.REVIEW_TEXT_POINTS
            wb = s.scalar(select(Case).where(Case.key == "import:微博:WB-7"))
            assert wb.conversation_id == by_customer.id and wb.agent_id == by_customer.agent_id
            ts = s.scalar(select(Case).where(Case.key == "import:投诉电话:TS-3"))
            assert ts.conversation_id is None and ts.source == "complaint" and ts.agent_id == "A001"
            assert ts.suggested_reason == "其他"
            rows = export_rows(service.list_cases(s))
            assert all("13812345678" not in r["review_text"] for r in rows)  # an export leaves the app masked
    finally:
        engine.dispose()


def test_an_imported_case_is_linked_when_its_conversation_is_loaded_later(db_url, cfg, workbench_run_dir):
    from pipeline.cases import service
    from pipeline.workbench.database import open_database
    from pipeline.workbench.load import load_run

    engine, factory = open_database(db_url)
    try:
        with factory() as s:
            case, created = service.open_case(s, cfg, key="api:t-0002", source="api", received_at=datetime.now(timezone.utc),
                                              conversation_ext_id="t-0002", rating_score=1)
            s.commit()
            assert created and case.conversation_id is None
            load_run(s, workbench_run_dir, config=cfg)
            s.refresh(case)
            conv = s.scalar(select(Conversation).where(Conversation.ext_id == "t-0002"))
            assert case.conversation_id == conv.id and case.agent_id == conv.agent_id
            assert s.scalar(select(func.count()).select_from(Case).where(Case.conversation_ext_id == "t-0002")) == 1
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- migration 0004


def test_migration_0004_adds_and_removes_only_the_case_tables(db_url):
    from sqlalchemy import inspect

    from pipeline.workbench.database import current_revision, downgrade, make_engine, upgrade

    def tables():
        engine = make_engine(db_url)
        try:
            return set(inspect(engine).get_table_names()) - {"alembic_version"}
        finally:
            engine.dispose()

    upgrade(db_url, "0004")  # 0005 (scorecard questions) is tested in tests/test_workbench_questions.py
    head = tables()
    assert current_revision(db_url) == "0004"
    downgrade(db_url, "0003")
    assert head - tables() == {"cases", "case_contacts", "case_measures", "case_notices", "webhook_deliveries"}
    assert current_revision(db_url) == "0003"
    upgrade(db_url, "0004")
    assert current_revision(db_url) == "0004" and tables() == head


# --------------------------------------------------------------------------- zhijian cases list / export


def test_cases_list_and_export_from_the_command_line(db_url, cfg, workbench_run_dir, tmp_path, capsys):
    import csv

    from pipeline.cases import service
    from pipeline.workbench.database import open_database
    from pipeline.workbench.load import load_run

    engine, factory = open_database(db_url)
    try:
        with factory() as s:
            load_run(s, workbench_run_dir, config=cfg)
            fresh, _ = service.open_case(s, cfg, key="fresh", source="import", received_at=datetime.now(timezone.utc),
                                         agent_id="A999", review_text="电话 13812345678")
            s.commit()
            total = s.scalar(select(func.count()).select_from(Case))
            a010 = s.scalar(select(func.count()).select_from(Case).where(Case.agent_id == "A010"))
            late = len(service.list_cases(s, overdue_only=True))
            late_a010 = len(service.list_cases(s, overdue_only=True, agent="A010"))
    finally:
        engine.dispose()
    args = ["--database-url", db_url]
    assert main(["cases", "list", *args]) == 0
    out = capsys.readouterr().out
    assert late >= total - 3 and late_a010 and f"{total} cases, {late} overdue" in out  # the sample's reviews are weeks old
    assert "逾期:情况说明" in out
    lines = [l for l in out.splitlines() if l.strip()[:1].isdigit()]
    assert lines[-1].split()[0] == str(fresh.id)  # not overdue: listed last
    assert main(["cases", "list", "--overdue", "--agent", "A010", *args]) == 0
    assert f"{late_a010} cases, {late_a010} overdue" in capsys.readouterr().out and late_a010 <= a010
    assert main(["cases", "export", "--out", str(tmp_path / "cases.csv"), *args]) == 0
    with open(tmp_path / "cases.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == total and list(rows[0]) == list(EXPORT_COLUMNS)
    assert all("13812345678" not in r["review_text"] for r in rows)
    assert main(["cases", "export", "--format", "jsonl", "--agent", "A999", *args]) == 0
    got = [json.loads(l) for l in capsys.readouterr().out.splitlines()]
    assert [(r["case_id"], r["state"], r["overdue"]) for r in got] == [(fresh.id, "open", "")]
