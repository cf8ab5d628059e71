"""Workbench core: migrations, users and tokens, permissions, the review workflow and the audit log —
on SQLite and on a real PostgreSQL server (``db_url``)."""

from __future__ import annotations

import io
import sys

import pytest

from conftest import FAST_ARGON2  # real argon2id, cheaper than production: tests create many users
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import DBAPIError

from pipeline.config import load_config
from pipeline.workbench import audit, permissions, review, users
from pipeline.workbench.database import current_revision, downgrade, head_revision, make_engine, make_session_factory, upgrade
from pipeline.workbench.db import (
    ROLES,
    ApiToken,
    AuditEntry,
    AuditLogIsAppendOnly,
    Base,
    Conversation,
    Dispute,
    Finding,
    Review,
    Run,
    User,
    Verdict,
)


PHONE = "13812345678"
TURNS = [
    {"role": "customer", "text": f"我的电话是{PHONE},快递三天了还没到", "ts": 0},
    {"role": "agent", "text": "你明白吗?这不归我管", "ts": 10},
    {"role": "customer", "text": "我要投诉你", "ts": 20},
    {"role": "agent", "text": "好的", "ts": 30},
]
PII = [[[5, 16, "phone"]], [], [], []]


def add_conv(s, ext_id, agent_id="A017", *, fatal=False, score=85.0, team="售后一组"):
    run = s.scalar(select(Run).where(Run.run_key == "k")) or Run(run_key="k", path="/runs/x", counts={}, versions={})
    s.add(run)
    s.flush()
    conv = Conversation(ext_id=ext_id, run_id=run.id, agent_id=agent_id, team=team, channel="chat",
                        machine_score=0.0 if fatal else score, machine_grade="差" if fatal else "良",
                        review_needed=True, review_reasons=["fatal"] if fatal else ["complaint.risk"],
                        turns=TURNS, pii=PII, score_detail={"fatal": ["服务规范.红线忌语"] if fatal else []})
    s.add(conv)
    s.flush()
    s.add_all([
        Finding(conversation_id=conv.id, position=0, rule="forbidden.phrase", category="服务忌语",
                severity="fatal" if fatal else "major", points=0.0 if fatal else -10.0, turn=1, role="agent",
                start=0, end=4, evidence="你明白吗", item="服务规范.红线忌语" if fatal else "服务规范.服务忌语"),
        Finding(conversation_id=conv.id, position=1, rule="closing.missing", category="结束语", severity="minor",
                points=-5.0, turn=3, role="agent", item="服务规范.结束语"),
    ])
    s.flush()
    s.refresh(conv)
    return conv


@pytest.fixture()
def team(factory, cfg):
    """Users of every role; returns a dict name → user id."""
    with factory() as s:
        made = {}
        for name, role, agent in [("admin", "admin", None), ("sup", "supervisor", None), ("sup2", "supervisor", None),
                                  ("insp1", "inspector", None), ("insp2", "inspector", None), ("insp3", "inspector", None),
                                  ("agent17", "agent", "A017"), ("agent18", "agent", "A018")]:
            made[name] = users.create_user(s, name, f"{name}-password-1", role, agent_id=agent, config=cfg).id
        s.commit()
    return made


def U(s, team, name) -> User:
    return s.get(User, team[name])


def audit_rows(s, action=None):
    q = select(AuditEntry).order_by(AuditEntry.id)
    if action:
        q = q.where(AuditEntry.action == action)
    return list(s.scalars(q))


# --------------------------------------------------------------------------- migrations


