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

from pathlib import Path
from typing import Iterable, Iterator


from pipeline.schema import Conversation, Reject

__all__ = [
    "InputError", "Validator", "detect_format", "expand_inputs", "read_inputs", "read_jsonl", "read_table",
    "TABLE_COLUMNS", "TableColumns", "REQUIRED_TABLE_COLUMNS", "DEFAULT_LIMITS", "SUPPORTED",
]

from .files import SUPPORTED, detect_format, expand_inputs  # noqa: F401 — the package's API (split by job: files, validate, jsonl, table)
from .jsonl import _preflight_jsonl, read_jsonl  # noqa: F401
from .table import TableColumns, _preflight_table, read_table  # noqa: F401
from .validate import (  # noqa: F401
    DEFAULT_LIMITS, REQUIRED_TABLE_COLUMNS, TABLE_COLUMNS, InputError, Validator,
)


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
