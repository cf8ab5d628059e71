"""The review workbench's database: SQLAlchemy models (the contract every workbench module codes to).

One row per conversation (the machine's result plus its transcript, read at load time), one row
per machine finding, the reviewers' verdicts and reviews kept apart from the machine's numbers,
disputes / appeals with their double review and sign-off, and an append-only audit log.

SQLite by default (``workbench.database_url`` in pipeline/defaults.yaml), PostgreSQL by URL;
the schema is created and changed only by Alembic migrations (pipeline/workbench/migrations/).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

ROLES = ("admin", "supervisor", "inspector", "agent")  # 管理员 / 质检主管 / 质检员 / 坐席
VERDICTS = ("confirmed", "rejected", "missed")  # the same values as docs/REPORTS.md verdicts files

# Conversation.status — where an item is in review:
#   pending      flagged (or loaded) and not yet reviewed
#   assigned     given to an inspector
#   reviewed     the first review is submitted; the human score counts
#   disputed     a dispute or an agent's appeal is open: a second inspector reviews independently
#   second_reviewed  the second review is in; waits for the supervisor's sign-off
#   signed_off   the supervisor signed it off; the signed-off score counts
STATUSES = ("pending", "assigned", "reviewed", "disputed", "second_reviewed", "signed_off")
DISPUTE_KINDS = ("dispute", "appeal")  # raised by a reviewer/supervisor, or by the agent (申诉)
DISPUTE_STATES = ("open", "second_reviewed", "upheld", "overturned")  # the last two: signed off


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128), default="")
    role: Mapped[str] = mapped_column(String(16))  # one of ROLES
    agent_id: Mapped[str | None] = mapped_column(String(64), index=True)  # role agent: conversations.agent_id it owns
    team: Mapped[str | None] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(String(256))  # argon2id
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApiToken(Base):
    """A bearer token for the real-time API; only its sha256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class Run(Base):
    """One loaded RUN_DIR (what ``zhijian inspect --out`` wrote)."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_key: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the manifest's inputs + started_at
    path: Mapped[str] = mapped_column(Text)
    started_at: Mapped[str | None] = mapped_column(String(40))
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    versions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    masked: Mapped[bool] = mapped_column(Boolean, default=True)  # whether the run masked evidence
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ext_id: Mapped[str] = mapped_column(String(128), unique=True)  # the input's ``id``
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    channel: Mapped[str | None] = mapped_column(String(16))
    started_at: Mapped[str | None] = mapped_column(String(40))  # as written in the input (ISO-8601)
    day: Mapped[str | None] = mapped_column(String(10), index=True)  # YYYY-MM-DD of started_at (local day)
    agent_id: Mapped[str | None] = mapped_column(String(64), index=True)
    agent_name: Mapped[str | None] = mapped_column(String(128))
    team: Mapped[str | None] = mapped_column(String(128), index=True)
    customer_id: Mapped[str | None] = mapped_column(String(128))
    rating_score: Mapped[float | None] = mapped_column(Float)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    # the machine's result (never changed by reviewers)
    machine_score: Mapped[float] = mapped_column(Float)
    machine_grade: Mapped[str] = mapped_column(String(8))
    review_needed: Mapped[bool] = mapped_column(Boolean, index=True)
    review_reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    risk: Mapped[float] = mapped_column(Float, default=0.0, index=True)  # queue order: higher first
    min_model_confidence: Mapped[float | None] = mapped_column(Float)
    issue_type: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # {label, confidence, because}
    sentiment: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    turn_sentiment: Mapped[list[Any] | None] = mapped_column(JSON)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    score_detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    versions: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    labels: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # labels given in the input, if any
    questions: Mapped[list[Any] | None] = mapped_column(JSON)  # the run's scorecard-question answers (issue 17; 0005)
    # the transcript, from the run's inputs: [{role, text, ts}], original (unmasked) text;
    # ``pii``: per turn a list of [start, end, label] spans, masked when shown
    turns: Mapped[list[Any]] = mapped_column(JSON, default=list)
    pii: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # review state
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)  # one of STATUSES
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    human_score: Mapped[float | None] = mapped_column(Float)  # the score that counts once reviewed / signed off
    human_grade: Mapped[str | None] = mapped_column(String(8))
    corrected_issue_type: Mapped[str | None] = mapped_column(String(64))
    corrected_sentiment: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    findings: Mapped[list[Finding]] = relationship(back_populates="conversation", order_by="Finding.position")
    assignee: Mapped[User | None] = relationship()


class Finding(Base):
    """A finding: the machine's (``source='machine'``, as in results) or one a reviewer added (``missed``)."""

    __tablename__ = "findings"
    __table_args__ = (UniqueConstraint("conversation_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # index in the result's findings[]; added ones after
    source: Mapped[str] = mapped_column(String(8), default="machine")  # machine | human
    rule: Mapped[str] = mapped_column(String(64), index=True)
    category: Mapped[str | None] = mapped_column(String(64))
    severity: Mapped[str | None] = mapped_column(String(16))
    points: Mapped[float] = mapped_column(Float, default=0.0)
    turn: Mapped[int | None] = mapped_column(Integer)
    role: Mapped[str | None] = mapped_column(String(16))
    start: Mapped[int | None] = mapped_column(Integer)
    end: Mapped[int | None] = mapped_column(Integer)
    evidence: Mapped[str | None] = mapped_column(Text)  # as the run wrote it (masked unless --no-mask)
    message: Mapped[str | None] = mapped_column(Text)
    entry: Mapped[str | None] = mapped_column(String(64))
    item: Mapped[str | None] = mapped_column(String(128))
    value: Mapped[float | None] = mapped_column(Float)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    conversation: Mapped[Conversation] = relationship(back_populates="findings")


class Review(Base):
    """One inspector's review of one conversation in one round (1: first review, 2: second review of a dispute)."""

    __tablename__ = "reviews"
    __table_args__ = (UniqueConstraint("conversation_id", "round", "reviewer_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    round: Mapped[int] = mapped_column(Integer, default=1)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    human_score: Mapped[float | None] = mapped_column(Float)  # the reviewer's adjusted score (None: machine score stands)
    issue_type: Mapped[str | None] = mapped_column(String(64))  # corrected label, when edited
    sentiment: Mapped[str | None] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # None: draft

    verdicts: Mapped[list[Verdict]] = relationship(back_populates="review")


class Verdict(Base):
    """A reviewer's decision on one finding within a review: confirmed, rejected (false alarm) or missed."""

    __tablename__ = "verdicts"
    __table_args__ = (UniqueConstraint("review_id", "finding_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"), index=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"), index=True)
    verdict: Mapped[str] = mapped_column(String(12))  # one of VERDICTS
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    review: Mapped[Review] = relationship(back_populates="verdicts")
    finding: Mapped[Finding] = relationship()


class Dispute(Base):
    """A disputed result (seed 003: double-reviewed, signed off by the QA supervisor) or an agent's appeal."""

    __tablename__ = "disputes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # one of DISPUTE_KINDS
    state: Mapped[str] = mapped_column(String(16), default="open", index=True)  # one of DISPUTE_STATES
    raised_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)
    second_reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    signed_off_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    signed_off_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    final_score: Mapped[float | None] = mapped_column(Float)
    decision: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditEntry(Base):
    """Append-only: who changed what, when, before and after. Rows are never updated or deleted."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(64))  # e.g. verdict.set, score.adjust, dispute.sign_off
    entity: Mapped[str] = mapped_column(String(32))  # table name
    entity_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AuditLogIsAppendOnly(RuntimeError):
    pass


@event.listens_for(AuditEntry, "before_update")
def _no_audit_update(mapper, connection, target):  # noqa: ARG001 — SQLAlchemy's signature
    raise AuditLogIsAppendOnly("audit_log rows are never changed")


@event.listens_for(AuditEntry, "before_delete")
def _no_audit_delete(mapper, connection, target):  # noqa: ARG001
    raise AuditLogIsAppendOnly("audit_log rows are never deleted")


class WebSession(Base):
    """A login: the cookie carries a random token, the database its sha256. Deleting the row ends the
    login at once (logout, password change, deactivation, an admin's "sign out everywhere")."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    client: Mapped[str | None] = mapped_column(String(64))


class LoginAttempt(Base):
    """Failed and successful logins, for rate limiting (per username and per client address)."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_user_at", "username", "at"), Index("ix_login_attempts_ip_at", "client", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(64))
    ok: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# --------------------------------------------------------------------------- calibration sessions (校准)
# Kept apart from reviews on purpose: nothing here counts toward agents' scores, reviews, disputes,
# precision or the export of agent results (pipeline/workbench/calibration.py).

CALIBRATION_STATES = ("open", "complete", "closed")  # complete: every participant submitted; closed: the supervisor ended it


class CalibrationSession(Base):
    """A blind calibration session: the same conversations scored by every participating inspector."""

    __tablename__ = "calibration_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(12), default="open", index=True)  # one of CALIBRATION_STATES
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # complete or closed
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    gold_accepted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    gold_accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    items: Mapped[list[CalibrationItem]] = relationship(order_by="CalibrationItem.position", cascade="all, delete-orphan")
    participants: Mapped[list[CalibrationParticipant]] = relationship(order_by="CalibrationParticipant.id",
                                                                      cascade="all, delete-orphan")


class CalibrationItem(Base):
    """One conversation of a session."""

    __tablename__ = "calibration_items"
    __table_args__ = (UniqueConstraint("session_id", "conversation_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("calibration_sessions.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)

    conversation: Mapped[Conversation] = relationship()


class CalibrationParticipant(Base):
    """An inspector taking part; ``submitted_at`` set once they hand in all their answers."""

    __tablename__ = "calibration_participants"
    __table_args__ = (UniqueConstraint("session_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("calibration_sessions.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CalibrationAnswer(Base):
    """One participant's answer on one item: verdicts on the machine's findings (CalibrationVerdict),
    the score (typed; None: the verdicts' rescored score) and the labels — the normal review's fields."""

    __tablename__ = "calibration_answers"
    __table_args__ = (UniqueConstraint("item_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("calibration_items.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    human_score: Mapped[float | None] = mapped_column(Float)  # typed by the participant (None: from the verdicts)
    issue_type: Mapped[str | None] = mapped_column(String(64))
    sentiment: Mapped[str | None] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)
    saved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # the score form was saved

    verdicts: Mapped[list[CalibrationVerdict]] = relationship(cascade="all, delete-orphan")


class CalibrationVerdict(Base):
    __tablename__ = "calibration_verdicts"
    __table_args__ = (UniqueConstraint("answer_id", "finding_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    answer_id: Mapped[int] = mapped_column(ForeignKey("calibration_answers.id", ondelete="CASCADE"), index=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"), index=True)
    verdict: Mapped[str] = mapped_column(String(12))  # confirmed | rejected
    comment: Mapped[str | None] = mapped_column(Text)


class CalibrationGold(Base):
    """A consensus answer the supervisor accepted as a gold label (``zhijian export-labels --calibration-gold``)."""

    __tablename__ = "calibration_gold"
    __table_args__ = (UniqueConstraint("item_id", "unit"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("calibration_sessions.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("calibration_items.id", ondelete="CASCADE"), index=True)
    unit: Mapped[str] = mapped_column(String(80))  # finding:<id> | grade | issue_type | sentiment
    finding_id: Mapped[int | None] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"))
    value: Mapped[str] = mapped_column(String(64))
    votes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # value -> how many participants gave it
    decided_by: Mapped[str] = mapped_column(String(12))  # majority | supervisor (a tie the supervisor broke)
    accepted_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    accepted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# --------------------------------------------------------------------------- bad-review cases (差评处理, issue 19)
# Seed 004: a bad review (a low rating, a complaint, a third-party review) is a case that goes through the
# agent's account, the supervisor's investigation, responsibility, measures and a 回访 to closure, on deadlines
# (pipeline/cases/service.py; deadlines in the ``cases:`` block of pipeline/defaults.yaml).

# open: waiting for the agent's 情况说明; accounted: waiting for the investigation; investigating; responsibility:
# responsibility set, measures being decided; measures: measures under way; followed_up: 回访 done; closed
CASE_STATES = ("open", "accounted", "investigating", "responsibility", "measures", "followed_up", "closed")
CASE_SOURCES = ("rating", "complaint", "import", "api")
CASE_RESPONSIBILITIES = ("individual", "teamwork", "training", "process", "external")  # 个人 / 团队协作 / 培训不足 / 流程缺陷 / 外部
CASE_MEASURE_KINDS = ("apology", "fix", "training", "performance")  # 道歉安抚 / 问题解决 / 培训 / 绩效调整
CASE_FOLLOW_UP_RESULTS = ("satisfied", "unsatisfied", "unreachable")


class Case(Base):
    """One bad review handled as a case. ``conversation_id`` None: a review or complaint that matched no
    conversation (kept, without a transcript)."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)  # conv:<ext_id> | import:<source>:<ref> | api:<ext_id>
    source: Mapped[str] = mapped_column(String(16))  # one of CASE_SOURCES
    channel: Mapped[str | None] = mapped_column(String(64))  # where the review came from: 系统评价, 天猫, 微博, 投诉电话…
    external_ref: Mapped[str | None] = mapped_column(String(200))
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"), index=True)
    conversation_ext_id: Mapped[str | None] = mapped_column(String(128), index=True)
    agent_id: Mapped[str | None] = mapped_column(String(64), index=True)
    team: Mapped[str | None] = mapped_column(String(128))
    customer_id: Mapped[str | None] = mapped_column(String(128))
    rating_score: Mapped[float | None] = mapped_column(Float)
    review_text: Mapped[str | None] = mapped_column(Text)  # the review / complaint as received (masked when shown)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # when the review was given (deadlines run from here)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    state: Mapped[str] = mapped_column(String(16), default="open", index=True)  # one of CASE_STATES
    suggested_reason: Mapped[str | None] = mapped_column(String(16))  # the machine's class (pipeline/cases/reason.py)
    suggestion: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # points per class + evidence
    confirmed_reason: Mapped[str | None] = mapped_column(String(16))  # the supervisor's class at responsibility
    responsibility: Mapped[list[Any] | None] = mapped_column(JSON)  # subset of CASE_RESPONSIBILITIES
    account_text: Mapped[str | None] = mapped_column(Text)  # the agent's 情况说明
    account_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    investigation: Mapped[str | None] = mapped_column(Text)  # the supervisor's findings (notes appended)
    responsibility_note: Mapped[str | None] = mapped_column(Text)
    apology_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # the apology measure done
    follow_up_result: Mapped[str | None] = mapped_column(String(16))  # one of CASE_FOLLOW_UP_RESULTS
    follow_up_note: Mapped[str | None] = mapped_column(Text)
    follow_up_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    account_due: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    apology_due: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    close_due: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    conversation: Mapped[Conversation | None] = relationship()
    contacts: Mapped[list[CaseContact]] = relationship(order_by="CaseContact.id", cascade="all, delete-orphan")
    measures: Mapped[list[CaseMeasure]] = relationship(order_by="CaseMeasure.id", cascade="all, delete-orphan")


class CaseContact(Base):
    """The customer contact log of the investigation (二次沟通 / 回访 calls)."""

    __tablename__ = "case_contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    channel: Mapped[str] = mapped_column(String(32))  # 电话 / 短信 / 在线…
    note: Mapped[str] = mapped_column(Text)


class CaseMeasure(Base):
    """A measure (道歉 / 解决 / 培训 / 绩效), each with an owner and a due date."""

    __tablename__ = "case_measures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # one of CASE_MEASURE_KINDS
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    done_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CaseNotice(Base):
    """An in-app notice (the 差评 badge): one per person told, read when they open the case."""

    __tablename__ = "case_notices"
    __table_args__ = (UniqueConstraint("case_id", "user_id", "event"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(32))  # case.opened
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookDelivery(Base):
    """The webhook outbox and its log: written with the case (same transaction), sent after the commit,
    retried with backoff; every attempt appended to ``attempts``."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"), index=True)
    event: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(12), default="pending", index=True)  # pending | delivered | failed
    attempts: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{at, status, error, elapsed_ms}]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# --------------------------------------------------------------------------- scorecard questions (评分表问题, issue 17)
# The machine's answers (one row per conversation and question, from the loaded run: the active-learning queue
# sorts them by confidence), people's one-click answers, and the questions a QA lead added in the workbench
# (those of lexicons/rules.yaml are read from there). pipeline/workbench/question_store.py.


class Question(Base):
    """A question a QA lead added in the workbench: answered by people, exported as training labels."""

    __tablename__ = "questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)  # question.refund_explained
    text: Mapped[str] = mapped_column(Text)
    choices: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [是, 否, 不适用]
    item: Mapped[str | None] = mapped_column(String(128))  # the scorecard item it prices
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class MachineAnswer(Base):
    """The run's answer to one question on one conversation (``answer`` None: abstained, needs review)."""

    __tablename__ = "machine_answers"
    __table_args__ = (UniqueConstraint("conversation_id", "question"), Index("ix_machine_answers_question_confidence", "question", "confidence"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    question: Mapped[str] = mapped_column(String(64))
    answer: Mapped[str | None] = mapped_column(String(32))
    confidence: Mapped[float | None] = mapped_column(Float)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str | None] = mapped_column(String(8))  # 正式 | 试运行
    model: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # because, evidence_turns, reason


class QuestionAnswer(Base):
    """One person's answer to one question on one conversation (changed by clicking again; audited)."""

    __tablename__ = "question_answers"
    __table_args__ = (UniqueConstraint("conversation_id", "question", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    question: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    answer: Mapped[str] = mapped_column(String(32))
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
