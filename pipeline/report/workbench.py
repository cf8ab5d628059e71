"""Read the review workbench's database for the report — read-only, a few column-explicit queries.

``zhijian report RUN_DIR... --database-url URL`` (or ``--workbench``: the configured
``workbench.database_url`` / ``ZHIJIAN_DATABASE_URL``) adds what only the workbench knows: the
human reviews (sampling rate, 差错率), disputes and appeals with their double review and sign-off
(seed 003 双人复核), inspectors' workload and consistency, the customer id of each conversation (for
FCR) and the transcripts' timestamps (for the handling time). The machine-vs-human agreement is the
workbench's own (``pipeline.workbench.labels.rule_precision`` / ``score_agreement``, the numbers of
``zhijian agreement`` and the 一致性 page), not recomputed here.

The connection is opened read-only (SQLite ``mode=ro``; PostgreSQL ``default_transaction_read_only``)
and the database is never migrated: only columns that exist since the first workbench revision are
selected, so a database a revision behind (or ahead) still reads. What the numbers mean is in
:mod:`.kpis` and docs/REPORTS.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pandas as pd

from ..schema import handling_time_s as span_s
from .load import ReportInputError


@dataclass
class WorkbenchData:
    url: str  # password hidden
    conversations: pd.DataFrame  # id, ext_id, team, agent_id, customer_id, status, assignee_id, machine_score, human_score
    reviews: pd.DataFrame  # id, conversation_id, round, reviewer_id, human_score, submitted_at (submitted only)
    disputes: pd.DataFrame  # id, conversation_id, kind, state, raised_by, created_at, signed_off_at, final_score
    verdicts: pd.DataFrame  # review_id, finding_id, verdict, rule, points, severity, source
    users: pd.DataFrame  # id, username, display_name, role
    counted: dict[int, int]  # conversation id → the id of the review that counts (labels.counted_reviews)
    rule_precision: pd.DataFrame  # labels.rule_precision — the workbench's numbers, whole database
    score_agreement: dict[str, Any]  # labels.score_agreement — idem
    read_at: datetime
    durations: pd.Series | None = None  # ext_id → handling time (s) from the transcript's timestamps, when asked
    notes: list[str] = field(default_factory=list)
    estimates: dict[str, Any] | None = None  # {"table", "notes"}: defect rates per rule from the reviewed sample (issue 14), when run dirs are given
    cases: dict[str, Any] | None = None  # the 差评处理 section (report/cases.py, issue 19); None: no case tables or no case


def _readonly_engine(url: str):
    from sqlalchemy import create_engine, event
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        from pathlib import Path

        if not u.database or u.database == ":memory:" or not Path(u.database).exists():
            raise ReportInputError(f"workbench database {url}: no such file (the report opens it read-only and never creates one)")
        ro = f"sqlite:///file:{Path(u.database).resolve()}?mode=ro&uri=true"
        import orjson

        return create_engine(ro, json_deserializer=orjson.loads)
    import orjson

    engine = create_engine(u, pool_pre_ping=True, json_deserializer=orjson.loads)
    if u.get_backend_name() == "postgresql":
        @event.listens_for(engine, "connect")
        def _read_only(dbapi_conn, _record):  # noqa: ANN001 — DB-API connection
            cur = dbapi_conn.cursor()
            cur.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            cur.close()
    return engine


def _frame(session, stmt, columns: list[str]) -> pd.DataFrame:
    rows = session.execute(stmt).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=columns)


def _utc(v):
    if v is None or (isinstance(v, float) and v != v):
        return None
    if isinstance(v, datetime) and v.tzinfo is None:
        return v.replace(tzinfo=timezone.utc)  # SQLite keeps naive UTC
    return v


def handling_time_s(turns: list[Any] | None) -> float | None:
    """A stored transcript's handling time, as ``zhijian inspect`` writes ``duration_s``
    (:func:`pipeline.schema.handling_time_s` over the turns' ``ts`` / ``end_ts``)."""
    return span_s(x for t in turns or [] if isinstance(t, dict) for x in (t.get("ts"), t.get("end_ts")))


def read_workbench(url: str, config: dict, ext_ids: set[str] | None = None, *, with_durations: bool = True,
                   now: datetime | None = None, run_dirs: list[str] | None = None) -> WorkbenchData:
    """Everything the report takes from the workbench; a database that can't be read is a
    ReportInputError naming it (exit 2). With ``run_dirs``, also the defect-rate estimates of
    `zhijian estimate` (per rule: the reviewers' verdicts on the stratified sample, Wilson and
    prediction-powered intervals — pipeline/sampling, docs/SAMPLING.md)."""
    from sqlalchemy import select
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.orm import Session

    from ..workbench import labels
    from ..workbench.db import Conversation, Dispute, Finding, Review, User, Verdict
    from .cases import read_cases

    safe = make_url(url).render_as_string(hide_password=True)
    engine = _readonly_engine(url)
    try:
        with Session(engine) as s:
            conv = _frame(s, select(Conversation.id, Conversation.ext_id, Conversation.team, Conversation.agent_id,
                                    Conversation.customer_id, Conversation.status, Conversation.assignee_id,
                                    Conversation.machine_score, Conversation.human_score),
                          ["id", "ext_id", "team", "agent_id", "customer_id", "status", "assignee_id", "machine_score", "human_score"])
            reviews = _frame(s, select(Review.id, Review.conversation_id, Review.round, Review.reviewer_id, Review.human_score,
                                       Review.submitted_at).where(Review.submitted_at.is_not(None)),
                             ["id", "conversation_id", "round", "reviewer_id", "human_score", "submitted_at"])
            disputes = _frame(s, select(Dispute.id, Dispute.conversation_id, Dispute.kind, Dispute.state, Dispute.raised_by,
                                        Dispute.created_at, Dispute.signed_off_at, Dispute.final_score),
                              ["id", "conversation_id", "kind", "state", "raised_by", "created_at", "signed_off_at", "final_score"])
            verdicts = _frame(s, select(Verdict.review_id, Verdict.finding_id, Verdict.verdict, Finding.rule, Finding.points,
                                        Finding.severity, Finding.source).join(Finding, Finding.id == Verdict.finding_id),
                              ["review_id", "finding_id", "verdict", "rule", "points", "severity", "source"])
            users = _frame(s, select(User.id, User.username, User.display_name, User.role), ["id", "username", "display_name", "role"])
            counted = {cid: r.id for cid, r in labels.counted_reviews(s).items()}
            precision = labels.rule_precision(s, config)
            scores = labels.score_agreement(s, config)
            durations = None
            if with_durations:
                wanted = conv["id"][conv["ext_id"].isin(ext_ids)].tolist() if ext_ids is not None else conv["id"].tolist()
                out: dict[str, float] = {}
                for i in range(0, len(wanted), 2000):
                    for ext_id, turns in s.execute(select(Conversation.ext_id, Conversation.turns).where(
                            Conversation.id.in_(wanted[i:i + 2000]))):
                        d = handling_time_s(turns)
                        if d is not None:
                            out[ext_id] = d
                durations = pd.Series(out, dtype="float64")
            estimates = _estimates(s, run_dirs, config) if run_dirs else None
            cases = read_cases(s, config, now)
            s.rollback()
    except SQLAlchemyError as e:
        raise ReportInputError(f"workbench database {safe}: cannot read it ({type(e).__name__}: {str(e).splitlines()[0]}); "
                               "is it a zhijian workbench database (`zhijian db upgrade`)?") from None
    finally:
        engine.dispose()
    for df, cols in ((disputes, ("created_at", "signed_off_at")), (reviews, ("submitted_at",))):
        for c in cols:
            df[c] = [_utc(v) for v in df[c]]
    return WorkbenchData(url=safe, conversations=conv, reviews=reviews, disputes=disputes, verdicts=verdicts, users=users,
                         counted=counted, rule_precision=precision, score_agreement=scores,
                         read_at=now or datetime.now(timezone.utc), durations=durations, estimates=estimates, cases=cases)


def _estimates(session, run_dirs: list[str], config: dict) -> dict[str, Any] | None:
    """`zhijian estimate RUN_DIR… --by rule` on the report's runs, read in the report's read-only
    session; None when no conversation of these runs has a counted review yet."""
    from ..sampling.estimate import estimate_table, human_labels
    from ..sampling.population import PopulationError, read_population
    from ..workbench.sampling import latest_sample

    try:
        pop = read_population(run_dirs, config)
    except PopulationError as e:
        return {"table": None, "notes": [str(e)]}
    labels = human_labels(session, list(pop.conversations["id"]))
    if not labels.defects:
        return None
    table, notes = estimate_table(pop, labels, latest_sample(session), "rule", float(config["sampling"]["interval"]))
    return {"table": table, "notes": notes}
