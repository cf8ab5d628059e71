"""Privacy, the token-free part: folding, the prefilter, validated numbers (phone, ID card, bank card)
and e-mail found on the characters of a text — what every turn may get without spaCy, and what
:func:`pipeline.privacy.masking.mask_free_text` uses on free text."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date

LABELS = ("phone", "id_card", "bank_card", "email", "address")
CHARACTER_LABELS = ("phone", "id_card", "bank_card", "email")  # what scan_characters finds without a tokenizer

# ---------------------------------------------------------------------------------------------------
# Folding: a same-length translation (so offsets never move) from full-width ASCII, ideographic space,
# dash variants and traditional address markers to their plain forms.
_FOLD_MAP: dict[int, str] = {cp: chr(cp - 0xFEE0) for cp in range(0xFF01, 0xFF5F)}
_FOLD_MAP[0x3000] = " "
for _cp in (0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2212, 0xFE63):
    _FOLD_MAP[_cp] = "-"
_FOLD_MAP.update({ord(t): s for t, s in zip("號區縣樓棟單層門東鎮鄉園臺", "号区县楼栋单层门东镇乡园台")})
_FOLD_TABLE = str.maketrans(_FOLD_MAP)


# Numbers spoken digit by digit and written in Chinese numerals (speech-to-text writes
# 手机一三八一二三四五六七八 for a dictated phone number): a run of 7+ such characters, maybe grouped by
# spaces or dashes, is read as digits. 幺 is how 1 is said in numbers, 两 is 2; 零 and 〇 are 0.
# Shorter runs (一二三, 五六个) are ordinary words and stay as they are.
_NUMERAL_DIGITS = {"〇": "0", "零": "0", "一": "1", "幺": "1", "二": "2", "两": "2", "三": "3", "四": "4",
                   "五": "5", "六": "6", "七": "7", "八": "8", "九": "9"}
_NUMERAL_CLASS = "".join(_NUMERAL_DIGITS)
_NUMERAL_RUN = re.compile(rf"[{_NUMERAL_CLASS}](?:[ \-]{{0,2}}[{_NUMERAL_CLASS}]){{6,}}")
_NUMERAL_TABLE = str.maketrans(_NUMERAL_DIGITS)


def fold_text(text: str) -> str:
    """Full-width → half-width, dash variants → ``-``, traditional address markers → simplified,
    runs of 7+ Chinese numerals (一三八…, 幺, 两, 〇) → ASCII digits.

    One character in, one character out: ``len(fold_text(s)) == len(s)`` and offsets are shared.
    """
    folded = text.translate(_FOLD_TABLE)
    if _NUMERAL_RUN.search(folded) is None:
        return folded
    return _NUMERAL_RUN.sub(lambda m: m.group().translate(_NUMERAL_TABLE), folded)


# ---------------------------------------------------------------------------------------------------
# Prefilter: a necessary condition for any detection, run on the raw text.
_PF_DIGIT = "0-9\uff10-\uff19"
_PF_SEP = " \t\u3000\\-\uff0d\u2010-\u2014\u2212\ufe63"
_PF_UNITS = "号號弄栋棟幢座楼樓层層室单單期院"
_PF_NUMBER = rf"[{_PF_DIGIT}](?:[{_PF_SEP}]{{0,3}}[{_PF_DIGIT}]){{6,}}"  # 7+ digits, maybe grouped
_PF_EMAIL = r"[@\uff20]"
_PF_ADDRESS = rf"[{_PF_DIGIT}]\s*[{_PF_UNITS}]"  # house number + unit
_PF_NUMERALS = "[〇零一幺二两三四五六七八九](?:[ \\-]{0,2}[〇零一幺二两三四五六七八九]){6,}"  # fold_text's numeral runs
PREFILTER = re.compile(f"{_PF_NUMBER}|{_PF_EMAIL}|{_PF_ADDRESS}|{_PF_NUMERALS}")
# Only addresses need tokens; numbers and e-mails are found on the characters. So a turn goes through
# spaCy only when this matches, and through the same regex pass without spaCy otherwise.
ADDRESS_HINT = re.compile(_PF_ADDRESS)
# ...and holds the last character of a road, community or division token (路 街 道 巷 同 / 区 园 楼 城 …
# / 省 市 县 …), raw or traditional: 3号之前能送到吗 (a date) stays off spaCy.
ADDRESS_MARKER = re.compile("[路街道巷同区區园園寓厦楼樓场心村苑城府庭湾里馆墅舍省市县縣旗盟州镇鎮乡鄉]")


def may_hold_address(text: str) -> bool:
    """Necessary condition of an address detection: a digit + unit and a road/place/division marker."""
    return ADDRESS_HINT.search(text) is not None and ADDRESS_MARKER.search(text) is not None


def might_contain_pii(text: str) -> bool:
    """Cheap test: False means :meth:`PiiDetector.detect` would find nothing in ``text``."""
    return PREFILTER.search(text) is not None


# ---------------------------------------------------------------------------------------------------
# Numbers: validated regex pass over folded text.
_SEP = r"[ \t\-]{1,3}"
_RUN = re.compile(rf"[0-9]+[Xx]?(?:{_SEP}[0-9]+[Xx]?)*")
_GROUP = re.compile(r"[0-9]+[Xx]?")
_MAX_DIGITS = 21  # longest number we look for: 0086 + 11-digit mobile = 15, bank card 19, id 18

_ID_REGIONS = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 "
    "61 62 63 64 65 71 81 82 83 91".split()
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
MOBILE = re.compile(r"1[3-9][0-9]{9}")
_LANDLINE = re.compile(r"0(?:10|2[0-9]|[3-9][0-9]{2})[1-9][0-9]{6,7}")
_LANDLINE_SPLIT_AREA = re.compile(r"0(?:10|2[0-9]|[3-9][0-9]{2})")
_LANDLINE_SPLIT_LOCAL = re.compile(r"[1-9][0-9]{6,7}")


def id_check_digit(first17: str) -> str:
    """The GB 11643-1999 check character (``0``–``9`` or ``X``) of the first 17 digits of an ID number."""
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS))
    return _ID_CHECK[total % 11]


def _real_date(y: int, m: int, d: int) -> bool:
    try:
        born = date(y, m, d)
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= date.today()


def is_valid_id_card(number: str) -> bool:
    """18-digit (region, birth date, check digit) or 15-digit legacy (region, birth date) ID number."""
    if len(number) == 18:
        body, check = number[:17], number[17].upper()
        if not body.isascii() or not body.isdigit() or number[:2] not in _ID_REGIONS:
            return False
        if not _real_date(int(body[6:10]), int(body[10:12]), int(body[12:14])):
            return False
        return id_check_digit(body) == check
    if len(number) == 15 and number.isascii() and number.isdigit():
        return number[:2] in _ID_REGIONS and _real_date(1900 + int(number[6:8]), int(number[8:10]), int(number[10:12]))
    return False


def luhn_ok(number: str) -> bool:
    """The Luhn (mod 10) check used by payment cards."""
    if not number.isascii() or not number.isdigit():
        return False
    total = 0
    for i, c in enumerate(reversed(number)):
        d = int(c)
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def is_valid_bank_card(number: str) -> bool:
    if not 16 <= len(number) <= 19 or not luhn_ok(number):
        return False
    return number[0] in "34569" or 2221 <= int(number[:4]) <= 2720


def _phone_national(digits: str) -> str | None:
    """The national number if ``digits`` is a phone (with or without country code), else None."""
    for prefix in ("0086", "86", ""):
        if digits.startswith(prefix):
            rest = digits[len(prefix) :]
            if MOBILE.fullmatch(rest):
                return rest
            if not prefix and _LANDLINE.fullmatch(rest):
                return rest
    return None


def _classify_number(groups: Sequence[str]) -> tuple[str, float] | None:
    digits = "".join(groups)
    if is_valid_id_card(digits):
        return "id_card", (1.0 if len(digits) == 18 else 0.7)
    if "X" in digits.upper():
        return None
    if is_valid_bank_card(digits):
        return "bank_card", 0.85
    national = _phone_national(digits)
    if national is not None:
        return "phone", (0.95 if national[0] == "1" else 0.8)
    # a landline written "0571-8765432x" with the area code as its own group
    if len(groups) >= 2 and _LANDLINE_SPLIT_AREA.fullmatch(groups[0]) and _LANDLINE_SPLIT_LOCAL.fullmatch("".join(groups[1:])):
        return "phone", 0.8
    return None


def _scan_numbers(folded: str) -> list[tuple[int, int, str, float]]:
    found: list[tuple[int, int, str, float]] = []
    for run in _RUN.finditer(folded):
        groups = [(g.start(), g.end(), g.group()) for g in _GROUP.finditer(folded, run.start(), run.end())]
        n = len(groups)
        cands: list[tuple[int, int, int, str, float]] = []  # (-digits, i, j, label, score)
        for i in range(n):
            total = 0
            for j in range(i, n):
                total += len(groups[j][2])
                if total > _MAX_DIGITS:
                    break
                if total < 10:
                    continue
                hit = _classify_number([g[2] for g in groups[i : j + 1]])
                if hit is None:
                    continue
                label, score = hit
                start, end = groups[i][0], groups[j][1]
                if label in ("id_card", "bank_card"):
                    before = folded[start - 1] if start else ""
                    after = folded[end] if end < len(folded) else ""
                    if (before.isascii() and before.isalpha()) or (after.isascii() and after.isalpha()):
                        continue
                cands.append((-total, i, j, label, score))
        cands.sort()
        used: set[int] = set()
        for _neg, i, j, label, score in cands:
            if used.intersection(range(i, j + 1)):
                continue
            used.update(range(i, j + 1))
            start, end = groups[i][0], groups[j][1]
            if label == "phone" and start and folded[start - 1] == "+" and folded[start : start + 2] in ("86", "00"):
                start -= 1
            found.append((start, end, label, score))
    return found


_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}"
    r"@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*"
    r"\.[A-Za-z]{2,24}(?![A-Za-z0-9\-])"
)


def _scan_emails(folded: str) -> list[tuple[int, int, str, float]]:
    return [(m.start(), m.end(), "email", 0.95) for m in _EMAIL.finditer(folded)]



def scan_characters(text: str, labels: Sequence[str] = LABELS) -> list[tuple[int, int, str, float]]:
    """The token-free part of the detection: validated numbers and e-mails in ``text`` (any width)."""
    folded = fold_text(text)
    cands: list[tuple[int, int, str, float]] = []
    if "email" in labels and "@" in folded:
        cands += _scan_emails(folded)
    if {"phone", "id_card", "bank_card"} & set(labels):
        cands += [c for c in _scan_numbers(folded) if c[2] in labels]
    return cands


_PRIORITY = {"email": 0, "id_card": 1, "bank_card": 2, "phone": 3, "address": 4}


def resolve_overlaps(cands: Iterable[tuple[int, int, str, float]]) -> list[tuple[int, int, str, float]]:
    """Keep the most specific of overlapping detections (email > id card > bank card > phone > address)."""
    kept: list[tuple[int, int, str, float]] = []
    for c in sorted(cands, key=lambda c: (_PRIORITY.get(c[2], 9), -(c[1] - c[0]), c[0])):
        if all(c[1] <= k[0] or k[1] <= c[0] for k in kept):
            kept.append(c)
    return sorted(kept)