def _schema_diff(url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    finally:
        engine.dispose()


def test_upgrade_on_empty_database_builds_exactly_the_models(db_url):
    assert current_revision(db_url) is None
    upgrade(db_url)
    assert current_revision(db_url) == head_revision() == "0005"
    assert _schema_diff(db_url) == []
    engine = make_engine(db_url)
    try:
        insp = inspect(engine)
        tables = set(insp.get_table_names()) - {"alembic_version"}
        assert tables == set(Base.metadata.tables)
        for name, table in Base.metadata.tables.items():
            assert {c["name"] for c in insp.get_columns(name)} == {c.name for c in table.columns}, name
    finally:
        engine.dispose()


def test_downgrade_then_upgrade_round_trip(db_url):
    upgrade(db_url)
    downgrade(db_url, "base")
    engine = make_engine(db_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    upgrade(db_url)
    assert _schema_diff(db_url) == []
    # the triggers came back too
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO audit_log (at, action, entity, entity_id) VALUES (CURRENT_TIMESTAMP, 'a', 'b', '1')"))
        with pytest.raises(DBAPIError, match="append-only"):
            with engine.begin() as conn:
                conn.execute(text("DELETE FROM audit_log"))
    finally:
        engine.dispose()


def test_audit_log_is_append_only_in_the_database_and_the_orm(factory, team):
    with factory() as s:
        audit.record(s, U(s, team, "admin"), "test.action", "users", 1, {"a": 1}, {"a": 2})
        s.commit()
        n = s.scalar(select(func.count()).select_from(AuditEntry))
    engine = factory.kw["bind"]
    with factory() as s:
        first = s.scalars(select(AuditEntry).order_by(AuditEntry.id)).first().id
    statements = ["UPDATE audit_log SET action = 'forged'", "DELETE FROM audit_log"]
    if engine.dialect.name == "postgresql":
        statements += ["TRUNCATE audit_log",
                       f"INSERT INTO audit_log (id, at, action, entity, entity_id) VALUES ({first}, now(), 'forged', 'x', '1') "
                       "ON CONFLICT (id) DO UPDATE SET action = 'forged'"]
    else:  # REPLACE deletes the conflicting row without firing the DELETE trigger: refused by an INSERT trigger
        statements += [f"{verb} INTO audit_log (id, at, action, entity, entity_id) VALUES ({first}, CURRENT_TIMESTAMP, 'forged', 'x', '1')"
                       for verb in ("REPLACE", "INSERT OR REPLACE")]
    for sql in statements:
        with pytest.raises(DBAPIError, match="append-only"):
            with engine.begin() as conn:
                conn.execute(text(sql))
    with factory() as s:
        entry = s.scalars(select(AuditEntry)).first()
        entry.action = "forged"
        with pytest.raises(AuditLogIsAppendOnly):
            s.flush()
        s.rollback()
        with pytest.raises(AuditLogIsAppendOnly):
            s.delete(s.scalars(select(AuditEntry)).first())
            s.flush()
        s.rollback()
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == n
        assert "forged" not in set(s.scalars(select(AuditEntry.action)))


# --------------------------------------------------------------------------- users and tokens


def test_passwords_are_argon2id_and_rehashed_when_parameters_change(factory, cfg):
    stronger = load_config(overrides={"workbench": {"argon2": {**FAST_ARGON2, "time_cost": 2}}})
    with factory() as s:
        u = users.create_user(s, "zhang", "correct horse 1", "inspector", config=cfg)
        s.commit()
        old = u.password_hash
        assert old.startswith("$argon2id$") and "t=1" in old and "correct horse" not in old
        assert users.authenticate(s, "zhang", "wrong password", config=stronger) is None
        assert u.password_hash == old  # a failed login rehashes nothing
        assert users.authenticate(s, "ZHANG", "correct horse 1", config=stronger) is u
        s.commit()
        assert u.password_hash != old and "t=2" in u.password_hash
        assert users.verify_password(u.password_hash, "correct horse 1", stronger)
        assert [e.action for e in audit_rows(s)] == ["user.create", "user.rehash"]
        assert users.authenticate(s, "zhang", "correct horse 1", config=stronger) is u
        s.commit()
        assert [e.action for e in audit_rows(s)] == ["user.create", "user.rehash"]  # no second rehash


def test_authenticate_refuses_unknown_and_inactive_users(factory, cfg):
    with factory() as s:
        u = users.create_user(s, "li", "long enough pw", "agent", agent_id="A001", config=cfg)
        assert users.authenticate(s, "nobody", "long enough pw", config=cfg) is None
        users.set_active(s, u, False)
        assert users.authenticate(s, "li", "long enough pw", config=cfg) is None
        users.set_active(s, u, True)
        assert users.authenticate(s, "li", "long enough pw", config=cfg) is u


@pytest.mark.parametrize("username, password, role, kw, message", [
    ("bad name", "long enough pw", "inspector", {}, "用户名"),
    ("x", "long enough pw", "boss", {}, "角色"),
    ("x", "long enough pw", "agent", {}, "--agent-id"),
    ("x", "long enough pw", "inspector", {"agent_id": "A1"}, "--agent-id"),
    ("x", "short", "inspector", {}, "password_min_length"),
    ("x", " padded password ", "inspector", {}, "空格"),
    ("Admin", "long enough pw", "inspector", {}, "已存在"),
])
def test_create_user_refuses_bad_requests_with_the_fix(factory, cfg, username, password, role, kw, message):
    with factory() as s:
        users.create_user(s, "admin", "long enough pw", "admin", config=cfg)
        with pytest.raises(users.UserError, match=message):
            users.create_user(s, username, password, role, config=cfg, **kw)


def test_api_tokens_store_only_their_hash(factory, cfg):
    with factory() as s:
        token = users.create_api_token(s, "crm-prod")
        s.commit()
        row = s.scalars(select(ApiToken)).one()
        assert token.startswith(users.TOKEN_PREFIX) and len(token) > 40
        assert row.token_sha256 == users.token_sha256(token) and token not in row.token_sha256
        assert users.find_api_token(s, token) is row
        assert users.find_api_token(s, token + "x") is None
        assert users.find_api_token(s, "") is None
        users.revoke_api_token(s, row)
        assert users.find_api_token(s, token) is None
        assert users.create_api_token(s, "second") != token
        assert all(token not in repr(e.after) for e in audit_rows(s))


def test_users_and_tokens_commands(db_url, monkeypatch, capsys):
    from pipeline.cli import main

    monkeypatch.setattr(sys, "stdin", io.StringIO("first-admin-pw\n"))
    assert main(["users", "create", "root", "--role", "admin", "--password-stdin", "--database-url", db_url]) == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO("agent-pw-12345\n"))
    assert main(["users", "create", "wf", "--role", "agent", "--agent-id", "A017", "--display-name", "王芳",
                 "--password-stdin", "--database-url", db_url]) == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO("agent-pw-12345\n"))
    assert main(["users", "create", "nobody", "--role", "agent", "--password-stdin", "--database-url", db_url]) == 2
    assert "--agent-id" in capsys.readouterr().err
    assert main(["users", "list", "--database-url", db_url]) == 0
    listing = capsys.readouterr().out
    assert "root" in listing and "王芳" in listing and "nobody" not in listing
    assert main(["tokens", "create", "crm", "--database-url", db_url]) == 0
    token = capsys.readouterr().out.strip()
    engine = make_engine(db_url)
    try:
        with make_session_factory(engine)() as s:
            root = s.scalar(select(User).where(User.username == "root"))
            assert users.verify_password(root.password_hash, "first-admin-pw") and root.role == "admin"
            assert users.find_api_token(s, token) is not None
            assert s.scalar(select(func.count()).select_from(ApiToken).where(ApiToken.token_sha256 == token)) == 0
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- permissions

