"""The review workflow: assignment, verdicts, missed findings, scores, disputes, appeals and sign-off.

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

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import audit
from .db import DISPUTE_KINDS, Conversation, Dispute, Finding, Review, User, Verdict, utcnow
from .history import current_dispute, first_review, first_reviewer_id
from .history import submitted_review as _submitted_review
from .permissions import SEES_ALL, can, can_view_conversation, owns_conversation, round2_refusal

RULE_ID_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")
JUDGEMENTS = ("confirmed", "rejected")  # what a reviewer says of an existing finding; "missed" comes from add_missed_finding
DECISIONS = {"upheld": "维持原结果", "overturned": "改判"}
STATUS_LABELS = {
    "pending": "待复核", "assigned": "已分配", "reviewed": "已复核", "disputed": "争议中",
    "second_reviewed": "已二次复核", "signed_off": "已签核",
}
CONV_STATE = ("status", "assignee_id", "human_score", "human_grade", "corrected_issue_type", "corrected_sentiment")
REVIEW_STATE = ("round", "reviewer_id", "human_score", "issue_type", "sentiment", "comment", "submitted_at")
DISPUTE_STATE = ("kind", "state", "reason", "second_reviewer_id", "signed_off_by", "signed_off_at", "final_score", "decision")
FINDING_STATE = ("position", "source", "rule", "category", "severity", "points", "turn", "role", "start", "end", "evidence", "message")


class WorkflowError(Exception):
    """A workflow step that can't be done now; the message says why and what to do instead."""


class NotAllowed(WorkflowError):
    """The user's role or relation to the conversation does not allow the step (HTTP 403)."""


# --------------------------------------------------------------------------- scorecard, labels


def _config(config: dict | None) -> dict:
    if config is None:
        from ..config import load_config

        config = load_config()
    return config


@lru_cache(maxsize=4)
def _scorecard(path: str):
    from ..scoring import Scorecard

    return Scorecard.load(path)


def scorecard(config: dict | None = None):
    from ..config import resolve_path

    return _scorecard(str(resolve_path(_config(config)["paths"]["scorecard"])))


def grade_of(score: float, config: dict | None = None) -> str:
    return scorecard(config).grade(score)


@lru_cache(maxsize=2)
def _issue_types(path: str) -> tuple[str, ...]:
    from ..config import load_yaml

    raw = load_yaml(Path(path), "issue taxonomy") or {}
    return tuple((raw.get("types") or {}).keys())


def issue_type_labels() -> tuple[str, ...]:
    """The issue types a reviewer may correct to: the classifier's taxonomy (data/issue_taxonomy.yaml)."""
    from ..config import resolve_path

    return _issue_types(str(resolve_path("data/issue_taxonomy.yaml")))


SENTIMENT_LABELS = ("negative", "neutral", "positive")  # as pipeline/models/datasets.py


def _check_score(score: float | None, what: str, config: dict | None) -> float | None:
    if score is None:
        return None
    top = scorecard(config).max_score
    try:
        value = float(score)
    except (TypeError, ValueError):
        raise WorkflowError(f"{what} 必须是 0–{top:g} 之间的数字，收到 {score!r}") from None
    if not 0 <= value <= top:
        raise WorkflowError(f"{what} 必须在 0–{top:g} 之间（评分表 max_score），收到 {value:g}")
    return round(value, 2)


def _check_labels(issue_type: str | None, sentiment: str | None) -> tuple[str | None, str | None]:
    issue_type = (issue_type or "").strip() or None
    sentiment = (sentiment or "").strip() or None
    if issue_type is not None and issue_type not in issue_type_labels():
        raise WorkflowError(f"问题类型 {issue_type!r} 不在分类表中 (data/issue_taxonomy.yaml)：可选 {'、'.join(issue_type_labels())}")
    if sentiment is not None and sentiment not in SENTIMENT_LABELS:
        raise WorkflowError(f"情绪 {sentiment!r} 无效：可选 {', '.join(SENTIMENT_LABELS)}")
    return issue_type, sentiment


