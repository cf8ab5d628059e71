"""The review queue: flagged conversations filtered, sorted and paged, limited to what the user may see.

Filters come from the page's query string; a value that can't be used is reported back (in
Chinese, naming the field and what to enter) instead of being silently ignored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date
from typing import Any

from sqlalchemy import String, cast, exists, func, select
from sqlalchemy.orm import Session

from pipeline import review_flags
from pipeline.workbench.ids import parse_id
from pipeline.workbench.db import STATUSES, Conversation, Finding, User
from pipeline.workbench.permissions import visible_conversations

SORTS = {"risk": "风险", "score": "得分(低→高)", "date": "日期(新→旧)"}
OPEN_STATUSES = ("pending", "assigned", "disputed", "second_reviewed")  # still needs someone's work
REASON_LABELS = review_flags.REASON_LABELS
GRADES = ("优", "良", "中", "差")


@dataclass
class QueueFilters:
    date_from: date | None = None
    date_to: date | None = None
    team: str | None = None
    agent: str | None = None
    rule: str | None = None
    grade: str | None = None
    reason: str | None = None
    confidence_below: float | None = None
    status: str = "open"  # "open" (OPEN_STATUSES), "all", or one of STATUSES
    assignee: int | None = None
    sort: str = "risk"
    page: int = 1
    errors: list[str] = field(default_factory=list)

    def query_string(self, **change: Any) -> dict[str, str]:
        """The filters as query parameters (for paging and sort links), with ``change`` applied."""
        out = {}
        for f in fields(self):
            if f.name == "errors":
                continue
            v = change.get(f.name, getattr(self, f.name))
            if v is not None and v != "":
                out[f.name] = v.isoformat() if isinstance(v, date) else str(v)
        return out


def _text(params: Mapping[str, str], key: str) -> str | None:
    v = (params.get(key) or "").strip()
    return v or None


def parse_filters(params: Mapping[str, str]) -> QueueFilters:
    """Filters from the query string; unusable values are left out and explained in ``errors``."""
    f = QueueFilters(team=_text(params, "team"), agent=_text(params, "agent"), rule=_text(params, "rule"))
    for key, label in (("date_from", "开始日期"), ("date_to", "结束日期")):
        v = _text(params, key)
        if v:
            try:
                setattr(f, key, date.fromisoformat(v))
            except ValueError:
                f.errors.append(f"{label}「{v}」不是日期:请按 YYYY-MM-DD 填写,例如 2026-11-23")
    if f.date_from and f.date_to and f.date_from > f.date_to:
        f.errors.append(f"开始日期 {f.date_from} 晚于结束日期 {f.date_to}:请交换两个日期")
    grade = _text(params, "grade")
    if grade:
        if grade in GRADES:
            f.grade = grade
        else:
            f.errors.append(f"等级「{grade}」无效:请选择 {' / '.join(GRADES)}")
    reason = _text(params, "reason")
    if reason:
        if reason in REASON_LABELS:
            f.reason = reason
        else:
            f.errors.append(f"复核原因「{reason}」无效:请从下拉列表中选择")
    conf = _text(params, "confidence_below")
    if conf:
        try:
            value = float(conf)
        except ValueError:
            value = math.nan
        if 0 < value <= 1:
            f.confidence_below = value
        else:
            f.errors.append(f"模型置信度低于「{conf}」无效:请填写 0 到 1 之间的小数,例如 0.5")
    status = _text(params, "status") or "open"
    if status in ("open", "all") or status in STATUSES:
        f.status = status
    else:
        f.errors.append(f"状态「{status}」无效:请从下拉列表中选择")
    assignee = _text(params, "assignee")
    if assignee:
        if parse_id(assignee) is not None:
            f.assignee = parse_id(assignee)
        else:
            f.errors.append(f"质检员「{assignee}」无效:请从下拉列表中选择")
    sort = _text(params, "sort") or "risk"
    if sort in SORTS:
        f.sort = sort
    else:
        f.errors.append(f"排序「{sort}」无效:可选 {' / '.join(SORTS)}")
    page = _text(params, "page") or "1"
    f.page = parse_id(page) or 1
    return f


@dataclass
class QueuePage:
    items: list[Conversation]
    total: int
    page: int
    pages: int
    page_size: int


def _filtered(user: User, f: QueueFilters, flagged_only: bool, inspector_sees: str):
    q = visible_conversations(select(Conversation), user, inspector_sees)
    if flagged_only:
        q = q.where(Conversation.review_needed.is_(True))
    if f.date_from:
        q = q.where(Conversation.day >= f.date_from.isoformat())
    if f.date_to:
        q = q.where(Conversation.day <= f.date_to.isoformat())
    if f.team:
        q = q.where(Conversation.team == f.team)
    if f.agent:
        q = q.where(Conversation.agent_id == f.agent)
    if f.grade:
        q = q.where(Conversation.machine_grade == f.grade)
    if f.rule:
        q = q.where(exists().where(Finding.conversation_id == Conversation.id, Finding.rule == f.rule))
    if f.reason:
        # the reasons are a JSON list of ids; its text holds "id" with the quotes for exactly the listed ids
        q = q.where(cast(Conversation.review_reasons, String).contains(f'"{f.reason}"', autoescape=True))
    if f.confidence_below is not None:
        q = q.where(Conversation.min_model_confidence < f.confidence_below)
    if f.status == "open":
        q = q.where(Conversation.status.in_(OPEN_STATUSES))
    elif f.status != "all":
        q = q.where(Conversation.status == f.status)
    if f.assignee is not None:
        q = q.where(Conversation.assignee_id == f.assignee)
    return q


def queue_page(db: Session, user: User, f: QueueFilters, page_size: int, *, flagged_only: bool = True,
               inspector_sees: str = "queue") -> QueuePage:
    """One page of the queue for ``user``: risk (default, highest first), score (lowest first) or date (newest first)."""
    q = _filtered(user, f, flagged_only, inspector_sees)
    total = db.scalar(select(func.count()).select_from(q.order_by(None).subquery())) or 0
    order = {
        "risk": (Conversation.risk.desc(), Conversation.machine_score.asc()),
        "score": (Conversation.machine_score.asc(), Conversation.risk.desc()),
        "date": (Conversation.started_at.desc().nulls_last(),),  # the same on SQLite and PostgreSQL (their NULL defaults differ)
    }[f.sort]
    pages = max(1, math.ceil(total / page_size))
    page = min(f.page, pages)
    # the id last: a stable order, so paging never shows a row twice or skips one
    items = db.scalars(q.order_by(*order, Conversation.id.asc()).limit(page_size).offset((page - 1) * page_size)).all()
    return QueuePage(list(items), total, page, pages, page_size)


def filter_options(db: Session, user: User, inspector_sees: str = "queue") -> dict[str, list[Any]]:
    """The values the filter drop-downs offer: only what occurs among the conversations the user may see."""
    visible = visible_conversations(select(Conversation.id), user, inspector_sees).subquery()

    def values(col):
        return list(db.scalars(select(col).distinct().where(Conversation.id.in_(select(visible.c.id)), col.is_not(None)).order_by(col)))

    agents = db.execute(
        select(Conversation.agent_id, func.max(Conversation.agent_name)).where(
            Conversation.id.in_(select(visible.c.id)), Conversation.agent_id.is_not(None))
        .group_by(Conversation.agent_id).order_by(Conversation.agent_id)
    ).all()
    rules = db.scalars(select(Finding.rule).distinct().where(Finding.conversation_id.in_(select(visible.c.id))).order_by(Finding.rule)).all()
    return {"teams": values(Conversation.team), "agents": [(a, n or "") for a, n in agents], "rules": list(rules)}
