"""What every page of the workbench shares: the request's session and form, the database and user
dependencies, rendering, the form-field readers, the one way a workflow step is run and answered,
and the conversation page's context (pages.py, calibration_pages.py, case_pages.py, question_pages.py).

``app.create_app`` wires these into the app; nothing here holds state of its own — the app's state
(configuration, session factory, templates) comes with each request.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..cases import service as case_service
from . import auth, permissions, question_store, transcript, users
from . import review as workflow
from .db import Conversation, Dispute, Run, User

ROLE_LABELS = {"admin": "管理员", "supervisor": "质检主管", "inspector": "质检员", "agent": "坐席"}
VERDICT_LABELS = {"confirmed": "确认", "rejected": "误报", "missed": "漏检"}
DISPUTE_KIND_LABELS = {"dispute": "争议", "appeal": "申诉"}
DISPUTE_STATE_LABELS = {"open": "待二次复核", "second_reviewed": "待签核", "upheld": "维持原结果", "overturned": "改判"}
SENTIMENT_LABELS = {"positive": "正面", "neutral": "中性", "negative": "负面"}
SEVERITY_LABELS = {"fatal": "红线", "major": "严重", "minor": "一般", "bonus": "加分"}
COUNTING_STATUSES = ("reviewed", "signed_off")  # the human score counts (docs/WORKBENCH.md "Review states")

CSRF_MESSAGE = "表单校验失败(CSRF 令牌缺失或不匹配):页面可能已过期或来自其他网站。请返回、刷新页面后重新提交。"
NOT_FOUND_MESSAGE = "找不到该会话,或您无权查看。"


class LoginRequired(Exception):
    """Raised by the page dependencies when nobody is logged in: answered with a redirect to /login."""


class FormError(ValueError):
    """A form field that can't be used; the message (Chinese) names the field and what to enter."""



def session_of(request: Request) -> dict:
    return request.state.session


def flash(request: Request, message: str, kind: str = "ok") -> None:
    session_of(request).setdefault("flash", []).append([kind, message])


async def checked_form(request: Request) -> Any:
    """The POSTed form, after its CSRF token matched the session's (403 otherwise)."""
    form = await request.form()
    if not auth.csrf_ok(session_of(request), form.get(auth.CSRF_FIELD)):
        raise HTTPException(403, CSRF_MESSAGE)
    return form


# --- database and user dependencies ------------------------------------------------------------------


def get_db(request: Request) -> Iterator[Session]:
    """A session per request; handlers that change data commit themselves (before the response)."""
    db = request.app.state.session_factory()
    try:
        yield db
    finally:
        db.rollback()
        db.close()


def current_user(request: Request, db: Session = Depends(get_db)) -> User | None:
    return auth.session_user(db, session_of(request), request.app.state.session_policy)


def login_slot(request: Request) -> Iterator[None]:
    """POST /login's first dependency, resolved before its form is read: a slot of the password-hashing
    pool for the whole login, or ``auth.HashPoolFull`` — answered 429 at once (``login_busy``),
    before any form parsing, database work, template or hash, so a flood costs the pages little."""
    with request.app.state.hash_pool.slot():
        yield


def require_login(user: User | None = Depends(current_user)) -> User:
    if user is None:
        raise LoginRequired()
    return user


def require(action: str):
    """A dependency: the logged-in user, who must be allowed ``action`` (403 otherwise)."""

    def dependency(user: User = Depends(require_login)) -> User:
        if not permissions.can(user, action):
            raise HTTPException(403, f"您的角色({ROLE_LABELS.get(user.role, user.role)})无权进行此操作。如需权限请联系管理员。")
        return user

    dependency.__name__ = f"require_{action}"
    return dependency