EXPECTED_ACTIONS = {
    "admin": set(permissions.ACTIONS) - {"appeal", "account_case"},  # an appeal and a 差评 情况说明 are the agent's own
    "supervisor": {"review", "assign", "dispute", "sign_off", "see_unmasked", "view_queue", "view_agreement", "export_labels",
                   "view_audit", "calibrate", "run_calibration", "view_cases", "handle_cases", "manage_questions"},  # QA leads add questions (issue 17)
    "inspector": {"review", "dispute", "view_queue", "calibrate"},
    "agent": {"appeal", "view_cases", "account_case"},
}


@pytest.mark.parametrize("role", ROLES)
def test_role_policy(role):
    user = User(username="u", role=role, active=True, agent_id="A1" if role == "agent" else None)
    assert {a for a in permissions.ACTIONS if permissions.can(user, a)} == EXPECTED_ACTIONS[role]
    user.active = False
    assert not any(permissions.can(user, a) for a in permissions.ACTIONS)
    with pytest.raises(ValueError, match="unknown action"):
        permissions.can(user, "delete_everything")


def test_visibility_query_and_object_check_agree(factory, team, cfg):
    with factory() as s:
        c_pool = add_conv(s, "pool", "A017")
        c_mine = add_conv(s, "mine", "A018")
        c_other = add_conv(s, "other", "A017")
        add_conv(s, "done-by-other", "A018")
        review.assign(s, [c_mine.id], U(s, team, "insp1"), U(s, team, "sup"))
        review.assign(s, [c_other.id], U(s, team, "insp2"), U(s, team, "sup"))
        c_done = s.scalar(select(Conversation).where(Conversation.ext_id == "done-by-other"))
        review.assign(s, [c_done.id], U(s, team, "insp2"), U(s, team, "sup"))
        r = review.start_review(s, c_done, U(s, team, "insp2"))
        review.submit_review(s, r, actor=U(s, team, "insp2"), config=cfg)
        s.commit()
        expected = {
            "admin": {"pool", "mine", "other", "done-by-other"},
            "sup": {"pool", "mine", "other", "done-by-other"},
            "insp1": {"pool", "mine"},
            "insp2": {"pool", "other", "done-by-other"},
            "insp3": {"pool"},
            "agent17": {"pool", "other"},
            "agent18": {"mine", "done-by-other"},
        }
        everything = list(s.scalars(select(Conversation)))
        for name, ids in expected.items():
            user = U(s, team, name)
            got = {c.ext_id for c in s.scalars(permissions.visible_conversations(select(Conversation), user))}
            assert got == ids, name
            assert {c.ext_id for c in everything if permissions.can_view_conversation(user, c)} == ids, name
        assert c_pool.status == "pending"
        agent = U(s, team, "agent17")
        agent.agent_id = None  # an agent account without its id sees nothing
        assert list(s.scalars(permissions.visible_conversations(select(Conversation), agent))) == []


