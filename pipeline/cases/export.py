"""Cases as rows for a file (``zhijian cases export``): one dict per case for CSV / JSONL, the review text
masked — a file leaves the app.
"""

from __future__ import annotations

from typing import Any

from ..workbench.db import Case
from .service import FOLLOW_UP_LABELS, RESPONSIBILITY_LABELS, STATE_LABELS, aware



EXPORT_COLUMNS = ("case_id", "state", "state_label", "overdue", "source", "channel", "agent_id", "team", "conversation_id",
                  "rating", "received_at", "suggested_reason", "confirmed_reason", "responsibility", "account_at",
                  "apology_at", "follow_up_result", "closed_at", "account_due", "apology_due", "close_due", "review_text")


def export_rows(rows: list[tuple[Case, list[str]]]) -> list[dict[str, Any]]:
    """One dict per case for CSV / JSONL; the review text masked (a file leaves the app)."""
    from ..privacy import mask_free_text

    def t(v):
        return aware(v).isoformat() if v is not None else ""

    out = []
    for c, late in rows:
        out.append({"case_id": c.id, "state": c.state, "state_label": STATE_LABELS[c.state], "overdue": "、".join(late),
                    "source": c.source, "channel": c.channel or "", "agent_id": c.agent_id or "", "team": c.team or "",
                    "conversation_id": c.conversation_ext_id or "", "rating": "" if c.rating_score is None else c.rating_score,
                    "received_at": t(c.received_at), "suggested_reason": c.suggested_reason or "",
                    "confirmed_reason": c.confirmed_reason or "",
                    "responsibility": "、".join(RESPONSIBILITY_LABELS[r] for r in (c.responsibility or [])),
                    "account_at": t(c.account_at), "apology_at": t(c.apology_at),
                    "follow_up_result": FOLLOW_UP_LABELS.get(c.follow_up_result or "", ""), "closed_at": t(c.closed_at),
                    "account_due": t(c.account_due), "apology_due": t(c.apology_due), "close_due": t(c.close_due),
                    "review_text": mask_free_text(c.review_text) if c.review_text else ""})
    return out
