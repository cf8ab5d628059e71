"""Scorecard questions in the workbench database (issue 17, item 2), on SQLite and PostgreSQL
(``db_url``): migration 0005 on a database holding data, the machine's answers loaded from the run,
people's one-click answers (audited), questions a QA lead adds, the active-learning order, per-question
agreement and the label export."""

from __future__ import annotations

import re

import orjson
import pytest
from sqlalchemy import func, inspect, select

from pipeline.stats import cohen_kappa
from pipeline.workbench import question_labels, question_stats, question_store, users
from pipeline.workbench.database import current_revision, downgrade, make_engine, make_session_factory, upgrade
from pipeline.workbench.db import AuditEntry, Conversation, Finding, MachineAnswer, Question, QuestionAnswer
from pipeline.workbench.load import load_run


def _results(run_dir):
    return [orjson.loads(line) for line in (run_dir / "results.jsonl").read_bytes().splitlines() if line.strip()]


@pytest.fixture()
def loaded(db_url, sample_run, cfg):
    upgrade(db_url)
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    with factory() as s:
        load_run(s, sample_run, config=cfg)
        people = {n: users.create_user(s, n, f"{n}-password-1", role, config=cfg).id
                  for n, role in [("sup", "supervisor"), ("i1", "inspector"), ("i2", "inspector")]}
        s.commit()
    yield factory, people
    engine.dispose()


def _user(s, people, name):
    from pipeline.workbench.db import User

    return s.get(User, people[name])


def test_migration_0005_upgrades_a_0004_database_with_its_data_and_load_fills_the_answers(db_url, sample_run, cfg):
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        factory = make_session_factory(engine)
        with factory() as s:
            load_run(s, sample_run, config=cfg)
            s.commit()
            n_conv = s.scalar(select(func.count()).select_from(Conversation))
            n_find = s.scalar(select(func.count()).select_from(Finding))
        engine.dispose()
        downgrade(db_url, "0004")
        assert current_revision(db_url) == "0004"
        tables = set(inspect(engine).get_table_names())
        assert not {"questions", "machine_answers", "question_answers"} & tables
        assert "questions" not in {c["name"] for c in inspect(engine).get_columns("conversations")}
        with engine.connect() as conn:  # a plain DROP COLUMN: nothing cascaded away
            assert conn.scalar(select(func.count()).select_from(Conversation.__table__).with_only_columns(func.count())) == n_conv
            assert conn.scalar(select(func.count()).select_from(Finding.__table__)) == n_find
        engine.dispose()
        upgrade(db_url)
        assert current_revision(db_url) == "0005"
        with factory() as s:
            assert s.scalar(select(func.count()).select_from(MachineAnswer)) == 0
            assert s.scalar(select(func.count()).select_from(Conversation).where(Conversation.questions.is_not(None))) == 0
            summary = load_run(s, sample_run, config=cfg)  # loading the run again brings the answers in
            s.commit()
            with_questions = [r for r in _results(sample_run) if r.get("questions")]
            assert with_questions, "the sample run answers question.resolved (models/question_resolved is shipped)"
            assert summary.updated == len(with_questions) and summary.inserted == 0
            assert s.scalar(select(func.count()).select_from(MachineAnswer)) == sum(len(r["questions"]) for r in with_questions)
            assert s.scalar(select(func.count()).select_from(Conversation)) == n_conv
            again = load_run(s, sample_run, config=cfg)
            s.commit()
            assert again.updated == 0  # idempotent
    finally:
        engine.dispose()


def test_machine_answers_are_the_runs(loaded, sample_run):
    factory, _ = loaded
    want = {(r["id"], q["id"]): q for r in _results(sample_run) for q in r.get("questions") or []}
    with factory() as s:
        rows = s.execute(select(Conversation.ext_id, MachineAnswer).join(Conversation, Conversation.id == MachineAnswer.conversation_id)).all()
        assert len(rows) == len(want)
        for ext_id, m in rows:
            q = want[(ext_id, m.question)]
            assert (m.answer, m.confidence, m.needs_review, m.status) == (q["answer"], q["confidence"], q["needs_review"], q["status"])
            assert m.detail["evidence_turns"] == q["evidence_turns"]
        assert any(m.answer is None and m.needs_review for _, m in rows), "some answers abstain below min_confidence"


