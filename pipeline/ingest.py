"""Read and validate: input files → :class:`Conversation` or :class:`Reject`, one per record.

Formats (chosen by file extension, case-insensitive):

* ``.jsonl`` / ``.ndjson`` (optionally ``.gz``): one conversation object per line (SPEC input
  contract). Streamed line by line as bytes; memory is one line at a time.
* ``.csv`` (optionally ``.gz``) and ``.parquet``: a long table, one *turn* per row, grouped into
  conversations by the conversation-id column and ordered by the turn column.

Every record read becomes exactly one ``Conversation`` or one ``Reject`` (so a run manifest's
``read = inspected + rejected`` holds). Blank lines are not records. A record in a table is a
conversation (all rows sharing an id), a row without an id, or a row the CSV parser could not split.

Reject reason codes (stable; reports and tests rely on them)::

    json.invalid        the line is not valid JSON (the parser's message is in the detail)
    encoding.invalid    the line is neither UTF-8 nor GB18030
    line.too_large      the line is longer than limits.max_line_bytes (checked before parsing)
    record.not_object   the line is valid JSON but not an object
    id.missing          id absent, null, empty, or not a string/integer (integers become strings)
    id.duplicate        a conversation with this id was already inspected earlier in the run
    turns.missing       turns absent, not a list, or empty
    record.too_large    more than limits.max_turns turns
    turns.all_empty     every turn's text is empty or whitespace
    turn.not_object     an element of turns is not an object
    turn.text_missing   a turn has no text (key absent or null)
    turn.text_invalid   a turn's text is not a string (number, list, object, bool)
    turn.too_long       a turn's text is longer than limits.max_turn_chars characters
    turn.role_invalid   a turn's role is missing or not agent/customer/system/bot or a known alias
    turn.ts_invalid     a turn's ts or end_ts is neither a number nor an ISO-8601 timestamp
    turn.order_invalid  (tables) a turn-order cell is empty or not a number
    row.invalid         (CSV) a row with the wrong number of columns; it is skipped
    file.unreadable     the file broke off mid-read (truncated gzip, corrupt Parquet, CSV syntax)

Warnings (``Conversation.warnings``; the conversation is still inspected)::

    encoding.gb18030            the line / file was decoded as GB18030 (GBK) instead of UTF-8
    turn.empty:<i>              turn i has empty or whitespace-only text
    ts.backwards:<i>            turn i's ts is earlier than the previous timestamped turn's
                                (timing rules ignore that reply)
    end_ts.invalid:<i>          turn i's end_ts is before its ts; end_ts set to None
    ts.epoch                    numeric ts looked like Unix epoch seconds/milliseconds and were
                                converted to seconds from the conversation start
    role.alias:<given>=<role>   a role alias (客服, 用户, user, …) was mapped
    channel.alias:<given>=<ch>  a channel alias (电话, 在线, …) was mapped
    channel.unknown:<value>     a channel other than chat/phone, kept as given
    <field>.invalid             an optional field (channel, started_at, agent, customer, rating,
                                labels) had the wrong type or value; it is set to None

Timestamps: a number is seconds from the conversation start; an ISO-8601 string (or a Parquet
timestamp) is converted to seconds from ``started_at`` if given, else from the first timestamped
turn. Naive timestamps take the time zone of the first zone-aware one (``started_at`` first), else UTC.
"""

from __future__ import annotations

import csv
import glob
import gzip
import io
import math
import zlib
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import orjson

from pipeline.schema import CHANNELS, ROLES, Conversation, Reject, SourceRef, Turn

__all__ = [
    "InputError",
    "Validator",
    "detect_format",
    "expand_inputs",
    "read_inputs",
    "TABLE_COLUMNS",
    "TableColumns",
    "REQUIRED_TABLE_COLUMNS",
]


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


# --------------------------------------------------------------------------------------------
# files

