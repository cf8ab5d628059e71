"""What every step of the review workflow shares: its errors, its states and their names, the
scorecard that prices a score, and the checks of a typed score or corrected label. The steps
themselves are in assignment.py, review.py and disputes.py; who sees what in visibility.py."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from .db import Conversation, Review

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


# --------------------------------------------------------------------------- the row a step works on


def _conv(session: Session, review: Review) -> Conversation:
    return _locked(session, session.get(Conversation, review.conversation_id))


def _locked(session: Session, conv: Conversation) -> Conversation:
    """Lock the conversation's row until the transaction ends and re-read it, so that two reviewers
    acting on the same item at once take turns and the second sees the first's change
    (PostgreSQL SELECT … FOR UPDATE; SQLite serialises writers anyway)."""
    session.execute(select(Conversation.id).where(Conversation.id == conv.id).with_for_update())
    session.refresh(conv)
    return conv