# --------------------------------------------------------------------------- workflow


def test_round_robin_balances_by_open_items(factory, team):
    with factory() as s:
        convs = [add_conv(s, f"c{i}") for i in range(7)]
        sup, i1, i2, i3 = (U(s, team, n) for n in ("sup", "insp1", "insp2", "insp3"))
        review.assign(s, [convs[0].id, convs[1].id], i1, sup)  # insp1 already has 2 open items
        plan = review.assign_round_robin(s, [c.id for c in convs[2:]], [i1, i2, i3], sup)
        s.commit()
        assert sorted(len(v) for v in plan.values()) == [1, 2, 2]
        assert len(plan[i1.id]) == 1
        assert review.open_items(s, [i1.id, i2.id, i3.id]) == {i1.id: 3, i2.id: 2, i3.id: 2}
        assert all(c.status == "assigned" for c in convs)
        assert len(audit_rows(s, "conversation.assign_round_robin")) == 5
        with pytest.raises(review.NotAllowed):
            review.assign_round_robin(s, [convs[0].id], [i2], i1)  # inspectors don't assign
        with pytest.raises(review.WorkflowError, match="不能复核"):
            review.assign(s, [convs[0].id], U(s, team, "agent17"), sup)


def test_review_end_to_end_with_appeal_double_review_and_sign_off(factory, team, cfg):
    with factory() as s:
        conv = add_conv(s, "c-1", "A017")
        sup, sup2, i1, i2, i3 = (U(s, team, n) for n in ("sup", "sup2", "insp1", "insp2", "insp3"))
        review.assign(s, [conv.id], i1, sup)
        with pytest.raises(review.NotAllowed, match="已分配给其他人"):
            review.start_review(s, conv, i2)
        r1 = review.start_review(s, conv, i1)
        assert review.start_review(s, conv, i1).id == r1.id  # the same draft
        f_phrase, f_closing = conv.findings
        review.set_verdict(s, r1, f_phrase, "confirmed", "确实是忌语", i1)
        review.set_verdict(s, r1, f_closing, "confirmed", None, i1)
        review.set_verdict(s, r1, f_closing, "rejected", "有结束语,识别错了", i1)  # changed mind: one verdict, audited twice
        with pytest.raises(review.NotAllowed):
            review.set_verdict(s, r1, f_phrase, "rejected", None, i2)
        with pytest.raises(review.WorkflowError, match="confirmed"):
            review.set_verdict(s, r1, f_phrase, "missed", None, i1)
        missed = review.add_missed_finding(s, r1, rule="empathy.missing", turn=0, start=0, end=16, points=-5,
                                           comment="客户着急,未安抚", actor=i1, config=cfg)
        assert PHONE not in missed.evidence and "138" in missed.evidence  # evidence masked like the machine's
        with pytest.raises(review.WorkflowError, match="轮次"):
            review.add_missed_finding(s, r1, rule="empathy.missing", turn=9, start=None, end=None, points=-5, comment=None, actor=i1)
        with pytest.raises(review.WorkflowError, match="字符范围"):
            review.add_missed_finding(s, r1, rule="empathy.missing", turn=0, start=5, end=99, points=-5, comment=None, actor=i1)
        # closing rejected (+5 back), empathy added (-5): the scorecard re-prices the kept phrase finding
        assert review.suggested_score(s, r1, cfg) == 85.0
        review.submit_review(s, r1, human_score=88, issue_type="配送物流", sentiment="negative", comment="ok", actor=i1, config=cfg)
        s.commit()
        assert (conv.status, conv.human_score, conv.human_grade, conv.machine_score) == ("reviewed", 88.0, "良", 85.0)
        assert conv.corrected_issue_type == "配送物流"
        with pytest.raises(review.WorkflowError, match="已提交"):
            review.set_verdict(s, r1, f_phrase, "rejected", None, i1)

        # the agent of another conversation can't appeal; this one's agent can
        with pytest.raises(review.NotAllowed):
            review.open_dispute(s, conv, "appeal", "不服", U(s, team, "agent18"))
        with pytest.raises(review.WorkflowError, match="理由"):
            review.open_dispute(s, conv, "appeal", "  ", U(s, team, "agent17"))
        dispute = review.open_dispute(s, conv, "appeal", "我说了再见,结束语不该扣分", U(s, team, "agent17"))
        s.commit()
        assert (conv.status, conv.assignee_id, dispute.state) == ("disputed", None, "open")
        with pytest.raises(review.WorkflowError, match="进行中"):
            review.open_dispute(s, conv, "dispute", "again", sup)

        # round 2: never the round-1 reviewer; independent of round 1 until submitted
        with pytest.raises(review.NotAllowed, match="另一位"):
            review.start_review(s, conv, i1)
        with pytest.raises(review.WorkflowError, match="第一轮"):
            review.assign(s, [conv.id], i1, sup)
        review.assign(s, [conv.id], i2, sup)
        assert not review.can_see_human_result(s, conv, i2)
        assert not review.can_see_human_result(s, conv, i3)
        assert review.can_see_human_result(s, conv, i1) and review.can_see_human_result(s, conv, sup)
        r2 = review.start_review(s, conv, i2)
        assert [r.id for r in review.visible_reviews(s, conv, i2)] == [r2.id]
        assert missed.id not in {f.id for f in review.visible_findings(s, conv, i2)}
        assert {f.id for f in review.visible_findings(s, conv, sup)} == {f_phrase.id, f_closing.id, missed.id}
        assert [r.id for r in review.visible_reviews(s, conv, i1)] == [r1.id]  # drafts are private
        review.set_verdict(s, r2, f_phrase, "confirmed", None, i2)
        review.set_verdict(s, r2, f_closing, "rejected", None, i2)
        with pytest.raises(review.WorkflowError, match="第二轮复核尚未完成"):
            review.sign_off(s, dispute, final_score=90, decision="overturned", actor=sup2)
        review.submit_review(s, r2, human_score=90, actor=i2, config=cfg)
        s.commit()
        assert (conv.status, dispute.state, dispute.second_reviewer_id, conv.human_score) == ("second_reviewed", "second_reviewed", i2.id, 88.0)
        assert [r.id for r in review.visible_reviews(s, conv, i2)] == [r1.id, r2.id]
        assert [r.id for r in review.visible_reviews(s, conv, U(s, team, "agent17"))] == [r1.id]  # round 2 after sign-off

        # sign-off: a supervisor, not an inspector, and not one who reviewed it
        with pytest.raises(review.NotAllowed):
            review.sign_off(s, dispute, final_score=90, decision="overturned", actor=i3)
        with pytest.raises(review.WorkflowError, match="结论"):
            review.sign_off(s, dispute, final_score=90, decision="maybe", actor=sup2)
        with pytest.raises(review.WorkflowError, match="0–100"):
            review.sign_off(s, dispute, final_score=120, decision="overturned", actor=sup2)
        review.sign_off(s, dispute, final_score=90, decision="overturned", comment="结束语确实有", actor=sup2, config=cfg)
        s.commit()
        assert (conv.status, conv.human_score, conv.human_grade, conv.machine_score) == ("signed_off", 90.0, "优", 85.0)
        assert (dispute.state, dispute.signed_off_by, dispute.final_score, dispute.decision) == ("overturned", sup2.id, 90.0, "结束语确实有")
        assert review.counted_review(s, conv).id == r2.id
        assert [r.id for r in review.visible_reviews(s, conv, U(s, team, "agent17"))] == [r1.id, r2.id]
        with pytest.raises(review.WorkflowError, match="终审"):
            review.open_dispute(s, conv, "appeal", "还是不服", U(s, team, "agent17"))

        actions = [e.action for e in audit_rows(s) if e.action.split(".")[0] != "user"]
        assert actions == [
            "conversation.assign", "review.start", "verdict.set", "verdict.set", "verdict.set", "finding.add",
            "review.submit", "conversation.review", "appeal.open", "conversation.dispute",
            "conversation.assign", "review.start", "verdict.set", "verdict.set",
            "dispute.second_review", "review.submit", "conversation.review",
            "dispute.sign_off", "conversation.sign_off",
        ]
        changed = [e for e in audit_rows(s, "verdict.set") if e.before]
        assert len(changed) == 1 and changed[0].before["verdict"] == "confirmed" and changed[0].after["verdict"] == "rejected"
        assert changed[0].user_id == i1.id and changed[0].at is not None
        signed = audit_rows(s, "conversation.sign_off")[0]
        assert (signed.before["status"], signed.after["status"], signed.after["human_score"]) == ("second_reviewed", "signed_off", 90.0)


