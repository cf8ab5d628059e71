"""The review workbench web app (FastAPI, server-rendered Jinja2 pages in Chinese).

``create_app`` builds the app on a database (migrated to head on start); ``serve`` runs it with
uvicorn (``zhijian serve``). Who may do what is asked of ``permissions``; every change goes
through the workflow in ``review`` / ``users`` (which write the audit log). The pages only read,
render and translate form fields into those calls.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipeline.config import ConfigError, load_config, working_path
from pipeline.workbench import (api, audit, auth, calibration, calibration_pages, case_pages, database, permissions,
                                question_pages, question_stats, question_store, queue, transcript, users)
from pipeline.workbench.ids import parse_id
from pipeline.workbench import review as workflow
from pipeline.workbench.db import ROLES, AuditEntry, Conversation, Dispute, Finding, Review, Run, User

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

ROLE_LABELS = {"admin": "管理员", "supervisor": "质检主管", "inspector": "质检员", "agent": "坐席"}
VERDICT_LABELS = {"confirmed": "确认", "rejected": "误报", "missed": "漏检"}
DISPUTE_KIND_LABELS = {"dispute": "争议", "appeal": "申诉"}
DISPUTE_STATE_LABELS = {"open": "待二次复核", "second_reviewed": "待签核", "upheld": "维持原结果", "overturned": "改判"}
SENTIMENT_LABELS = {"positive": "正面", "neutral": "中性", "negative": "负面"}
SEVERITY_LABELS = {"fatal": "红线", "major": "严重", "minor": "一般", "bonus": "加分"}
COUNTING_STATUSES = ("reviewed", "signed_off")  # the human score counts (docs/WORKBENCH.md "Review states")

CSRF_MESSAGE = "表单校验失败(CSRF 令牌缺失或不匹配):页面可能已过期或来自其他网站。请返回、刷新页面后重新提交。"
NOT_FOUND_MESSAGE = "找不到该会话,或您无权查看。"
GENERIC_DETAILS = {404: "您要找的页面不存在。", 405: "此地址不接受这种请求方式:请从页面上的链接或按钮进入。"}
# No remote origin anywhere: the pages load only their own CSS/JS; no inline script or style.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
NO_SESSION_PREFIXES = ("/static/", "/api/")
LOGIN_BUSY_RETRY_S = 2  # Retry-After when every password-hashing slot is busy
LOGIN_BUSY_PAGE = ('<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>请求过多</title>'
                   '<link rel="stylesheet" href="/static/app.css"></head><body><main><h1>登录请求过多</h1>'
                   '<p>登录请求过多,请稍后几秒再试。</p><p><a href="/login">返回登录页</a></p></main></body></html>')  # bearer-token API and files: no cookie session


class LoginRequired(Exception):
    """Raised by the page dependencies when nobody is logged in: answered with a redirect to /login."""


class FormError(ValueError):
    """A form field that can't be used; the message (Chinese) names the field and what to enter."""


# --- app ---------------------------------------------------------------------------------------------