def test_one_click_answers_are_stored_changed_and_audited(loaded, cfg):
    factory, people = loaded
    with factory() as s:
        i1 = _user(s, people, "i1")
        conv = s.scalar(select(Conversation).order_by(Conversation.id))
        a = question_store.set_answer(s, cfg, conv, "question.resolved", "否", i1)
        s.commit()
        assert (a.answer, a.user_id, a.answered_at is not None) == ("否", i1.id, True)
        question_store.set_answer(s, cfg, conv, "question.resolved", "是", i1)  # clicking again changes it
        s.commit()
        rows = s.scalars(select(QuestionAnswer)).all()
        assert [(r.answer, r.user_id) for r in rows] == [("是", i1.id)]
        log = s.scalars(select(AuditEntry).where(AuditEntry.action == "question.answer").order_by(AuditEntry.id)).all()
        assert [e.after["answer"] for e in log] == ["否", "是"] and log[1].before["answer"] == "否"
        assert all(e.user_id == i1.id and e.after["conversation"] == conv.ext_id for e in log)
        machine = s.scalar(select(MachineAnswer).where(MachineAnswer.conversation_id == conv.id))
        assert log[0].after["machine_answer"] == machine.answer and log[0].after["machine_confidence"] == machine.confidence
        with pytest.raises(question_store.QuestionError, match="不是问题 question.resolved 的选项.*是、否、不确定"):
            question_store.set_answer(s, cfg, conv, "question.resolved", "不适用", i1)
        with pytest.raises(question_store.QuestionError, match="没有问题 question.nope"):
            question_store.set_answer(s, cfg, conv, "question.nope", "是", i1)


@pytest.mark.parametrize("key, text, choices, item, message", [
    ("refund_time", "退款时间说明了吗?", ["是", "否"], None, "须以 question. 开头"),
    ("question.resolved", "重复", ["是", "否"], None, "已存在"),
    ("question.refund_time", "", ["是", "否"], None, "请填写问题"),
    ("question.refund_time", "说明了吗?", ["是"], None, "2–6 个互不相同"),
    ("question.refund_time", "说明了吗?", ["是", "是"], None, "2–6 个互不相同"),
    ("question.refund_time", "说明了吗?", ["是", "否"], "没有这个评分项", "不在评分表"),
])
def test_adding_a_question_refuses_bad_input_with_the_fix(loaded, cfg, key, text, choices, item, message):
    factory, people = loaded
    with factory() as s:
        with pytest.raises(question_store.QuestionError, match=message):
            question_store.create_question(s, cfg, _user(s, people, "sup"), key=key, text=text, choices=choices, item=item)


def test_a_qa_lead_adds_and_edits_a_question_beside_the_read_only_rules_ones(loaded, cfg):
    factory, people = loaded
    with factory() as s:
        sup, i1 = _user(s, people, "sup"), _user(s, people, "i1")
        item = question_store.scorecard_items(cfg)[0]
        q = question_store.create_question(s, cfg, sup, key="question.refund_time", text="坐席是否说明了退款到账时间?",
                                           choices=["是", "否", "不适用"], item=item)
        s.commit()
        keys = [d.key for d in question_store.all_questions(s, cfg)]
        rules_keys = [d.key for d in question_store.rule_questions(cfg)]
        assert keys == rules_keys + ["question.refund_time"] and "question.resolved" in rules_keys
        resolved = question_store.find_question(s, cfg, "question.resolved")
        assert not resolved.editable and resolved.status in ("正式", "试运行") and resolved.held_out["n"] > 0
        conv = s.scalar(select(Conversation).order_by(Conversation.id))
        question_store.set_answer(s, cfg, conv, "question.refund_time", "不适用", i1)
        with pytest.raises(question_store.QuestionError, match="不适用.*不能删除"):
            question_store.update_question(s, cfg, sup, q, text=q.text, choices=["是", "否"], item=item, active=True)
        question_store.update_question(s, cfg, sup, q, text="坐席是否说明了退款到账的时间?", choices=["是", "否", "不适用", "不确定"],
                                       item=None, active=False)
        s.commit()
        assert [d.key for d in question_store.all_questions(s, cfg)] == rules_keys  # inactive: not offered
        acts = [e.action for e in s.scalars(select(AuditEntry).where(AuditEntry.entity == "questions").order_by(AuditEntry.id))]
        assert acts == ["question.create", "question.update"]
        assert "model: question_refund_time" in question_store.rules_yaml_snippet(question_store.find_question(s, cfg, q.key))


def test_the_active_learning_queue_is_least_sure_first_and_drops_answered_ones(loaded, cfg):
    factory, people = loaded
    with factory() as s:
        sup, i1 = _user(s, people, "sup"), _user(s, people, "i1")
        q = question_store.find_question(s, cfg, "question.resolved")
        rows = question_stats.uncertain_queue(s, sup, q, limit=400)
        assert len(rows) == s.scalar(select(func.count()).select_from(MachineAnswer))
        confidences = [m.confidence for _, m in rows]
        assert confidences == sorted(confidences)
        assert rows[0][1].answer is None  # the least sure abstained
        first = rows[0][0]
        question_store.set_answer(s, cfg, first, q.key, "否", i1)
        s.commit()
        after = question_stats.uncertain_queue(s, sup, q, limit=400)
        assert first.id not in {c.id for c, _ in after} and len(after) == len(rows) - 1
        assert first.id in {c.id for c, _ in question_stats.uncertain_queue(s, sup, q, limit=400, include_answered=True)}
        # an inspector sees only what permissions let them see (workbench.inspector_sees: queue)
        seen = question_stats.uncertain_queue(s, i1, q, limit=400)
        assert seen and all(c.review_needed or c.assignee_id == i1.id for c, _ in seen) and len(seen) < len(after)


