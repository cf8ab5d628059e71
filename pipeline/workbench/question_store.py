"""Scorecard questions in the workbench (issue 17, item 2): which questions there are, the machine's
answers loaded from the run, and people's one-click answers.

* **Questions** come from two places. Those of ``lexicons/rules.yaml`` (rules of kind ``question``)
  are read from there and are read-only here; each shows its status (正式 / 试运行) and the held-out
  figures its model's training measured (``models/<model>/metadata.json``). A QA lead
  (``manage_questions``) adds more in the workbench: stored in the ``questions`` table, answered by
  people; ``zhijian train question KEY --database-url URL --promote`` trains it from this database
  into ``models/question_<name>/`` (the bundle carries the definition, ``zhijian inspect`` answers it:
  pipeline/questions/workbench.py) and the page shows that bundle's status and held-out figures. (Or
  one copies it into rules.yaml — the page shows the lines — to set its message or thresholds.)
* **Machine answers**: ``zhijian load`` keeps the run's ``questions`` on the conversation and one
  ``machine_answers`` row per question (:func:`sync_machine_answers`), so the active-learning queue
  can sort them by confidence (question_stats.py).
* **People's answers**: one row per (conversation, question, person), changed by clicking again;
  every change is in the audit log (``question.answer``). Where several people answered, the latest
  answer is the conversation's human answer (agreement, export).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from . import audit
from .db import Conversation, MachineAnswer, Question, QuestionAnswer, User, utcnow
from .review_checks import WorkflowError

KEY_RE = re.compile(r"^question\.[a-z][a-z0-9_]{1,54}$")
DEFAULT_CHOICES = ("是", "否", "不适用")
MAX_CHOICES = 6
QUESTION_FIELDS = ("key", "text", "choices", "item", "active")


class QuestionError(WorkflowError):
    """A question or an answer that can't be saved; the message (Chinese) says what to change."""


@dataclass
class QuestionDef:
    """One question as the pages show it, wherever it is defined."""

    key: str
    text: str
    choices: list[str]
    item: str | None
    source: str  # rules (lexicons/rules.yaml: read-only here) | workbench (the questions table)
    active: bool = True
    model: str | None = None
    status: str | None = None  # 正式 | 试运行 (rules.yaml questions); None: no model
    held_out: dict[str, Any] | None = None  # {macro_f1, accuracy, kappa, n} of the installed model
    baseline: dict[str, Any] | None = None
    registered_version: str | None = None
    accuracy_floor: float | None = None
    db_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def editable(self) -> bool:
        return self.source == "workbench"


def _file_key(path: Path) -> tuple[str, float]:
    return str(path), path.stat().st_mtime if path.exists() else 0.0


def _models_key(models_dir: Path) -> tuple[str, float]:
    """The models folder and its newest metadata.json: a model promoted while the workbench runs shows at once."""
    return str(models_dir), max((p.stat().st_mtime for p in models_dir.glob("*/metadata.json")), default=0.0)


def _with_figures(q: QuestionDef, meta: dict[str, Any] | None) -> QuestionDef:
    """``q`` with its installed model's held-out figures and status (``meta``: its metadata.json; None: no model)."""
    from ..questions import STATUS_LIVE, STATUS_TRIAL

    if meta is not None:
        q.held_out = {k: (meta.get("held_out") or {}).get(k) for k in ("macro_f1", "accuracy", "kappa", "n")}
        q.baseline = meta.get("majority_baseline")
        q.registered_version = str(meta["registered_version"]) if meta.get("registered_version") else None
        f1 = q.held_out.get("macro_f1")
        q.status = STATUS_LIVE if f1 is not None and f1 >= q.accuracy_floor else STATUS_TRIAL
    return q


@lru_cache(maxsize=64)
def _bundle_metadata(models_dir: str, _mmtime: float, name: str) -> dict[str, Any] | None:
    from ..models.store import has_bundle, read_metadata

    directory = Path(models_dir) / name
    return read_metadata(directory) if name and has_bundle(directory) else None


@lru_cache(maxsize=8)
def _rule_questions(rules_path: str, _mtime: float, scorecard_path: str, _smtime: float, models_dir: str,
                    _mmtime: float, default_floor: float) -> tuple[QuestionDef, ...]:
    from ..config import load_yaml

    raw = load_yaml(Path(rules_path), "rules") or {}
    card = load_yaml(Path(scorecard_path), "scorecard") or {}
    item_of: dict[str, str] = {}
    for part in card.get("parts") or []:
        for it in part.get("items") or []:
            for rule in it.get("rules") or []:
                item_of.setdefault(rule, it.get("id"))
    out = []
    for r in raw.get("rules") or []:
        if r.get("kind") != "question":
            continue
        q = QuestionDef(key=r["id"], text=r.get("question", ""), choices=list(r.get("choices") or []), item=item_of.get(r["id"]),
                        source="rules", model=r.get("model"), accuracy_floor=float(r.get("accuracy_floor", default_floor)))
        out.append(_with_figures(q, _bundle_metadata(models_dir, _mmtime, str(r.get("model") or ""))))
    return tuple(out)


