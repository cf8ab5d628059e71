"""People's answers to scorecard questions as training labels (issue 17): ``question_answers.jsonl``,
written by ``zhijian export-labels`` beside the other label files and read by
``zhijian train question ID --extra-labels FILE`` (pipeline/questions/train.py).

One line per conversation someone answered a question on: the conversation in the input contract
(transcript **masked**, like every file leaving the workbench) plus ``question_answers`` — per
question the answer (the latest anyone gave), who gave it and when, and how many people answered::

    {"id": "s-0150", "channel": "chat", "agent": {...}, "turns": [...],
     "question_answers": {"question.resolved": {"answer": "否", "by": "insp", "at": "2026-12-06T02:10:00+00:00", "people": 1}}}

Answers are exported whatever the conversation's review state: a one-click answer is a label of its own.
"""

from __future__ import annotations

from datetime import timezone
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from .db import Conversation, QuestionAnswer, User

FILE = "question_answers.jsonl"
KEY = "question_answers"  # the record's field the training reads


def _utc(dt):
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt  # SQLite gives naive datetimes back (UTC)


def answer_records(session: Session) -> list[dict[str, Any]]:
    from .labels import masked_turns

    names = dict(session.execute(select(User.id, User.username)).all())
    by_conv: dict[int, dict[str, dict[str, Any]]] = {}
    for a in session.scalars(select(QuestionAnswer).order_by(QuestionAnswer.answered_at, QuestionAnswer.id)):
        qs = by_conv.setdefault(a.conversation_id, {})
        people = qs.get(a.question, {}).get("people", 0) + 1
        qs[a.question] = {"answer": a.answer, "by": names.get(a.user_id), "at": _utc(a.answered_at).isoformat(),
                          "people": people}
    out = []
    ids = sorted(by_conv)
    for chunk in range(0, len(ids), 1000):
        for conv in session.scalars(select(Conversation).where(Conversation.id.in_(ids[chunk:chunk + 1000])).order_by(Conversation.id)):
            record = {"id": conv.ext_id, "channel": conv.channel, "started_at": conv.started_at,
                      "agent": {"id": conv.agent_id, "name": conv.agent_name, "team": conv.team}, "turns": masked_turns(conv),
                      KEY: by_conv[conv.id]}
            out.append({k: v for k, v in record.items() if v is not None})
    return out


def export_answers(session: Session, out_dir: str | Path) -> int:
    """Write ``out_dir/question_answers.jsonl``; returns the number of conversations written."""
    records = answer_records(session)
    with open(Path(out_dir) / FILE, "wb") as fh:
        for r in records:
            fh.write(orjson.dumps(r) + b"\n")
    return len(records)
