"""Bad-review cases in the workbench database: opening, the workflow on deadlines, notices.

Seed 004 四 处理流程, as states (``db.CASE_STATES``):

    open ──(agent: 情况说明)──▶ accounted ──(supervisor: investigation note / customer contact)──▶ investigating
    ──(supervisor: responsibility + confirmed reason)──▶ responsibility ──(measure added)──▶ measures
    ──(every measure done; 回访 recorded)──▶ followed_up ──(close)──▶ closed

Deadlines run from the review's time (``received_at``) with the ``cases:`` settings: the agent's account
(``account_within_h``), the apology (``apology_within_h``: an apology measure done) and closure
(``close_within_d``); each measure has its own due date. A case is **overdue** when one of them has
passed undone; lists show overdue cases first.

Every call checks who may do it (``permissions``: ``view_cases``, ``account_case``, ``handle_cases`` plus the
relation — an agent sees and accounts only for their own cases), writes the audit log in the caller's
transaction and raises ``review.WorkflowError`` / ``review.NotAllowed`` with a Chinese sentence; nothing
commits here.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from sqlalchemy import and_, false, func, or_, select, true
from sqlalchemy.orm import Session

from ..workbench import audit, permissions
from ..workbench.db import (
    CASE_FOLLOW_UP_RESULTS,
    CASE_MEASURE_KINDS,
    CASE_RESPONSIBILITIES,
    Case,
    CaseContact,
    CaseMeasure,
    CaseNotice,
    Conversation,
    Finding,
    User,
    WebhookDelivery,
    utcnow,
)
from ..workbench.review_checks import NotAllowed, WorkflowError
from . import reason as reasons

STATE_LABELS = {"open": "待情况说明", "accounted": "待调查", "investigating": "调查中", "responsibility": "已认定责任",
                "measures": "措施执行中", "followed_up": "已回访", "closed": "已结案"}
SOURCE_LABELS = {"rating": "系统评价", "complaint": "投诉", "import": "外部导入", "api": "实时接口"}
RESPONSIBILITY_LABELS = {"individual": "个人", "teamwork": "团队协作", "training": "培训不足", "process": "流程缺陷",
                         "external": "外部"}
MEASURE_LABELS = {"apology": "道歉安抚", "fix": "问题解决", "training": "培训提升", "performance": "绩效调整"}
FOLLOW_UP_LABELS = {"satisfied": "满意", "unsatisfied": "不满意", "unreachable": "未联系上"}
COMPLAINT_RULES = ("complaint.risk", "complaint.caused")
CASE_FIELDS = ("state", "suggested_reason", "confirmed_reason", "responsibility", "account_at", "apology_at",
               "follow_up_result", "closed_at")


class CaseError(WorkflowError):
    """A case step that the state or the form doesn't allow (409 / 400 on the pages, exit 2 on the CLI)."""


def settings(config: dict) -> dict[str, Any]:
    return config["cases"]


