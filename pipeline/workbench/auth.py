"""Sign-in for the review workbench: server-side sessions, per-session CSRF tokens, login rate
limiting and a bounded pool for password hashing.

The browser holds a small signed cookie (itsdangerous, ``workbench.secret_key_file``) with the CSRF
token every POST form must send back and, once logged in, a random session token; the database
holds only that token's sha256 in ``web_sessions``. A login therefore ends when its row goes:
logout, a password change, deactivation, an admin's "sign out everywhere", or the idle
(``workbench.session_idle_s``) and absolute (``workbench.session_max_age_s``) timeouts — a copy of
the cookie is worthless afterwards. Anonymous visitors get a cookie too, so the login form is
CSRF-protected as well. Login attempts are rows in ``login_attempts``; too many failures for one
username or from one client address within ``workbench.login_window_s`` refuse further attempts
until the window has passed or an admin unlocks the username.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from pipeline.config import ConfigError
from pipeline.workbench.db import LoginAttempt, User, WebSession, utcnow

SESSION_COOKIE = "zhijian_session"
CSRF_FIELD = "csrf_token"
SECRET_KEY_BYTES = 32  # 256 bits of randomness for the signing key
MIN_SECRET_CHARS = 32  # a hand-written key shorter than this is refused
CSRF_TOKEN_BYTES = 32
SESSION_TOKEN_BYTES = 32
USERNAME_KEY_CHARS = 64  # login_attempts.username is String(64)
_SALT = "zhijian.workbench.session"


def load_secret_key(path: Path) -> str:
    """The cookie-signing key in ``path``; a new random one (mode 600) when the file doesn't exist."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(SECRET_KEY_BYTES)
        try:
            # O_EXCL: two servers starting at once must not each write (and use) a different key
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(key + "\n")
    key = path.read_text(encoding="ascii", errors="replace").strip()
    if len(key) < MIN_SECRET_CHARS:
        raise ConfigError(
            f"{path}: the session secret key is {len(key)} characters, at least {MIN_SECRET_CHARS} are needed; "
            f"delete the file to have a random key created on the next start (everyone is logged out)"
        )
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{path}: the session secret key is readable by other users; run `chmod 600 {path}`")
    return key


class SessionCodec:
    """Session dict <-> signed cookie value; a missing, forged or expired cookie reads as an empty session."""

    def __init__(self, secret_key: str, max_age_s: int):
        self._serializer = URLSafeTimedSerializer(secret_key, salt=_SALT)
        self.max_age_s = max_age_s

    def dumps(self, data: dict[str, Any]) -> str:
        return self._serializer.dumps(data)

    def loads(self, value: str | None) -> dict[str, Any]:
        if not value:
            return {}
        try:
            data = self._serializer.loads(value, max_age=self.max_age_s)
        except (SignatureExpired, BadSignature):
            return {}
        return data if isinstance(data, dict) else {}


def new_csrf_token() -> str:
    return secrets.token_urlsafe(CSRF_TOKEN_BYTES)


def csrf_ok(session: dict[str, Any], submitted: Any) -> bool:
    expected = session.get("csrf")
    if not isinstance(expected, str) or not isinstance(submitted, str) or not submitted:
        return False
    return hmac.compare_digest(expected.encode(), submitted.encode())


def _token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(db: Session, user: User, client: str, now: datetime | None = None) -> dict[str, Any]:
    """A login: a new ``web_sessions`` row and the cookie dict that refers to it (with a new CSRF
    token too: no session fixation). The caller commits."""
    token = secrets.token_urlsafe(SESSION_TOKEN_BYTES)
    now = now or utcnow()
    db.add(WebSession(token_sha256=_token_sha256(token), user_id=user.id, created_at=now, last_seen_at=now, client=client[:64]))
    return {"sid": token, "csrf": new_csrf_token()}


def _session_row(db: Session, session: dict[str, Any]) -> WebSession | None:
    token = session.get("sid")
    if not isinstance(token, str) or not token:
        return None
    return db.scalar(select(WebSession).where(WebSession.token_sha256 == _token_sha256(token)))


@dataclass(frozen=True)
class SessionPolicy:
    """How long a login lasts: ``max_age_s`` from login, ``idle_s`` without a request; ``touch_s``:
    how stale ``last_seen_at`` may get before a request writes it (not one write per request)."""

    max_age_s: int
    idle_s: int
    touch_s: int

    @classmethod
    def from_config(cls, wb: dict[str, Any]) -> SessionPolicy:
        return cls(int(wb["session_max_age_s"]), int(wb["session_idle_s"]), int(wb["session_touch_s"]))


def session_user(db: Session, session: dict[str, Any], policy: SessionPolicy, now: datetime | None = None) -> User | None:
    """The logged-in user, or None: no login, the login ended or timed out, or the user is deactivated.
    A timed-out login's row is deleted; a live one's ``last_seen_at`` is refreshed (committed here)."""
    row = _session_row(db, session)
    if row is None:
        return None
    now = now or utcnow()
    age = (now - _utc(row.created_at)).total_seconds()
    idle = (now - _utc(row.last_seen_at)).total_seconds()
    user = db.get(User, row.user_id)
    if age >= policy.max_age_s or idle >= policy.idle_s or user is None or not user.active:
        db.delete(row)
        db.commit()
        return None
    if idle >= policy.touch_s:
        row.last_seen_at = now
        db.commit()
    return user