_FORMATS = (
    (".jsonl.gz", "jsonl", True), (".ndjson.gz", "jsonl", True),
    (".jsonl", "jsonl", False), (".ndjson", "jsonl", False),
    (".csv.gz", "csv", True), (".csv", "csv", False),
    (".parquet", "parquet", False), (".pq", "parquet", False),
)
SUPPORTED = ".jsonl, .jsonl.gz, .ndjson, .csv, .csv.gz, .parquet"


def detect_format(path: str | Path) -> tuple[str, bool]:
    """``(format, gzipped)`` from the file name; InputError with the fix for anything else."""
    name = Path(path).name.lower()
    for ext, fmt, gz in _FORMATS:
        if name.endswith(ext):
            return fmt, gz
    if name.endswith((".json", ".json.gz")):
        raise InputError(
            f"{path}: zhijian reads JSON Lines (one conversation object per line), not .json. "
            "If the file already holds one object per line, rename it to .jsonl; if it is one JSON "
            f"array, convert it: jq -c '.[]' {Path(path).name} > {Path(path).stem.removesuffix('.json')}.jsonl")
    if name.endswith((".xlsx", ".xls")):
        raise InputError(f"{path}: Excel files are not read; save the sheet as CSV (UTF-8) with one turn per row")
    raise InputError(f"{path}: unknown input format; supported extensions are {SUPPORTED}")


def expand_inputs(patterns: Iterable[str | Path]) -> list[Path]:
    """Files named by ``patterns``: existing paths as given, directories → their input files
    (recursive, supported extensions only, sorted), otherwise a glob (``**`` allowed).

    A pattern that matches no file raises InputError naming it. Each file is listed once, in order.
    """
    out: list[Path] = []
    seen: set[Path] = set()

    def add(p: Path) -> None:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            out.append(p)

    for pattern in patterns:
        p = Path(pattern)
        if p.is_file():
            add(p)
        elif p.is_dir():
            found = sorted(
                f for f in p.rglob("*")
                if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts)
                and any(f.name.lower().endswith(ext) for ext, _, _ in _FORMATS)
            )
            if not found:
                raise InputError(f"{pattern}: directory holds no input files ({SUPPORTED})")
            for f in found:
                add(f)
        else:
            matches = sorted(Path(m) for m in glob.glob(str(pattern), recursive=True))
            files = [m for m in matches if m.is_file()]
            if not files:
                if glob.has_magic(str(pattern)):
                    raise InputError(f"{pattern}: no file matches this pattern")
                raise InputError(f"{pattern}: no such file or directory")
            for f in files:
                add(f)
    return out


def read_inputs(
    paths: Iterable[str | Path],
    config: dict | None,
    table_columns: dict[str, str | None] | None = None,
) -> Iterator[Conversation | Reject]:
    """Every record of every input, in order, as a Conversation or a Reject.

    ``paths`` go through :func:`expand_inputs`. All files are checked (exist, known format, table
    columns present) before the first record is yielded, so a usage error costs no work.
    ``table_columns`` maps our column names (see ``TABLE_COLUMNS``; ``id`` means ``conversation_id``)
    to the user's; mapping an optional column to ``""``/None declares it absent.
    Duplicate ids are detected across all inputs of the call.
    """
    files = expand_inputs(paths)
    columns = TableColumns(table_columns)
    plan = []
    for f in files:
        fmt, gz = detect_format(f)
        if fmt == "jsonl":
            _preflight_jsonl(f, gz)
            plan.append((f, fmt, gz, None))
        else:
            plan.append((f, fmt, gz, _preflight_table(f, fmt, gz, columns)))
    return _read_all(plan, Validator(config), columns)


def _read_all(plan, validator: Validator, columns: TableColumns) -> Iterator[Conversation | Reject]:
    for f, fmt, gz, info in plan:
        if fmt == "jsonl":
            yield from read_jsonl(f, validator, gz)
        else:
            yield from read_table(f, validator, columns, fmt, info)


