"""The review workflow: a reviewer's draft, verdicts, missed findings, the suggested score, submission.
Assignment is in assignment.py, disputes and sign-off in disputes.py, who sees what in visibility.py,
the shared errors and checks in review_checks.py; this module also names them all, so that callers
write ``review.assign`` as they write ``review.start_review``.

Each function checks permissions (permissions.py), changes the rows, writes the audit log in the
same session, and raises :class:`WorkflowError` (:class:`NotAllowed` for a permission problem)
with a message a reviewer can act on. Nothing here commits: the caller's unit of work does.

States (db.STATUSES): pending → assigned → reviewed → disputed → second_reviewed → signed_off.
The machine's score is never changed. The human score that counts is round 1's once ``reviewed``;
after a dispute the score of the signed-off decision (round 1's when upheld, round 2's when
overturned) unless the supervisor adjusts it with a written reason (:func:`plan_sign_off`). Which review's verdicts count:
round 1's while ``reviewed``; after sign-off round 1's when the dispute is ``upheld`` and round 2's
when ``overturned`` (:func:`counted_review`).

Round 2 is independent: while a conversation is ``disputed`` an inspector who did not do round 1
sees neither round 1's verdicts, its added findings nor its score (:func:`visible_reviews`,
:func:`visible_findings`, :func:`can_see_human_result`), and round 2 must be done by someone who
is an inspector and neither did round 1 nor raised the dispute.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import audit
from .assignment import _apply_assign, assign, assign_round_robin, open_items
from .db import Conversation, Finding, Review, User, Verdict, utcnow
from .disputes import SCORE_TOLERANCE, SignOffPlan, open_dispute, plan_sign_off, sign_off
from .history import current_dispute
from .permissions import can, can_view_conversation, round2_refusal
from .review_checks import (CONV_STATE, DECISIONS, DISPUTE_STATE, FINDING_STATE, JUDGEMENTS, REVIEW_STATE, RULE_ID_RE,
                            SENTIMENT_LABELS, STATUS_LABELS, NotAllowed, WorkflowError, _check_labels,
                            _check_score, _conv, _locked, grade_of, issue_type_labels, scorecard)
from .visibility import can_see_human_result, counted_review, visible_findings, visible_reviews

__all__ = [
    "DECISIONS", "JUDGEMENTS", "SCORE_TOLERANCE", "SENTIMENT_LABELS", "STATUS_LABELS", "NotAllowed", "SignOffPlan",
    "WorkflowError", "add_missed_finding", "assign", "assign_round_robin", "can_see_human_result", "counted_review",
    "grade_of", "issue_type_labels", "open_dispute", "open_items", "plan_sign_off", "remove_missed_finding", "rescored",
    "reveal_pii", "scorecard", "set_verdict", "sign_off", "start_review", "submit_review", "suggested_score",
    "upsert_verdict", "visible_findings", "visible_reviews",
]


def start_review(session: Session, conv: Conversation, reviewer: User) -> Review:
    """The reviewer's draft review of ``conv``: round 1 (pending / assigned), or round 2 (disputed;
    not by the round-1 reviewer). An unassigned item is picked up from the pool (assigned to the
    reviewer). Calling it again returns the same draft."""
    if not can(reviewer, "review"):
        raise NotAllowed(f"{reviewer.username}（{reviewer.role}）不能复核")
    _locked(session, conv)
    if conv.status in ("pending", "assigned"):
        round_ = 1
    elif conv.status == "disputed":
        round_ = 2
        refusal = round2_refusal(conv, reviewer)
        if refusal:
            raise NotAllowed(refusal)
    else:
        raise WorkflowError(f"会话 {conv.ext_id} 当前状态为「{STATUS_LABELS.get(conv.status, conv.status)}」，不能开始复核"
                            + ("；对结果有异议请发起争议" if conv.status == "reviewed" else ""))
    if conv.assignee_id is not None and conv.assignee_id != reviewer.id:
        raise NotAllowed(f"会话 {conv.ext_id} 已分配给其他人；请主管改派后再复核")
    if conv.assignee_id is None:
        _apply_assign(session, conv, reviewer, "assigned" if round_ == 1 else "disputed", reviewer, "conversation.pick")
    review = session.scalar(select(Review).where(
        Review.conversation_id == conv.id, Review.round == round_, Review.reviewer_id == reviewer.id))
    if review is not None:
        if review.submitted_at is not None:
            raise WorkflowError(f"你已提交会话 {conv.ext_id} 的第 {round_} 轮复核")
        return review
    review = Review(conversation_id=conv.id, round=round_, reviewer_id=reviewer.id)
    session.add(review)
    session.flush()
    audit.record(session, reviewer, "review.start", "reviews", review.id, None, audit.snapshot(review, REVIEW_STATE) | {"conversation_id": conv.id})
    return review


def _check_draft(session: Session, review: Review, actor: User) -> Conversation:
    if actor is None or actor.id != review.reviewer_id:
        raise NotAllowed("只有这份复核的复核人可以修改它")
    if not can(actor, "review"):
        raise NotAllowed(f"{actor.username} 不能复核")
    if review.submitted_at is not None:
        raise WorkflowError("这份复核已提交，不能再修改；对结果有异议请发起争议")
    conv = _conv(session, review)
    expected = "assigned" if review.round == 1 else "disputed"
    if conv.status != expected or conv.assignee_id != actor.id:
        raise NotAllowed(f"会话 {conv.ext_id} 已不在你的复核中（状态「{STATUS_LABELS.get(conv.status, conv.status)}」"
                         f"{'，已改派他人' if conv.assignee_id not in (None, actor.id) else ''}）")
    return conv


def set_verdict(session: Session, review: Review, finding: Finding, verdict: str, comment: str | None, actor: User) -> Verdict:
    """Confirm or reject (false alarm) one machine finding in a draft review; again to change it."""
    conv = _check_draft(session, review, actor)
    if verdict not in JUDGEMENTS:
        raise WorkflowError(f"判定 {verdict!r} 无效：confirmed（确认）或 rejected（误报）；漏检请用「补充扣分项」")
    if finding.conversation_id != conv.id:
        raise WorkflowError(f"扣分项 {finding.id} 不属于会话 {conv.ext_id}")
    if finding.source != "machine":
        raise WorkflowError("人工补充的扣分项不需要判定；补充错了请删除它")
    row, before = upsert_verdict(session, Verdict, finding, verdict, comment, review_id=review.id)
    audit.record(session, actor, "verdict.set", "verdicts", row.id, before,
                 {"verdict": verdict, "comment": row.comment, "finding_id": finding.id, "review_id": review.id, "rule": finding.rule})
    return row


def upsert_verdict(session: Session, model: type, finding: Finding, verdict: str, comment: str | None, **owner: int):
    """Set the verdict on ``finding`` in a ``model`` row (Verdict of a review; CalibrationVerdict of a
    calibration answer) owned by ``owner`` (its foreign key), adding the row or changing it.
    Returns (row, what it said before — None when new) for the audit entry."""
    comment = (comment or "").strip() or None
    row = session.scalar(select(model).filter_by(finding_id=finding.id, **owner))
    before = audit.snapshot(row, ("verdict", "comment")) if row else None
    if row is None:
        row = model(finding_id=finding.id, verdict=verdict, comment=comment, **owner)
        session.add(row)
    else:
        row.verdict, row.comment = verdict, comment
    session.flush()
    return row, before


def _pii_spans(conv: Conversation, turn: int):
    from ..schema import Span

    spans = conv.pii[turn] if conv.pii and turn < len(conv.pii) else []
    return [Span(int(s), int(e), str(label)) for s, e, label in spans]


def add_missed_finding(
    session: Session,
    review: Review,
    *,
    rule: str,
    turn: int,
    start: int | None,
    end: int | None,
    points: float,
    comment: str | None,
    actor: User,
    category: str | None = None,
    severity: str | None = None,
    config: dict | None = None,
) -> Finding:
    """A finding the machine missed (漏检): turn, optional character span in the original text, the
    rule, and the points it costs (negative: a deduction). Stored as a ``human`` finding with a
    ``missed`` verdict in this review; its evidence is masked like the machine's."""
    from ..privacy import mask_span_text

    conv = _check_draft(session, review, actor)
    rule = (rule or "").strip()
    if not RULE_ID_RE.match(rule):
        raise WorkflowError(f"规则 {rule!r} 无效：用规则编号，如 forbidden.phrase、empathy.missing")
    turns = conv.turns or []
    if not isinstance(turn, int) or isinstance(turn, bool) or not 0 <= turn < len(turns):
        raise WorkflowError(f"轮次 turn={turn!r} 无效：本会话共 {len(turns)} 轮，取 0–{len(turns) - 1}")
    text = turns[turn].get("text") or ""
    if (start is None) != (end is None):
        raise WorkflowError("start 和 end 要么都填（字符位置），要么都不填（整轮）")
    if start is not None and not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
        raise WorkflowError(f"字符范围 [{start}, {end}) 无效：第 {turn} 轮共 {len(text)} 个字符，需 0 ≤ start < end ≤ {len(text)}")
    top = scorecard(config).max_score
    try:
        points = float(points)
    except (TypeError, ValueError):
        raise WorkflowError(f"分值 points={points!r} 必须是数字（扣分为负，如 -5）") from None
    if not -top <= points <= top:
        raise WorkflowError(f"分值 points={points:g} 超出范围 −{top:g}…{top:g}")
    comment = (comment or "").strip() or None
    evidence = mask_span_text(text, start, end, _pii_spans(conv, turn)) if start is not None else None
    last = session.scalar(select(func.max(Finding.position)).where(Finding.conversation_id == conv.id))
    position = 0 if last is None else last + 1  # after the machine's: their positions stay the result's indexes
    finding = Finding(conversation_id=conv.id, position=position, source="human", rule=rule, category=category,
                      severity=severity, points=points, turn=turn, role=turns[turn].get("role"), start=start, end=end,
                      evidence=evidence, message=comment or f"人工补充：{rule}", created_by=actor.id)
    session.add(finding)
    session.flush()
    session.add(Verdict(review_id=review.id, finding_id=finding.id, verdict="missed", comment=comment))
    session.flush()
    session.expire(conv, ["findings"])
    audit.record(session, actor, "finding.add", "findings", finding.id, None,
                 audit.snapshot(finding, FINDING_STATE) | {"review_id": review.id})
    return finding