def end_session(db: Session, session: dict[str, Any]) -> int | None:
    """Log out: the session's row is deleted; returns whose login it was (None: there was none)."""
    row = _session_row(db, session)
    if row is None:
        return None
    uid = row.user_id
    db.delete(row)
    return uid


def end_user_sessions(db: Session, user: User) -> int:
    """End every login of ``user`` (password change, deactivation, "sign out everywhere"); how many."""
    return db.execute(delete(WebSession).where(WebSession.user_id == user.id)).rowcount or 0


def active_sessions(db: Session) -> dict[int, int]:
    """User id → how many logins are open (the users page)."""
    return dict(db.execute(select(WebSession.user_id, func.count()).group_by(WebSession.user_id)).all())


# --- password hashing under a bound -----------------------------------------------------------------


class HashPoolFull(RuntimeError):
    """More password checks are running than ``workbench.login_concurrent_hashes`` allows."""


class HashPool:
    """At most ``size`` password hashes at once (each argon2id hash takes ``memory_cost_kib`` and
    ``parallelism`` threads): a login flood is refused at once (429) instead of queueing up memory
    and starving the pages. ``size`` 0 = auto: half the CPU cores, at least 1 (bench/login_flood.py:
    on 2 cores a cap of 4 let /my wait ~0.3–0.5 s during 80 concurrent bad logins, a cap of 1 ~0.13 s)."""

    def __init__(self, size: int):
        if size < 0:
            raise ConfigError(f"workbench.login_concurrent_hashes must be 0 (auto) or at least 1, got {size}")
        size = size or max(1, (os.cpu_count() or 2) // 2)
        self._slots = threading.BoundedSemaphore(size)
        self.size = size

    @contextmanager
    def slot(self) -> Iterator[None]:
        """A slot for one login, taken before anything else it does (no database work for a refused one)."""
        if not self._slots.acquire(blocking=False):
            raise HashPoolFull()
        try:
            yield
        finally:
            self._slots.release()


# --- login rate limiting ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginBlock:
    """Further logins are refused until ``until`` (UTC) because of too many failures ``by`` username or client."""

    until: datetime
    by: str  # "username" | "client"


def username_key(username: str) -> str:
    return username.strip().lower()[:USERNAME_KEY_CHARS]


def _utc(dt: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything written here is UTC
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def _block_from(failures: list[datetime], max_failures: int, window: timedelta, by: str) -> LoginBlock | None:
    if len(failures) < max_failures:
        return None
    # newest first: once the max_failures-th newest failure leaves the window, fewer than the limit remain
    return LoginBlock(until=_utc(failures[max_failures - 1]) + window, by=by)


def login_blocked(db: Session, username: str, client: str, *, max_failures_per_user: int, max_failures_per_client: int,
                  window_s: int, now: datetime | None = None) -> LoginBlock | None:
    """Whether a login for ``username`` from ``client`` must be refused now (checked before the password)."""
    now = now or datetime.now(timezone.utc)
    window = timedelta(seconds=window_s)
    since = now - window
    name = username_key(username)
    last_ok = db.scalar(select(func.max(LoginAttempt.at)).where(LoginAttempt.username == name, LoginAttempt.ok.is_(True)))
    # a successful login forgives the username's earlier failures, not the client's
    user_since = max(since, _utc(last_ok)) if last_ok is not None else since
    by_user = db.scalars(
        select(LoginAttempt.at).where(LoginAttempt.username == name, LoginAttempt.ok.is_(False), LoginAttempt.at > user_since)
        .order_by(LoginAttempt.at.desc()).limit(max_failures_per_user)
    ).all()
    by_client = db.scalars(
        select(LoginAttempt.at).where(LoginAttempt.client == client[:64], LoginAttempt.ok.is_(False), LoginAttempt.at > since)
        .order_by(LoginAttempt.at.desc()).limit(max_failures_per_client)
    ).all()
    blocks = [b for b in (_block_from(list(by_user), max_failures_per_user, window, "username"),
                          _block_from(list(by_client), max_failures_per_client, window, "client")) if b]
    return max(blocks, key=lambda b: b.until) if blocks else None


def unlock(db: Session, username: str, client: str = "admin-unlock", now: datetime | None = None) -> None:
    """Lift a username's lock: a successful attempt forgives its earlier failures (``login_blocked``).
    Failures counted against a client address are not forgiven (they are not this user's)."""
    record_login_attempt(db, username, client, ok=True, now=now)


def record_login_attempt(db: Session, username: str, client: str, ok: bool, now: datetime | None = None) -> None:
    db.add(LoginAttempt(username=username_key(username), client=client[:64], ok=ok, at=now or datetime.now(timezone.utc)))


def retry_message(block: LoginBlock, now: datetime | None = None, tz: timezone | None = None) -> str:
    """The Chinese message for a refused login: why, and when to try again (local time of ``tz``)."""
    now = now or datetime.now(timezone.utc)
    wait_s = max(0.0, (block.until - now).total_seconds())
    minutes = max(1, int(-(-wait_s // 60)))
    at = block.until.astimezone(tz) if tz else block.until.astimezone()
    who = "该用户名" if block.by == "username" else "本机地址"
    return f"{who}登录失败次数过多,已暂时锁定。请在 {minutes} 分钟后({at:%H:%M} 之后)再试;忘记密码请联系管理员。"