# --------------------------------------------------------------------------------------------
# JSONL

def read_jsonl(
    path: str | Path,
    validator: Validator,
    gz: bool | None = None,
    start: int = 0,
    end: int | None = None,
    first_line: int = 1,
    data: bytes | None = None,
) -> Iterator[Conversation | Reject]:
    """Stream a JSON Lines file (``.gz`` too): one Conversation/Reject per non-blank line.

    A partition of a file is read with ``start``/``end`` (byte offsets on line boundaries of a
    plain file) and ``first_line`` (the line number at ``start``), or with ``data``: the
    partition's lines themselves (a gzip file is cut into partitions by the process that
    decompresses it). Line numbers in sources always refer to the whole file.
    """
    spath = str(path)
    if gz is None:
        gz = spath.lower().endswith(".gz")
    validator.begin_file(spath, "line")
    maxb = validator.max_line_bytes
    limit = maxb + 2  # room for "\r\n"
    loads = orjson.loads
    JSONDecodeError = orjson.JSONDecodeError
    validate = validator.validate
    lineno = first_line - 1
    try:
        if data is not None:
            f = io.BytesIO(data)
        else:
            f = gzip.open(path, "rb") if gz else open(path, "rb")
            if start:
                f.seek(start)
    except OSError as e:
        raise InputError(f"{spath}: cannot open ({e.strerror or e})") from None
    with f:
        readline = f.readline
        tell = f.tell
        while True:
            try:
                if end is not None and tell() >= end:
                    break
                raw = readline(limit)
                if not raw:
                    break
                lineno += 1
                if len(raw) > maxb:
                    size = len(raw.rstrip(b"\r\n"))
                    blank = not raw.removeprefix(_BOM).strip()
                    if not raw.endswith(b"\n"):  # the line goes on: skip to its end, counting
                        while True:
                            chunk = readline(1 << 20)
                            size += len(chunk)
                            blank = blank and not chunk.strip()
                            if not chunk or chunk.endswith(b"\n"):
                                size -= len(chunk) - len(chunk.rstrip(b"\r\n"))
                                break
                    if blank:  # a blank line is not a record, however long
                        continue
                    if size > maxb:
                        yield Reject(SourceRef(spath, line=lineno), "line.too_large",
                                     f"the line has {size} bytes, more than limits.max_line_bytes = {maxb}; "
                                     "it was not parsed (check the export or raise the limit)")
                        continue
            except (OSError, EOFError, zlib.error) as e:
                yield Reject(SourceRef(spath, line=lineno + 1), "file.unreadable",
                             f"reading stopped here: {e}; the rest of the file was not read "
                             "(a truncated or corrupt file? re-export it)")
                return
            if raw[:3] == _BOM:
                raw = raw[3:]
            if not raw or raw.isspace():
                continue
            warns = None
            try:
                obj = loads(raw)
            except JSONDecodeError as e:
                obj, warns, reject = _decode_slow(raw, e, SourceRef(spath, line=lineno))
                if reject is not None:
                    yield reject
                    continue
            yield validate(obj, SourceRef(spath, line=lineno), warns)


def _preflight_jsonl(path: Path, gz: bool) -> None:
    """Catch a whole-file problem up front: a file named .gz that is not gzip."""
    try:
        with _open_maybe_gz(path, gz) as f:
            f.read(4)
    except (OSError, EOFError, zlib.error) as e:
        raise InputError(f"{path}: cannot read ({e})" + ("; is it really gzip-compressed?" if gz else "")) from None


