"""Calibration sessions (pipeline/workbench/calibration.py): creating one, blind answers, submitting,
the results (units, consensus, ties, κ / α, deviations), gold labels and their export — and that a
session changes nothing an agent's result is made of. On SQLite and on PostgreSQL (``db_url``)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from test_workbench_core import U, add_conv, audit_rows, team  # noqa: F401 — team: the workflow tests' people (a fixture)

from pipeline.stats import fleiss_kappa, krippendorff_alpha
from pipeline.workbench import calibration, review
from pipeline.workbench.db import (
    CalibrationGold,
    CalibrationSession,
    Conversation,
    Dispute,
    Review,
    Verdict,
)
from pipeline.workbench.labels import export_labels, rule_precision, score_agreement

INSPECTORS = ("insp1", "insp2", "insp3")
# per conversation, per finding position: each inspector's verdict (C confirmed, R rejected)
ANSWERS = {
    "cal-1": [("C", "C", "C"), ("R", "R", "C")],
    "cal-2": [("C", "R", "C"), ("R", "C", "C")],
}
SCORES = {"cal-1": (80, 80, 90), "cal-2": (70, 95, 72)}  # typed: the grade units are known
WORD = {"C": "confirmed", "R": "rejected"}


@pytest.fixture()
def session_3(factory, team, cfg):
    """A session on two conversations with three inspectors, nobody has answered yet."""
    with factory() as s:
        convs = [add_conv(s, ext) for ext in ANSWERS]
        cs = calibration.create_session(s, "三人校准", [c.id for c in convs], [team[n] for n in INSPECTORS], U(s, team, "sup"))
        s.commit()
        return cs.id


def _answer_all(s, team, cfg, cs, who: str, index: int):
    user = U(s, team, who)
    for item in cs.items:
        ext = item.conversation.ext_id
        for f, votes in zip(calibration.machine_findings(item.conversation), ANSWERS[ext]):
            calibration.set_verdict(s, cs, item, f, WORD[votes[index]], None, user)
        calibration.save_answer(s, cs, item, human_score=SCORES[ext][index], issue_type=None,
                                sentiment="negative" if (who, ext) == ("insp3", "cal-1") else None, comment="备注 13812345678",
                                actor=user, config=cfg)


def test_create_refuses_what_cannot_be_a_session(factory, team, cfg):
    with factory() as s:
        conv = add_conv(s, "c-1")
        sup, insp1 = U(s, team, "sup"), U(s, team, "insp1")
        cases = [
            (insp1, "t", [conv.id], [team["insp1"], team["insp2"]], review.NotAllowed, "无权"),
            (sup, "", [conv.id], [team["insp1"], team["insp2"]], review.WorkflowError, "名称"),
            (sup, "t", [], [team["insp1"], team["insp2"]], review.WorkflowError, "至少选择一条会话"),
            (sup, "t", [conv.id], [team["insp1"]], review.WorkflowError, "至少需要 2 位"),
            (sup, "t", [conv.id], [team["insp1"], team["sup2"]], review.WorkflowError, "sup2"),
            (sup, "t", [conv.id], [team["insp1"], team["agent17"]], review.WorkflowError, "在岗的质检员"),
        ]
        for actor, title, convs, people, error, message in cases:
            with pytest.raises(error, match=message):
                calibration.create_session(s, title, convs, people, actor)
        with pytest.raises(review.WorkflowError, match="nope"):
            calibration.conversations_by_ext_id(s, "c-1, nope")
        assert calibration.conversations_by_ext_id(s, "c-1\nc-1") == [conv.id]


def test_answers_stay_blind_until_everyone_submitted(factory, team, cfg, session_3):
    with factory() as s:
        cs = s.get(CalibrationSession, session_3)
        _answer_all(s, team, cfg, cs, "insp1", 0)
        s.commit()
        insp2 = U(s, team, "insp2")
        # insp2 sees only their own (empty) answer; the results are closed
        assert not calibration.results_open(cs)
        assert all(calibration.answer_of(s, item, insp2) is None for item in cs.items)
        # an outsider can't see the session at all; the supervisor can (but not the answers yet)
        assert not calibration.can_see_session(s, cs, U(s, team, "agent17"))
        outsider = U(s, team, "sup2")
        assert calibration.can_see_session(s, cs, outsider) and calibration.participant(s, cs, outsider) is None
        # submitting needs every machine finding judged
        with pytest.raises(review.WorkflowError, match="cal-1"):
            calibration.submit(s, cs, insp2, cfg)
        s.rollback()
        calibration.submit(s, cs, U(s, team, "insp1"), cfg)
        s.commit()
        with pytest.raises(review.WorkflowError, match="不能再修改"):
            calibration.set_verdict(s, cs, cs.items[0], cs.items[0].conversation.findings[0], "rejected", None, U(s, team, "insp1"))
        s.rollback()
        _answer_all(s, team, cfg, cs, "insp2", 1)
        calibration.submit(s, cs, insp2, cfg)
        assert cs.state == "open" and not calibration.results_open(cs)
        _answer_all(s, team, cfg, cs, "insp3", 2)
        calibration.submit(s, cs, U(s, team, "insp3"), cfg)
        s.commit()
        assert cs.state == "complete" and calibration.results_open(cs) and cs.ended_at is not None
        actions = [e.action for e in audit_rows(s) if e.action.startswith("calibration.")]
        assert actions.count("calibration.verdict") == 12 and actions.count("calibration.answer") == 6
        assert actions.count("calibration.submit") == 3 and actions[-1] == "calibration.complete"
        assert "13812345678" not in json.dumps([e.after for e in audit_rows(s, "calibration.answer")], ensure_ascii=False)


def test_results_consensus_ties_agreement_and_deviation(factory, team, cfg, session_3):
    with factory() as s:
        cs = s.get(CalibrationSession, session_3)
        for i, who in enumerate(INSPECTORS):
            _answer_all(s, team, cfg, cs, who, i)
            calibration.submit(s, cs, U(s, team, who), cfg)
        s.commit()
        res = calibration.results(s, cs, cfg)
        ids = [team[n] for n in INSPECTORS]
        assert res["raters"] == ids
        by = {(u.item.conversation.ext_id, u.key if not u.finding else f"f{u.finding.position}"): u for u in res["units"]}
        grade = lambda score: review.grade_of(score, cfg)  # noqa: E731
        expected_units = {}
        for ext, rows in ANSWERS.items():
            for pos, votes in enumerate(rows):
                expected_units[(ext, f"f{pos}")] = [WORD[v] for v in votes]
            expected_units[(ext, "grade")] = [grade(x) for x in SCORES[ext]]
        expected_units[("cal-1", "sentiment")] = [None, None, "negative"]  # only insp3 corrected; nobody else, no machine label
        assert by[("cal-1", "sentiment")].consensus is None  # one answer is no consensus
        assert {k: [u.values[i] for i in ids] for k, u in by.items()} == expected_units
        assert by[("cal-1", "f1")].consensus == "rejected" and by[("cal-1", "f0")].agreement == 1.0
        assert by[("cal-2", "f0")].votes == {"confirmed": 2, "rejected": 1}
        # κ over the units everyone answered, α over all (the lone sentiment can't be paired)
        complete = [v for v in expected_units.values() if None not in v]
        assert res["overall"]["fleiss_kappa"] == pytest.approx(fleiss_kappa(complete))
        assert res["overall"]["krippendorff_alpha"] == pytest.approx(krippendorff_alpha(list(expected_units.values())))
        per_item = {g["group"]: g for g in res["per_item"]}
        assert per_item["服务规范.服务忌语"]["units"] == 2 and per_item["等级"]["units"] == 2
        # consensus score is the median; deviations count the units that differ from a majority
        assert res["consensus_score"] == {cs.items[0].id: 80, cs.items[1].id: 72}
        dev = {d["user"].username: d for d in res["deviations"]}
        decided = [u for u in res["units"] if u.consensus is not None]
        for n, who in enumerate(INSPECTORS):
            differ = sum(u.values[ids[n]] not in (None, u.consensus) for u in decided)
            assert dev[who]["differ"] == differ
        assert dev["insp2"]["mean_score_diff"] == pytest.approx(((80 - 80) + (95 - 72)) / 2)


def test_close_early_ties_need_the_supervisor_and_gold_is_exported(factory, team, cfg, session_3, tmp_path):
    with factory() as s:
        cs = s.get(CalibrationSession, session_3)
        for i, who in enumerate(INSPECTORS[:2]):  # insp3 never submits
            _answer_all(s, team, cfg, cs, who, i)
            calibration.submit(s, cs, U(s, team, who), cfg)
        sup = U(s, team, "sup")
        with pytest.raises(review.WorkflowError, match="全部参与人提交"):
            calibration.accept_gold(s, cs, {}, sup, cfg)
        with pytest.raises(review.NotAllowed):
            calibration.close(s, cs, U(s, team, "insp1"))
        calibration.close(s, cs, sup)
        s.commit()
        assert cs.state == "closed" and cs.closed_by == team["sup"]
        res = calibration.results(s, cs, cfg)
        assert res["submitted"] == 2 and len(res["raters"]) == 2
        ties = res["ties"]
        assert ties and all(u.tie and u.consensus is None for u in ties)  # two raters who differ: a tie
        with pytest.raises(review.WorkflowError, match="票数相同"):
            calibration.accept_gold(s, cs, {}, sup, cfg)
        decisions = {f"{u.item.id}:{u.key}": sorted(u.votes)[0] for u in ties}
        rows = calibration.accept_gold(s, cs, decisions, sup, cfg)
        s.commit()
        assert len(rows) == sum(u.consensus is not None or u.tie for u in res["units"])
        assert {r.decided_by for r in rows} == {"majority", "supervisor"}
        assert cs.gold_accepted_by == team["sup"] and audit_rows(s, "calibration.gold")
        # accepting again replaces, not duplicates
        calibration.accept_gold(s, cs, decisions, sup, cfg)
        s.commit()
        assert s.scalar(select(func.count()).select_from(CalibrationGold)) == len(rows)

        plain = export_labels(s, tmp_path / "plain", config=cfg)
        assert "calibration_gold.jsonl" not in plain["files"] and not (tmp_path / "plain" / "calibration_gold.jsonl").exists()
        out = export_labels(s, tmp_path / "gold", config=cfg, calibration_gold=True)
        assert out["files"]["calibration_gold.jsonl"] == len(rows)
        lines = [json.loads(x) for x in (tmp_path / "gold" / "calibration_gold.jsonl").read_text(encoding="utf-8").splitlines()]
        finding_rows = [r for r in lines if r["unit"] == "finding"]
        assert finding_rows and {r["value"] for r in finding_rows} <= {"confirmed", "rejected"}
        assert all(r["rule"] and r["conversation_id"].startswith("cal-") for r in finding_rows)
        assert {r["unit"] for r in lines} <= {"finding", "grade", "issue_type", "sentiment"}


def test_a_session_never_counts_toward_agents_results(factory, team, cfg, session_3, tmp_path):
    with factory() as s:
        before = {c.ext_id: (c.status, c.human_score, c.human_grade, c.assignee_id, c.corrected_sentiment)
                  for c in s.scalars(select(Conversation))}
        cs = s.get(CalibrationSession, session_3)
        for i, who in enumerate(INSPECTORS):
            _answer_all(s, team, cfg, cs, who, i)
            calibration.submit(s, cs, U(s, team, who), cfg)
        calibration.accept_gold(s, cs, {f"{u.item.id}:{u.key}": sorted(u.votes)[0]
                                        for u in calibration.results(s, cs, cfg)["units"] if u.tie}, U(s, team, "sup"), cfg)
        s.commit()
        after = {c.ext_id: (c.status, c.human_score, c.human_grade, c.assignee_id, c.corrected_sentiment)
                 for c in s.scalars(select(Conversation))}
        assert after == before
        for table in (Review, Verdict, Dispute):
            assert s.scalar(select(func.count()).select_from(table)) == 0
        assert rule_precision(s, cfg).empty and score_agreement(s, cfg)["n"] == 0
        out = export_labels(s, tmp_path / "x", config=cfg)
        assert out["conversations"] == 0 and out["files"]["finding_verdicts.jsonl"] == 0
        # the conversations stay in the normal workflow: still reviewable as usual
        conv = s.scalar(select(Conversation).where(Conversation.ext_id == "cal-1"))
        rv = review.start_review(s, conv, U(s, team, "insp1"))
        review.submit_review(s, rv, actor=U(s, team, "insp1"), config=cfg)
        assert conv.status == "reviewed"


def test_sample_picks_are_seeded(factory, team, cfg):
    from pipeline.workbench.sampling import mark_sampled

    with factory() as s:
        with pytest.raises(review.WorkflowError, match="zhijian sample"):
            calibration.conversations_from_sample(s, 3, 1)
        exts = [f"s-{i}" for i in range(10)]
        for e in exts:
            add_conv(s, e)
        mark_sampled(s, exts, {"by": ["team"]}, ["/runs/x"], config=cfg)
        first = calibration.conversations_from_sample(s, 4, 7)
        assert len(first) == 4 and first == calibration.conversations_from_sample(s, 4, 7)
        assert len(calibration.conversations_from_sample(s, 50, 7)) == 10


def test_export_labels_command_writes_gold_only_when_asked(factory, team, cfg, session_3, db_url, tmp_path, capsys):
    from pipeline.cli import main

    with factory() as s:
        cs = s.get(CalibrationSession, session_3)
        for i, who in enumerate(INSPECTORS):
            _answer_all(s, team, cfg, cs, who, i)
            calibration.submit(s, cs, U(s, team, who), cfg)
        calibration.accept_gold(s, cs, {}, U(s, team, "sup"), cfg)
        s.commit()
        n_gold = s.scalar(select(func.count()).select_from(CalibrationGold))
    assert main(["export-labels", "--out", str(tmp_path / "a"), "--database-url", db_url]) == 0
    assert not (tmp_path / "a" / "calibration_gold.jsonl").exists()
    assert main(["export-labels", "--out", str(tmp_path / "b"), "--database-url", db_url, "--calibration-gold"]) == 0
    assert len((tmp_path / "b" / "calibration_gold.jsonl").read_text(encoding="utf-8").splitlines()) == n_gold > 0
    assert f"calibration_gold.jsonl: {n_gold} rows" in capsys.readouterr().err


def test_migration_0003_adds_and_removes_only_the_calibration_tables(db_url):
    from sqlalchemy import inspect

    from pipeline.workbench.database import current_revision, downgrade, make_engine, upgrade

    def tables():
        engine = make_engine(db_url)
        try:
            return set(inspect(engine).get_table_names()) - {"alembic_version"}
        finally:
            engine.dispose()

    upgrade(db_url)
    head = tables()
    calibration_tables = {t for t in head if t.startswith("calibration_")}
    assert calibration_tables == {"calibration_sessions", "calibration_items", "calibration_participants",
                                  "calibration_answers", "calibration_verdicts", "calibration_gold"}
    downgrade(db_url, "0003")  # 0004 (差评 cases, tests/test_cases.py) first
    later = head - tables()
    downgrade(db_url, "0002")
    assert current_revision(db_url) == "0002" and tables() == head - calibration_tables - later
    upgrade(db_url, "0003")
    assert current_revision(db_url) == "0003" and tables() == head - later
