"""The data types that flow through the pipeline.

A :class:`Conversation` is read from the input, then enriched stage by stage (normalize fills
``Turn.norm``/``Turn.norm_map``, tokenize fills ``Turn.tokens``, privacy fills ``Turn.pii``,
rules fill ``Conversation.findings`` …). :class:`ConversationResult` is what the writers emit:
the SPEC output contract, one per conversation. :class:`Reject` is an input record that could not
be used, with where it came from and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ROLES = ("agent", "customer", "system", "bot")
CHANNELS = ("chat", "phone")


@dataclass(slots=True)
class Span:
    """A character range ``[start, end)`` in a turn's *original* text."""

    start: int
    end: int
    label: str = ""
    text: str = ""
    score: float = 1.0


@dataclass(slots=True)
class Turn:
    index: int  # 0-based position in the input ``turns``
    role: str
    text: str  # original text, never modified
    ts: float | None = None  # seconds from the conversation start
    end_ts: float | None = None
    # filled by normalize: the text rules match on, and for each of its characters the offset of
    # the original character it came from (None when the two are identical, the common case).
    norm: str = ""
    norm_map: list[int] | None = None
    # filled by tokenize
    tokens: list[str] | None = None
    # filled by privacy: PII spans in original offsets
    pii: list[Span] = field(default_factory=list)

    def orig_span(self, norm_start: int, norm_end: int) -> tuple[int, int]:
        """Map a ``[start, end)`` range of ``norm`` back to offsets in ``text``."""
        if self.norm_map is None:
            return norm_start, norm_end
        if norm_end <= norm_start:
            o = self.norm_map[norm_start] if norm_start < len(self.norm_map) else len(self.text)
            return o, o
        return self.norm_map[norm_start], self.norm_map[norm_end - 1] + 1


def handling_time_s(times) -> float | None:
    """A contact's handling time from its turns' times (each turn's ``ts`` and ``end_ts``, seconds; None
    and non-numbers skipped): the latest − the earliest, i.e. the last turn's end (``end_ts``, else
    ``ts``) − the first turn's ``ts`` when the clock runs forward. None with fewer than two times —
    one timestamp measures nothing — so a contact without timestamps has no duration, never 0.
    The one definition of AHT's input: ``zhijian inspect`` (results' ``duration_s``) and the report's
    fallback to the workbench's transcripts (pipeline/report/workbench.py) both use it."""
    values = [float(t) for t in times if isinstance(t, (int, float)) and not isinstance(t, bool)]
    if len(values) < 2:
        return None
    return max(values) - min(values)


@dataclass(slots=True)
class SourceRef:
    """Where a record came from: the file and its 1-based line (JSONL) or row (tables)."""

    path: str
    line: int | None = None
    row: int | None = None


@dataclass(slots=True)
class Finding:
    """One rule hit, with its evidence (SPEC output contract ``findings[]``; the field order is
    the order of the output's keys: the writers serialize the dataclass directly)."""

    rule: str
    category: str
    severity: str
    points: float = 0.0  # filled by scoring
    turn: int | None = None
    role: str | None = None
    start: int | None = None  # offsets in the original text of ``turn``
    end: int | None = None
    evidence: str | None = None
    message: str = ""
    entry: str | None = None  # lexicon entry id that matched, if any
    item: str | None = None  # scorecard item that priced it, filled by scoring
    value: float | None = None  # measured value for timing rules (seconds)
    fatal: bool = False  # priced by a 红线 item (scorecard ``fatal: true``): the conversation scores 0, the finding's points read 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "category": self.category,
            "severity": self.severity,
            "points": self.points,
            "turn": self.turn,
            "role": self.role,
            "start": self.start,
            "end": self.end,
            "evidence": self.evidence,
            "message": self.message,
            "entry": self.entry,
            "item": self.item,
            "value": self.value,
            "fatal": self.fatal,
        }


@dataclass(slots=True)
class Conversation:
    id: str
    turns: list[Turn]
    channel: str | None = None
    started_at: str | None = None
    agent: dict[str, Any] | None = None
    customer: dict[str, Any] | None = None
    rating: dict[str, Any] | None = None
    labels: dict[str, Any] | None = None
    source: SourceRef | None = None
    warnings: list[str] = field(default_factory=list)
    # filled by the stages
    findings: list[Finding] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    replies: list[Any] = field(default_factory=list)  # metrics.Reply pairs, for the timing rules
    call_timing: Any = None  # call_timing.CallTiming of a call (None for a chat), for the call rules
    predictions: dict[str, Any] = field(default_factory=dict)  # issue_type, sentiment, turn_sentiment


@dataclass(slots=True)
class Reject:
    """An input record that could not be inspected, and why. Never dropped: it goes to rejects.jsonl."""

    source: SourceRef
    reason: str  # a stable machine code, e.g. ``json.invalid``, ``turns.missing``
    detail: str  # a sentence a person can act on
    id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source.path,
            "line": self.source.line,
            "row": self.source.row,
            "id": self.id,
            "reason": self.reason,
            "detail": self.detail,
        }


@dataclass(slots=True)
class ConversationResult:
    """The SPEC output contract for one conversation (plus a few extra, documented fields)."""

    id: str
    score: float
    grade: str
    findings: list[Finding]
    issue_type: dict[str, Any] | None
    sentiment: dict[str, Any] | None
    turn_sentiment: list[dict[str, Any]] | None
    metrics: dict[str, Any]
    review: dict[str, Any]
    versions: dict[str, Any]
    # extensions (SPEC allows extending the contract): context the review app and reports need
    channel: str | None = None
    started_at: str | None = None
    agent: dict[str, Any] | None = None
    rating: dict[str, Any] | None = None
    score_detail: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    source: dict[str, Any] | None = None
    questions: list[dict[str, Any]] | None = None  # scorecard questions' answers (rule kind `question`, issue 17)
    # last, so that every field before them keeps its bytes in results.jsonl (the writers serialize the dataclass in order)
    customer_id: str | None = None  # the input's customer.id — masked when it holds a phone / e-mail / ID number (the report's FCR)
    duration_s: float | None = None  # handling time (:func:`handling_time_s`; the report's AHT)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "score": self.score,
            "grade": self.grade,
            "findings": [f.to_dict() for f in self.findings],
            "issue_type": self.issue_type,
            "sentiment": self.sentiment,
            "turn_sentiment": self.turn_sentiment,
            "metrics": self.metrics,
            "review": self.review,
            "versions": self.versions,
            "channel": self.channel,
            "started_at": self.started_at,
            "agent": self.agent,
            "rating": self.rating,
            "score_detail": self.score_detail,
            "warnings": self.warnings,
            "source": self.source,
            **({"questions": self.questions} if self.questions is not None else {}),
            "customer_id": self.customer_id,
            "duration_s": self.duration_s,
        }
