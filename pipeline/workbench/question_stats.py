"""What people's answers say about the machine's (issue 17): per-question agreement for the 一致性
page, and the active-learning queue — the conversations whose machine answer is least sure, which
inspectors should answer first (their answers teach the model most where it is weakest).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, exists, func, select
from sqlalchemy.orm import Session

from .db import Conversation, MachineAnswer, QuestionAnswer, User
from .permissions import visible_conversations
from .question_store import QuestionDef, all_questions, human_answers


def question_agreement(session: Session, config: dict) -> list[dict[str, Any]]:
    """Per question: how many conversations people answered (``answered``), on how many of those the
    machine answered too (``n``; an abstention is counted apart in ``abstained``), the share where
    they agree (``accuracy``), Cohen's κ, and the held-out figures of the question's installed model
    beside them."""
    from ..stats import cohen_kappa

    questions = all_questions(session, config, active_only=False)
    keys = [q.key for q in questions]
    people = human_answers(session, keys)
    answered_too = exists().where(QuestionAnswer.conversation_id == MachineAnswer.conversation_id,
                                  QuestionAnswer.question == MachineAnswer.question)
    machine = {(m.conversation_id, m.question): m for m in session.scalars(select(MachineAnswer).where(answered_too))}
    out = []
    for q in questions:
        pairs, abstained = [], 0
        answered = [(cid, a) for (cid, key), a in people.items() if key == q.key]
        for cid, a in answered:
            m = machine.get((cid, q.key))
            if m is None:
                continue
            if m.answer is None:
                abstained += 1
            else:
                pairs.append((m.answer, a.answer))
        n = len(pairs)
        kappa = cohen_kappa([m for m, _ in pairs], [h for _, h in pairs]) if n else None
        out.append({"q": q, "answered": len(answered), "n": n, "abstained": abstained,
                    "agree": sum(m == h for m, h in pairs),
                    "accuracy": sum(m == h for m, h in pairs) / n if n else None,
                    "kappa": None if kappa is None else round(kappa, 3)})
    return out


def uncertain_queue(session: Session, user: User, q: QuestionDef, inspector_sees: str = "queue", *,
                    limit: int, include_answered: bool = False) -> list[tuple[Conversation, MachineAnswer]]:
    """The ``limit`` (the page: ``questions.queue_length``) conversations ``user`` may see whose
    machine answer to ``q`` is least sure: abstained or lowest confidence first (an endpoint's
    answer has no confidence: first of all), then the newest.
    Conversations someone already answered are left out unless ``include_answered``."""
    stmt = (select(Conversation, MachineAnswer).join(MachineAnswer, MachineAnswer.conversation_id == Conversation.id)
            .where(MachineAnswer.question == q.key))
    if not include_answered:
        stmt = stmt.where(~exists().where(QuestionAnswer.conversation_id == Conversation.id, QuestionAnswer.question == q.key))
    stmt = visible_conversations(stmt, user, inspector_sees)
    stmt = stmt.order_by(MachineAnswer.confidence.asc().nulls_first(), Conversation.started_at.desc(), Conversation.id).limit(limit)
    return [(c, m) for c, m in session.execute(stmt).all()]


def queue_sizes(session: Session, keys: list[str]) -> dict[str, dict[str, int]]:
    """Per question: machine answers loaded, of them abstained, and conversations people answered."""
    out = {k: {"machine": 0, "abstained": 0, "answered": 0} for k in keys}
    for key, total, abstained in session.execute(
            select(MachineAnswer.question, func.count(), func.sum(MachineAnswer.answer.is_(None).cast(Integer)))
            .where(MachineAnswer.question.in_(keys)).group_by(MachineAnswer.question)):
        out[key].update(machine=int(total), abstained=int(abstained or 0))
    for key, n in session.execute(select(QuestionAnswer.question, func.count(QuestionAnswer.conversation_id.distinct()))
                                  .where(QuestionAnswer.question.in_(keys)).group_by(QuestionAnswer.question)):
        out[key]["answered"] = int(n)
    return out



def question_agreement_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """:func:`question_agreement` as plain JSON (``zhijian agreement --json``: ``questions``)."""
    return [{"question": r["q"].key, "text": r["q"].text, "source": r["q"].source, "status": r["q"].status,
             **{k: r[k] for k in ("answered", "n", "agree", "accuracy", "kappa", "abstained")},
             "held_out": r["q"].held_out} for r in rows]


def format_question_agreement(rows: list[dict[str, Any]]) -> str:
    """The terminal view (``zhijian agreement``): per question, people against the machine."""
    pct = lambda v: "—" if v is None else f"{v * 100:.1f}%"  # noqa: E731
    num = lambda v: "—" if v is None else f"{v:.2f}"  # noqa: E731
    lines = ["", "评分表问题:机器答案与人工答案 (the latest answer per conversation; abstentions apart)", "",
             f"{'question':<28} {'answered':>8} {'n':>5} {'accuracy':>9} {'kappa':>6} {'abstained':>9}  held-out macro-F1 / accuracy / κ"]
    for r in rows:
        h = r["held_out"] or {}
        held = f"{num(h.get('macro_f1'))} / {pct(h.get('accuracy'))} / {num(h.get('kappa'))}" if h else "—"
        lines.append(f"{r['question']:<28} {r['answered']:>8} {r['n']:>5} {pct(r['accuracy']):>9} {num(r['kappa']):>6} "
                     f"{r['abstained']:>9}  {held}")
    return "\n".join(lines)
