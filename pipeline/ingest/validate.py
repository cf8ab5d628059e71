"""The validator: one raw record → :class:`Conversation` or :class:`Reject` — the SPEC input
contract, the limits, turn times and ratings (what a record must be is said in :mod:`pipeline.ingest`)."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Sequence


from pipeline.schema import CHANNELS, ROLES, Conversation, Reject, SourceRef, Turn


class InputError(Exception):
    """A usage-level input problem (missing file, unknown format, missing column). CLI exit code 2."""


# --------------------------------------------------------------------------------------------
# vocabularies

ROLE_SET = frozenset(ROLES)
ROLE_ALIASES: dict[str, str] = {
    # agent
    "客服": "agent", "坐席": "agent", "座席": "agent", "人工": "agent", "人工客服": "agent",
    "staff": "agent", "helpdesk": "agent", "service": "agent", "servicer": "agent",
    "operator": "agent", "waiter": "agent", "seller": "agent", "kefu": "agent",
    # customer
    "用户": "customer", "客户": "customer", "顾客": "customer", "买家": "customer",
    "user": "customer", "client": "customer", "buyer": "customer", "consumer": "customer",
    # bot / system
    "机器人": "bot", "智能客服": "bot", "robot": "bot", "auto": "bot", "autoreply": "bot",
    "系统": "system", "sys": "system",
    # the canonical names in other cases / with spaces
    "agent": "agent", "customer": "customer", "bot": "bot", "system": "system",
}
CHANNEL_SET = frozenset(CHANNELS)
CHANNEL_ALIASES: dict[str, str] = {
    "chat": "chat", "phone": "phone",
    "在线": "chat", "文字": "chat", "im": "chat", "online": "chat", "web": "chat", "text": "chat",
    "电话": "phone", "语音": "phone", "热线": "phone", "call": "phone", "voice": "phone", "tel": "phone",
}

# A numeric ts at or above this is not "seconds from the start" (that would be > 3 years) but a
# Unix epoch; at or above _EPOCH_MS it is epoch milliseconds.
_EPOCH_S = 1e8
_EPOCH_MS = 1e11

_BOM = b"\xef\xbb\xbf"
_BAD = object()  # sentinel: an unparseable timestamp

DEFAULT_LIMITS = {"max_turns": 2000, "max_turn_chars": 20000, "max_line_bytes": 10_000_000}

# Long-table columns: our name → default column name in the user's file.
TABLE_COLUMNS: dict[str, str] = {
    "conversation_id": "conversation_id",
    "turn": "turn",
    "role": "role",
    "text": "text",
    "ts": "ts",
    "end_ts": "end_ts",
    "channel": "channel",
    "agent_id": "agent_id",
    "agent_name": "agent_name",
    "agent_team": "agent_team",
    "customer_id": "customer_id",
    "started_at": "started_at",
}
REQUIRED_TABLE_COLUMNS = ("conversation_id", "role", "text")
_COLUMN_KEY_ALIASES = {"id": "conversation_id"}

_JSON_TYPE = {dict: "object", list: "array", str: "string", int: "number", float: "number",
              bool: "boolean", type(None): "null"}


def _jtype(v: Any) -> str:
    return _JSON_TYPE.get(type(v), type(v).__name__)


def _short(v: Any, n: int = 40) -> str:
    s = repr(v)
    return s if len(s) <= n else s[: n - 1] + "…"


# --------------------------------------------------------------------------------------------
# timestamps

def _parse_dt(s: str) -> datetime | None:
    """ISO-8601 (also ``2026/11/20 09:00:00``) → datetime, or None."""
    if "/" in s:
        s = s.replace("/", "-")
    try:
        return datetime.fromisoformat(s)
    except ValueError:
        return None


def _parse_ts(v: Any) -> Any:
    """The slow path for a ts value that is not a plain int/float.

    Returns None (absent), a float, a datetime (absolute), or ``_BAD``.
    """
    if v is None:
        return None
    if isinstance(v, str):
        s = v.strip()
        if not s:
            return None
        if len(s) >= 8 and s[4:5] in ("-", "/") or "T" in s or ":" in s:
            dt = _parse_dt(s)
            return _BAD if dt is None else dt
        try:
            f = float(s)
        except ValueError:
            dt = _parse_dt(s)  # compact ISO such as 20261120T090000
            return _BAD if dt is None else dt
        return f if math.isfinite(f) and f > -_EPOCH_S else _BAD
    if isinstance(v, bool):
        return _BAD
    if isinstance(v, datetime):
        return v
    if isinstance(v, (int, float, Decimal)):
        f = float(v)
        if f != f:  # NaN: how pandas writes a missing number
            return None
        return f if math.isfinite(f) and f > -_EPOCH_S else _BAD
    return _BAD


def _resolve_times(turns: list[Turn], started_at: datetime | None, warns: list[str]) -> None:
    """Turn absolute times (datetimes, epoch numbers) into seconds from the conversation start."""
    tz = None
    if started_at is not None and started_at.tzinfo is not None:
        tz = started_at.tzinfo
    if tz is None:
        for t in turns:
            for v in (t.ts, t.end_ts):
                if isinstance(v, datetime) and v.tzinfo is not None:
                    tz = v.tzinfo
                    break
            if tz is not None:
                break
    if tz is None:
        tz = timezone.utc
    epoch = False

    def absolute(v: Any) -> float | None:
        """Epoch seconds of an absolute value, None for a relative number."""
        nonlocal epoch
        if isinstance(v, datetime):
            return (v if v.tzinfo is not None else v.replace(tzinfo=tz)).timestamp()
        if v is not None and v >= _EPOCH_S:
            epoch = True
            return v / 1000.0 if v >= _EPOCH_MS else v
        return None

    base = absolute(started_at) if started_at is not None else None
    for t in turns:
        a = absolute(t.ts)
        if a is not None:
            if base is None:
                base = a
            t.ts = a - base
        b = absolute(t.end_ts)
        if b is not None:
            if base is None:
                base = b
            t.end_ts = b - base
    if epoch:
        warns.append("ts.epoch")


# --------------------------------------------------------------------------------------------
# validation

class Validator:
    """Turns parsed records into :class:`Conversation` or :class:`Reject`.

    One instance per run: it remembers the ids already inspected (``id.duplicate``). Memory: one
    dict entry per inspected conversation (the id string and one int), ~130 bytes each.
    Also usable on its own for a single record (the real-time endpoint): ``Validator(config).validate(obj)``.
    """

    def __init__(self, config: dict | None = None):
        limits = dict(DEFAULT_LIMITS)
        limits.update(((config or {}).get("limits") or {}))
        self.max_turns = int(limits["max_turns"])
        self.max_turn_chars = int(limits["max_turn_chars"])
        self.max_line_bytes = int(limits["max_line_bytes"])
        self.seen: dict[str, int] = {}  # id → file index << 40 | line/row where it was inspected
        self._files: list[tuple[str, str]] = [("<input>", "record")]
        self._file = 0

    def begin_file(self, path: str, unit: str) -> None:
        """Record that the following records come from ``path`` (``unit``: 'line' or 'row')."""
        self._files.append((path, unit))
        self._file = len(self._files) - 1

    def _where(self, packed: int) -> str:
        path, unit = self._files[packed >> 40]
        n = packed & ((1 << 40) - 1)
        return f"{path} {unit} {n}" if n else path

    def validate(
        self,
        obj: Any,
        source: SourceRef | None = None,
        warnings: list[str] | None = None,
        rows: Sequence[int] | None = None,
    ) -> Conversation | Reject:
        """Validate one parsed record. ``rows`` (tables): the source row of each turn, for details."""
        if source is None:
            source = SourceRef("<input>")
        if type(obj) is not dict:
            hint = " (one conversation object per line, not an array of them)" if type(obj) is list else ""
            return Reject(source, "record.not_object",
                          f"the record is a JSON {_jtype(obj)}, not an object{hint}; "
                          'each record must look like {"id": ..., "turns": [...]}')

        # -- id
        rid = obj.get("id")
        if type(rid) is str:
            if not rid or rid.isspace():
                return Reject(source, "id.missing", "'id' is an empty string; give every conversation a non-empty id")
        elif type(rid) is int:
            rid = str(rid)
        else:
            if "id" not in obj:
                what = "there is no 'id' field"
            elif rid is None:
                what = "'id' is null"
            else:
                what = f"'id' is a {_jtype(rid)} ({_short(rid)})"
            return Reject(source, "id.missing", f"{what}; every conversation needs an 'id' string (or integer)")
        first = self.seen.get(rid)
        if first is not None:
            return Reject(source, "id.duplicate",
                          f"id {rid!r} was already inspected earlier in this run ({self._where(first)}); "
                          "ids must be unique across all inputs of a run — remove the duplicate or give it its own id",
                          rid)

        # -- turns
        turns = obj.get("turns")
        if type(turns) is not list or not turns:
            if turns is None:
                what = "there is no 'turns' field" if "turns" not in obj else "'turns' is null"
            elif type(turns) is list:
                what = "'turns' is an empty list"
            else:
                what = f"'turns' is a {_jtype(turns)}, not a list"
            return Reject(source, "turns.missing", f"{what}; a conversation needs a non-empty list of turns", rid)
        n = len(turns)
        if n > self.max_turns:
            return Reject(source, "record.too_large",
                          f"'turns' has {n} turns, more than limits.max_turns = {self.max_turns}; "
                          "split the conversation or raise the limit in the configuration", rid)

        warns = list(warnings) if warnings else []
        out: list[Turn] = []
        append = out.append
        roles = ROLE_SET
        maxc = self.max_turn_chars
        empty: list[int] | None = None
        aliases: set[str] | None = None
        needs_resolve = False
        for i, t in enumerate(turns):
            if type(t) is not dict:
                return Reject(source, "turn.not_object",
                              f"{_at(i, rows)} is a JSON {_jtype(t)}, not an object like "
                              '{"role": "agent", "text": "...", "ts": 0}', rid)
            text = t.get("text")
            if type(text) is not str:
                if text is None:
                    what = "has no 'text'" if "text" not in t else "has 'text': null"
                    return Reject(source, "turn.text_missing",
                                  f"{_at(i, rows)} {what}; every turn needs its text (use \"\" for an empty message)", rid)
                return Reject(source, "turn.text_invalid",
                              f"{_at(i, rows)}.text is a {_jtype(text)} ({_short(text)}), not a string", rid)
            if len(text) > maxc:
                return Reject(source, "turn.too_long",
                              f"{_at(i, rows)}.text has {len(text)} characters, more than "
                              f"limits.max_turn_chars = {maxc}; check the export or raise the limit", rid)
            if not text or text.isspace():
                if empty is None:
                    empty = []
                empty.append(i)
            role = t.get("role")
            if type(role) is not str or role not in roles:
                mapped = ROLE_ALIASES.get(role.strip().lower()) if type(role) is str else None
                if mapped is None:
                    if role is None:
                        what = "has no 'role'" if "role" not in t else "has 'role': null"
                    else:
                        what = f"has role {_short(role)}"
                    return Reject(source, "turn.role_invalid",
                                  f"{_at(i, rows)} {what}; use one of agent, customer, system, bot "
                                  "(aliases such as 客服, 坐席, 用户, 客户, user, 机器人, 系统 are mapped)", rid)
                if mapped != role:
                    if aliases is None:
                        aliases = set()
                    if role not in aliases:
                        aliases.add(role)
                        warns.append(f"role.alias:{role}={mapped}")
                role = mapped
            ts = t.get("ts")
            if ts is not None:
                tt = type(ts)
                if (tt is float or tt is int) and -_EPOCH_S < ts < _EPOCH_S:
                    ts = float(ts)  # the common case: seconds from the start
                else:
                    ts = _parse_ts(ts)
                    if ts is _BAD:
                        return Reject(source, "turn.ts_invalid",
                                      f"{_at(i, rows)}.ts is {_short(t.get('ts'))}; use seconds from the conversation "
                                      "start (a number) or an ISO-8601 timestamp such as 2026-11-20T09:00:12+08:00", rid)
                    if ts is not None and (type(ts) is not float or ts >= _EPOCH_S):
                        needs_resolve = True
            end_ts = t.get("end_ts")
            if end_ts is not None:
                end_ts = _parse_ts(end_ts)
                if end_ts is _BAD:
                    return Reject(source, "turn.ts_invalid",
                                  f"{_at(i, rows)}.end_ts is {_short(t.get('end_ts'))}; use seconds from the conversation "
                                  "start (a number) or an ISO-8601 timestamp", rid)
                if end_ts is not None and (type(end_ts) is not float or end_ts >= _EPOCH_S):
                    needs_resolve = True
            append(Turn(i, role, text, ts, end_ts))

        if empty is not None:
            if len(empty) == n:
                return Reject(source, "turns.all_empty",
                              f"all {n} turns have empty text; there is nothing to inspect", rid)
            for i in empty:
                warns.append(f"turn.empty:{i}")

        # -- optional fields (wrong type → warning + None, never a reject)
        started_at = obj.get("started_at")
        started_dt = None
        if started_at is not None:
            if isinstance(started_at, datetime):  # Parquet timestamp column
                started_dt, started_at = started_at, started_at.isoformat()
            elif type(started_at) is str and started_at.strip():
                started_dt = _parse_dt(started_at.strip())
                if started_dt is None:
                    warns.append("started_at.invalid")
                    started_at = None
            else:
                if not (type(started_at) is str):  # an empty string is just absent
                    warns.append("started_at.invalid")
                started_at = None

        if needs_resolve:
            _resolve_times(out, started_dt, warns)

        prev = None
        for t in out:
            ts = t.ts
            if ts is not None:
                if prev is not None and ts < prev:
                    warns.append(f"ts.backwards:{t.index}")
                prev = ts
                if t.end_ts is not None and t.end_ts < ts:
                    warns.append(f"end_ts.invalid:{t.index}")
                    t.end_ts = None

        channel = obj.get("channel")
        if channel is not None:
            if type(channel) is not str:
                warns.append("channel.invalid")
                channel = None
            elif channel not in CHANNEL_SET:
                key = channel.strip().lower()
                mapped = CHANNEL_ALIASES.get(key)
                if not key:
                    channel = None
                elif mapped is None:
                    warns.append(f"channel.unknown:{channel[:40]}")
                else:
                    if key not in CHANNEL_SET:
                        warns.append(f"channel.alias:{channel}={mapped}")
                    channel = mapped

        agent = obj.get("agent")
        if agent is not None and type(agent) is not dict:
            warns.append("agent.invalid")
            agent = None
        customer = obj.get("customer")
        if customer is not None and type(customer) is not dict:
            warns.append("customer.invalid")
            customer = None
        labels = obj.get("labels")
        if labels is not None and type(labels) is not dict:
            warns.append("labels.invalid")
            labels = None
        rating = obj.get("rating")
        if rating is not None:
            rating = _check_rating(rating, warns)

        self.seen[rid] = (self._file << 40) | (source.line or source.row or 0)
        return Conversation(
            id=rid,
            turns=out,
            channel=channel,
            started_at=started_at,
            agent=agent,
            customer=customer,
            rating=rating,
            labels=labels,
            source=source,
            warnings=warns,
        )


def _at(i: int, rows: Sequence[int] | None) -> str:
    return f"turns[{i}] (row {rows[i]})" if rows is not None and i < len(rows) else f"turns[{i}]"


def _check_rating(rating: Any, warns: list[str]) -> dict | None:
    """``{"score": 1-5, "comment": str}``; a bare number is taken as the score."""
    if type(rating) is not dict:
        if type(rating) in (int, float) and 1 <= rating <= 5:
            return {"score": rating, "comment": None}
        warns.append("rating.invalid")
        return None
    score = rating.get("score")
    if score is not None and not (type(score) in (int, float) and 1 <= score <= 5):
        warns.append("rating.invalid")
        rating = dict(rating, score=None)
    comment = rating.get("comment")
    if comment is not None and type(comment) is not str:
        warns.append("rating.invalid")
        rating = dict(rating, comment=None)
    return rating


