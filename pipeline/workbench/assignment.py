"""Assignment: giving conversations to inspectors, one by one or round-robin by open items, and the
second reviewer of a dispute. All or nothing; each change is in the audit log."""

from __future__ import annotations

from typing import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import audit
from .db import Conversation, User
from .permissions import can, round2_refusal
from .review_checks import STATUS_LABELS, NotAllowed, WorkflowError


def _reviewer_ok(inspector: User) -> None:
    if not can(inspector, "review"):
        raise WorkflowError(f"{inspector.username} 不能复核（角色 {inspector.role}{'，已停用' if not inspector.active else ''}）：只能分配给质检员或质检主管")


def _plan_one(conv: Conversation, inspector: User) -> str:
    """The status the conversation gets when assigned to ``inspector``; WorkflowError if it can't be."""
    if conv.status in ("pending", "assigned"):
        return "assigned"
    if conv.status == "disputed":
        refusal = round2_refusal(conv, inspector)
        if refusal:
            raise WorkflowError(refusal)
        return "disputed"
    raise WorkflowError(f"会话 {conv.ext_id} 当前状态为「{STATUS_LABELS.get(conv.status, conv.status)}」，不能分配；"
                        "只有待复核、已分配或争议中的会话可以分配")


def _apply_assign(session: Session, conv: Conversation, inspector: User, status: str, actor: User, action: str) -> None:
    before = audit.snapshot(conv, ("status", "assignee_id"))
    conv.assignee_id = inspector.id
    conv.status = status
    audit.record(session, actor, action, "conversations", conv.id, before, audit.snapshot(conv, ("status", "assignee_id")))


def _load_convs(session: Session, conv_ids: Iterable[int]) -> list[Conversation]:
    ids = list(dict.fromkeys(int(i) for i in conv_ids))
    if not ids:
        raise WorkflowError("没有选择会话 (conv_ids is empty)")
    rows = {c.id: c for c in session.scalars(
        select(Conversation).where(Conversation.id.in_(ids)).order_by(Conversation.id).with_for_update()
        .execution_options(populate_existing=True))}
    missing = [i for i in ids if i not in rows]
    if missing:
        raise WorkflowError(f"会话不存在：{missing}")
    return [rows[i] for i in ids]


def assign(session: Session, conv_ids: Iterable[int], inspector: User, actor: User) -> list[Conversation]:
    """Give conversations (database ids) to ``inspector``. Pending / assigned ones become
    ``assigned``; a disputed one gets its second reviewer (not the round-1 reviewer). All or nothing."""
    if not can(actor, "assign"):
        raise NotAllowed(f"{actor.username}（{actor.role}）无权分配会话")
    _reviewer_ok(inspector)
    convs = _load_convs(session, conv_ids)
    plan = [(c, _plan_one(c, inspector)) for c in convs]
    for conv, status in plan:
        _apply_assign(session, conv, inspector, status, actor, "conversation.assign")
    session.flush()
    return convs


def open_items(session: Session, user_ids: Iterable[int]) -> dict[int, int]:
    """Per user: conversations assigned to them and not yet reviewed (round 1 or round 2)."""
    ids = list(user_ids)
    counts = dict(session.execute(
        select(Conversation.assignee_id, func.count()).where(
            Conversation.assignee_id.in_(ids), Conversation.status.in_(("assigned", "disputed"))
        ).group_by(Conversation.assignee_id)
    ).all())
    return {i: int(counts.get(i, 0)) for i in ids}


def assign_round_robin(session: Session, conv_ids: Iterable[int], inspectors: list[User], actor: User) -> dict[int, list[int]]:
    """Spread conversations over ``inspectors``, each to the one with the fewest open items at that
    moment (ties: the order given). A disputed conversation skips its round-1 reviewer. All or
    nothing: every conversation is planned before anything changes. Returns user id → conversation ids."""
    if not can(actor, "assign"):
        raise NotAllowed(f"{actor.username}（{actor.role}）无权分配会话")
    people = list({u.id: u for u in inspectors}.values())
    if not people:
        raise WorkflowError("请至少选择一位质检员")
    for u in people:
        _reviewer_ok(u)
    convs = _load_convs(session, conv_ids)
    load = open_items(session, [u.id for u in people])
    order = {u.id: i for i, u in enumerate(people)}
    plan: list[tuple[Conversation, User, str]] = []
    for conv in convs:
        errors, best = [], None
        for u in sorted(people, key=lambda u: (load[u.id], order[u.id])):
            try:
                status = _plan_one(conv, u)
            except WorkflowError as e:
                errors.append(str(e))
                continue
            best = (u, status)
            break
        if best is None:
            raise WorkflowError(errors[0] if errors else f"会话 {conv.ext_id} 无法分配")
        if conv.assignee_id is not None:
            load[conv.assignee_id] = load.get(conv.assignee_id, 0) - (conv.status in ("assigned", "disputed"))
        load[best[0].id] += 1
        plan.append((conv, best[0], best[1]))
    out: dict[int, list[int]] = {u.id: [] for u in people}
    for conv, u, status in plan:
        _apply_assign(session, conv, u, status, actor, "conversation.assign_round_robin")
        out[u.id].append(conv.id)
    session.flush()
    return out
