"""Ids in paths, forms and query strings: positive integers the database can hold.

Every table's id is a 64-bit integer at most; a longer number in a URL (``/conversations/99999999999999999999``)
must read as "no such thing" (404 / a form error), never reach the database and overflow into a 500.
"""

from __future__ import annotations

from typing import Any

from starlette.convertors import Convertor, register_url_convertor

MAX_ID_DIGITS = 18  # 10**18 - 1 < 2**63 - 1: every 18-digit number fits a BIGINT / SQLite INTEGER
ID_PATTERN = f"[0-9]{{1,{MAX_ID_DIGITS}}}"


def parse_id(value: Any) -> int | None:
    """``value`` as an id, or None when it isn't one (not digits, zero, or too long for the database)."""
    text = value.strip() if isinstance(value, str) else str(value) if isinstance(value, int) else ""
    if not text.isascii() or not text.isdigit() or len(text) > MAX_ID_DIGITS:
        return None
    number = int(text)
    return number if number > 0 else None


class IdConvertor(Convertor):
    """``{conv_id:id}`` in a route: 1–18 ASCII digits; anything else does not match the route (404)."""

    regex = ID_PATTERN

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(int(value))


register_url_convertor("id", IdConvertor())