def nav_items(user: User | None) -> list[tuple[str, str]]:
    if user is None:
        return []
    items = []
    if permissions.can(user, "view_queue"):
        items.append(("/queue", "队列"))
    items.append(("/my", "我的会话" if user.role == "agent" else "我的任务"))
    if permissions.can(user, "view_queue"):
        items.append(("/questions", "评分表问题"))
    if permissions.can(user, "sign_off"):
        items.append(("/disputes", "争议"))
    if permissions.can(user, "view_agreement"):
        items.append(("/agreement", "一致性"))
    if permissions.can(user, "calibrate"):
        items.append(("/calibration", "校准"))
    if permissions.can(user, "view_cases"):
        items.append(("/cases", "我的差评" if user.role == "agent" else "差评"))
    if permissions.can(user, "manage_users"):
        items.append(("/users", "用户"))
    if permissions.can(user, "view_audit"):
        items.append(("/audit", "审计"))
    return items


def case_badge(request: Request, user: User | None) -> int:
    """Unread case notices of ``user`` (the nav badge); 0 for those who don't handle cases."""
    if user is None or not permissions.can(user, "view_cases"):
        return 0
    with request.app.state.session_factory() as db:
        return case_service.unread_count(db, user)


def render(request: Request, name: str, user: User | None, context: dict[str, Any] | None = None, status: int = 200):
    session = session_of(request)
    flashes = session.pop("flash", [])
    base = {"user": user, "csrf": transcript.Unmasked(session["csrf"]), "flashes": flashes, "nav": nav_items(user), "path": request.url.path,
            "case_badge": case_badge(request, user)}  # unread 差评 notices
    return request.app.state.templates.TemplateResponse(request, name, {**base, **(context or {})}, status_code=status)


def home_path(user: User) -> str:
    return "/queue" if permissions.can(user, "view_queue") and user.role != "inspector" else "/my"


def safe_next(value: Any, default: str) -> str:
    """Only a path on this site: never an absolute or protocol-relative URL (open redirect)."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return default


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def visible_conversation(db: Session, user: User, conv_id: int | None, inspector_sees: str) -> Conversation:
    conv = db.get(Conversation, conv_id) if conv_id is not None else None
    if conv is None or not permissions.can_view_conversation(user, conv, inspector_sees):
        # the same answer for "doesn't exist" and "not yours": ids reveal nothing
        raise HTTPException(404, NOT_FOUND_MESSAGE)
    return conv


def form_field(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def score_field(form: Any, name: str, label: str, *, required: bool, low: float, high: float) -> float | None:
    raw = form_field(form, name)
    if not raw:
        if required:
            raise FormError(f"请填写{label}({low:g}–{high:g} 之间的数)")
        return None
    try:
        value = float(raw)
    except ValueError:
        raise FormError(f"{label}「{raw}」不是数字:请填写 {low:g}–{high:g} 之间的数") from None
    if not low <= value <= high or math.isnan(value):
        raise FormError(f"{label} {raw} 超出范围:请填写 {low:g}–{high:g} 之间的数")
    return value


def max_score(config: dict) -> float:
    return float(workflow.scorecard(config).max_score)


def workflow_errors() -> tuple[type[Exception], ...]:
    return (workflow.WorkflowError, users.UserError, FormError)


def run_action(request: Request, db: Session, action, done: str, target: str, again):
    """Do one workflow step (``action()``): on a workflow or form error roll back and answer ``again(e)``
    (the page once more, with the message); else commit, flash ``done`` and redirect to ``target``."""
    try:
        action()
    except workflow_errors() as e:
        db.rollback()
        return again(e)
    db.commit()
    flash(request, done)
    return RedirectResponse(target, status_code=303)


def error_status(e: Exception) -> int:
    """400: a form field to fix; 403: the role or relation doesn't allow it; 409: not in this state."""
    if isinstance(e, (FormError, users.UserError)):
        return 400
    return 403 if isinstance(e, workflow.NotAllowed) else 409


# --- the conversation page ---------------------------------------------------------------------------