def rule_questions(config: dict) -> list[QuestionDef]:
    """The ``question`` rules of the configured rules.yaml, with their installed models' figures."""
    from ..config import resolve_path

    rules = resolve_path(config["paths"]["rules"])
    card = resolve_path(config["paths"]["scorecard"])
    return list(_rule_questions(*_file_key(rules), *_file_key(card), *_models_key(resolve_path(config["paths"]["models"])),
                                float(config["questions"]["accuracy_floor"])))


def _from_row(q: Question, models: tuple[str, float]) -> QuestionDef:
    """A workbench question, with the figures of its bundle ``models/question_<name>/`` when one
    trained from this question (its metadata's definition names the key) is installed."""
    from ..questions.workbench import DEFINITION_KEY, model_name

    d = QuestionDef(key=q.key, text=q.text, choices=list(q.choices or []), item=q.item, source="workbench",
                    active=bool(q.active), db_id=q.id)
    meta = _bundle_metadata(*models, model_name(q.key))
    if meta is None or (meta.get(DEFINITION_KEY) or {}).get("key") != q.key:
        return d
    d.model, d.accuracy_floor = model_name(q.key), float(meta["accuracy_floor"])
    return _with_figures(d, meta)


def all_questions(session: Session, config: dict, *, active_only: bool = True) -> list[QuestionDef]:
    """rules.yaml's questions first (in file order), then the workbench's (oldest first)."""
    from ..config import resolve_path

    rows = session.scalars(select(Question).order_by(Question.id))
    models = _models_key(resolve_path(config["paths"]["models"]))
    added = [_from_row(q, models) for q in rows if q.active or not active_only]
    return rule_questions(config) + added


def find_question(session: Session, config: dict, key: str) -> QuestionDef | None:
    return next((q for q in all_questions(session, config, active_only=False) if q.key == key), None)


def scorecard_items(config: dict) -> list[str]:
    from .review_checks import scorecard

    return [it.id for it in scorecard(config).items]


def _clean(config: dict, text: str, choices: list[str], item: str | None) -> tuple[str, list[str], str | None]:
    text = (text or "").strip()
    if not text:
        raise QuestionError("请填写问题(中文),例如:坐席是否说明了退款到账时间?")
    if len(text) > 200:
        raise QuestionError(f"问题太长({len(text)} 字):请控制在 200 字以内")
    choices = [c.strip() for c in choices if c and c.strip()]
    if len(choices) < 2 or len(set(choices)) != len(choices) or len(choices) > MAX_CHOICES:
        raise QuestionError(f"答案选项须为 2–{MAX_CHOICES} 个互不相同的词,例如:{'、'.join(DEFAULT_CHOICES)}")
    if any(len(c) > 32 for c in choices):
        raise QuestionError("每个答案选项最多 32 个字")
    item = (item or "").strip() or None
    if item is not None and item not in scorecard_items(config):
        raise QuestionError(f"评分项「{item}」不在评分表(lexicons/scorecard.yaml)中:请从下拉列表中选择,或留空")
    return text, choices, item


def create_question(session: Session, config: dict, actor: User, *, key: str, text: str, choices: list[str],
                    item: str | None) -> Question:
    key = (key or "").strip()
    if not KEY_RE.match(key):
        raise QuestionError(f"问题编号「{key}」无效:须以 question. 开头,后接小写字母、数字或下划线,例如 question.refund_time")
    if find_question(session, config, key) is not None:
        raise QuestionError(f"问题编号 {key} 已存在(lexicons/rules.yaml 或本工作台):请换一个编号")
    text, choices, item = _clean(config, text, choices, item)
    q = Question(key=key, text=text, choices=choices, item=item, active=True, created_by=actor.id)
    session.add(q)
    session.flush()
    audit.record(session, actor, "question.create", "questions", q.id, None, audit.snapshot(q, QUESTION_FIELDS))
    return q


def update_question(session: Session, config: dict, actor: User, q: Question, *, text: str, choices: list[str],
                    item: str | None, active: bool) -> Question:
    before = audit.snapshot(q, QUESTION_FIELDS)
    text, choices, item = _clean(config, text, choices, item)
    given = set(session.scalars(select(QuestionAnswer.answer).where(QuestionAnswer.question == q.key).distinct()))
    if given - set(choices):
        raise QuestionError(f"已有人选择过「{'、'.join(sorted(given - set(choices)))}」:这些选项不能删除(可改问题文字或停用问题)")
    q.text, q.choices, q.item, q.active, q.updated_at = text, choices, item, active, utcnow()
    after = audit.snapshot(q, QUESTION_FIELDS)
    if after != before:
        audit.record(session, actor, "question.update", "questions", q.id, before, after)
    return q


