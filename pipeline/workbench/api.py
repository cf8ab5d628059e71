"""The real-time API: ``POST /api/v1/inspect`` inspects one conversation over HTTP, ``GET /api/v1/health``.

The request body is one conversation in the SPEC input format; the response is its SPEC output,
produced by the batch's own code: the body goes through ``ingest.read_jsonl`` (as one line of a
JSONL file: same decoding, limits and validator) and ``run.inspect_records`` with the process's
:class:`~pipeline.run.Inspector`, and is serialized like a line of ``results.jsonl``. A record the
batch would reject answers 422 with the reason code and detail it would have written to
``rejects.jsonl``.

Concurrency: one Inspector per process, loaded when the app is built, used by one dedicated thread.
Its stages are not safe to run concurrently (spaCy's vocabulary grows when a Doc is built from new
words, the PII detector builds its pipeline lazily, profiling counters are shared), and the work is
CPU-bound under the GIL, so parallel threads would not be faster anyway. Waiting requests queue on
that thread without holding the event loop or the web pages' thread pool; to use more cores, run
more server processes (``uvicorn --workers N``), each with its own Inspector.

Auth: ``Authorization: Bearer <token>``; the token's sha256 must be in ``api_tokens``, not revoked,
and its user (if any) active. ``last_used_at`` is written at most once per
``workbench.api_token_touch_interval_s``, so a busy client costs a read, not a write, per request.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import Response
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from ..config import load_config
from ..engines import _inspector_for
from ..ingest import Validator, read_jsonl
from ..run import Inspector, RunSummary, inspect_records
from ..schema import ConversationResult, Reject
from .db import User
from .users import find_api_token

SOURCE = "POST /api/v1/inspect"  # what the batch would call the input file, in results' ``source``
JSON = "application/json"
STATE_KEY = "zhijian_api"  # the app.state attribute holding this process's RealtimeService

# The request body is raw bytes read by the endpoint (the batch's decoder parses it), so FastAPI
# cannot derive its schema: this is what the docs at /docs show for it.
_BODY_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {JSON: {"schema": {
            "type": "object",
            "required": ["id", "turns"],
            "description": "one conversation in the SPEC input format (docs: README, input contract)",
            "properties": {
                "id": {"type": "string"},
                "channel": {"type": "string", "enum": ["chat", "phone"]},
                "started_at": {"type": "string", "format": "date-time"},
                "turns": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "required": ["role", "text"],
                    "properties": {"role": {"type": "string"}, "text": {"type": "string"},
                                   "ts": {"type": ["number", "string"]}, "end_ts": {"type": ["number", "string"]}},
                }},
            },
        }}},
    }
}

router = APIRouter(prefix="/api/v1", tags=["real-time"])

# One thread per process runs every inspection (see the module docstring): shared by every app
# built in the process, because they share the Inspector too.
_inspection_thread: ThreadPoolExecutor | None = None


def _inspection_executor() -> ThreadPoolExecutor:
    global _inspection_thread
    if _inspection_thread is None:
        _inspection_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zhijian-inspect")
    return _inspection_thread


@dataclass
class Outcome:
    """One request's answer: the HTTP status and the JSON body."""

    status: int
    body: bytes