def conversation_context(db: Session, user: User, conv: Conversation, *, reveal: bool, config: dict) -> dict[str, Any]:
    """What the conversation page shows ``user``: round 2 stays independent (workflow.visible_*)."""
    mask_char = config["privacy"]["mask_char"]
    findings = workflow.visible_findings(db, conv, user)
    views, loose = transcript.build_transcript(conv, findings, reveal=reveal, mask_char=mask_char)
    reviews = workflow.visible_reviews(db, conv, user)
    my_draft = next((r for r in reviews if r.reviewer_id == user.id and r.submitted_at is None), None)
    people = {conv.assignee_id, *(r.reviewer_id for r in reviews)} - {None}
    reviewer_names = {u.id: u.display_name or u.username for u in db.scalars(select(User).where(User.id.in_(people)))}
    my_verdicts = {v.finding_id: v for v in (my_draft.verdicts if my_draft else [])}
    disputes = list(db.scalars(select(Dispute).where(Dispute.conversation_id == conv.id).order_by(Dispute.id)))
    if user.role == "agent":
        disputes = [d for d in disputes if d.raised_by == user.id]
    sees_human = workflow.can_see_human_result(db, conv, user)
    return {
        "conv": conv, "run": db.get(Run, conv.run_id), "findings": findings, "turns": views, "loose_findings": loose,
        "finding_index": {f.id: n + 1 for n, f in enumerate(findings)},
        "fatal_items": set((conv.score_detail or {}).get("fatal") or []),  # 红线 items: the finding reads 红线 → 0
        "evidence": {f.id: transcript.shown_evidence(conv, f, reveal=reveal, mask_char=mask_char) for f in findings},
        "reviews": reviews, "reviewer_names": reviewer_names, "my_draft": my_draft, "my_verdicts": my_verdicts,
        "suggested": workflow.suggested_score(db, my_draft, config) if my_draft else None,
        "disputes": disputes, "reveal": reveal, "score_high": max_score(config),
        "sees_human": sees_human,
        "human_counts": conv.status in COUNTING_STATUSES and conv.human_score is not None,
        "issue_types": workflow.issue_type_labels(), "decisions": workflow.DECISIONS,
        "can_review": permissions.can_review(user, conv),
        "can_dispute": permissions.can_dispute(user, conv),
        "can_appeal": permissions.can_appeal(user, conv),
        "can_reveal": permissions.can(user, "see_unmasked"),
        "can_assign": permissions.can(user, "assign"),
        "inspectors": active_inspectors(db) if permissions.can(user, "assign") else [],
        **question_store.page_context(db, config, user, conv, may_answer=permissions.can(user, "review")),
    }


def active_inspectors(db: Session) -> list[User]:
    return list(db.scalars(select(User).where(User.role == "inspector", User.active.is_(True)).order_by(User.username)))


def conversation_response(request: Request, db: Session, user: User, conv: Conversation, *, reveal: bool = False,
                           error: str | None = None, status: int = 200):
    ctx = conversation_context(db, user, conv, reveal=reveal, config=request.app.state.config)
    ctx["error"] = error
    return render(request, "conversation.html", user, ctx, status)


def locate_evidence(conv: Conversation, turn: int, evidence: str, mask_char: str) -> tuple[int | None, int | None]:
    """Offsets of ``evidence`` in the turn's original text (it may be copied from the masked text shown)."""
    if not evidence:
        return None, None
    text = str(conv.turns[turn].get("text") or "")
    masked = "".join(p.text for p in transcript.turn_pieces(text, transcript.pii_spans(conv.pii, turn), [], reveal=False,
                                                           mask_char=mask_char))
    for haystack in (text, masked):
        at = haystack.find(evidence)
        if at >= 0:
            return at, at + len(evidence)
    raise FormError(f"在第 {turn + 1} 句中找不到证据文字「{evidence}」:请从该句原文中复制,或留空(漏检记在整句上)")


# --- pages -------------------------------------------------------------------------------------------