def test_sign_off_refuses_a_supervisor_who_reviewed_it(factory, team, cfg):
    with factory() as s:
        conv = add_conv(s, "c-2")
        sup, i1 = U(s, team, "sup"), U(s, team, "insp1")
        r1 = review.start_review(s, conv, sup)  # supervisors review too; picked from the pool
        review.submit_review(s, r1, actor=sup, config=cfg)
        with pytest.raises(review.NotAllowed):  # insp1 never saw it: neither assigned nor in the pool
            review.open_dispute(s, conv, "dispute", "评分偏高", i1)
        d = review.open_dispute(s, conv, "dispute", "评分偏高", U(s, team, "sup2"))
        assert not permissions.can_review(U(s, team, "sup2"), conv)
        with pytest.raises(review.NotAllowed, match="须由质检员"):  # supervisors saw round 1: they sign off
            review.start_review(s, conv, U(s, team, "sup2"))
        with pytest.raises(review.WorkflowError, match="须由质检员"):
            review.assign(s, [conv.id], U(s, team, "admin"), U(s, team, "sup"))
        assert permissions.can_review(i1, conv) and not permissions.can_review(sup, conv)
        r2 = review.start_review(s, conv, i1)
        review.submit_review(s, r2, human_score=70, actor=i1, config=cfg)
        with pytest.raises(review.NotAllowed, match="复核人"):
            review.sign_off(s, d, final_score=75, decision="overturned", actor=sup)
        with pytest.raises(review.NotAllowed, match="提出该争议"):  # sup2 raised it: someone else signs it off
            review.sign_off(s, d, decision="upheld", actor=U(s, team, "sup2"), config=cfg)
        review.sign_off(s, d, final_score=85, decision="upheld", actor=U(s, team, "admin"), config=cfg)
        assert review.counted_review(s, conv).id == r1.id and d.decision == "维持原结果"