class RealtimeService:
    """The process's Inspector and token store, as the endpoints use them."""

    def __init__(self, config: dict, session_factory: sessionmaker[Session]):
        section = config["workbench"]
        self.config = config
        self.session_factory = session_factory
        self.max_body_bytes = int(section["api_max_body_bytes"])
        self.touch_interval_s = float(section["api_token_touch_interval_s"])
        # the batch's per-process Inspector (same cache the local workers use), masking as configured
        self.inspector: Inspector = _inspector_for(config, config["privacy"]["mask"], warm=True)
        self.executor = _inspection_executor()

    # -- auth -----------------------------------------------------------------------------------
    def check_token(self, token: str) -> bool:
        """True when ``token`` is a live API token of an active user (or of no user); records its use, throttled."""
        now = datetime.now(timezone.utc)
        with self.session_factory() as session:
            row = find_api_token(session, token)  # users.py: the one definition of a valid, unrevoked token
            if row is None:
                return False
            if row.user_id is not None and not session.get(User, row.user_id).active:
                return False  # a deactivated person's integrations stop with them
            last = row.last_used_at
            if last is not None and last.tzinfo is None:
                last = last.replace(tzinfo=timezone.utc)  # SQLite hands back naive datetimes (stored as UTC)
            if last is None or (now - last).total_seconds() >= self.touch_interval_s:
                row.last_used_at = now
                session.commit()
        return True

    def database_ok(self) -> bool:
        try:
            with self.session_factory() as session:
                session.execute(text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001 — health reports any failure to reach the database as "unavailable"
            return False

    # -- inspection -----------------------------------------------------------------------------
    def inspect_body(self, body: bytes) -> Outcome:
        """Inspect one request body exactly as the batch inspects one JSONL line. Inspection thread only."""
        # Raw CR/LF cannot occur inside a JSON string (they must be escaped) nor inside a UTF-8 or
        # GB18030 multi-byte character, so a pretty-printed body becomes one JSONL line with the same
        # meaning and the same byte offsets in any parser message. A final newline stays: the batch
        # reads its lines with theirs.
        head, end = (body[:-1], b"\n") if body.endswith(b"\n") else (body, b"")
        line = head.replace(b"\r", b" ").replace(b"\n", b" ") + end
        results: list[ConversationResult] = []
        rejects: list[Reject] = []
        inspect_records(self.inspector, read_jsonl(SOURCE, self.validator(), data=line),
                        results.append, rejects.append, RunSummary())
        if results:
            body_out = orjson.dumps(results[0])  # byte for byte a line of results.jsonl
            self.open_case(body_out, line)
            return Outcome(200, body_out)
        if rejects:
            r = rejects[0]
            status = 500 if r.reason == "internal.error" else 422
            return Outcome(status, orjson.dumps({"id": r.id, "reason": r.reason, "detail": r.detail}))
        # the batch skips a blank line: it is not a record; here it is a request without one
        return Outcome(422, orjson.dumps({"id": None, "reason": "json.invalid",
                                          "detail": "the request body is empty; send one conversation as a JSON object "
                                                    '{"id": ..., "turns": [...]}'}))

    def open_case(self, result_line: bytes, request_line: bytes) -> None:
        """Issue 19: a bad rating or a complaint opens a 差评 case at once and its notice goes out (webhook on
        a background thread). The answer is the same either way; a failure here is logged, never a 500."""
        from ..cases import notify, service as cases

        result = orjson.loads(result_line)
        if cases.opens_a_case(result, self.config) is None:
            return
        try:
            turns = orjson.loads(request_line).get("turns")
            with self.session_factory() as session:
                opened = cases.open_from_result(session, self.config, result, turns if isinstance(turns, list) else None)
                session.commit()
            if opened is not None:
                notify.deliver_in_background(self.session_factory, self.config)
        except Exception:  # noqa: BLE001 — the inspection answer must not depend on the case tables
            logging.getLogger(__name__).exception("could not open a 差评 case for conversation %s", result.get("id"))

    def validator(self) -> Validator:
        # a fresh one per request: a run's validator refuses an id it has seen (id.duplicate), and
        # every request is its own run of one
        return Validator(self.config)

    async def inspect(self, body: bytes) -> Outcome:
        return await asyncio.get_running_loop().run_in_executor(self.executor, self.inspect_body, body)


def install(app: FastAPI, *, config: dict, session_factory: sessionmaker[Session]) -> RealtimeService:
    """Load the Inspector now (start-up, not per request) and mount the API on ``app``.

    ``create_app`` (the web app) and :func:`build_api_app` both call this."""
    service = RealtimeService(config, session_factory)
    # The Inspector is ~170,000 long-lived objects (lexicons, segmenter, spaCy, models) that the
    # cyclic GC would otherwise walk in every full collection (~0.4 s measured): a pause for
    # whichever request triggers it. Frozen, they are skipped; they live as long as the process.
    gc.freeze()
    setattr(app.state, STATE_KEY, service)
    app.include_router(router)
    return service


def build_api_app(config: dict | None = None, database_url: str | None = None) -> FastAPI:
    """The real-time API alone (tests, the latency bench, a dedicated API server):
    ``uvicorn --factory pipeline.workbench.api:build_api_app`` (database from ZHIJIAN_DATABASE_URL
    or ``workbench.database_url``; the database must be migrated: ``zhijian db upgrade``)."""
    from .database import database_url as resolve_url
    from .database import open_database

    config = config if config is not None else load_config()
    engine, session_factory = open_database(resolve_url(config, database_url), migrate=False)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        engine.dispose()

    app = FastAPI(title="zhijian 智能质检 real-time API", lifespan=lifespan)
    install(app, config=config, session_factory=session_factory)
    return app


def _service(request: Request) -> RealtimeService:
    return getattr(request.app.state, STATE_KEY)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": 'Bearer realm="zhijian"'})


def _bearer_token(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise _unauthorized("missing Authorization header: send 'Authorization: Bearer <token>' "
                            "(an administrator creates tokens with `zhijian tokens create NAME`)")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized(f"Authorization header uses scheme {scheme!r}: send 'Authorization: Bearer <token>'")
    return token


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed ``limit`` bytes (declared or sent)."""
    too_large = HTTPException(413, f"request body larger than workbench.api_max_body_bytes = {limit} bytes; "
                                   "send one conversation per request, or raise the limit in the configuration")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():  # a chunked upload has no Content-Length: count as it comes
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/inspect",
    summary="Inspect one conversation (SPEC input → SPEC output)",
    openapi_extra=_BODY_SCHEMA,
    responses={401: {"description": "no, unknown or revoked bearer token"},
               413: {"description": "body larger than workbench.api_max_body_bytes"},
               422: {"description": "the record is rejected: {id, reason, detail} as in rejects.jsonl"}},
)
async def inspect_conversation(request: Request) -> Response:
    service = _service(request)
    token = _bearer_token(request)
    # before the body is read: a caller without a valid token cannot make the server read megabytes
    if not await run_in_threadpool(service.check_token, token):
        raise _unauthorized("unknown or revoked API token: ask an administrator for a new one "
                            "(`zhijian tokens create NAME`)")
    body = await _read_body(request, service.max_body_bytes)
    outcome = await service.inspect(body)
    return Response(outcome.body, status_code=outcome.status, media_type=JSON)


@router.get("/health", summary="Liveness, and the versions of the lexicons, rules, scorecard and models in use")
async def health(request: Request) -> Response:
    service = _service(request)
    database_ok = await run_in_threadpool(service.database_ok)
    body: dict[str, Any] = {
        "status": "ok" if database_ok else "degraded",
        "database": "ok" if database_ok else "unavailable",
        "versions": service.inspector.versions,
    }
    return Response(orjson.dumps(body), status_code=200 if database_ok else 503, media_type=JSON)
