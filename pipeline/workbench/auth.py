"""Sign-in for the review workbench: signed session cookies, per-session CSRF tokens, login rate limiting.

The session is a small dict signed with the secret in ``workbench.secret_key_file`` (itsdangerous,
with a timestamp checked against ``workbench.session_max_age_s``); it holds the user id, a
fingerprint of the user's password hash (changing a password ends that user's sessions) and the
CSRF token every POST form must send back. Anonymous visitors get a session too, so the login form
is CSRF-protected as well. Login attempts are rows in ``login_attempts``; too many failures for one
username or from one client address within ``workbench.login_window_s`` refuse further attempts
until the window has passed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pipeline.config import ConfigError
from pipeline.workbench.db import LoginAttempt, User

SESSION_COOKIE = "zhijian_session"
CSRF_FIELD = "csrf_token"
SECRET_KEY_BYTES = 32  # 256 bits of randomness for the signing key
MIN_SECRET_CHARS = 32  # a hand-written key shorter than this is refused
CSRF_TOKEN_BYTES = 32
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


def password_fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def login_session(user: User) -> dict[str, Any]:
    """A fresh session for a user who just logged in: a new CSRF token too (no session fixation)."""
    return {"uid": user.id, "pf": password_fingerprint(user), "csrf": new_csrf_token()}


def session_user(db: Session, session: dict[str, Any]) -> User | None:
    """The logged-in user, or None: not logged in, deactivated, or the password changed since."""
    uid = session.get("uid")
    if not isinstance(uid, int):
        return None
    user = db.get(User, uid)
    if user is None or not user.active or not hmac.compare_digest(str(session.get("pf", "")), password_fingerprint(user)):
        return None
    return user


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