def test_per_question_agreement_counts_people_against_the_machine(loaded, cfg, db_url, capsys):
    factory, people = loaded
    with factory() as s:
        i1, i2 = _user(s, people, "i1"), _user(s, people, "i2")
        answered = s.execute(select(Conversation, MachineAnswer).join(MachineAnswer, MachineAnswer.conversation_id == Conversation.id)
                             .where(MachineAnswer.answer.is_not(None)).order_by(Conversation.id).limit(6)).all()
        abstained = s.execute(select(Conversation).join(MachineAnswer, MachineAnswer.conversation_id == Conversation.id)
                              .where(MachineAnswer.answer.is_(None)).limit(1)).scalar_one()
        human = []
        for k, (conv, m) in enumerate(answered):
            h = m.answer if k < 4 else ("否" if m.answer != "否" else "是")
            question_store.set_answer(s, cfg, conv, "question.resolved", "不确定", i2)  # an earlier answer by someone else…
            question_store.set_answer(s, cfg, conv, "question.resolved", h, i1)  # …the latest one counts
            human.append(h)
        question_store.set_answer(s, cfg, abstained, "question.resolved", "是", i1)
        s.commit()
        row = next(r for r in question_stats.question_agreement(s, cfg) if r["q"].key == "question.resolved")
        machine = [m.answer for _, m in answered]
        assert (row["answered"], row["n"], row["abstained"], row["agree"]) == (7, 6, 1, 4)
        assert row["accuracy"] == pytest.approx(4 / 6)
        want = cohen_kappa(machine, human)
        assert row["kappa"] == (None if want is None else round(want, 3))
        assert row["q"].held_out["macro_f1"] is not None  # the training figure beside it
    from pipeline.cli import main

    assert main(["agreement", "--json", "--database-url", db_url]) == 0  # the same in the terminal's zhijian agreement
    got = next(r for r in orjson.loads(capsys.readouterr().out)["questions"] if r["question"] == "question.resolved")
    assert (got["answered"], got["n"], got["agree"], got["abstained"]) == (7, 6, 4, 1) and got["held_out"]["n"] > 0
    assert main(["agreement", "--database-url", db_url]) == 0
    assert re.search(r"question\.resolved\s+7\s+6\s+66\.7%", capsys.readouterr().out)


def test_export_writes_the_answers_with_the_masked_transcript(loaded, cfg, tmp_path):
    factory, people = loaded
    with factory() as s:
        i1, i2 = _user(s, people, "i1"), _user(s, people, "i2")
        with_pii = next(c for c in s.scalars(select(Conversation).order_by(Conversation.id)) if any(c.pii))
        other = s.scalar(select(Conversation).where(Conversation.id != with_pii.id).order_by(Conversation.id))
        question_store.set_answer(s, cfg, with_pii, "question.resolved", "是", i2)
        question_store.set_answer(s, cfg, with_pii, "question.resolved", "否", i1)
        question_store.set_answer(s, cfg, other, "question.needs_asked", "不适用", i1)
        s.commit()
        from pipeline.workbench.labels import export_labels

        out = export_labels(s, tmp_path / "labels", config=cfg)
        assert out["files"][question_labels.FILE] == 2
        records = {r["id"]: r for r in map(orjson.loads, (tmp_path / "labels" / question_labels.FILE).read_bytes().splitlines())}
        got = records[with_pii.ext_id]["question_answers"]["question.resolved"]
        assert (got["answer"], got["by"], got["people"]) == ("否", "i1", 2) and got["at"].endswith("+00:00")
        assert records[other.ext_id]["question_answers"] == {"question.needs_asked": records[other.ext_id]["question_answers"]["question.needs_asked"]}
        start, end, _ = next(sp for spans in with_pii.pii for sp in spans)
        turn = next(i for i, spans in enumerate(with_pii.pii) if spans)
        secret = with_pii.turns[turn]["text"][start:end]
        assert secret not in orjson.dumps(records[with_pii.ext_id]).decode()
        from pipeline.ingest import Validator
        from pipeline.schema import Reject

        record = {k: v for k, v in records[with_pii.ext_id].items() if k != "question_answers"}
        assert not isinstance(Validator(cfg).validate(record), Reject)  # the input contract: training reads it