def remove_missed_finding(session: Session, review: Review, finding: Finding, actor: User) -> None:
    """Take back a finding this draft review added (a slip); machine findings are never removed."""
    conv = _check_draft(session, review, actor)
    v = session.scalar(select(Verdict).where(Verdict.review_id == review.id, Verdict.finding_id == finding.id))
    if finding.source != "human" or finding.conversation_id != conv.id or v is None or v.verdict != "missed":
        raise WorkflowError("只能删除本次复核中人工补充的扣分项")
    before, finding_id = audit.snapshot(finding, FINDING_STATE), finding.id
    session.delete(v)
    session.delete(finding)
    session.flush()
    session.expire(conv, ["findings"])
    audit.record(session, actor, "finding.remove", "findings", finding_id, before, None)


def suggested_score(session: Session, review: Review, config: dict | None = None) -> float:
    """The score the review's verdicts imply: the machine's findings minus the rejected ones, priced
    again by the scorecard (caps and 红线 included), plus the points of the added findings; an added
    finding of severity ``fatal`` makes it 0. With nothing rejected or added: the machine score."""
    conv = session.get(Conversation, review.conversation_id)
    verdicts = {v.finding_id: v.verdict for v in session.scalars(select(Verdict).where(Verdict.review_id == review.id))}
    return rescored(conv, verdicts, config)


