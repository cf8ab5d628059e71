"""Who may do what in the workbench — the one place that says it. Pages, the API and the review
services all ask these functions; nothing else compares roles.

Roles (db.ROLES):

* **admin** (管理员): everything, including managing users.
* **supervisor** (质检主管): every conversation; assigns, reviews, raises disputes, signs them off,
  sees agreement and the audit log, exports labels, may reveal unmasked PII (each reveal is audited).
* **inspector** (质检员): the queue; reviews what is assigned to them and may pick up unassigned
  items from the pool (``pending`` ones for round 1, ``disputed`` ones for round 2 unless they did
  round 1); sees the conversations they are assigned to, have reviewed, or that sit unassigned in
  the pool — with ``workbench.inspector_sees: queue`` (the default) only pool items the review queue
  holds (flagged or sampled: ``review_needed``), not every loaded conversation; raises disputes on
  reviewed results they can see.
* calibration sessions (校准, calibration.py): supervisors run them; only the inspectors chosen take
  part, each scoring blind, and only once all have submitted (or the session is closed) does anyone
  see the answers. Admins and supervisors see the audit log, so they run sessions, not take part.
* **agent** (坐席): read-only, only conversations whose ``agent_id`` is their own; appeals (申诉)
  their own reviewed results — the only role that may (an admin can't appeal for an agent).
* scorecard questions (评分表问题, question_store.py): supervisors (QA leads) add and edit the
  workbench's questions (``manage_questions``); whoever may ``review`` answers them with one click on
  the conversations they can see; the active-learning queue is part of ``view_queue``.

A user that is not ``active`` may do nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, exists, false, or_, select, true

from ..config import ConfigError
from .db import Conversation, Review, User
from .history import current_dispute, first_reviewer_id, session_of

ACTIONS = (
    "review",          # start / fill / submit a review (on a conversation they may review: can_review)
    "assign",          # assign conversations to inspectors (by hand, round-robin)
    "dispute",         # raise a dispute on a reviewed result
    "appeal",          # an agent's appeal of their own reviewed result
    "sign_off",        # sign off a double-reviewed dispute with the final score
    "manage_users",    # create users, reset passwords, deactivate
    "see_unmasked",    # reveal PII in a transcript (audited)
    "view_queue",      # the review queue page
    "view_agreement",  # per-rule precision and machine–human agreement
    "export_labels",   # export verdicts as training labels
    "view_audit",      # read the audit log
    "calibrate",       # the calibration pages; score blind in a session one takes part in (calibration.py)
    "run_calibration", # create a calibration session, close it, accept its consensus as gold labels
    "view_cases",      # the 差评 cases one may see (agents: their own) — pipeline/cases/service.py
    "account_case",    # write the agent's 情况说明 on one's own case (the agent's own voice)
    "handle_cases",    # investigate, set responsibility and measures, record the 回访, close
    "manage_questions",  # add / edit the workbench's scorecard questions (question_store.py); answering one is "review"
)

POLICY: dict[str, frozenset[str]] = {
    "admin": frozenset(ACTIONS) - {"appeal", "account_case"},  # an appeal and a 情况说明 are the agent's own voice
    "supervisor": frozenset({"review", "assign", "dispute", "sign_off", "see_unmasked", "view_queue",
                             "view_agreement", "export_labels", "view_audit", "calibrate", "run_calibration",
                             "view_cases", "handle_cases", "manage_questions"}),
    "inspector": frozenset({"review", "dispute", "view_queue", "calibrate"}),
    "agent": frozenset({"appeal", "view_cases", "account_case"}),
}

# Statuses an unassigned conversation sits in the inspectors' pool with.
POOL_STATUSES = ("pending", "disputed")
SEES_ALL = ("admin", "supervisor")
INSPECTOR_SEES = ("queue", "pool")  # workbench.inspector_sees


def _active(user: User | None) -> bool:
    return user is not None and bool(user.active)


def can(user: User | None, action: str) -> bool:
    """May ``user`` do ``action`` at all (on conversations they can see)? Unknown actions are a bug."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; known: {', '.join(ACTIONS)}")
    return _active(user) and action in POLICY.get(user.role, frozenset())


