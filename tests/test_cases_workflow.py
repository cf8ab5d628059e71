"""差评 cases, part 2 (issue 19): each step of the workflow and who may take it, deadlines and the
overdue ordering, notices, the audit trail — on SQLite and PostgreSQL (``db_url``)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from test_workbench_core import U, add_conv, audit_rows, team  # noqa: F401 — team: the workflow tests' people (a fixture)

from pipeline.cases import service
from pipeline.workbench.db import Case, CaseNotice
from pipeline.workbench.review import NotAllowed, WorkflowError

NOW = datetime.now(timezone.utc)


def _open(s, cfg, ext="c-1", agent="A017", received=None):
    conv = add_conv(s, ext, agent)
    case, _ = service.open_case(s, cfg, key=f"conv:{ext}", source="rating", received_at=received or NOW, conversation=conv,
                                rating_score=1, review_text="客服态度差")
    s.flush()
    return case


def _walk_to(s, team, cfg, case, state):
    """Take ``case`` through the workflow up to ``state`` with the right people."""
    agent, sup = U(s, team, "agent17"), U(s, team, "sup")
    steps = [
        ("accounted", lambda: service.submit_account(s, case, "客户催得急,我语气重了", agent)),
        ("investigating", lambda: service.add_note(s, case, "听了录音,属实", sup)),
        ("responsibility", lambda: service.set_responsibility(s, case, ["individual", "training"], "服务态度", "语气生硬", sup)),
        ("measures", lambda: service.add_measure(s, case, "apology", agent, None, "电话致歉", sup, cfg)),
    ]
    for name, step in steps:
        if case.state == state:
            return case
        step()
    if state == "measures":
        return case
    for m in case.measures:
        service.complete_measure(s, case, m, "已致歉", agent)
    if state in ("followed_up", "closed"):
        service.follow_up(s, case, "satisfied", "客户表示满意", sup)
    if state == "closed":
        service.close(s, case, sup)
    return case


def test_a_case_walks_from_open_to_closed_and_every_step_is_audited(factory, team, cfg):
    with factory() as s:
        case = _open(s, cfg)
        agent, sup = U(s, team, "agent17"), U(s, team, "sup")
        assert case.state == "open" and case.suggested_reason == "服务态度"
        service.submit_account(s, case, "客户催得急,我语气重了", agent)
        assert case.state == "accounted" and case.account_at is not None
        service.add_note(s, case, "听了录音,属实", sup)
        service.add_contact(s, case, "电话", "与客户二次沟通,客户仍不满意 13812345678", sup)
        assert case.state == "investigating" and "属实" in case.investigation and len(case.contacts) == 1
        service.set_responsibility(s, case, ["training", "individual"], "服务态度", "语气生硬", sup)
        assert case.responsibility == ["individual", "training"] and case.confirmed_reason == "服务态度"
        apology = service.add_measure(s, case, "apology", agent, None, "电话致歉", sup, cfg)
        training = service.add_measure(s, case, "training", sup, NOW + timedelta(days=2), "沟通技巧培训", sup, cfg)
        assert case.state == "measures" and service.aware(apology.due_at) == service.aware(case.apology_due)
        service.complete_measure(s, case, apology, "已致歉", agent)  # the agent owns the apology
        assert case.apology_at is not None
        with pytest.raises(WorkflowError, match="还有措施未完成"):
            service.follow_up(s, case, "satisfied", None, sup)
        service.complete_measure(s, case, training, None, sup)
        service.follow_up(s, case, "satisfied", "客户表示满意", sup)
        service.close(s, case, sup)
        assert case.state == "closed" and case.closed_at is not None
        s.commit()
        actions = [a.action for a in audit_rows(s) if a.entity == "cases"]
        assert actions == ["case.open", "case.account", "case.note", "case.contact", "case.responsibility", "case.measure",
                           "case.measure", "case.measure_done", "case.measure_done", "case.follow_up", "case.close"]
        contact = next(a for a in audit_rows(s, "case.contact"))
        assert "13812345678" not in str(contact.after)  # the log keeps no personal data
        assert service.overdue_items(case) == []


# who may take each step (the state set up so that the right person succeeds)
STEPS = [
    # (state before, step, people who may, people refused)
    ("open", lambda s, c, u, cfg: service.submit_account(s, c, "说明", u), {"agent17"}, {"agent18", "sup", "admin", "insp1"}),
    ("accounted", lambda s, c, u, cfg: service.add_note(s, c, "调查", u), {"sup", "admin"}, {"agent17", "insp1"}),
    ("accounted", lambda s, c, u, cfg: service.add_contact(s, c, "电话", "沟通", u), {"sup", "admin"}, {"agent17", "insp1"}),
    ("investigating", lambda s, c, u, cfg: service.set_responsibility(s, c, ["process"], "其他", None, u), {"sup", "admin"},
     {"agent17", "insp1"}),
    ("responsibility", lambda s, c, u, cfg: service.add_measure(s, c, "fix", u, None, None, u, cfg), {"sup", "admin"},
     {"agent17", "insp1"}),
    ("measures", lambda s, c, u, cfg: service.complete_measure(s, c, c.measures[0], None, u), {"agent17", "sup", "admin"},
     {"agent18", "insp1"}),
]


@pytest.mark.parametrize("index", range(len(STEPS)))
def test_each_step_is_taken_only_by_whom_it_belongs_to(factory, team, cfg, index):
    before, step, allowed, refused = STEPS[index]
    with factory() as s:
        for name in sorted(refused):
            case = _walk_to(s, team, cfg, _open(s, cfg, f"r-{name}"), before)
            with pytest.raises(NotAllowed):
                step(s, case, U(s, team, name), cfg)
            assert case.state == before
        for name in sorted(allowed):
            case = _walk_to(s, team, cfg, _open(s, cfg, f"a-{name}"), before)
            step(s, case, U(s, team, name), cfg)


def test_follow_up_and_close_are_the_supervisors_and_need_their_state(factory, team, cfg):
    with factory() as s:
        case = _walk_to(s, team, cfg, _open(s, cfg), "measures")
        for m in case.measures:
            service.complete_measure(s, case, m, None, U(s, team, "agent17"))
        with pytest.raises(NotAllowed):
            service.follow_up(s, case, "satisfied", None, U(s, team, "agent17"))
        with pytest.raises(WorkflowError, match="不能结案"):
            service.close(s, case, U(s, team, "sup"))
        with pytest.raises(WorkflowError, match="回访结果"):
            service.follow_up(s, case, "great", None, U(s, team, "sup"))
        service.follow_up(s, case, "unreachable", "三次未接通", U(s, team, "sup"))
        with pytest.raises(NotAllowed):
            service.close(s, case, U(s, team, "agent17"))
        service.close(s, case, U(s, team, "sup2"))
        assert case.state == "closed" and case.follow_up_result == "unreachable"


def test_steps_out_of_order_and_bad_forms_are_refused_with_what_to_do(factory, team, cfg):
    with factory() as s:
        case = _open(s, cfg)
        sup, agent = U(s, team, "sup"), U(s, team, "agent17")
        with pytest.raises(WorkflowError, match="待情况说明.*不能记录调查"):
            service.add_note(s, case, "x", sup)
        with pytest.raises(WorkflowError, match="请填写情况说明"):
            service.submit_account(s, case, "  ", agent)
        service.submit_account(s, case, "说明", agent)
        with pytest.raises(WorkflowError, match="不能提交情况说明"):
            service.submit_account(s, case, "再写一次", agent)
        with pytest.raises(WorkflowError, match="请先记录调查"):
            service.set_responsibility(s, case, ["individual"], "服务态度", None, sup)
        service.add_note(s, case, "调查", sup)
        with pytest.raises(WorkflowError, match="至少选择一项责任"):
            service.set_responsibility(s, case, [], "服务态度", None, sup)
        with pytest.raises(WorkflowError, match="至少选择一项责任"):
            service.set_responsibility(s, case, ["nobody"], "服务态度", None, sup)
        with pytest.raises(WorkflowError, match="差评原因"):
            service.set_responsibility(s, case, ["external"], "天气", None, sup)
        with pytest.raises(WorkflowError, match="请先认定责任"):
            service.add_measure(s, case, "fix", sup, None, None, sup, cfg)
        service.set_responsibility(s, case, ["external", "teamwork"], "问题解决效果", None, sup)
        with pytest.raises(WorkflowError, match="措施类型"):
            service.add_measure(s, case, "bonus", sup, None, None, sup, cfg)
        with pytest.raises(WorkflowError, match="负责人"):
            service.add_measure(s, case, "fix", None, None, None, sup, cfg)


def test_deadlines_come_from_config_and_overdue_cases_are_listed_first(factory, team, cfg):
    with factory() as s:
        fresh = _open(s, cfg, "fresh", received=NOW - timedelta(hours=1))
        late_account = _open(s, cfg, "late-account", received=NOW - timedelta(hours=30))
        very_late = _open(s, cfg, "very-late", received=NOW - timedelta(days=8))
        closed = _walk_to(s, team, cfg, _open(s, cfg, "closed", received=NOW - timedelta(days=9)), "closed")
        other = _open(s, cfg, "other-agent", "A018", received=NOW - timedelta(hours=2))
        s.commit()
        h = cfg["cases"]["account_within_h"]
        assert service.aware(fresh.account_due) - service.aware(fresh.received_at) == timedelta(hours=h)
        assert service.aware(fresh.close_due) - service.aware(fresh.received_at) == timedelta(days=cfg["cases"]["close_within_d"])
        assert service.overdue_items(fresh) == []
        assert service.overdue_items(late_account) == ["情况说明", "道歉安抚"]
        assert service.overdue_items(very_late) == ["情况说明", "道歉安抚", "结案"]
        assert service.overdue_items(closed) == []  # closed late, but closed
        order = [c.conversation_ext_id for c, _ in service.list_cases(s)]
        assert order[:2] == ["very-late", "late-account"]  # overdue first, the nearest closure deadline first
        assert order[-1] == "closed"
        assert [c.conversation_ext_id for c, _ in service.list_cases(s, overdue_only=True)] == ["very-late", "late-account"]
        assert [c.conversation_ext_id for c, _ in service.list_cases(s, agent="A018")] == ["other-agent"]
        # an agent sees only their own cases, a supervisor all, an inspector none
        assert {c.agent_id for c, _ in service.list_cases(s, U(s, team, "agent18"))} == {"A018"}
        assert len(service.list_cases(s, U(s, team, "sup"))) == 5
        assert service.list_cases(s, U(s, team, "insp1")) == []
        # a measure past its due date makes the case overdue too
        m_case = _walk_to(s, team, cfg, _open(s, cfg, "m-late"), "measures")
        service.add_measure(s, m_case, "training", U(s, team, "sup"), NOW - timedelta(hours=1), None, U(s, team, "sup"), cfg)
        assert "培训提升" in service.overdue_items(m_case)


def test_a_shorter_deadline_in_config_is_used(factory, team, cfg):
    import copy

    short = copy.deepcopy(cfg)
    short["cases"]["account_within_h"] = 2
    with factory() as s:
        case = _open(s, short, received=NOW - timedelta(hours=3))
        assert service.overdue_items(case) == ["情况说明"]


def test_notices_badge_and_reading(factory, team, cfg):
    with factory() as s:
        case = _open(s, cfg)
        s.commit()
        agent, sup, other = U(s, team, "agent17"), U(s, team, "sup"), U(s, team, "agent18")
        assert service.unread_count(s, agent) == 1 and service.unread_count(s, sup) == 1
        assert service.unread_count(s, other) == 0
        assert service.unread_case_ids(s, agent) == {case.id}
        service.mark_read(s, case, agent)
        s.commit()
        assert service.unread_count(s, agent) == 0 and service.unread_count(s, sup) == 1
        assert s.scalar(select(CaseNotice).where(CaseNotice.user_id == agent.id)).read_at is not None


def test_two_sessions_taking_the_same_step_take_turns(factory, team, cfg):
    with factory() as s:
        case_id = _open(s, cfg).id
        s.commit()
    with factory() as a, factory() as b:
        ca, cb = a.get(Case, case_id), b.get(Case, case_id)
        service.submit_account(a, ca, "第一份", U(a, team, "agent17"))
        a.commit()
        with pytest.raises(WorkflowError, match="不能提交情况说明"):
            service.submit_account(b, cb, "第二份", U(b, team, "agent17"))
        b.rollback()
    with factory() as s:
        assert s.get(Case, case_id).account_text == "第一份"