def aware(value: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back (written in UTC)."""
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def utc(value: datetime) -> datetime:
    """Stored in UTC: SQLite keeps a datetime's wall time and drops its offset."""
    return aware(value).astimezone(timezone.utc)


def parse_time(value: Any, what: str) -> datetime:
    if isinstance(value, datetime):
        return aware(value)
    try:
        t = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        raise CaseError(f"{what}「{value}」不是 ISO-8601 时间:请写成 2026-12-01T09:30:00+08:00") from None
    return t if t.tzinfo is not None else t.replace(tzinfo=timezone(timedelta(hours=8)))  # a bare time: Beijing time


def deadlines(config: dict, received_at: datetime) -> dict[str, datetime]:
    s = settings(config)
    t = utc(received_at)
    return {"account_due": t + timedelta(hours=float(s["account_within_h"])),
            "apology_due": t + timedelta(hours=float(s["apology_within_h"])),
            "close_due": t + timedelta(days=float(s["close_within_d"]))}


# --------------------------------------------------------------------------- overdue


def overdue_items(case: Case, now: datetime | None = None) -> list[str]:
    """What is late on this case (Chinese labels); empty when nothing is."""
    now = now or utcnow()
    if case.state == "closed":
        return []
    late = []
    if case.account_at is None and aware(case.account_due) < now:
        late.append("情况说明")
    if case.apology_at is None and aware(case.apology_due) < now:
        late.append("道歉安抚")
    for m in case.measures:
        if m.done_at is None and aware(m.due_at) < now and m.kind != "apology":
            late.append(MEASURE_LABELS[m.kind])
    if aware(case.close_due) < now:
        late.append("结案")
    return late


def overdue_clause(now: datetime):
    """The SQL form of ``overdue_items(case) != []`` without the measures (listed with them in Python)."""
    return and_(Case.state != "closed", or_(and_(Case.account_at.is_(None), Case.account_due < now),
                                            and_(Case.apology_at.is_(None), Case.apology_due < now),
                                            Case.close_due < now))


# --------------------------------------------------------------------------- visibility


def can_view_case(user: User | None, case: Case) -> bool:
    if not permissions.can(user, "view_cases"):
        return False
    if user.role == "agent":
        return bool(user.agent_id) and case.agent_id == user.agent_id
    return True


def visible_cases(query: Any, user: User | None) -> Any:
    if not permissions.can(user, "view_cases"):
        return query.where(false())
    if user.role == "agent":
        return query.where(Case.agent_id == user.agent_id) if user.agent_id else query.where(false())
    return query.where(true())


def list_cases(session: Session, user: User | None = None, *, overdue_only: bool = False, agent: str | None = None,
               state: str | None = None, now: datetime | None = None) -> list[tuple[Case, list[str]]]:
    """Cases (each with what is overdue), overdue first, then the nearest closure deadline. ``user`` None:
    every case (the CLI, run by an operator)."""
    now = now or utcnow()
    q = select(Case)
    if user is not None:
        q = visible_cases(q, user)
    if agent:
        q = q.where(Case.agent_id == agent)
    if state == "active":
        q = q.where(Case.state != "closed")
    elif state:
        q = q.where(Case.state == state)
    rows = [(c, overdue_items(c, now)) for c in session.scalars(q.order_by(Case.close_due, Case.id))]
    if overdue_only:
        rows = [r for r in rows if r[1]]
    rows.sort(key=lambda r: (not r[1], r[0].state == "closed", aware(r[0].close_due), r[0].id))
    return rows


# --------------------------------------------------------------------------- the suggestion


def conversation_result(session: Session, conv: Conversation) -> dict[str, Any]:
    """The keys of a results line ``reason.suggest`` reads, from the workbench's conversation row."""
    findings = session.scalars(select(Finding).where(Finding.conversation_id == conv.id, Finding.source == "machine")
                               .order_by(Finding.position)).all()
    return {"findings": [{"rule": f.rule, "turn": f.turn, "evidence": f.evidence} for f in findings],
            "review_reasons": list(conv.review_reasons or []), "sentiment": conv.sentiment or {},
            "metrics": conv.metrics or {}}


def suggest_for(session: Session, conv: Conversation | None, review_text: str | None) -> reasons.Suggestion:
    if conv is None:
        return reasons.suggest({}, None, review_text)
    return reasons.suggest(conversation_result(session, conv), conv.turns or [], review_text)


# --------------------------------------------------------------------------- opening


def _payload(case: Case, config: dict) -> dict[str, Any]:
    """What the webhook sends: who, when, why (the class and its first evidence), the link — never the
    transcript; the review text masked."""
    from ..privacy import mask_free_text

    base = (settings(config).get("link_base") or "").rstrip("/")
    sug = case.suggestion or {}
    return {"event": "case.opened", "case_id": case.id, "source": case.source, "source_label": SOURCE_LABELS.get(case.source),
            "channel": case.channel, "agent_id": case.agent_id, "team": case.team,
            "conversation_id": case.conversation_ext_id, "rating": case.rating_score,
            "review_text": mask_free_text(case.review_text) if case.review_text else None,
            "suggested_reason": case.suggested_reason,
            "evidence": [e.get("detail") for e in (sug.get("evidence") or [])][:3],
            "received_at": aware(case.received_at).isoformat(), "account_due": aware(case.account_due).isoformat(),
            "apology_due": aware(case.apology_due).isoformat(), "close_due": aware(case.close_due).isoformat(),
            "url": f"{base}/cases/{case.id}",
            "text": f"差评提醒:坐席 {case.agent_id or '未知'} 收到一条{SOURCE_LABELS.get(case.source, '')}差评,"
                    f"系统初判原因「{case.suggested_reason}」,请在 {aware(case.account_due).strftime('%Y-%m-%d %H:%M')} (UTC) 前提交情况说明。"}


def people_to_tell(session: Session, agent_id: str | None) -> list[User]:
    """The agent (users whose agent_id is the case's) and their supervisors: those of the agent's team,
    else every active supervisor."""
    agents = list(session.scalars(select(User).where(User.role == "agent", User.active.is_(True), User.agent_id == agent_id))) \
        if agent_id else []
    teams = {a.team for a in agents if a.team}
    sups = select(User).where(User.role == "supervisor", User.active.is_(True))
    supervisors = list(session.scalars(sups.where(User.team.in_(teams)))) if teams else []
    if not supervisors:
        supervisors = list(session.scalars(sups))
    return agents + supervisors


def open_case(session: Session, config: dict, *, key: str, source: str, received_at: datetime,
              conversation: Conversation | None = None, conversation_ext_id: str | None = None, agent_id: str | None = None,
              team: str | None = None, customer_id: str | None = None, rating_score: float | None = None,
              review_text: str | None = None, channel: str | None = None, external_ref: str | None = None,
              actor: User | None = None, suggestion: reasons.Suggestion | None = None) -> tuple[Case, bool]:
    """Open a case unless one with ``key`` exists: (case, created). Suggests the reason, sets the
    deadlines, tells the agent and their supervisors in-app, queues the webhook; audited ``case.open``."""
    have = session.scalar(select(Case).where(Case.key == key))
    if have is not None:
        return have, False
    if conversation is not None:
        conversation_ext_id = conversation.ext_id
        agent_id = agent_id or conversation.agent_id
        team = team or conversation.team
        customer_id = customer_id or conversation.customer_id
    s = suggestion if suggestion is not None else suggest_for(session, conversation, review_text)
    case = Case(key=key, source=source, channel=channel, external_ref=external_ref,
                conversation_id=conversation.id if conversation is not None else None,
                conversation_ext_id=conversation_ext_id, agent_id=agent_id, team=team, customer_id=customer_id,
                rating_score=rating_score, review_text=review_text, received_at=utc(received_at), opened_at=utcnow(),
                state="open", suggested_reason=s.reason, suggestion=s.as_dict(), **deadlines(config, received_at))
    session.add(case)
    session.flush()
    for person in people_to_tell(session, agent_id):
        session.add(CaseNotice(case_id=case.id, user_id=person.id, event="case.opened"))
    if settings(config)["webhook"].get("url"):
        session.add(WebhookDelivery(case_id=case.id, event="case.opened", payload=_payload(case, config), state="pending",
                                    attempts=[]))
    audit.record(session, actor, "case.open", "cases", case.id, None,
                 {"key": key, "source": source, "agent_id": agent_id, "conversation": conversation_ext_id,
                  "suggested_reason": s.reason, "account_due": case.account_due, "close_due": case.close_due})
    return case, True


def _conv_time(conv: Conversation) -> datetime:
    try:
        return parse_time(conv.started_at, "started_at") if conv.started_at else utcnow()
    except CaseError:
        return utcnow()


def is_complaint(conv: Conversation, complaint_ids: set[int]) -> bool:
    """A complaint finding, or the input's label ``complaint: true`` (投诉视同差评)."""
    labels = conv.labels if isinstance(conv.labels, dict) else {}
    return conv.id in complaint_ids or bool(labels.get("complaint"))


def open_cases_for_run(session: Session, run_id: int, config: dict) -> list[Case]:
    """The load hook: a case for each conversation of the run rated at or below ``review.bad_rating_at_most``
    or (``cases.open_on_complaint``) with a complaint finding / label; links cases that arrived before
    their conversation (import, API) to it."""
    bad = float(config["review"]["bad_rating_at_most"])
    on_complaint = bool(settings(config)["open_on_complaint"])
    convs = select(Conversation).where(Conversation.run_id == run_id)
    complaint_ids: set[int] = set()
    if on_complaint:
        complaint_ids = set(session.scalars(select(Finding.conversation_id).join(Conversation, Conversation.id == Finding.conversation_id)
                                            .where(Conversation.run_id == run_id, Finding.rule.in_(COMPLAINT_RULES))))
        complaint_ids |= {cid for cid, labels in session.execute(select(Conversation.id, Conversation.labels)
                                                                 .where(Conversation.run_id == run_id))
                          if isinstance(labels, dict) and labels.get("complaint")}
        cond = or_(Conversation.rating_score <= bad, Conversation.id.in_(complaint_ids))
    else:
        cond = Conversation.rating_score <= bad
    opened = []
    for conv in session.scalars(convs.where(cond).order_by(Conversation.id)):
        rated_bad = conv.rating_score is not None and conv.rating_score <= bad
        complaint = on_complaint and is_complaint(conv, complaint_ids)
        if not (rated_bad or complaint):
            continue
        case, created = open_case(session, config, key=f"conv:{conv.ext_id}", source="rating" if rated_bad else "complaint",
                                  received_at=_conv_time(conv), conversation=conv, rating_score=conv.rating_score,
                                  review_text=conv.rating_comment, channel="系统评价" if rated_bad else "投诉")
        if created:
            opened.append(case)
    # cases opened before their conversation was loaded (import, API): link them now
    ext_ids = dict(session.execute(select(Conversation.ext_id, Conversation.id).where(Conversation.run_id == run_id)).all())
    if ext_ids:
        for case in session.scalars(select(Case).where(Case.conversation_id.is_(None), Case.conversation_ext_id.in_(list(ext_ids)))):
            conv = session.get(Conversation, ext_ids[case.conversation_ext_id])
            link(session, case, conv)
    return opened


def opens_a_case(result: dict[str, Any], config: dict) -> str | None:
    """Why a results line opens a case (``rating`` / ``complaint``), or None."""
    rating = result.get("rating") if isinstance(result.get("rating"), dict) else {}
    score = rating.get("score")
    if isinstance(score, (int, float)) and score <= float(config["review"]["bad_rating_at_most"]):
        return "rating"
    if settings(config)["open_on_complaint"] and any(f.get("rule") in COMPLAINT_RULES for f in result.get("findings") or []):
        return "complaint"
    return None


def open_from_result(session: Session, config: dict, result: dict[str, Any], turns: list[Any] | None) -> Case | None:
    """The real-time API hook: a rating at or below the bad level (or a complaint) posted with a conversation
    opens a case at once (key ``api:<id>``), its reason suggested from the API's own result; the conversation
    is linked when a run holding it is loaded."""
    why = opens_a_case(result, config)
    if why is None:
        return None
    rating = result.get("rating") if isinstance(result.get("rating"), dict) else {}
    agent = result.get("agent") if isinstance(result.get("agent"), dict) else {}
    comment = rating.get("comment") if isinstance(rating.get("comment"), str) else None
    try:
        received = parse_time(result["started_at"], "started_at") if result.get("started_at") else utcnow()
    except CaseError:
        received = utcnow()
    case, created = open_case(session, config, key=f"api:{result['id']}"[:200], source="api", received_at=received,
                              conversation_ext_id=str(result["id"]), agent_id=agent.get("id"), team=agent.get("team"),
                              rating_score=rating.get("score"), review_text=comment,
                              channel="系统评价" if why == "rating" else "投诉",
                              suggestion=reasons.suggest(result, turns, comment))
    return case if created else None


def link(session: Session, case: Case, conv: Conversation, actor: User | None = None) -> None:
    case.conversation_id = conv.id
    case.agent_id = case.agent_id or conv.agent_id
    case.team = case.team or conv.team
    s = suggest_for(session, conv, case.review_text)
    case.suggested_reason, case.suggestion = s.reason, s.as_dict()
    audit.record(session, actor, "case.link", "cases", case.id, None, {"conversation": conv.ext_id, "suggested_reason": s.reason})


# --------------------------------------------------------------------------- the workflow


def _locked(session: Session, case: Case) -> Case:
    session.execute(select(Case.id).where(Case.id == case.id).with_for_update())
    session.refresh(case)
    return case


def _need(user: User, action: str, case: Case) -> None:
    if not permissions.can(user, action) or not can_view_case(user, case):
        raise NotAllowed(f"{user.username} 无权对差评 #{case.id} 进行此操作")


def _state(case: Case, *allowed: str, doing: str) -> None:
    if case.state not in allowed:
        want = " / ".join(STATE_LABELS[s] for s in allowed)
        raise CaseError(f"差评 #{case.id} 当前为「{STATE_LABELS[case.state]}」,不能{doing}(需要处于「{want}」)")


def _text(value: str | None, what: str) -> str:
    value = (value or "").strip()
    if not value:
        raise CaseError(f"请填写{what}")
    return value


def _audit(session, actor, action, case, before, **extra) -> None:
    after = audit.snapshot(case, CASE_FIELDS)
    audit.record(session, actor, action, "cases", case.id, before, after | extra)


def submit_account(session: Session, case: Case, text: str, actor: User) -> Case:
    """The agent's written 情况说明 (their own case only; once)."""
    if not permissions.can(actor, "account_case") or not (actor.role == "agent" and actor.agent_id and case.agent_id == actor.agent_id):
        raise NotAllowed(f"情况说明须由差评 #{case.id} 的当事坐席本人提交")
    case = _locked(session, case)
    _state(case, "open", doing="提交情况说明")
    before = audit.snapshot(case, CASE_FIELDS)
    case.account_text, case.account_at, case.state = _text(text, "情况说明"), utcnow(), "accounted"
    _audit(session, actor, "case.account", case, before, account_text=case.account_text)
    return case


def add_note(session: Session, case: Case, note: str, actor: User) -> Case:
    """An investigation note (调查与核实): starts the investigation once the agent's account is in."""
    _need(actor, "handle_cases", case)
    case = _locked(session, case)
    _state(case, "accounted", "investigating", doing="记录调查")
    before = audit.snapshot(case, CASE_FIELDS)
    note = _text(note, "调查记录")
    stamp = utcnow().strftime("%Y-%m-%d %H:%M UTC")
    case.investigation = ((case.investigation + "\n") if case.investigation else "") + f"[{stamp} {actor.username}] {note}"
    case.state = "investigating"
    _audit(session, actor, "case.note", case, before, note=note)
    return case


def add_contact(session: Session, case: Case, channel: str, note: str, actor: User) -> CaseContact:
    """The customer contact log (二次沟通)."""
    _need(actor, "handle_cases", case)
    case = _locked(session, case)
    _state(case, "accounted", "investigating", "responsibility", "measures", doing="记录客户沟通")
    before = audit.snapshot(case, CASE_FIELDS)
    contact = CaseContact(case_id=case.id, by=actor.id, channel=_text(channel, "沟通方式"), note=_text(note, "沟通内容"))
    session.add(contact)
    if case.state == "accounted":
        case.state = "investigating"
    session.flush()
    _audit(session, actor, "case.contact", case, before, contact_id=contact.id, channel=contact.channel, note=contact.note)
    return contact


def set_responsibility(session: Session, case: Case, kinds: Iterable[str], confirmed_reason: str, note: str | None,
                       actor: User) -> Case:
    """责任认定: one or more of CASE_RESPONSIBILITIES and the confirmed reason class."""
    _need(actor, "handle_cases", case)
    case = _locked(session, case)
    _state(case, "investigating", doing="认定责任(请先记录调查)")
    kinds = sorted(set(kinds), key=CASE_RESPONSIBILITIES.index) if all(k in CASE_RESPONSIBILITIES for k in kinds) else None
    if not kinds:
        raise CaseError("请至少选择一项责任归属:" + " / ".join(RESPONSIBILITY_LABELS.values()))
    if confirmed_reason not in reasons.CLASSES:
        raise CaseError("请选择差评原因:" + " / ".join(reasons.CLASSES))
    before = audit.snapshot(case, CASE_FIELDS)
    case.responsibility, case.confirmed_reason = kinds, confirmed_reason
    case.responsibility_note = (note or "").strip() or None
    case.state = "responsibility"
    _audit(session, actor, "case.responsibility", case, before, note=case.responsibility_note)
    return case


def add_measure(session: Session, case: Case, kind: str, owner: User | None, due_at: datetime | None, note: str | None,
                actor: User, config: dict) -> CaseMeasure:
    """A measure with an owner and a due date (default ``cases.measure_due_d`` days; an apology: the
    apology deadline)."""
    _need(actor, "handle_cases", case)
    case = _locked(session, case)
    _state(case, "responsibility", "measures", doing="添加处理措施(请先认定责任)")
    if kind not in CASE_MEASURE_KINDS:
        raise CaseError("措施类型请选择:" + " / ".join(MEASURE_LABELS.values()))
    if owner is None or not owner.active:
        raise CaseError("请选择措施负责人(在岗用户)")
    if due_at is None:
        due_at = aware(case.apology_due) if kind == "apology" else utcnow() + timedelta(days=float(settings(config)["measure_due_d"]))
    before = audit.snapshot(case, CASE_FIELDS)
    m = CaseMeasure(case_id=case.id, kind=kind, owner_id=owner.id, due_at=utc(due_at), note=(note or "").strip() or None)
    session.add(m)
    case.state = "measures"
    session.flush()
    _audit(session, actor, "case.measure", case, before, measure_id=m.id, kind=kind, owner=owner.username, due_at=m.due_at)
    return m


def can_complete_measure(user: User | None, case: Case, m: CaseMeasure) -> bool:
    return can_view_case(user, case) and (m.owner_id == user.id or permissions.can(user, "handle_cases"))


def complete_measure(session: Session, case: Case, m: CaseMeasure, note: str | None, actor: User) -> CaseMeasure:
    """The owner (or a supervisor) marks a measure done; an apology done sets the case's apology time."""
    if m.case_id != case.id or not can_complete_measure(actor, case, m):
        raise NotAllowed(f"只有措施负责人或质检主管可以完成差评 #{case.id} 的这项措施")
    case = _locked(session, case)
    _state(case, "measures", doing="完成措施")
    if m.done_at is not None:
        raise CaseError("这项措施已经完成")
    before = audit.snapshot(case, CASE_FIELDS)
    m.done_at, m.done_note = utcnow(), (note or "").strip() or None
    if m.kind == "apology" and case.apology_at is None:
        case.apology_at = m.done_at
    _audit(session, actor, "case.measure_done", case, before, measure_id=m.id, kind=m.kind, note=m.done_note)
    return m


def follow_up(session: Session, case: Case, result: str, note: str | None, actor: User) -> Case:
    """回访: once every measure is done, the customer's answer (satisfied / unsatisfied / unreachable)."""
    _need(actor, "handle_cases", case)
    case = _locked(session, case)
    _state(case, "measures", doing="回访(请先添加并完成处理措施)")
    undone = [MEASURE_LABELS[m.kind] for m in case.measures if m.done_at is None]
    if undone:
        raise CaseError(f"还有措施未完成({'、'.join(undone)}):完成后再回访")
    if result not in CASE_FOLLOW_UP_RESULTS:
        raise CaseError("回访结果请选择:" + " / ".join(FOLLOW_UP_LABELS.values()))
    before = audit.snapshot(case, CASE_FIELDS)
    case.follow_up_result, case.follow_up_note, case.follow_up_at = result, (note or "").strip() or None, utcnow()
    case.state = "followed_up"
    _audit(session, actor, "case.follow_up", case, before, note=case.follow_up_note)
    return case


def close(session: Session, case: Case, actor: User) -> Case:
    _need(actor, "handle_cases", case)
    case = _locked(session, case)
    _state(case, "followed_up", doing="结案(请先回访)")
    before = audit.snapshot(case, CASE_FIELDS)
    case.closed_at, case.state = utcnow(), "closed"
    _audit(session, actor, "case.close", case, before)
    return case


# --------------------------------------------------------------------------- notices


def unread_count(session: Session, user: User) -> int:
    return session.scalar(select(func.count()).select_from(CaseNotice).where(CaseNotice.user_id == user.id,
                                                                            CaseNotice.read_at.is_(None))) or 0


def unread_case_ids(session: Session, user: User) -> set[int]:
    return set(session.scalars(select(CaseNotice.case_id).where(CaseNotice.user_id == user.id, CaseNotice.read_at.is_(None))))


def mark_read(session: Session, case: Case, user: User) -> None:
    for n in session.scalars(select(CaseNotice).where(CaseNotice.case_id == case.id, CaseNotice.user_id == user.id,
                                                      CaseNotice.read_at.is_(None))):
        n.read_at = utcnow()