def _reviewer_ids(conv: Conversation) -> set[int]:
    from sqlalchemy.orm import object_session

    session = object_session(conv)
    if session is None or conv.id is None:
        return set()
    return set(session.scalars(select(Review.reviewer_id).where(Review.conversation_id == conv.id)))


def check_inspector_sees(inspector_sees: str) -> None:
    if inspector_sees not in INSPECTOR_SEES:
        raise ConfigError(f"workbench.inspector_sees: {inspector_sees!r} is not one of {', '.join(INSPECTOR_SEES)}")


def can_view_conversation(user: User | None, conv: Conversation, inspector_sees: str = "queue") -> bool:
    """May ``user`` open this conversation's page? (The same rule as :func:`visible_conversations`.)"""
    check_inspector_sees(inspector_sees)
    if not _active(user):
        return False
    if user.role in SEES_ALL:
        return True
    if user.role == "agent":
        return bool(user.agent_id) and conv.agent_id == user.agent_id
    if user.role == "inspector":
        if conv.assignee_id == user.id:
            return True
        if conv.assignee_id is None and conv.status in POOL_STATUSES:
            if conv.status == "disputed" or inspector_sees == "pool" or conv.review_needed:
                return True
        return user.id in _reviewer_ids(conv)
    return False


def visible_conversations(query: Any, user: User | None, inspector_sees: str = "queue") -> Any:
    """Restrict a ``select(Conversation…)`` (or a legacy Query) to what ``user`` may see."""
    check_inspector_sees(inspector_sees)
    if not _active(user):
        return query.where(false())
    if user.role in SEES_ALL:
        return query.where(true())
    if user.role == "agent":
        if not user.agent_id:
            return query.where(false())
        return query.where(Conversation.agent_id == user.agent_id)
    if user.role == "inspector":
        reviewed = exists().where(and_(Review.conversation_id == Conversation.id, Review.reviewer_id == user.id))
        in_pool = and_(Conversation.assignee_id.is_(None), Conversation.status.in_(POOL_STATUSES))
        if inspector_sees == "queue":
            in_pool = and_(in_pool, or_(Conversation.status == "disputed", Conversation.review_needed.is_(True)))
        return query.where(or_(Conversation.assignee_id == user.id, in_pool, reviewed))
    return query.where(false())


def can_review(user: User | None, conv: Conversation) -> bool:
    """May ``user`` review this conversation now (round 1 or round 2)? The workflow in review.py
    gives the reason when not; this is the yes/no a page needs to show the button."""
    if not can(user, "review") or conv.status not in ("pending", "assigned", "disputed"):
        return False
    if conv.assignee_id is not None and conv.assignee_id != user.id:
        return False
    if conv.status == "disputed":
        return round2_refusal(conv, user) is None  # round 2 must be someone else
    return True


def round2_refusal(conv: Conversation, user: User) -> str | None:
    """Why ``user`` may not do the independent round 2 of this dispute (None: they may): an inspector
    (supervisors see round 1 while it is disputed, and sign off), not the round-1 reviewer, nor
    whoever raised the dispute."""
    if user.role != "inspector":
        return f"会话 {conv.ext_id} 的第二轮复核须由质检员独立完成（{user.username} 是 {user.role}，负责签核而不是复核）"
    if first_reviewer_id(conv) == user.id:
        return f"会话 {conv.ext_id} 的第二轮复核须由另一位质检员独立完成：{user.username} 做了第一轮"
    dispute = current_dispute(session_of(conv), conv)
    if dispute is not None and dispute.raised_by == user.id:
        return f"会话 {conv.ext_id} 的争议由 {user.username} 发起，第二轮复核须由另一位质检员完成"
    return None


def can_dispute(user: User | None, conv: Conversation) -> bool:
    return can(user, "dispute") and conv.status == "reviewed" and can_view_conversation(user, conv)


def owns_conversation(user: User | None, conv: Conversation) -> bool:
    """Is this the conversation of the agent ``user`` (the one person who may appeal its result)?"""
    return _active(user) and user.role == "agent" and bool(user.agent_id) and conv.agent_id == user.agent_id


def can_appeal(user: User | None, conv: Conversation) -> bool:
    return can(user, "appeal") and conv.status == "reviewed" and owns_conversation(user, conv)
