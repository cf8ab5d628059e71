"""The review workbench web app (FastAPI, server-rendered Jinja2 pages in Chinese).

``create_app`` builds the app on a database (migrated to head on start); ``serve`` runs it with
uvicorn (``zhijian serve``). Who may do what is asked of ``permissions``; every change goes
through the workflow in ``review`` / ``users`` (which write the audit log). The pages (pages.py and
the *_pages.py modules, with what they share in web.py) only read, render and translate form fields
into those calls.
"""

from __future__ import annotations

import json
import math
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipeline.config import ConfigError, load_config, working_path
from pipeline.workbench import api, auth, calibration_pages, case_pages, database, pages, question_pages, queue, transcript
from pipeline.workbench import review as workflow
from pipeline.workbench.web import (DISPUTE_KIND_LABELS, DISPUTE_STATE_LABELS, ROLE_LABELS, SENTIMENT_LABELS, SEVERITY_LABELS,
                                    VERDICT_LABELS, LoginRequired, session_of)

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

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
    pages.install(app)  # login, queue, conversations, disputes, agreement, users, audit
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
             "csrf": transcript.Unmasked(session_of(request).get("csrf", "")), "flashes": [], "nav": []},
            status_code=exc.status_code, headers=getattr(exc, "headers", None))
