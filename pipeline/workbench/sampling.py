"""Put a stratified sample (``zhijian sample --load``) into the review queue, and find it again.

The sampled conversations get the review reason ``sample.stratified`` and ``review_needed`` in the
workbench only — the machine's results files keep their own reasons — and one audit entry
(``sample.stratified``) records the design, the seed and the ids: it is what ``zhijian estimate``
reads to know which reviewed conversations are a probability sample. Loading the run again keeps
the reason (:func:`keep_queue_reasons`, called by ``load``).
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit
from .db import AuditEntry, Conversation

REASON = "sample.stratified"
ACTION = "sample.stratified"
QUEUE_ONLY_REASONS = (REASON,)  # reasons the workbench adds: never in a run's results, kept across loads


class SampleNotLoaded(ValueError):
    """Sampled conversations missing from the workbench database; the message says how to load them."""


def reason_weight(risk_weights: dict | None, reason: str = REASON) -> float:
    """The queue-order weight of a review reason (``workbench.risk``'s ``reasons``; 0 when not listed)."""
    return float(((risk_weights or {}).get("reasons") or {}).get(reason, 0))


def keep_queue_reasons(have_reasons: list[str] | None, want: dict[str, Any], risk_weights: dict | None = None) -> dict[str, Any]:
    """A conversation row about to be (re)loaded, with the queue-only reasons it already has kept
    (and their weight in its queue order)."""
    kept = [r for r in have_reasons or [] if r in QUEUE_ONLY_REASONS and r not in want["review_reasons"]]
    if not kept:
        return want
    risk = float(want.get("risk") or 0) + sum(reason_weight(risk_weights, r) for r in kept)
    return {**want, "review_reasons": list(want["review_reasons"]) + kept, "review_needed": True, "risk": round(risk, 3)}


def mark_sampled(session: Session, ids: list[str], design: dict[str, Any], runs: list[str], actor=None,
                 config: dict | None = None) -> dict[str, Any]:
    """Mark conversations ``ids`` (ext ids) for review with reason ``sample.stratified`` — its weight in
    ``workbench.risk.reasons`` added to their queue order, so a sample isn't left at the bottom of the
    queue; one audit entry. Raises SampleNotLoaded naming the missing ones and the ``zhijian load`` to run."""
    convs = {c.ext_id: c for c in session.scalars(select(Conversation).where(Conversation.ext_id.in_(ids)))}
    missing = [i for i in ids if i not in convs]
    if missing:
        raise SampleNotLoaded(
            f"{len(missing)} of the {len(ids)} sampled conversations are not in the workbench database "
            f"(e.g. {', '.join(missing[:3])}); load their runs first: zhijian load {' '.join(runs)}  — then sample again")
    marked = 0
    for ext_id in ids:
        c = convs[ext_id]
        if REASON not in (c.review_reasons or []):
            c.review_reasons = list(c.review_reasons or []) + [REASON]  # a new list: the JSON column sees the change
            c.risk = round(float(c.risk or 0) + reason_weight(((config or {}).get("workbench") or {}).get("risk")), 3)
            marked += 1
        c.review_needed = True
    key = hashlib.sha256(("\n".join(sorted(ids)) + repr(sorted(design.items()))).encode()).hexdigest()[:16]
    after = {"design": design, "runs": runs, "size": len(ids), "newly_marked": marked, "ids": list(ids)}
    audit.record(session, actor, ACTION, "samples", key, None, after)
    session.flush()
    return {"sample": key, "size": len(ids), "newly_marked": marked, "already_marked": len(ids) - marked}


def latest_sample(session: Session) -> dict[str, Any] | None:
    """The newest loaded sample's audit record (design, runs, ids, at), or None."""
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == ACTION).order_by(AuditEntry.id.desc()).limit(1))
    if entry is None:
        return None
    return {**(entry.after or {}), "sample": entry.entity_id, "at": entry.at.isoformat() if entry.at else None}