def rescored(conv: Conversation, verdicts: dict[int, str], config: dict | None = None) -> float:
    """The score verdicts (finding id → confirmed / rejected / missed) imply for ``conv`` — the rule of
    :func:`suggested_score`, shared with calibration sessions (calibration.py), whose verdicts live
    apart from reviews."""
    from ..schema import Conversation as Conv, Finding as F

    machine = [f for f in conv.findings if f.source == "machine"]
    added = [f for f in conv.findings if verdicts.get(f.id) == "missed"]
    if not added and not any(verdicts.get(f.id) == "rejected" for f in machine):
        return conv.machine_score
    kept = [F(rule=f.rule, category=f.category or "", severity=f.severity or "") for f in machine if verdicts.get(f.id) != "rejected"]
    card = scorecard(config)
    score = card(Conv(conv.ext_id, [], findings=kept))["score"]
    if any(f.severity == "fatal" for f in added):
        return 0.0
    return round(max(0.0, min(card.max_score, score + sum(f.points for f in added))), 2)


def submit_review(
    session: Session,
    review: Review,
    *,
    human_score: float | None = None,
    issue_type: str | None = None,
    sentiment: str | None = None,
    comment: str | None = None,
    actor: User,
    config: dict | None = None,
) -> Review:
    """Submit a draft. ``human_score`` None: :func:`suggested_score`. Round 1 makes the conversation
    ``reviewed`` (its human score counts); round 2 makes it ``second_reviewed`` and waits for the
    supervisor's sign-off. Corrected issue type / sentiment: labels for retraining."""
    conv = _check_draft(session, review, actor)
    adjusted = human_score is not None
    score = _check_score(human_score, "人工评分", config) if adjusted else suggested_score(session, review, config)
    issue_type, sentiment = _check_labels(issue_type, sentiment)
    conv_before = audit.snapshot(conv, CONV_STATE)
    review.human_score = score
    review.issue_type, review.sentiment = issue_type, sentiment
    review.comment = (comment or "").strip() or None
    review.submitted_at = utcnow()
    if review.round == 1:
        conv.status = "reviewed"
        conv.human_score, conv.human_grade = score, grade_of(score, config)
        if issue_type:
            conv.corrected_issue_type = issue_type
        if sentiment:
            conv.corrected_sentiment = sentiment
    else:
        conv.status = "second_reviewed"
        dispute = current_dispute(session, conv)
        if dispute is None or dispute.state != "open":
            raise WorkflowError(f"会话 {conv.ext_id} 没有待第二轮复核的争议")
        d_before = audit.snapshot(dispute, DISPUTE_STATE)
        dispute.state, dispute.second_reviewer_id = "second_reviewed", actor.id
        audit.record(session, actor, "dispute.second_review", "disputes", dispute.id, d_before, audit.snapshot(dispute, DISPUTE_STATE))
    session.flush()
    audit.record(session, actor, "review.submit", "reviews", review.id, None,
                 audit.snapshot(review, REVIEW_STATE) | {"score_adjusted": adjusted, "machine_score": conv.machine_score})
    audit.record(session, actor, "conversation.review", "conversations", conv.id, conv_before, audit.snapshot(conv, CONV_STATE))
    return review


def reveal_pii(session: Session, conv: Conversation, actor: User, reason: str) -> None:
    """Record that ``actor`` revealed the unmasked transcript (the page shows it after this call)."""
    if not can(actor, "see_unmasked") or not can_view_conversation(actor, conv):
        raise NotAllowed(f"{actor.username}（{actor.role}）无权查看未脱敏内容")
    reason = (reason or "").strip()
    if not reason:
        raise WorkflowError("查看未脱敏内容须填写理由（记入审计日志）")
    audit.record(session, actor, "pii.reveal", "conversations", conv.id, None, {"reason": reason})
