"""Users, passwords and API tokens of the workbench.

Passwords are hashed with argon2id (argon2-cffi) using ``workbench.argon2`` from the configuration;
when those parameters change, a password is rehashed the next time its owner logs in. API tokens
are random, shown once, and stored only as their sha256.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from functools import lru_cache
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import audit
from .auth import end_user_sessions, unlock, username_key
from .db import ROLES, ApiToken, User

USERNAME_RE = re.compile(r"^[\w.@-]{1,64}$")  # \w: Chinese names are fine; no spaces or slashes
TOKEN_PREFIX = "zj_"  # makes a leaked token recognisable (secret scanners, logs)
TOKEN_BYTES = 32
USER_FIELDS = ("username", "display_name", "role", "agent_id", "team", "active")


class UserError(ValueError):
    """A user or token request that can't be done; the message says what to change."""


def _settings(config: dict | None) -> dict[str, Any]:
    if config is None:
        from ..config import load_config

        config = load_config()
    return config["workbench"]


@lru_cache(maxsize=8)
def _hasher(time_cost: int, memory_cost_kib: int, parallelism: int):
    from argon2 import PasswordHasher, Type

    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost_kib, parallelism=parallelism, type=Type.ID)


def password_hasher(config: dict | None = None):
    p = _settings(config)["argon2"]
    return _hasher(int(p["time_cost"]), int(p["memory_cost_kib"]), int(p["parallelism"]))


def hash_password(password: str, config: dict | None = None) -> str:
    return password_hasher(config).hash(password)


def verify_password(password_hash: str, password: str, config: dict | None = None) -> bool:
    """True when ``password`` matches; False on a mismatch or an unreadable hash (never raises)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return password_hasher(config).verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str, config: dict | None = None) -> bool:
    return password_hasher(config).check_needs_rehash(password_hash)


def check_password_policy(password: str, config: dict | None = None) -> None:
    minimum = int(_settings(config)["password_min_length"])
    if len(password) < minimum:
        raise UserError(f"密码太短：至少 {minimum} 个字符 (workbench.password_min_length); password is {len(password)} characters")
    if password != password.strip():
        raise UserError("密码首尾不能有空格 (password starts or ends with whitespace; a pasted newline?)")


def create_user(
    session: Session,
    username: str,
    password: str,
    role: str,
    *,
    display_name: str = "",
    agent_id: str | None = None,
    team: str | None = None,
    actor: User | None = None,
    config: dict | None = None,
) -> User:
    """Add a user (flushed, not committed). ``role`` agent needs ``agent_id``: the ``agent.id`` of
    the conversations the agent may see."""
    if not USERNAME_RE.match(username or ""):
        raise UserError(f"用户名 {username!r} 无效：1–64 个字母、数字或 . _ @ -，不含空格 (username)")
    if role not in ROLES:
        raise UserError(f"角色 {role!r} 无效：可选 {', '.join(ROLES)} (--role)")
    if role == "agent" and not agent_id:
        raise UserError(f"坐席账号 {username} 需要坐席工号：--agent-id（与会话 agent.id 相同，例如 A017）")
    if role != "agent" and agent_id:
        raise UserError(f"只有坐席 (agent) 账号有坐席工号；{role} 账号不要加 --agent-id")
    if session.scalar(select(User.id).where(func.lower(User.username) == username.lower())) is not None:
        raise UserError(f"用户名 {username} 已存在 (usernames are unique, case-insensitively); choose another")
    check_password_policy(password, config)
    user = User(username=username, display_name=display_name or username, role=role, agent_id=agent_id, team=team,
                password_hash=hash_password(password, config), active=True)
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.create", "users", user.id, None, audit.snapshot(user, USER_FIELDS))
    return user


def set_password(session: Session, user: User, password: str, *, actor: User | None = None, config: dict | None = None) -> None:
    check_password_policy(password, config)
    user.password_hash = hash_password(password, config)
    ended = end_user_sessions(session, user)  # a stolen cookie must not outlive the old password
    audit.record(session, actor, "user.password", "users", user.id, None, {"password": "changed", "sessions_ended": ended})


def set_active(session: Session, user: User, active: bool, *, actor: User | None = None) -> None:
    before = audit.snapshot(user, ("active",))
    user.active = active
    after = audit.snapshot(user, ("active",))
    if not active:
        after["sessions_ended"] = end_user_sessions(session, user)
    audit.record(session, actor, "user.active", "users", user.id, before, after)


def sign_out_everywhere(session: Session, user: User, *, actor: User | None = None) -> int:
    """End every login of ``user`` (a lost laptop, a shared screen); returns how many were open."""
    ended = end_user_sessions(session, user)
    audit.record(session, actor, "user.sign_out_everywhere", "users", user.id, None, {"sessions_ended": ended})
    return ended


def unlock_user(session: Session, username: str, *, actor: User | None = None) -> None:
    """Lift the login lock on ``username`` (too many failed logins) before its window has passed."""
    unlock(session, username)
    audit.record(session, actor, "login.unlock", "logins", username_key(username), None, {"unlocked": True})


# A hash of a random password, verified against when the username is unknown so that a login
# for a missing user takes as long as one for a real user (no username probing by timing).
_DUMMY: dict[tuple, str] = {}


def _dummy_hash(config: dict | None) -> str:
    key = tuple(sorted(_settings(config)["argon2"].items()))
    if key not in _DUMMY:
        _DUMMY[key] = hash_password(secrets.token_urlsafe(16), config)
    return _DUMMY[key]


def authenticate(session: Session, username: str, password: str, config: dict | None = None,
                 release_connection: bool = False) -> User | None:
    """The active user with this username and password, else None. Rehashes an outdated hash
    (the caller's commit saves it). ``release_connection``: end the session's (read-only) transaction
    before hashing, so a slow hash doesn't hold a pooled database connection (the login page)."""
    user = session.scalar(select(User).where(func.lower(User.username) == (username or "").lower()))
    stored, active, uid = (user.password_hash, user.active, user.id) if user is not None else (_dummy_hash(config), False, None)
    if release_connection:
        session.rollback()
    if not verify_password(stored, password or "", config) or uid is None or not active:
        return None
    user = session.get(User, uid) if release_connection else user
    if needs_rehash(user.password_hash, config):
        user.password_hash = hash_password(password, config)
        audit.record(session, user, "user.rehash", "users", user.id, None, {"argon2": dict(_settings(config)["argon2"])})
    return user


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_api_token(session: Session, name: str, user: User | None = None, *, actor: User | None = None) -> str:
    """A new bearer token for the real-time API. Returns the plaintext — the only time it exists;
    the database keeps its sha256."""
    if not name or not name.strip():
        raise UserError("令牌需要一个名称 (NAME: what uses it, e.g. crm-prod)")
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    row = ApiToken(name=name.strip(), token_sha256=token_sha256(token), user_id=user.id if user else None)
    session.add(row)
    session.flush()
    audit.record(session, actor, "token.create", "api_tokens", row.id, None, {"name": row.name, "user_id": row.user_id})
    return token


def find_api_token(session: Session, token: str) -> ApiToken | None:
    """The unrevoked token row for a presented bearer token, else None."""
    if not token or not token.startswith(TOKEN_PREFIX):
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == token_sha256(token)))
    if row is None or row.revoked:
        return None
    return row


def revoke_api_token(session: Session, row: ApiToken, *, actor: User | None = None) -> None:
    row.revoked = True
    audit.record(session, actor, "token.revoke", "api_tokens", row.id, {"revoked": False}, {"revoked": True})