def _decode_slow(raw: bytes, err: Exception, source: SourceRef):
    """orjson failed: a JSON error, or not UTF-8 (then try GB18030). → (obj, warnings, reject)."""
    if raw.count(0) * 3 >= len(raw):  # every other byte NUL: UTF-16 text
        return None, None, Reject(source, "encoding.invalid",
                                  "the line is mostly NUL bytes: the file looks UTF-16 encoded; save it as UTF-8")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as ue:
        try:
            text = raw.decode("gb18030")
        except UnicodeDecodeError:
            return None, None, Reject(source, "encoding.invalid",
                                      f"the line is neither UTF-8 nor GB18030 (bad byte at offset {ue.start}); "
                                      "re-export the file as UTF-8")
        try:
            return orjson.loads(text), ["encoding.gb18030"], None
        except orjson.JSONDecodeError as e2:
            return None, None, Reject(source, "json.invalid", f"not valid JSON (read as GB18030): {e2}")
    hint = ""
    if raw.lstrip()[:1] == b"[":
        hint = " — write one conversation object per line, not a JSON array"
    return None, None, Reject(source, "json.invalid", f"not valid JSON: {err}{hint}")


# --------------------------------------------------------------------------------------------
# long tables (CSV, Parquet)

class TableColumns:
    """Our column names → the user's, from ``--column`` mappings.

    ``names[ours]`` is the user's column name, or None when declared absent (``--column ts=``).
    Required columns and explicitly mapped ones must exist in each table; other optional columns
    are used when present.
    """

    def __init__(self, table_columns: dict[str, str | None] | None = None):
        self.names: dict[str, str | None] = dict(TABLE_COLUMNS)
        self.explicit: set[str] = set()
        for key, value in (table_columns or {}).items():
            ours = _COLUMN_KEY_ALIASES.get(key, key)
            if ours not in self.names:
                raise InputError(
                    f"--column {key}=…: unknown column name '{key}'; known: id, " + ", ".join(TABLE_COLUMNS))
            if value is None or (isinstance(value, str) and not value.strip()):
                if ours in REQUIRED_TABLE_COLUMNS:
                    raise InputError(f"--column {key}=: the {ours} column is required and cannot be declared absent")
                self.names[ours] = None
            else:
                self.names[ours] = str(value)
                self.explicit.add(ours)

    def present(self, path: Path, available: list[str]) -> dict[str, str]:
        """Our name → the user's column for every column this table has; InputError if one is missing."""
        have = set(available)
        present: dict[str, str] = {}
        for ours, theirs in self.names.items():
            if theirs is None:
                continue
            if theirs in have:
                present[ours] = theirs
            elif ours in REQUIRED_TABLE_COLUMNS or ours in self.explicit:
                shown = ", ".join(available[:30]) + (" …" if len(available) > 30 else "")
                raise InputError(
                    f"{path}: no column '{theirs}' for {ours} (columns: {shown}); "
                    f"name yours with --column {'id' if ours == 'conversation_id' else ours}=<your column>")
        return present


def _open_maybe_gz(path: Path, gz: bool):
    return gzip.open(path, "rb") if gz else open(path, "rb")