def rules_yaml_snippet(q: QuestionDef) -> str:
    """The lines that make a workbench question a rule of rules.yaml — the rule ``zhijian train
    question KEY --database-url URL`` builds without them (pipeline/questions/workbench.py), to edit
    its message or set its own min_confidence / accuracy_floor (else the ``questions:`` configuration's)."""
    from ..questions.workbench import CATEGORY, SEVERITY, definition_of, message_of, model_name

    d = definition_of(q.key, q.text, q.choices, q.item)
    return "\n".join([
        f"  - id: {q.key}", "    kind: question", f"    category: {CATEGORY}", f"    severity: {SEVERITY}",
        f"    question: {q.text}", f"    choices: [{', '.join(q.choices)}]", f"    fails_on: {d['fails_on']}",
        f"    model: {model_name(q.key)}", f"    message: {message_of(d)}",
    ])


# --------------------------------------------------------------------------- machine answers (zhijian load)


def machine_rows(conv_id: int, questions: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    out = []
    for q in questions or []:
        if not isinstance(q, dict) or not q.get("id"):
            continue
        conf = q.get("confidence")
        out.append({"conversation_id": conv_id, "question": str(q["id"])[:64], "answer": q.get("answer"),
                    "confidence": float(conf) if isinstance(conf, (int, float)) else None,
                    "needs_review": bool(q.get("needs_review")), "status": q.get("status"), "model": q.get("model"),
                    "detail": {k: q.get(k) for k in ("because", "evidence_turns", "reason") if q.get(k) is not None}})
    return out


def sync_machine_answers(session: Session, answers: dict[int, list[dict[str, Any]] | None]) -> None:
    """Make the ``machine_answers`` rows of these conversations what their run says (``answers``:
    conversation id → the result's ``questions``)."""
    if not answers:
        return
    conn = session.connection()
    conn.execute(delete(MachineAnswer).where(MachineAnswer.conversation_id.in_(list(answers))))
    rows = [r for cid, qs in answers.items() for r in machine_rows(cid, qs)]
    if rows:
        conn.execute(insert(MachineAnswer.__table__), rows)


# --------------------------------------------------------------------------- people's answers


def set_answer(session: Session, config: dict, conv: Conversation, key: str, answer: str, actor: User) -> QuestionAnswer:
    """``actor``'s answer to question ``key`` on ``conv`` (a second click changes it); audited."""
    q = find_question(session, config, key)
    if q is None or not q.active:
        raise QuestionError(f"没有问题 {key}(或已停用):请刷新页面后重试")
    if answer not in q.choices:
        raise QuestionError(f"「{answer}」不是问题 {key} 的选项:请选择 {'、'.join(q.choices)} 之一")
    row = session.scalar(select(QuestionAnswer).where(QuestionAnswer.conversation_id == conv.id, QuestionAnswer.question == key,
                                                      QuestionAnswer.user_id == actor.id))
    before = None if row is None else {"answer": row.answer, "answered_at": row.answered_at}
    if row is None:
        row = QuestionAnswer(conversation_id=conv.id, question=key, user_id=actor.id, answer=answer, answered_at=utcnow())
        session.add(row)
    else:
        row.answer, row.answered_at = answer, utcnow()
    session.flush()
    machine = session.scalar(select(MachineAnswer).where(MachineAnswer.conversation_id == conv.id, MachineAnswer.question == key))
    audit.record(session, actor, "question.answer", "question_answers", row.id, before,
                 {"conversation": conv.ext_id, "question": key, "answer": answer, "answered_at": row.answered_at,
                  "machine_answer": machine.answer if machine else None,
                  "machine_confidence": machine.confidence if machine else None})
    return row


def human_answers(session: Session, keys: list[str] | None = None) -> dict[tuple[int, str], QuestionAnswer]:
    """(conversation id, question) → the latest answer anyone gave."""
    q = select(QuestionAnswer).order_by(QuestionAnswer.answered_at, QuestionAnswer.id)
    if keys is not None:
        q = q.where(QuestionAnswer.question.in_(keys))
    return {(a.conversation_id, a.question): a for a in session.scalars(q)}


def page_context(session: Session, config: dict, user: User, conv: Conversation, *, may_answer: bool) -> dict[str, Any]:
    """The conversation page's 评分表问题 section: per question the machine's answer (confidence,
    evidence turns), the user's own answer and the buttons (``may_answer``)."""
    questions = all_questions(session, config)
    machine = {m.question: m for m in session.scalars(select(MachineAnswer).where(MachineAnswer.conversation_id == conv.id))}
    mine = {a.question: a for a in session.scalars(select(QuestionAnswer).where(QuestionAnswer.conversation_id == conv.id,
                                                                                QuestionAnswer.user_id == user.id))}
    count = dict.fromkeys((q.key for q in questions), 0)
    for a in session.scalars(select(QuestionAnswer).where(QuestionAnswer.conversation_id == conv.id)):
        if a.question in count:
            count[a.question] += 1
    rows = [{"q": q, "machine": machine.get(q.key), "mine": mine.get(q.key), "answers": count[q.key]} for q in questions]
    return {"question_rows": rows, "may_answer_questions": may_answer}
