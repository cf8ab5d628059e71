"""What a conversation has been through: its submitted reviews and its disputes. Lookups shared by
``permissions`` (who may do round 2) and ``review`` (the workflow), so neither imports the other.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from .db import Conversation, Dispute, Review


def session_of(obj) -> Session:
    s = object_session(obj)
    if s is None:
        raise RuntimeError(f"{obj!r} is not attached to a session")
    return s


def submitted_review(session: Session, conv_id: int, round_: int) -> Review | None:
    """The newest submitted review of round ``round_`` (1: first review, 2: a dispute's second)."""
    return session.scalar(
        select(Review).where(Review.conversation_id == conv_id, Review.round == round_, Review.submitted_at.is_not(None))
        .order_by(Review.submitted_at.desc(), Review.id.desc()).limit(1)
    )


def first_review(session: Session, conv: Conversation) -> Review | None:
    """The submitted round-1 review (the one that made the conversation ``reviewed``)."""
    return submitted_review(session, conv.id, 1)


def first_reviewer_id(conv: Conversation) -> int | None:
    r = first_review(session_of(conv), conv)
    return r.reviewer_id if r else None


def current_dispute(session: Session, conv: Conversation) -> Dispute | None:
    """The newest dispute / appeal of the conversation (open or settled)."""
    return session.scalar(select(Dispute).where(Dispute.conversation_id == conv.id).order_by(Dispute.id.desc()).limit(1))
