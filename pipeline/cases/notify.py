"""The webhook: each opened case is POSTed as JSON to ``cases.webhook.url`` so a company's IM bot
(企业微信 / 钉钉 / 飞书) can relay it to the agent and their supervisor.

- **Outbox**: ``service.open_case`` writes a ``webhook_deliveries`` row in the same transaction as the
  case; ``deliver_pending`` sends the pending rows after the commit (``zhijian load``, ``cases import``,
  the API), so a rolled-back case is never announced and a crash between commit and send leaves the row
  to be sent next time (``zhijian cases deliver``).
- **Signature**: header ``X-Zhijian-Signature: sha256=<hex HMAC-SHA256 of the raw body>`` with the key in
  the environment variable named by ``cases.webhook.secret_env``; ``X-Zhijian-Timestamp`` (Unix seconds)
  is inside the signed string too: the receiver computes HMAC(key, f"{timestamp}.{body}") and rejects
  old timestamps (replay). ``X-Zhijian-Delivery`` is the row id (idempotency on the receiver's side).
- **Retries**: up to ``max_attempts`` tries, waiting ``backoff_s``, 2×, 4×… between them, on a connection
  error, a timeout or an HTTP 5xx / 429; a 4xx other than 429 is final (the receiver refuses the message).
- **Log**: every attempt is appended to the row's ``attempts`` ({at, status, error, elapsed_ms}); the row
  ends ``delivered`` or ``failed``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
import urllib.error
import urllib.request
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..workbench.db import WebhookDelivery, utcnow

USER_AGENT = "zhijian-cases-webhook/1"


def signature(key: bytes, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(key: bytes, timestamp: str, body: bytes, header: str) -> bool:
    """What a receiver does (and the tests): constant-time compare of the signature header."""
    return hmac.compare_digest(signature(key, timestamp, body), header or "")


def _key(settings: dict) -> bytes | None:
    name = settings.get("secret_env")
    value = os.environ.get(name) if name else None
    return value.encode() if value else None


def post(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> tuple[int | None, str | None]:
    """One POST: (HTTP status or None, error text or None)."""
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310 — the operator's configured URL
            resp.read(65536)
            return resp.status, None
    except urllib.error.HTTPError as e:
        return e.code, f"HTTP {e.code}"
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        return None, f"{type(e).__name__}: {getattr(e, 'reason', e)}"


def _retryable(status: int | None) -> bool:
    return status is None or status >= 500 or status == 429


def deliver(row: WebhookDelivery, settings: dict, *, sleep: Callable[[float], None] = time.sleep) -> WebhookDelivery:
    """Send one outbox row with retries; appends each attempt to ``row.attempts``; sets ``state``."""
    url = settings.get("url")
    body = json.dumps(row.payload, ensure_ascii=False, sort_keys=True).encode("utf-8")
    key = _key(settings)
    attempts = list(row.attempts or [])
    wait = float(settings.get("backoff_s", 1))
    for n in range(int(settings.get("max_attempts", 4))):
        if n:
            sleep(wait)
            wait *= 2
        ts = str(int(time.time()))
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
                   "X-Zhijian-Event": row.event, "X-Zhijian-Delivery": str(row.id), "X-Zhijian-Timestamp": ts}
        if key is not None:
            headers["X-Zhijian-Signature"] = signature(key, ts, body)
        t0 = time.perf_counter()
        status, error = post(url, body, headers, float(settings.get("timeout_s", 5)))
        attempts.append({"at": utcnow().isoformat(), "status": status, "error": error,
                         "elapsed_ms": round(1000 * (time.perf_counter() - t0)), "signed": key is not None})
        if status is not None and 200 <= status < 300:
            row.state, row.delivered_at = "delivered", utcnow()
            break
        if not _retryable(status):
            row.state = "failed"
            break
    else:
        row.state = "failed"
    row.attempts = attempts
    return row


def deliver_pending(session: Session, config: dict, *, sleep: Callable[[float], None] = time.sleep) -> dict[str, int]:
    """Send every pending row (oldest first), committing after each so the log survives a crash."""
    settings = config["cases"]["webhook"]
    counts = {"delivered": 0, "failed": 0}
    if not settings.get("url"):
        return counts
    ids = list(session.scalars(select(WebhookDelivery.id).where(WebhookDelivery.state == "pending").order_by(WebhookDelivery.id)))
    for rid in ids:
        row = session.get(WebhookDelivery, rid)
        deliver(row, settings, sleep=sleep)
        session.commit()
        counts[row.state] += 1
    return counts


_BACKGROUND: Any = None


def deliver_in_background(session_factory: Any, config: dict) -> None:
    """``deliver_pending`` on one background thread (the real-time API: retries and their waits must not
    hold a request or the inspection thread). Calls queue; one sender at a time keeps the order."""
    global _BACKGROUND
    if not config["cases"]["webhook"].get("url"):
        return
    if _BACKGROUND is None:
        from concurrent.futures import ThreadPoolExecutor

        _BACKGROUND = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zhijian-webhook")

    def run() -> None:
        with session_factory() as session:
            deliver_pending(session, config)

    _BACKGROUND.submit(run)