def _preflight_table(path: Path, fmt: str, gz: bool, columns: TableColumns) -> dict:
    """Check the header / schema before any work: → {'present': {...}, 'encoding': ...}."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            names = pq.read_schema(path).names
        except Exception as e:  # not a Parquet file at all
            raise InputError(f"{path}: cannot read the Parquet schema ({e}); is it a Parquet file?") from None
        return {"present": columns.present(path, names), "encoding": None}
    try:
        with _open_maybe_gz(path, gz) as f:
            head = f.readline(1 << 20)
    except (OSError, EOFError, zlib.error) as e:
        raise InputError(f"{path}: cannot read the CSV header ({e})") from None
    if head[:3] == _BOM:
        head = head[3:]
    try:
        line, encoding = head.decode("utf-8"), "utf8"
    except UnicodeDecodeError:
        try:
            line, encoding = head.decode("gb18030"), "gb18030"
        except UnicodeDecodeError:
            raise InputError(f"{path}: the CSV header is neither UTF-8 nor GB18030; save the file as CSV UTF-8") from None
    if not line.strip():
        raise InputError(f"{path}: the CSV file is empty or its first line is blank; the first line must be the header")
    names = next(csv.reader([line.rstrip("\r\n")]))
    return {"present": columns.present(path, names), "encoding": encoding}


def _read_csv(path: str, present: dict[str, str], encoding: str):
    """→ (pyarrow table of the needed columns as strings, [(data_row, detail)] of skipped rows).

    Rows with the wrong number of fields are skipped and reported. The multithreaded reader does
    not know row numbers, so a file with such rows is read again single-threaded.
    """
    import pyarrow as pa
    import pyarrow.csv as pcsv

    include = list(dict.fromkeys(present.values()))
    convert = pcsv.ConvertOptions(include_columns=include, column_types={c: pa.string() for c in include},
                                  strings_can_be_null=False)

    def attempt(threads: bool):
        bad: list[tuple[int, str]] = []
        unnumbered: list[bool] = []

        def on_bad_row(row) -> str:
            if row.number is None:
                unnumbered.append(True)
                return "error"
            bad.append((row.number - 1, f"the row has {row.actual_columns} fields, the header "
                                        f"{row.expected_columns}: {row.text[:80]!r}"))
            return "skip"

        try:
            table = pcsv.read_csv(
                path,
                read_options=pcsv.ReadOptions(encoding=encoding, use_threads=threads),
                parse_options=pcsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_bad_row),
                convert_options=convert,
            )
        except pa.ArrowInvalid:
            if unnumbered:
                return None
            raise
        return table, bad

    return attempt(True) or attempt(False)


def read_table(path: str | Path, validator: Validator, columns: TableColumns | None = None, fmt: str | None = None,
               info: dict | None = None) -> Iterator[Conversation | Reject]:
    """A long table (one turn per row) → one Conversation/Reject per conversation id.

    Memory: the needed columns of the whole file are loaded into Arrow memory (about their
    uncompressed size; unused columns are never read), because a conversation's rows may be
    anywhere in the file. Conversations are then built in slices of ~64k rows, so only one slice
    exists as Python objects at a time. For files larger than memory, split them by conversation
    or export JSONL (streamed).
    Output order: by each conversation's first row; ``source.row`` is that row, 1-based over the
    data rows (in a CSV the header is row 0).
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    path = Path(path)
    spath = str(path)
    if fmt is None:
        fmt, gz = detect_format(path)
    else:
        gz = spath.lower().endswith(".gz")
    if columns is None:
        columns = TableColumns()
    if info is None:
        info = _preflight_table(path, fmt, gz, columns)
    present: dict[str, str] = info["present"]
    validator.begin_file(spath, "row")
    warn0: list[str] | None = None
    skipped: list[tuple[int, str]] = []

    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(path, columns=list(dict.fromkeys(present.values())))
        else:
            encoding = info["encoding"]
            try:
                table, skipped = _read_csv(spath, present, encoding)
            except pa.ArrowInvalid as e:
                if encoding != "utf8" or "UTF8" not in str(e):
                    raise
                table, skipped = _read_csv(spath, present, "gb18030")
                encoding = "gb18030"
            if encoding == "gb18030":
                warn0 = ["encoding.gb18030"]
    except Exception as e:  # corrupt Parquet, CSV syntax (e.g. an unclosed quote), undecodable bytes
        yield Reject(SourceRef(spath), "file.unreadable",
                     f"the table could not be read: {e}; nothing from this file was inspected — fix or re-export it")
        return

    n = table.num_rows
    # data row number (1-based) of each table row: skipped CSV rows leave gaps
    if skipped:
        skipped.sort()
        gone = np.array([r for r, _ in skipped], dtype=np.int64)
        file_row = np.setdiff1d(np.arange(1, n + len(skipped) + 1, dtype=np.int64), gone)
    else:
        file_row = None

    def row_of(i: int) -> int:
        return int(file_row[i]) if file_row is not None else i + 1

    # -- group keys
    ids = table.column(present["conversation_id"])
    if not pa.types.is_string(ids.type) and not pa.types.is_large_string(ids.type):
        try:
            ids = pc.cast(ids, pa.string())
        except pa.ArrowInvalid:
            ids = pa.chunked_array([pa.array([None if v is None else str(v) for v in ids.to_pylist()], pa.string())])
    bad_id = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(ids), ""), True)
    bad_rows = np.flatnonzero(bad_id.to_numpy(zero_copy_only=False))
    uniq = pc.unique(ids)
    codes = pc.index_in(ids, value_set=uniq)
    rowidx = pa.array(np.arange(n, dtype=np.int64))
    key_cols = {"c": codes, "r": rowidx}
    sort_keys = [("c", "ascending")]
    order_bad: np.ndarray | None = None
    turn_col = present.get("turn")
    if turn_col is not None:
        tcol = table.column(turn_col)
        try:
            tnum = pc.cast(tcol, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            vals = []
            for v in tcol.to_pylist():
                try:
                    vals.append(float(v) if v is not None and not isinstance(v, bool) else None)
                except (TypeError, ValueError):
                    vals.append(None)
            tnum = pa.array(vals, pa.float64())
        if isinstance(tnum, pa.ChunkedArray):
            tnum = tnum.combine_chunks()
        tnum = pc.if_else(pc.is_nan(tnum), pa.scalar(None, pa.float64()), tnum)
        order_bad = np.asarray(pc.is_null(tnum).to_numpy(zero_copy_only=False))
        key_cols["t"] = pc.fill_null(tnum, 0.0)
        sort_keys.append(("t", "ascending"))
    # numeric ts / end_ts cells (the common case) become floats here, not one Python parse per cell
    for name in ("ts", "end_ts"):
        col = present.get(name)
        if col is not None and pa.types.is_string(table.schema.field(col).type):
            try:
                as_num = pc.cast(pc.if_else(pc.equal(table.column(col), ""), pa.scalar(None, pa.string()),
                                            table.column(col)), pa.float64())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue  # ISO timestamps (or junk): parsed per cell by the validator
            table = table.set_column(table.schema.get_field_index(col), col, as_num)
    sort_keys.append(("r", "ascending"))
    keys = pa.table(key_cols)
    if len(bad_rows):
        keys = keys.filter(pc.invert(bad_id))
    keys = keys.take(pc.sort_indices(keys, sort_keys=sort_keys))
    c_sorted = keys.column("c").to_numpy()
    r_sorted = keys.column("r").to_numpy()
    m = len(c_sorted)
    starts = np.flatnonzero(np.diff(c_sorted)) + 1 if m else np.array([], dtype=np.int64)
    starts = np.concatenate(([0], starts)) if m else starts
    ends = np.append(starts[1:], m) if m else starts
    firsts = np.minimum.reduceat(r_sorted, starts) if m else starts
    group_bad_order = None
    if order_bad is not None and m and order_bad.any():
        group_bad_order = np.add.reduceat(order_bad[r_sorted].astype(np.int64), starts) > 0

    # records in first-row order: conversations, id-less rows and skipped CSV rows
    events: list[tuple[int, int, int]] = [(int(firsts[g]), 0, g) for g in range(len(starts))]
    events += [(int(r), 1, 0) for r in bad_rows]
    skipped_by_row = dict(skipped)
    if file_row is None:
        events.sort()
    else:  # skipped rows have no table index: merge on file rows
        events = [(row_of(i), kind, g) for i, kind, g in events]
        events += [(r, 2, 0) for r, _ in skipped]
        events.sort()

    names = [k for k in TABLE_COLUMNS if k in present and k not in ("conversation_id", "turn")]
    id_name = present["conversation_id"]
    batch_rows = 65536
    pending: list[tuple[int, int, int]] = []
    pending_rows = 0

    def flush(batch):
        """Materialise the rows of the conversations in ``batch`` and validate them."""
        conv_groups = [g for _, kind, g in batch if kind == 0]
        if conv_groups:
            take_idx = np.concatenate([r_sorted[starts[g]:ends[g]] for g in conv_groups])
            sub = table.take(pa.array(take_idx))
            cols = {k: sub.column(present[k]).to_pylist() for k in names}
            idl = ids.take(pa.array(take_idx)).to_pylist()
        pos = 0
        for first, kind, g in batch:
            if kind == 0:
                size = int(ends[g] - starts[g])
                rows = r_sorted[starts[g]:ends[g]]
                src = SourceRef(spath, row=first if file_row is not None else first + 1)
                rid = idl[pos]
                if group_bad_order is not None and group_bad_order[g]:
                    r = int(rows[np.flatnonzero(order_bad[rows])[0]])
                    yield Reject(src, "turn.order_invalid",
                                 f"row {row_of(r)}: the {present['turn']} (turn order) cell is "
                                 f"{_short(table.column(present['turn'])[r].as_py())}; it must be a number", rid)
                else:
                    yield validator.validate(_table_record(rid, cols, pos, size), src, warn0, _Rows(rows, row_of))
                pos += size
            elif kind == 1:
                row = first if file_row is not None else first + 1
                yield Reject(SourceRef(spath, row=row), "id.missing",
                             f"row {row}: the {id_name} (conversation id) cell is empty; every row needs one")
            else:
                yield Reject(SourceRef(spath, row=first), "row.invalid",
                             f"row {first}: {skipped_by_row[first]}; the row was skipped — fix its quoting or separators")

    for ev in events:
        pending.append(ev)
        if ev[1] == 0:
            pending_rows += int(ends[ev[2]] - starts[ev[2]])
        if pending_rows >= batch_rows:
            yield from flush(pending)
            pending, pending_rows = [], 0
    if pending:
        yield from flush(pending)


class _Rows:
    """Source row of each turn of one conversation, computed only when a message needs one."""

    __slots__ = ("_idx", "_row_of")

    def __init__(self, idx, row_of: Callable[[int], int]):
        self._idx = idx
        self._row_of = row_of

    def __len__(self) -> int:
        return len(self._idx)

    def __getitem__(self, i: int) -> int:
        return self._row_of(int(self._idx[i]))


def _first(values: list, a: int, b: int) -> Any:
    for k in range(a, b):
        v = values[k]
        if v is not None and v != "":
            return v
    return None


def _table_record(rid: str, cols: dict[str, list], pos: int, size: int) -> dict:
    """The rows ``pos:pos+size`` of one conversation (in turn order) → a SPEC-shaped record."""
    end = pos + size
    role = cols["role"]
    text = cols["text"]
    ts = cols.get("ts")
    end_ts = cols.get("end_ts")
    turns = []
    for k in range(pos, end):
        t = {"role": role[k], "text": text[k]}
        if ts is not None:
            t["ts"] = ts[k]
        if end_ts is not None:
            t["end_ts"] = end_ts[k]
        turns.append(t)
    rec: dict[str, Any] = {"id": rid, "turns": turns}
    for name in ("channel", "started_at"):
        if name in cols:
            rec[name] = _first(cols[name], pos, end)
    agent = {}
    for name, key in (("agent_id", "id"), ("agent_name", "name"), ("agent_team", "team")):
        if name in cols:
            v = _first(cols[name], pos, end)
            if v is not None:
                agent[key] = v if isinstance(v, str) else str(v)
    if agent:
        rec["agent"] = agent
    if "customer_id" in cols:
        v = _first(cols["customer_id"], pos, end)
        if v is not None:
            rec["customer"] = {"id": v if isinstance(v, str) else str(v)}
    return rec