def test_the_inspector_who_raised_a_dispute_does_not_judge_it(factory, team, cfg):
    with factory() as s:
        conv = add_conv(s, "c-7")
        sup, i1, i2, i3 = (U(s, team, n) for n in ("sup", "insp1", "insp2", "insp3"))
        review.start_review(s, conv, i2)  # i2 began, then the item was moved to i1
        review.assign(s, [conv.id], i1, sup)
        review.submit_review(s, review.start_review(s, conv, i1), actor=i1, config=cfg)
        assert permissions.can_view_conversation(i2, conv)  # i2 worked on it, so i2 may dispute it
        review.open_dispute(s, conv, "dispute", "扣分有误", i2)
        assert not permissions.can_review(i2, conv) and permissions.can_review(i3, conv)
        with pytest.raises(review.NotAllowed, match="争议由 insp2 发起"):
            review.start_review(s, conv, i2)
        with pytest.raises(review.WorkflowError, match="争议由 insp2 发起"):
            review.assign(s, [conv.id], i2, sup)
        review.submit_review(s, review.start_review(s, conv, i3), actor=i3, config=cfg)
        assert conv.status == "second_reviewed"


def test_suggested_score_rescoring(factory, team, cfg):
    with factory() as s:
        fatal = add_conv(s, "fatal", fatal=True)
        i1 = U(s, team, "insp1")
        r = review.start_review(s, fatal, i1)
        assert review.suggested_score(s, r, cfg) == 0.0
        review.set_verdict(s, r, fatal.findings[0], "rejected", "不是辱骂", i1)
        assert review.suggested_score(s, r, cfg) == 95.0  # 红线 gone: 100 − closing 5
        review.add_missed_finding(s, r, rule="forbidden.phrase", turn=1, start=0, end=4, points=0, comment=None,
                                  actor=i1, severity="fatal", config=cfg)
        assert review.suggested_score(s, r, cfg) == 0.0
        review.submit_review(s, r, actor=i1, config=cfg)
        assert (fatal.human_score, fatal.human_grade) == (0.0, "差")
        assert audit_rows(s, "review.submit")[0].after["score_adjusted"] is False


