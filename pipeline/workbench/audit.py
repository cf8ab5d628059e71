"""The audit log: every change a person makes is one append-only row (who, when, what, before, after).
Text in ``before`` / ``after`` is masked when written (phone, ID-card, bank-card numbers, e-mail):
the log is never purged, so it must not keep personal data.

``record`` only adds the row to the caller's session, so it commits or rolls back together with the
change it describes. Rows are never updated or deleted (ORM guard in db.py, a trigger in the
database from the initial migration).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..privacy import mask_free_text
from .db import AuditEntry, User

SECRET_FIELDS = frozenset({"password_hash", "token_sha256", "password", "token"})


def _jsonable(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items() if k not in SECRET_FIELDS}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, str):
        # comments, reasons, categories typed by people: the log outlives retention, so it never holds PII
        return mask_free_text(value)
    if value is None or isinstance(value, (int, float, bool)):
        return value
    return str(value)


def snapshot(obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    """The named attributes of a model object, JSON-ready (for ``before`` / ``after``)."""
    return {f: _jsonable(getattr(obj, f)) for f in fields if f not in SECRET_FIELDS}


def record(
    session: Session,
    actor: User | None,
    action: str,
    entity: str,
    entity_id: Any,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> AuditEntry:
    """Add one audit row to ``session`` (same transaction as the change). ``actor`` None: the system
    (``zhijian load``, a command run by an operator). Secrets never enter the log."""
    entry = AuditEntry(
        user_id=actor.id if actor is not None else None,
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        before=_jsonable(before) if before is not None else None,
        after=_jsonable(after) if after is not None else None,
    )
    session.add(entry)
    return entry


def history(session: Session, entity: str, entity_id: Any) -> list[AuditEntry]:
    """The audit rows of one object, oldest first."""
    return list(session.scalars(
        select(AuditEntry).where(AuditEntry.entity == entity, AuditEntry.entity_id == str(entity_id)).order_by(AuditEntry.id)
    ))