def create_app(config: dict | None = None, database_url: str | None = None) -> FastAPI:
    """The workbench on the database at ``database_url`` (else env / ``workbench.database_url``)."""
    config = config if config is not None else load_config()
    wb = config["workbench"]
    url = database.database_url(config, database_url)
    engine, factory = database.open_database(url)
    codec = auth.SessionCodec(auth.load_secret_key(working_path(wb["secret_key_file"])), int(wb["session_max_age_s"]))
    try:
        tz = ZoneInfo(wb["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"workbench.timezone: unknown time zone {wb['timezone']!r}; use an IANA name like Asia/Shanghai") from None

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        engine.dispose()

    app = FastAPI(title="zhijian 质检工作台", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    # what the routers (pages here, the real-time API in api.py) share
    app.state.config = config
    app.state.engine = engine
    app.state.session_factory = factory
    app.state.codec = codec
    app.state.session_policy = auth.SessionPolicy.from_config(wb)
    app.state.hash_pool = auth.HashPool(int(wb["login_concurrent_hashes"]))
    app.state.tz = tz
    templates = _templates(tz, config)
    app.state.templates = templates

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _add_session_middleware(app, codec, wb)
    _add_error_handlers(app, templates)
    _add_pages(app)
    calibration_pages.install(app)  # /calibration…: blind calibration sessions (校准)
    case_pages.install(app)  # /cases…: bad reviews handled as cases (差评处理, issue 19)
    question_pages.install(app)  # /questions…, one-click answers: scorecard questions (评分表问题, issue 17)
    api.install(app, config=config, session_factory=factory)  # POST /api/v1/inspect (bearer tokens, no cookies)

    return app


def serve(config: dict | None, host: str | None = None, port: int | None = None, database_url: str | None = None,
          forwarded_allow_ips: str | None = None) -> None:
    """Run the workbench with uvicorn (``zhijian serve``); blocks until stopped."""
    import uvicorn

    config = config if config is not None else load_config()
    wb = config["workbench"]
    app = create_app(config, database_url)
    uvicorn.run(app, host=host or wb["host"], port=int(port or wb["port"]), server_header=False,
                **proxy_settings(wb["forwarded_allow_ips"] if forwarded_allow_ips is None else forwarded_allow_ips))


def proxy_settings(forwarded_allow_ips: str | None) -> dict[str, Any]:
    """uvicorn's proxy options: X-Forwarded-For is believed only from the proxies configured
    (``workbench.forwarded_allow_ips`` / ``--forwarded-allow-ips``); with none, never — otherwise any
    client could pick its own address and step around the per-address login limit."""
    trusted = (forwarded_allow_ips or "").strip()
    if not trusted:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": trusted}


def _templates(tz: ZoneInfo, config: dict) -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    env = templates.env
    mask_char = config["privacy"]["mask_char"]

    def local_time(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
        if value is None:
            return ""
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                return value
        if value.tzinfo is None:  # SQLite gives naive datetimes back; they were written in UTC
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(tz).strftime(fmt)

    def number(value: Any, digits: int = 1) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "—"
        if isinstance(value, (int, float)):
            return f"{value:.{digits}f}".rstrip("0").rstrip(".") if digits else str(round(value))
        return str(value)

    def percent(value: Any) -> str:
        return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.0f}%"

    # every {{ … }} is masked unless marked transcript.Unmasked (an audited reveal): one masking path
    env.finalize = lambda value: transcript.shown_text(value, mask_char)
    env.filters.update(local_time=local_time, number=number, percent=percent,
                       masked=lambda text: transcript.mask_free_text(text, mask_char),
                       unmasked=lambda text: transcript.Unmasked(text) if isinstance(text, str) else text,
                       as_json=lambda v: json.dumps(v, ensure_ascii=False, sort_keys=True))
    env.globals.update(ROLE_LABELS=ROLE_LABELS, VERDICT_LABELS=VERDICT_LABELS, STATUS_LABELS=workflow.STATUS_LABELS,
                       REASON_LABELS=queue.REASON_LABELS, DISPUTE_KIND_LABELS=DISPUTE_KIND_LABELS,
                       DISPUTE_STATE_LABELS=DISPUTE_STATE_LABELS, SENTIMENT_LABELS=SENTIMENT_LABELS,
                       SEVERITY_LABELS=SEVERITY_LABELS, CSRF_FIELD=auth.CSRF_FIELD, urlencode=urlencode)
    return templates


# --- sessions, CSRF, security headers ----------------------------------------------------------------


def _add_session_middleware(app: FastAPI, codec: auth.SessionCodec, wb: dict) -> None:
    secure = bool(wb["secure_cookies"])
    max_age = int(wb["session_max_age_s"])

    @app.middleware("http")
    async def session_and_headers(request: Request, call_next):
        with_session = not request.url.path.startswith(NO_SESSION_PREFIXES)
        if with_session:
            session = codec.loads(request.cookies.get(auth.SESSION_COOKIE))
            before = json.dumps(session, sort_keys=True)  # a new or reset session differs from this: its cookie is set
            if "csrf" not in session:
                session["csrf"] = auth.new_csrf_token()
            request.state.session = session
        response = await call_next(request)
        if with_session:
            session = request.state.session
            if json.dumps(session, sort_keys=True) != before:
                response.set_cookie(auth.SESSION_COOKIE, codec.dumps(session), max_age=max_age, path="/",
                                    secure=secure, httponly=True, samesite="lax")
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        if not request.url.path.startswith("/static/"):
            # pages show conversation data: never kept in a browser or proxy cache
            response.headers["Cache-Control"] = "no-store"
        return response


def _session(request: Request) -> dict:
    return request.state.session


def flash(request: Request, message: str, kind: str = "ok") -> None:
    _session(request).setdefault("flash", []).append([kind, message])


async def checked_form(request: Request) -> Any:
    """The POSTed form, after its CSRF token matched the session's (403 otherwise)."""
    form = await request.form()
    if not auth.csrf_ok(_session(request), form.get(auth.CSRF_FIELD)):
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
    return auth.session_user(db, _session(request), request.app.state.session_policy)


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


def _add_error_handlers(app: FastAPI, templates: Jinja2Templates) -> None:
    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, exc: LoginRequired):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        dest = "/login" if request.method != "GET" or target == "/" else f"/login?next={quote(target, safe='')}"
        return RedirectResponse(dest, status_code=303)

    @app.exception_handler(auth.HashPoolFull)
    async def login_busy(request: Request, exc: auth.HashPoolFull):
        # a flood of logins: the cheapest answer that still tells a person what to do (not counted as a failure)
        return HTMLResponse(LOGIN_BUSY_PAGE, status_code=429, headers={"Retry-After": str(LOGIN_BUSY_RETRY_S)})

    @app.exception_handler(StarletteHTTPException)
    async def error_page(request: Request, exc: StarletteHTTPException):
        if request.url.path.startswith("/api/") or not hasattr(request.state, "session"):
            return await http_exception_handler(request, exc)
        titles = {400: "请求无效", 401: "未登录", 403: "无权访问", 404: "页面不存在", 405: "方法不允许", 409: "操作冲突",
                  429: "请求过多"}
        # the framework's own details are English reason phrases ("Not Found"): say it in Chinese
        ours = isinstance(exc.detail, str) and exc.detail != HTTPStatus(exc.status_code).phrase
        detail = exc.detail if ours else GENERIC_DETAILS.get(exc.status_code, "请求无法完成,请返回上一页重试。")
        return templates.TemplateResponse(
            request, "error.html",
            {"title": titles.get(exc.status_code, "出错了"), "detail": detail, "status": exc.status_code, "user": None,
             "csrf": transcript.Unmasked(_session(request).get("csrf", "")), "flashes": [], "nav": []},
            status_code=exc.status_code, headers=getattr(exc, "headers", None))


# --- helpers used by the pages -----------------------------------------------------------------------


def _nav(user: User | None) -> list[tuple[str, str]]:
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


def render(request: Request, name: str, user: User | None, context: dict[str, Any] | None = None, status: int = 200):
    session = _session(request)
    flashes = session.pop("flash", [])
    base = {"user": user, "csrf": transcript.Unmasked(session["csrf"]), "flashes": flashes, "nav": _nav(user), "path": request.url.path,
            "case_badge": case_pages.badge(request, user)}  # unread 差评 notices
    return request.app.state.templates.TemplateResponse(request, name, {**base, **(context or {})}, status_code=status)


def _home(user: User) -> str:
    return "/queue" if permissions.can(user, "view_queue") and user.role != "inspector" else "/my"


def _safe_next(value: Any, default: str) -> str:
    """Only a path on this site: never an absolute or protocol-relative URL (open redirect)."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return default


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _visible_conversation(db: Session, user: User, conv_id: int | None, inspector_sees: str) -> Conversation:
    conv = db.get(Conversation, conv_id) if conv_id is not None else None
    if conv is None or not permissions.can_view_conversation(user, conv, inspector_sees):
        # the same answer for "doesn't exist" and "not yours": ids reveal nothing
        raise HTTPException(404, NOT_FOUND_MESSAGE)
    return conv


def _field(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _score_field(form: Any, name: str, label: str, *, required: bool, low: float, high: float) -> float | None:
    raw = _field(form, name)
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


def _max_score(config: dict) -> float:
    return float(workflow.scorecard(config).max_score)


def _workflow_errors() -> tuple[type[Exception], ...]:
    return (workflow.WorkflowError, users.UserError, FormError)


def run_action(request: Request, db: Session, action, done: str, target: str, again):
    """Do one workflow step (``action()``): on a workflow or form error roll back and answer ``again(e)``
    (the page once more, with the message); else commit, flash ``done`` and redirect to ``target``."""
    try:
        action()
    except _workflow_errors() as e:
        db.rollback()
        return again(e)
    db.commit()
    flash(request, done)
    return RedirectResponse(target, status_code=303)


def _error_status(e: Exception) -> int:
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
        "disputes": disputes, "reveal": reveal, "score_high": _max_score(config),
        "sees_human": sees_human,
        "human_counts": conv.status in COUNTING_STATUSES and conv.human_score is not None,
        "issue_types": workflow.issue_type_labels(), "decisions": workflow.DECISIONS,
        "can_review": permissions.can_review(user, conv),
        "can_dispute": permissions.can_dispute(user, conv),
        "can_appeal": permissions.can_appeal(user, conv),
        "can_reveal": permissions.can(user, "see_unmasked"),
        "can_assign": permissions.can(user, "assign"),
        "inspectors": _inspectors(db) if permissions.can(user, "assign") else [],
        **question_store.page_context(db, config, user, conv, may_answer=permissions.can(user, "review")),
    }


def _inspectors(db: Session) -> list[User]:
    return list(db.scalars(select(User).where(User.role == "inspector", User.active.is_(True)).order_by(User.username)))


def _conversation_response(request: Request, db: Session, user: User, conv: Conversation, *, reveal: bool = False,
                           error: str | None = None, status: int = 200):
    ctx = conversation_context(db, user, conv, reveal=reveal, config=request.app.state.config)
    ctx["error"] = error
    return render(request, "conversation.html", user, ctx, status)


def _locate(conv: Conversation, turn: int, evidence: str, mask_char: str) -> tuple[int | None, int | None]:
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


def _add_pages(app: FastAPI) -> None:  # noqa: C901 — one route table, read top to bottom
    config = app.state.config
    wb = config["workbench"]
    page_size = int(wb["queue_page_size"])
    mask_char = config["privacy"]["mask_char"]
    inspector_sees = str(wb["inspector_sees"])
    permissions.check_inspector_sees(inspector_sees)  # a bad value fails at start, not on a page

    @app.get("/")
    def home(user: User = Depends(require_login)):
        return RedirectResponse(_home(user), status_code=303)

    # -- login / logout --
    @app.get("/login")
    def login_page(request: Request, user: User | None = Depends(current_user)):
        if user is not None:
            return RedirectResponse(_home(user), status_code=303)
        return render(request, "login.html", None, {"next": _safe_next(request.query_params.get("next"), "")})

    @app.post("/login")
    def login(request: Request, _slot: None = Depends(login_slot), form: Any = Depends(checked_form),
              db: Session = Depends(get_db)):
        username, password = _field(form, "username"), form.get("password") or ""
        nxt = _safe_next(form.get("next"), "")
        ctx = {"next": nxt, "username": username}
        client = _client(request)
        block = _login_block(db, username, client)
        if block is not None:
            wait_s = max(1, math.ceil((block.until - datetime.now(timezone.utc)).total_seconds()))
            resp = render(request, "login.html", None, {**ctx, "error": auth.retry_message(block, tz=app.state.tz)}, 429)
            resp.headers["Retry-After"] = str(wait_s)
            return resp
        if not username or not password:
            return render(request, "login.html", None, {**ctx, "error": "请填写用户名和密码。"}, 400)
        # the read transaction ends before the ~0.1 s hash: its connection goes back to the pool
        user = users.authenticate(db, username, password, app.state.config, release_connection=True)
        auth.record_login_attempt(db, username, client, ok=user is not None)
        if user is None:
            audit.record(db, None, "login.failed", "logins", auth.username_key(username), None, {"client": client})
            db.flush()
            lock = _login_block(db, username, client)
            if lock is not None:
                audit.record(db, None, "login.lock", "logins", auth.username_key(username), None,
                             {"client": client, "by": lock.by, "until": lock.until})
            db.commit()
            return render(request, "login.html", None, {**ctx, "error": "用户名或密码错误,或账号已停用。"}, 401)
        request.state.session = auth.start_session(db, user, client)
        audit.record(db, user, "login", "users", user.id, None, {"client": client})
        db.commit()
        return RedirectResponse(nxt or _home(user), status_code=303)

    def _login_block(db: Session, username: str, client: str) -> auth.LoginBlock | None:
        return auth.login_blocked(db, username, client, max_failures_per_user=int(wb["login_max_failures"]),
                                  max_failures_per_client=int(wb["login_max_failures_per_client"]),
                                  window_s=int(wb["login_window_s"]))

    @app.post("/logout")
    def logout(request: Request, form: Any = Depends(checked_form), db: Session = Depends(get_db)):
        uid = auth.end_session(db, _session(request))
        if uid is not None:
            audit.record(db, db.get(User, uid), "logout", "users", uid, None, {"client": _client(request)})
        db.commit()
        request.state.session = {"csrf": auth.new_csrf_token(), "flash": [["ok", "您已退出登录。"]]}
        return RedirectResponse("/login", status_code=303)

    # -- queue and my items --
    @app.get("/queue")
    def queue_view(request: Request, user: User = Depends(require("view_queue")), db: Session = Depends(get_db)):
        filters = queue.parse_filters(request.query_params)
        page = queue.queue_page(db, user, filters, page_size, inspector_sees=inspector_sees)
        ctx = {"filters": filters, "page": page, "options": queue.filter_options(db, user, inspector_sees), "sorts": queue.SORTS,
               "grades": queue.GRADES, "statuses": workflow.STATUS_LABELS,
               "can_assign": permissions.can(user, "assign"),
               "inspectors": _inspectors(db) if permissions.can(user, "assign") else [],
               "assignees": _assignee_names(db, page.items)}
        return render(request, "queue.html", user, ctx, 400 if filters.errors else 200)

    @app.post("/queue/assign")
    def assign(request: Request, user: User = Depends(require("assign")), form: Any = Depends(checked_form),
               db: Session = Depends(get_db)):
        back = _safe_next(form.get("next"), "/queue")
        try:
            ids = [i for i in map(parse_id, form.getlist("conv_ids")) if i is not None]
            if not ids:
                raise FormError("请先勾选要分配的会话")
            convs = [_visible_conversation(db, user, i, inspector_sees) for i in ids]
            if form.get("mode") == "round_robin":
                chosen = [i for i in map(parse_id, form.getlist("inspectors")) if i is not None]
                pool = [u for u in _inspectors(db) if not chosen or u.id in chosen]
                if not pool:
                    raise FormError("没有可分配的在岗质检员:请先在「用户」页创建质检员账号")
                workflow.assign_round_robin(db, [c.id for c in convs], pool, actor=user)
                msg = f"已将 {len(convs)} 条会话轮流分配给 {len(pool)} 位质检员。"
            else:
                target = _field(form, "inspector")
                inspector = db.get(User, parse_id(target)) if parse_id(target) is not None else None
                if inspector is None or not inspector.active or not permissions.can(inspector, "review"):
                    raise FormError("请选择一位在岗的质检员")
                workflow.assign(db, [c.id for c in convs], inspector, actor=user)
                msg = f"已将 {len(convs)} 条会话分配给 {inspector.display_name or inspector.username}。"
        except _workflow_errors() as e:
            db.rollback()
            flash(request, str(e), "error")
            return RedirectResponse(back, status_code=303)
        db.commit()
        flash(request, msg)
        return RedirectResponse(back, status_code=303)

    @app.get("/my")
    def my_items(request: Request, user: User = Depends(require_login), db: Session = Depends(get_db)):
        filters = queue.parse_filters(request.query_params)
        if user.role == "agent":
            # an agent's list is all their results, reviewed or not (permissions limit it to their own)
            filters.status = filters.status if "status" in request.query_params else "all"
        else:
            filters.assignee = user.id
        page = queue.queue_page(db, user, filters, page_size, flagged_only=False, inspector_sees=inspector_sees)
        return render(request, "my.html", user, {"filters": filters, "page": page, "statuses": workflow.STATUS_LABELS,
                                                 "calibration_tasks": calibration.open_tasks(db, user)})

    # -- one conversation --
    @app.get("/conversations/{conv_id:id}")
    def conversation(request: Request, conv_id: int, user: User = Depends(require_login), db: Session = Depends(get_db)):
        conv = _visible_conversation(db, user, conv_id, inspector_sees)
        return _conversation_response(request, db, user, conv)

    @app.post("/conversations/{conv_id:id}/reveal")
    def reveal(request: Request, conv_id: int, user: User = Depends(require("see_unmasked")),
               form: Any = Depends(checked_form), db: Session = Depends(get_db)):
        conv = _visible_conversation(db, user, conv_id, inspector_sees)
        reason = _field(form, "reason")
        if not reason:
            return _conversation_response(request, db, user, conv, error="请填写查看个人信息的理由(记入审计日志)。", status=400)
        workflow.reveal_pii(db, conv, user, reason)
        db.commit()
        # shown once, in this response only (no-store): reloading the page masks again
        return _conversation_response(request, db, user, conv, reveal=True)

    def _conversation_action(request: Request, db: Session, user: User, conv: Conversation, action, done: str, anchor: str = ""):
        def again(e: Exception):
            db.refresh(conv)
            return _conversation_response(request, db, user, conv, error=str(e), status=_error_status(e))

        return run_action(request, db, action, done, f"/conversations/{conv.id}{anchor}", again)

    @app.post("/conversations/{conv_id:id}/verdict")
    def verdict(request: Request, conv_id: int, user: User = Depends(require("review")), form: Any = Depends(checked_form),
                db: Session = Depends(get_db)):
        conv = _visible_conversation(db, user, conv_id, inspector_sees)

        def act():
            fid = _field(form, "finding_id")
            finding = db.get(Finding, parse_id(fid)) if parse_id(fid) is not None else None
            if finding is None or finding.conversation_id != conv.id:
                raise FormError("该发现不属于这条会话:请刷新页面后重试")
            value = _field(form, "verdict")
            if value not in ("confirmed", "rejected"):
                raise FormError("请选择「确认」或「误报」")
            rv = workflow.start_review(db, conv, user)
            workflow.set_verdict(db, rv, finding, value, _field(form, "comment") or None, actor=user)

        return _conversation_action(request, db, user, conv, act, "已保存判定。", f"#f-{_field(form, 'finding_id')}")

    @app.post("/conversations/{conv_id:id}/missed")
    def missed(request: Request, conv_id: int, user: User = Depends(require("review")), form: Any = Depends(checked_form),
               db: Session = Depends(get_db)):
        conv = _visible_conversation(db, user, conv_id, inspector_sees)

        def act():
            rule = _field(form, "rule")
            if not rule:
                raise FormError("请填写漏检的规则编号,例如 forbidden.phrase")
            raw_turn = _field(form, "turn")
            turn_no = parse_id(raw_turn)
            if turn_no is None or turn_no > len(conv.turns):
                raise FormError(f"句子序号「{raw_turn}」无效:请填写 1–{len(conv.turns)} 之间的整数")
            turn = turn_no - 1
            start, end = _locate(conv, turn, _field(form, "evidence"), mask_char)
            top = _max_score(config)
            points = _score_field(form, "points", "分值", required=True, low=-top, high=top)
            severity = _field(form, "severity") or None
            if severity is not None and severity not in SEVERITY_LABELS:
                raise FormError("严重度请从下拉列表中选择")
            rv = workflow.start_review(db, conv, user)
            workflow.add_missed_finding(db, rv, rule=rule, turn=turn, start=start, end=end, points=points,
                                      comment=_field(form, "comment") or None, actor=user,
                                      category=_field(form, "category") or None, severity=severity, config=config)

        return _conversation_action(request, db, user, conv, act, "已添加漏检。", "#review")

    @app.post("/conversations/{conv_id:id}/missed/{finding_id:id}/delete")
    def remove_missed(request: Request, conv_id: int, finding_id: int, user: User = Depends(require("review")),
                      form: Any = Depends(checked_form), db: Session = Depends(get_db)):
        conv = _visible_conversation(db, user, conv_id, inspector_sees)

        def act():
            finding = db.get(Finding, finding_id)
            if finding is None or finding.conversation_id != conv.id:
                raise FormError("该漏检不属于这条会话:请刷新页面后重试")
            workflow.remove_missed_finding(db, workflow.start_review(db, conv, user), finding, actor=user)

        return _conversation_action(request, db, user, conv, act, "已删除这条漏检。", "#review")

    @app.post("/conversations/{conv_id:id}/submit")
    def submit(request: Request, conv_id: int, user: User = Depends(require("review")), form: Any = Depends(checked_form),
               db: Session = Depends(get_db)):
        conv = _visible_conversation(db, user, conv_id, inspector_sees)

        def act():
            score = _score_field(form, "human_score", "人工得分", required=False, low=0, high=_max_score(config))
            sentiment = _field(form, "sentiment") or None
            if sentiment is not None and sentiment not in SENTIMENT_LABELS:
                raise FormError("情绪请选择 正面 / 中性 / 负面,或留空")
            rv = workflow.start_review(db, conv, user)
            workflow.submit_review(db, rv, human_score=score, issue_type=_field(form, "issue_type") or None, sentiment=sentiment,
                                 comment=_field(form, "comment") or None, actor=user, config=config)

        return _conversation_action(request, db, user, conv, act, "复核已提交。")

    @app.post("/conversations/{conv_id:id}/dispute")
    def dispute(request: Request, conv_id: int, user: User = Depends(require("dispute")), form: Any = Depends(checked_form),
                db: Session = Depends(get_db)):
        conv = _visible_conversation(db, user, conv_id, inspector_sees)
        return _open_dispute(request, db, user, conv, form, "dispute")

    @app.post("/conversations/{conv_id:id}/appeal")
    def appeal(request: Request, conv_id: int, user: User = Depends(require("appeal")), form: Any = Depends(checked_form),
               db: Session = Depends(get_db)):
        conv = _visible_conversation(db, user, conv_id, inspector_sees)
        return _open_dispute(request, db, user, conv, form, "appeal")

    def _open_dispute(request, db, user, conv, form, kind):

        def act():
            reason = _field(form, "reason")
            if not reason:
                raise FormError(f"请填写{DISPUTE_KIND_LABELS[kind]}理由")
            workflow.open_dispute(db, conv, kind, reason, actor=user)

        done = "申诉已提交,将由另一位质检员独立复核后由质检主管签核。" if kind == "appeal" else "已提出争议,等待第二位质检员复核。"
        return _conversation_action(request, db, user, conv, act, done)

    # -- disputes (supervisor) --
    @app.get("/disputes")
    def disputes(request: Request, user: User = Depends(require("sign_off")), db: Session = Depends(get_db)):
        state = request.query_params.get("state") or "active"
        q = select(Dispute, Conversation).join(Conversation, Conversation.id == Dispute.conversation_id)
        if state == "active":
            q = q.where(Dispute.state.in_(("open", "second_reviewed")))
        elif state in DISPUTE_STATE_LABELS:
            q = q.where(Dispute.state == state)
        # waiting for a sign-off first, then oldest first
        rows = db.execute(q.order_by((Dispute.state == "second_reviewed").desc(), Dispute.created_at, Dispute.id)).all()
        people = {u.id: u for u in db.scalars(select(User))}
        rounds = _round_scores(db, [c.id for _, c in rows])
        return render(request, "disputes.html", user, {"rows": rows, "state": state, "people": people, "rounds": rounds,
                                                       "inspectors": _inspectors(db), "decisions": workflow.DECISIONS})

    @app.post("/disputes/{dispute_id:id}/sign-off")
    def sign_off(request: Request, dispute_id: int, user: User = Depends(require("sign_off")),
                 form: Any = Depends(checked_form), db: Session = Depends(get_db)):
        d = db.get(Dispute, dispute_id)
        if d is None:
            raise HTTPException(404, "找不到该争议。")
        conv = _visible_conversation(db, user, d.conversation_id, inspector_sees)
        fields = {k: _field(form, k) for k in ("decision", "final_score", "comment")}
        try:
            final = _score_field(form, "final_score", "最终得分", required=False, low=0, high=_max_score(config))
            if fields["decision"] not in workflow.DECISIONS:
                raise FormError("请选择签核结论:维持原结果或改判")
            if form.get("confirm") != "yes":
                # irreversible: first show what will be recorded, then sign off on a second, explicit click
                plan = workflow.plan_sign_off(db, d, decision=fields["decision"], final_score=final, comment=fields["comment"],
                                              config=config)
                return render(request, "sign_off_confirm.html", user, {"d": d, "c": conv, "plan": plan, "fields": fields,
                                                                        "decisions": workflow.DECISIONS})
            d = workflow.sign_off(db, d, final_score=final, decision=fields["decision"], comment=fields["comment"] or None,
                                  actor=user, config=config)
        except _workflow_errors() as e:
            db.rollback()
            flash(request, str(e), "error")
            return RedirectResponse(f"/disputes#d-{dispute_id}", status_code=303)
        db.commit()
        flash(request, f"会话 {conv.ext_id} 已签核({workflow.DECISIONS[d.state]}),最终得分 {d.final_score:g}。")
        return RedirectResponse("/disputes", status_code=303)

    # -- agreement --
    @app.get("/agreement")
    def agreement(request: Request, user: User = Depends(require("view_agreement")), db: Session = Depends(get_db)):
        from pipeline.trust import STATUS_LABELS
        from pipeline.workbench import labels, trust

        precision = trust.rule_trust(db, config)
        return render(request, "agreement.html", user, {
            "columns": list(precision.columns), "rows": precision.to_dict("records"), "scores": labels.score_agreement(db, config=config),
            "trust": trust.trust_summary(db, precision, config), "status_labels": STATUS_LABELS,
            "question_rows": question_stats.question_agreement(db, config)})

    # -- users (admin) --
    @app.get("/users")
    def users_page(request: Request, user: User = Depends(require("manage_users")), db: Session = Depends(get_db)):
        return _users_response(request, db, user)

    def _users_response(request, db, user, error=None, form=None, status=200):
        people = list(db.scalars(select(User).order_by(User.active.desc(), User.role, User.username)))
        locked = {p.id: b for p in people if (b := _login_block(db, p.username, "")) is not None and b.by == "username"}
        return render(request, "users.html", user, {"people": people, "roles": ROLES, "error": error, "form": form or {},
                                                    "min_password": int(wb["password_min_length"]),
                                                    "sessions": auth.active_sessions(db), "locked": locked}, status)

    @app.post("/users")
    def create_user(request: Request, user: User = Depends(require("manage_users")), form: Any = Depends(checked_form),
                    db: Session = Depends(get_db)):
        fields = {k: _field(form, k) for k in ("username", "display_name", "role", "agent_id", "team")}
        try:
            created = users.create_user(db, fields["username"], form.get("password") or "", fields["role"],
                                        display_name=fields["display_name"], agent_id=fields["agent_id"] or None,
                                        team=fields["team"] or None, actor=user, config=app.state.config)
        except users.UserError as e:
            db.rollback()
            return _users_response(request, db, user, error=str(e), form=fields, status=400)
        db.commit()
        flash(request, f"已创建用户 {created.username}({ROLE_LABELS[created.role]})。")
        return RedirectResponse("/users", status_code=303)

    @app.post("/users/{user_id:id}/deactivate")
    def deactivate(request: Request, user_id: int, user: User = Depends(require("manage_users")),
                   form: Any = Depends(checked_form), db: Session = Depends(get_db)):
        target = _target_user(db, user_id)
        if target.id == user.id:
            flash(request, "不能停用自己的账号:请让另一位管理员操作。", "error")
            return RedirectResponse("/users", status_code=303)
        users.set_active(db, target, False, actor=user)
        return _users_done(request, db, f"已停用用户 {target.username};其登录立即失效。")

    def _target_user(db: Session, user_id: int) -> User:
        target = db.get(User, user_id)
        if target is None:
            raise HTTPException(404, "找不到该用户。")
        return target

    def _users_done(request: Request, db: Session, message: str):
        db.commit()
        flash(request, message)
        return RedirectResponse("/users", status_code=303)

    @app.post("/users/{user_id:id}/sign-out")
    def sign_out_everywhere(request: Request, user_id: int, user: User = Depends(require("manage_users")),
                            form: Any = Depends(checked_form), db: Session = Depends(get_db)):
        target = _target_user(db, user_id)
        ended = users.sign_out_everywhere(db, target, actor=user)
        return _users_done(request, db, f"已结束用户 {target.username} 的 {ended} 处登录。")

    @app.post("/users/{user_id:id}/unlock")
    def unlock(request: Request, user_id: int, user: User = Depends(require("manage_users")),
               form: Any = Depends(checked_form), db: Session = Depends(get_db)):
        target = _target_user(db, user_id)
        users.unlock_user(db, target.username, actor=user)
        return _users_done(request, db, f"已解除用户 {target.username} 的登录锁定。")

    # -- audit log --
    @app.get("/audit")
    def audit_log(request: Request, user: User = Depends(require("view_audit")), db: Session = Depends(get_db)):
        params = request.query_params
        q = select(AuditEntry)
        entity, action, who = params.get("entity") or "", params.get("action") or "", params.get("user") or ""
        if entity:
            q = q.where(AuditEntry.entity == entity)
        if params.get("entity_id"):
            q = q.where(AuditEntry.entity_id == params["entity_id"])
        if action:
            q = q.where(AuditEntry.action == action)
        if parse_id(who) is not None:
            q = q.where(AuditEntry.user_id == parse_id(who))
        total = db.scalar(select(func.count()).select_from(q.subquery())) or 0
        pages = max(1, math.ceil(total / page_size))
        page = min(parse_id(params.get("page")) or 1, pages)
        entries = db.scalars(q.order_by(AuditEntry.id.desc()).limit(page_size).offset((page - 1) * page_size)).all()
        people = {u.id: u for u in db.scalars(select(User))}
        actions = list(db.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))
        entities = list(db.scalars(select(AuditEntry.entity).distinct().order_by(AuditEntry.entity)))
        return render(request, "audit.html", user, {
            "entries": entries, "people": people, "page": page, "pages": pages, "total": total, "actions": actions,
            "entities": entities, "f": {"entity": entity, "action": action, "user": who, "entity_id": params.get("entity_id") or ""}})


def _assignee_names(db: Session, convs: list[Conversation]) -> dict[int, str]:
    ids = {c.assignee_id for c in convs if c.assignee_id}
    if not ids:
        return {}
    return {u.id: u.display_name or u.username for u in db.scalars(select(User).where(User.id.in_(ids)))}


def _round_scores(db: Session, conv_ids: list[int]) -> dict[tuple[int, int], Review]:
    """The submitted review of each round per conversation, for the sign-off form."""
    if not conv_ids:
        return {}
    out = {}
    for r in db.scalars(select(Review).where(Review.conversation_id.in_(conv_ids), Review.submitted_at.is_not(None))
                        .order_by(Review.submitted_at)):
        out[(r.conversation_id, r.round)] = r
    return out