# --------------------------------------------------------------------------- lookups


def counted_review(session: Session, conv: Conversation) -> Review | None:
    """The review whose verdicts and labels count: round 1 while ``reviewed``; after sign-off round 1
    when upheld, round 2 when overturned; None while nothing counts (pending, disputed …)."""
    if conv.status == "reviewed":
        return first_review(session, conv)
    if conv.status == "signed_off":
        d = current_dispute(session, conv)
        if d is not None and d.state == "overturned":
            return _submitted_review(session, conv.id, 2) or first_review(session, conv)
        return first_review(session, conv)
    return None


def _conv(session: Session, review: Review) -> Conversation:
    return _locked(session, session.get(Conversation, review.conversation_id))


def _locked(session: Session, conv: Conversation) -> Conversation:
    """Lock the conversation's row until the transaction ends and re-read it, so that two reviewers
    acting on the same item at once take turns and the second sees the first's change
    (PostgreSQL SELECT … FOR UPDATE; SQLite serialises writers anyway)."""
    session.execute(select(Conversation.id).where(Conversation.id == conv.id).with_for_update())
    session.refresh(conv)
    return conv


# --------------------------------------------------------------------------- what a user may see


def can_see_human_result(session: Session, conv: Conversation, user: User) -> bool:
    """False while a dispute waits for its independent second review and ``user`` is an inspector who
    did not do round 1 (they may be, or become, the second reviewer): round 1's score, grade and
    corrected labels stay hidden from them."""
    if user.role in SEES_ALL or user.role == "agent":
        return True
    if conv.status == "disputed":
        return first_reviewer_id(conv) == user.id
    return True


def visible_reviews(session: Session, conv: Conversation, user: User) -> list[Review]:
    """The reviews (with their verdicts) ``user`` may see on this conversation, round order.
    Drafts are private to their reviewer; see :func:`can_see_human_result` for round 2's
    independence; agents see round 2 only once it is signed off."""
    out = []
    hide_round1 = not can_see_human_result(session, conv, user)
    for r in session.scalars(select(Review).where(Review.conversation_id == conv.id).order_by(Review.round, Review.id)):
        if r.reviewer_id == user.id:
            out.append(r)
        elif r.submitted_at is None:
            continue
        elif user.role in SEES_ALL:
            out.append(r)
        elif user.role == "agent":
            if r.round == 1 or conv.status == "signed_off":
                out.append(r)
        elif not (hide_round1 and r.round == 1):
            out.append(r)
    return out


def visible_findings(session: Session, conv: Conversation, user: User) -> list[Finding]:
    """The machine's findings, and the findings reviewers added in the reviews ``user`` may see."""
    review_ids = {r.id for r in visible_reviews(session, conv, user)}
    added_in = dict(session.execute(
        select(Verdict.finding_id, Verdict.review_id).join(Finding, Finding.id == Verdict.finding_id)
        .where(Finding.conversation_id == conv.id, Finding.source == "human", Verdict.verdict == "missed")
    ).all())
    return [f for f in conv.findings if f.source == "machine" or added_in.get(f.id) in review_ids]


# --------------------------------------------------------------------------- assignment


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


# --------------------------------------------------------------------------- reviewing


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


# --------------------------------------------------------------------------- disputes, appeals, sign-off


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


def reveal_pii(session: Session, conv: Conversation, actor: User, reason: str) -> None:
    """Record that ``actor`` revealed the unmasked transcript (the page shows it after this call)."""
    if not can(actor, "see_unmasked") or not can_view_conversation(actor, conv):
        raise NotAllowed(f"{actor.username}（{actor.role}）无权查看未脱敏内容")
    reason = (reason or "").strip()
    if not reason:
        raise WorkflowError("查看未脱敏内容须填写理由（记入审计日志）")
    audit.record(session, actor, "pii.reveal", "conversations", conv.id, None, {"reason": reason})
