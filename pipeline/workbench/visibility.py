"""Who sees what of a conversation's human result, and which review counts (round 2's independence:
review.py's module docstring)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .db import Conversation, Finding, Review, User, Verdict
from .history import current_dispute, first_review, first_reviewer_id
from .history import submitted_review as _submitted_review
from .permissions import SEES_ALL


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
