"""How wide text shows in a fixed-width cell (a terminal column, an Excel column): a wide or
full-width character (CJK, full-width punctuation — East Asian Width W / F) takes two columns.
One definition for every table zhijian prints or writes."""

from __future__ import annotations

import unicodedata


def display_width(text: str) -> int:
    """Columns ``text`` takes: two for a wide or full-width character, one for any other."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, width: int) -> str:
    """``text`` padded with spaces to ``width`` display columns (``str.ljust`` for CJK)."""
    return text + " " * max(0, width - display_width(text))
