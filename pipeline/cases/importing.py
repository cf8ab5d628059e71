"""Third-party reviews and complaints read from a file (``zhijian cases import``): each row matched to
its conversation — by id, else by customer within ``cases.match_window_h`` of its time — and opened as
a case (:func:`.service.open_case`); the rows that match nothing are kept, as cases without a
conversation. Returns what it did, row by row.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..workbench.db import Conversation, User, utcnow
from .service import CaseError, open_case, parse_time, settings



@dataclass
class ImportSummary:
    rows: int = 0
    opened: int = 0
    existing: int = 0
    matched_by_id: int = 0
    matched_by_customer: int = 0
    unmatched: int = 0
    errors: list[str] = field(default_factory=list)


IMPORT_FIELDS = ("ref", "source", "conversation_id", "customer_id", "agent_id", "at", "rating", "text")


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """CSV (UTF-8, with a header) or JSONL rows of third-party reviews and complaints."""
    p = Path(path)
    if not p.exists():
        raise CaseError(f"找不到文件 {p}")
    if p.suffix.lower() in (".jsonl", ".json"):
        from ..config import ConfigError
        from ..gold.labels import read_jsonl

        try:
            return read_jsonl(p)
        except ConfigError as e:
            raise CaseError(f"{p} 有一行不是 JSON:{e}") from None
    return list(csv.DictReader(io.StringIO(p.read_text(encoding="utf-8-sig"))))


def _match_by_customer(session: Session, customer_id: str, at: datetime, window_h: float) -> Conversation | None:
    """The customer's latest conversation started within ``window_h`` hours before the review (or up to an
    hour after: clocks differ)."""
    best, best_gap = None, None
    for conv in session.scalars(select(Conversation).where(Conversation.customer_id == customer_id)):
        if not conv.started_at:
            continue
        try:
            started = parse_time(conv.started_at, "started_at")
        except CaseError:
            continue
        gap = (at - started).total_seconds() / 3600
        if -1 <= gap <= window_h and (best_gap is None or abs(gap) < best_gap):
            best, best_gap = conv, abs(gap)
    return best


def import_reviews(session: Session, path: str | Path, config: dict, actor: User | None = None) -> ImportSummary:
    """``zhijian cases import FILE``: one case per row (key ``import:<source>:<ref>``; importing twice opens
    nothing new). Columns: ref (the platform's id of the review; else a hash of the row), source (天猫,
    微博, 投诉电话…), conversation_id, customer_id, agent_id, at (ISO-8601), rating, text. Matched to a
    conversation by conversation_id, else by customer_id and time (``cases.match_window_h``); unmatched
    rows are kept as cases without a transcript."""
    window = float(settings(config)["match_window_h"])
    out = ImportSummary()
    for n, row in enumerate(read_rows(path), 1):
        out.rows += 1
        row = {k: (str(v).strip() if v is not None else "") for k, v in row.items() if k}
        if not row.get("text") and not row.get("rating") and not row.get("conversation_id"):
            out.errors.append(f"第 {n} 行:没有评价内容、评分或会话编号,已跳过")
            continue
        try:
            at = parse_time(row["at"], f"第 {n} 行的 at") if row.get("at") else utcnow()
            rating = float(row["rating"]) if row.get("rating") else None
        except (CaseError, ValueError) as e:
            out.errors.append(f"第 {n} 行:{e}")
            continue
        conv = None
        if row.get("conversation_id"):
            conv = session.scalar(select(Conversation).where(Conversation.ext_id == row["conversation_id"]))
            out.matched_by_id += conv is not None
        elif row.get("customer_id"):
            conv = _match_by_customer(session, row["customer_id"], at, window)
            out.matched_by_customer += conv is not None
        out.unmatched += conv is None
        source = row.get("source") or "外部"
        ref = row.get("ref") or hashlib.sha256(json.dumps(row, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]
        kind = "complaint" if "投诉" in source else "import"
        case, created = open_case(session, config, key=f"import:{source}:{ref}"[:200], source=kind, received_at=at,
                                  conversation=conv, conversation_ext_id=row.get("conversation_id") or None,
                                  agent_id=row.get("agent_id") or None, customer_id=row.get("customer_id") or None,
                                  rating_score=rating, review_text=row.get("text") or None, channel=source, external_ref=ref,
                                  actor=actor)
        out.opened += created
        out.existing += not created
    return out
