"""Disputes and appeals of a reviewed result, and the supervisor's sign-off of a double-reviewed
dispute (which score and which review's verdicts count: review.py's module docstring)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit
from .db import DISPUTE_KINDS, Conversation, Dispute, Review, User, utcnow
from .history import submitted_review as _submitted_review
from .permissions import can, can_view_conversation, owns_conversation
from .review_checks import (CONV_STATE, DECISIONS, DISPUTE_STATE, NotAllowed, WorkflowError, _check_labels, _check_score,
                            _locked, grade_of)


def open_dispute(session: Session, conv: Conversation, kind: str, reason: str, actor: User) -> Dispute:
    """A dispute (by a reviewer or supervisor) or an agent's appeal (申诉) of a reviewed result. The
    conversation becomes ``disputed`` and goes back to the pool for an independent second review."""
    if kind not in DISPUTE_KINDS:
        raise WorkflowError(f"类型 {kind!r} 无效：dispute（争议）或 appeal（坐席申诉）")
    if kind == "appeal":
        if not can(actor, "appeal") or not owns_conversation(actor, conv):
            raise NotAllowed("只有本会话的坐席本人可以申诉")
    elif not can(actor, "dispute") or not can_view_conversation(actor, conv):
        raise NotAllowed(f"{actor.username}（{actor.role}）不能对此会话发起争议")
    reason = (reason or "").strip()
    if not reason:
        raise WorkflowError("请填写理由：哪一项判定有误，为什么")
    _locked(session, conv)
    if conv.status != "reviewed":
        why = {"pending": "尚未复核", "assigned": "尚未复核", "disputed": "已有进行中的争议", "second_reviewed": "已有进行中的争议",
               "signed_off": "已由主管签核，结果为终审"}.get(conv.status, conv.status)
        raise WorkflowError(f"会话 {conv.ext_id} {why}，不能{'申诉' if kind == 'appeal' else '发起争议'}")
    before = audit.snapshot(conv, CONV_STATE)
    dispute = Dispute(conversation_id=conv.id, kind=kind, state="open", raised_by=actor.id, reason=reason)
    session.add(dispute)
    conv.status, conv.assignee_id = "disputed", None
    session.flush()
    audit.record(session, actor, f"{kind}.open", "disputes", dispute.id, None, audit.snapshot(dispute, DISPUTE_STATE) | {"conversation_id": conv.id})
    audit.record(session, actor, "conversation.dispute", "conversations", conv.id, before, audit.snapshot(conv, CONV_STATE))
    return dispute


SCORE_TOLERANCE = 1e-6  # a typed final score equal to the decision's score (up to float noise) is not an adjustment


@dataclass(frozen=True)
class SignOffPlan:
    """What a sign-off will record, worked out before anything changes (the confirmation page shows it):
    the decision's score (round 1's when upheld, round 2's when overturned) is the final score unless
    the supervisor typed another one — an adjustment, which needs a written reason."""

    decision: str
    round1_score: float
    round2_score: float
    decision_score: float
    final_score: float
    grade: str
    adjusted: bool
    comment: str | None


def plan_sign_off(session: Session, dispute: Dispute, *, decision: str, final_score: float | None = None,
                  comment: str | None = None, config: dict | None = None) -> SignOffPlan:
    """Check a sign-off and say what it will record; raises WorkflowError when it would contradict itself."""
    if decision not in DECISIONS:
        raise WorkflowError(f"结论 {decision!r} 无效：upheld（维持原结果）或 overturned（改判）")
    r1, r2 = (_submitted_review(session, dispute.conversation_id, n) for n in (1, 2))
    if r1 is None or r2 is None:
        raise WorkflowError(f"争议 {dispute.id} 还没有两轮已提交的复核，不能签核")
    machine = session.get(Conversation, dispute.conversation_id).machine_score
    scores = {n: r.human_score if r.human_score is not None else machine for n, r in ((1, r1), (2, r2))}
    decided = scores[1] if decision == "upheld" else scores[2]
    final = decided if final_score is None else _check_score(final_score, "终审分数", config)
    adjusted = abs(final - decided) > SCORE_TOLERANCE
    comment = (comment or "").strip() or None
    if adjusted and comment is None:
        raise WorkflowError(
            f"最终得分 {final:g} 与结论「{DECISIONS[decision]}」对应的得分 {decided:g} 不一致：请留空最终得分（按结论取分），"
            "或在签核意见中写明调整理由")
    return SignOffPlan(decision, scores[1], scores[2], decided, final, grade_of(final, config), adjusted, comment)


def sign_off(
    session: Session,
    dispute: Dispute,
    *,
    decision: str,
    actor: User,
    final_score: float | None = None,
    comment: str | None = None,
    issue_type: str | None = None,
    sentiment: str | None = None,
    config: dict | None = None,
) -> Dispute:
    """The supervisor's sign-off of a double-reviewed dispute: ``decision`` ``upheld`` (round 1's score
    and verdicts stand) or ``overturned`` (round 2's count). The final score follows the decision;
    a different ``final_score`` is an adjustment and needs ``comment`` (:func:`plan_sign_off`). The
    signer must not have reviewed the conversation nor raised the dispute. ``comment`` is stored in
    ``Dispute.decision``."""
    if not can(actor, "sign_off"):
        raise NotAllowed(f"{actor.username}（{actor.role}）无权签核，需质检主管")
    if dispute.state != "second_reviewed":
        why = {"open": "第二轮复核尚未完成", "upheld": "已签核", "overturned": "已签核"}.get(dispute.state, dispute.state)
        raise WorkflowError(f"争议 {dispute.id} {why}，不能签核")
    conv = _locked(session, session.get(Conversation, dispute.conversation_id))
    session.refresh(dispute)
    if dispute.state != "second_reviewed":
        raise WorkflowError(f"争议 {dispute.id} 已签核，不能重复签核")
    reviewers = set(session.scalars(select(Review.reviewer_id).where(Review.conversation_id == conv.id, Review.submitted_at.is_not(None))))
    if actor.id in reviewers:
        raise NotAllowed("签核人不能是本会话的复核人；请另一位主管签核")
    if actor.id == dispute.raised_by:
        raise NotAllowed("签核人不能是提出该争议的人；请另一位主管签核")
    plan = plan_sign_off(session, dispute, decision=decision, final_score=final_score, comment=comment, config=config)
    issue_type, sentiment = _check_labels(issue_type, sentiment)
    d_before, c_before = audit.snapshot(dispute, DISPUTE_STATE), audit.snapshot(conv, CONV_STATE)
    dispute.state = decision
    dispute.signed_off_by, dispute.signed_off_at = actor.id, utcnow()
    dispute.final_score = plan.final_score
    dispute.decision = plan.comment or DECISIONS[decision]
    conv.status = "signed_off"
    conv.human_score, conv.human_grade = plan.final_score, plan.grade
    counted = _submitted_review(session, conv.id, 1 if decision == "upheld" else 2)
    # the labels follow the decision too: the round whose verdicts count gives the corrected labels
    conv.corrected_issue_type = issue_type or counted.issue_type or conv.corrected_issue_type
    conv.corrected_sentiment = sentiment or counted.sentiment or conv.corrected_sentiment
    session.flush()
    audit.record(session, actor, "dispute.sign_off", "disputes", dispute.id, d_before,
                 audit.snapshot(dispute, DISPUTE_STATE) | {"decision_score": plan.decision_score, "adjusted": plan.adjusted})
    audit.record(session, actor, "conversation.sign_off", "conversations", conv.id, c_before, audit.snapshot(conv, CONV_STATE))
    return dispute
