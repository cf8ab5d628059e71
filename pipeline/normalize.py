"""normalize: give every turn the text the rules match on, with a map back to the original.

Adds ``Turn.norm`` and ``Turn.norm_map``. The folding is one character to one character
(traditional → simplified with OpenCC's character table plus ``lexicons/char_variants.txt``,
full-width → half-width, ASCII upper → lower case), then spaces, decorative symbols and
zero-width characters *between two Chinese characters* are removed, so ``你 明 白 吗`` and
``妳明白嗎`` both become ``你明白吗``. Only the removal changes offsets; ``norm_map[i]`` is the
offset in the original text of ``norm[i]`` (None when nothing was removed).

A space between two *messages* is not decoration: real chat exports join the messages of one turn
with a space (「您好 这个不清楚的」). When the words on both sides of a space run are at least
``message_min_chars`` long, the run becomes one ``,`` — a clause boundary the rules can see —
instead of disappearing (decided here, before the removal would erase it). Single characters
spaced out to dodge a filter (``你 明 白 吗``) still collapse.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from .schema import Conversation

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# spaces and symbols people put inside words to dodge filters or for decoration
_DECOR = r"\s\*~·•_\^\|/\\\-—–=+`'\"“”‘’.。、,，…"
# what may be removed: decorative runs between CJK, zero-width anywhere. Commas and full stops
# between CJK are real punctuation and are kept unless they sit inside a run with spaces.
_REMOVABLE = re.compile(
    rf"(?<=[{_CJK}])(?:[\s\*~·•_\^\|/\\`]+|[\s\*~·•_\^\|/\\`]*[\-—–=+'\"“”‘’]+[\s\*~·•_\^\|/\\`]*)(?=[{_CJK}])"
    "|[\u200b\u200c\u200d\u2060\ufeff]+"
)


def _opencc_table() -> dict[int, str]:
    import opencc  # the dictionary files ship with opencc-python-reimplemented

    path = Path(opencc.__file__).with_name("dictionary") / "TSCharacters.txt"
    table: dict[int, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if "\t" not in line:
            continue
        src, dst = line.split("\t", 1)
        dst = dst.split(" ")[0]
        if len(src) == 1 and len(dst) == 1 and src != dst:
            table[ord(src)] = dst
    return table


@lru_cache(maxsize=4)
def translation_table(variants_path: str | None = None) -> dict[int, str]:
    """The one-to-one character folding table (built once per process)."""
    table = _opencc_table()
    for cp in range(0xFF01, 0xFF5F):  # full-width ASCII block → ASCII
        table[cp] = chr(cp - 0xFEE0)
    table[0x3000] = " "  # ideographic space
    for cp in range(ord("A"), ord("Z") + 1):
        table[cp] = chr(cp + 32)
    for cp in range(0xFF21, 0xFF3B):  # full-width upper case → lower ASCII
        table[cp] = chr(cp - 0xFEE0 + 32)
    if variants_path:
        for n, line in enumerate(Path(variants_path).read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) != 2 or len(parts[0]) != 1 or len(parts[1]) != 1:
                from .config import ConfigError

                raise ConfigError(
                    f"{variants_path}:{n}: expected VARIANT<TAB>REPLACEMENT, one character each, got {line!r}"
                )
            table[ord(parts[0])] = parts[1]
    # fold chains (a traditional variant whose simplified form is itself folded again)
    for cp, dst in list(table.items()):
        nxt = table.get(ord(dst))
        if nxt is not None and nxt != dst:
            table[cp] = nxt
    return table


#: shorter words around a space are taken as spaced-out characters, not as separate messages
MESSAGE_MIN_CHARS = 2
_SPACE = re.compile(r"\s")
MESSAGE_BOUNDARY = ","


def _is_message_gap(folded: str, start: int, end: int, min_chars: int) -> bool:
    """A space run with a word of at least ``min_chars`` letters on each side (symbols don't count)."""
    if not min_chars or not _SPACE.search(folded, start, end) or start < min_chars:
        return False
    left, right = folded[start - min_chars : start], folded[end : end + min_chars]
    return len(right) == min_chars and (left + right).isalnum()


def normalize_text(text: str, table: dict[int, str], message_min_chars: int = MESSAGE_MIN_CHARS) -> tuple[str, list[int] | None]:
    """Fold ``text``; return the folded text and its offset map (None when offsets are unchanged)."""
    folded = text.translate(table)
    if _REMOVABLE.search(folded) is None:
        return folded, None
    kept: list[str] = []
    offsets: list[int] = []
    pos = 0
    for m in _REMOVABLE.finditer(folded):
        kept.append(folded[pos : m.start()])
        offsets.extend(range(pos, m.start()))
        if _is_message_gap(folded, m.start(), m.end(), message_min_chars):
            kept.append(MESSAGE_BOUNDARY)
            offsets.append(_SPACE.search(folded, m.start(), m.end()).start())  # the boundary maps onto the space
        pos = m.end()
    kept.append(folded[pos:])
    offsets.extend(range(pos, len(folded)))
    return "".join(kept), offsets


class Normalizer:
    """The normalize stage: ``Conversation`` → the same conversation with ``norm`` filled."""

    name = "normalize"

    def __init__(self, variants_path: str | Path | None = None, message_min_chars: int = MESSAGE_MIN_CHARS):
        self.variants_path = str(variants_path) if variants_path else None
        self.table = translation_table(self.variants_path)
        self.message_min_chars = message_min_chars

    def text(self, text: str) -> str:
        return normalize_text(text, self.table, self.message_min_chars)[0]

    def __call__(self, conversation: Conversation) -> Conversation:
        table, min_chars = self.table, self.message_min_chars
        for turn in conversation.turns:
            turn.norm, turn.norm_map = normalize_text(turn.text, table, min_chars)
        return conversation