def test_a_failed_step_leaves_neither_change_nor_audit_row(factory, team, cfg):
    with factory() as s:
        conv = add_conv(s, "c-3")
        i1 = U(s, team, "insp1")
        r = review.start_review(s, conv, i1)
        s.commit()
        before = len(audit_rows(s))
        review.set_verdict(s, r, conv.findings[0], "rejected", "x", i1)
        s.rollback()  # the caller's unit of work failed later: the verdict and its audit row go together
        assert len(audit_rows(s)) == before
        assert s.scalar(select(func.count()).select_from(Verdict)) == 0
        with pytest.raises(review.WorkflowError):
            review.submit_review(s, r, issue_type="不存在的类型", actor=i1, config=cfg)
        s.rollback()
        assert conv.status == "assigned" and r.submitted_at is None


def test_reassigned_draft_can_no_longer_be_changed(factory, team, cfg):
    with factory() as s:
        conv = add_conv(s, "c-4")
        sup, i1, i2 = U(s, team, "sup"), U(s, team, "insp1"), U(s, team, "insp2")
        r = review.start_review(s, conv, i1)
        review.assign(s, [conv.id], i2, sup)
        with pytest.raises(review.NotAllowed, match="改派"):
            review.set_verdict(s, r, conv.findings[0], "confirmed", None, i1)
        r2 = review.start_review(s, conv, i2)
        review.submit_review(s, r2, actor=i2, config=cfg)
        assert conv.human_score == conv.machine_score and s.scalar(select(func.count()).select_from(Review)) == 2
        assert s.scalar(select(func.count()).select_from(Dispute)) == 0


def test_reveal_pii_is_audited_and_limited(factory, team):
    with factory() as s:
        conv = add_conv(s, "c-5")
        with pytest.raises(review.NotAllowed):
            review.reveal_pii(s, conv, U(s, team, "insp1"), "想看看")
        with pytest.raises(review.WorkflowError, match="须填写理由"):
            review.reveal_pii(s, conv, U(s, team, "sup"), "  ")
        review.reveal_pii(s, conv, U(s, team, "sup"), "客户投诉核实电话")
        (row,) = audit_rows(s, "pii.reveal")
        assert row.user_id == team["sup"] and row.after == {"reason": "客户投诉核实电话"}


def test_two_reviewers_picking_the_same_item_at_once(factory, team):
    """Each acts on the page they loaded earlier (a stale row); the second must see the first's pick."""
    with factory() as s:
        conv_id = add_conv(s, "c-6").id
        s.commit()
    a, b = factory(), factory()
    try:
        conv_a, conv_b = a.get(Conversation, conv_id), b.get(Conversation, conv_id)
        assert conv_a.assignee_id is None and conv_b.assignee_id is None
        review.start_review(a, conv_a, U(a, team, "insp1"))
        a.commit()
        with pytest.raises(review.NotAllowed, match="已分配给其他人"):
            review.start_review(b, conv_b, U(b, team, "insp2"))
        b.rollback()
    finally:
        a.close()
        b.close()
    with factory() as s:
        assert s.get(Conversation, conv_id).assignee_id == team["insp1"]
        assert s.scalar(select(func.count()).select_from(Review)) == 1
