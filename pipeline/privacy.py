"""Privacy: find personal data (PII) in turns and mask it wherever a person sees text (seed 003 职业操守).

What is detected (labels of :class:`pipeline.schema.Span`):

==========  =====================================================================  ===========================
label       accepted when                                                          masked as
==========  =====================================================================  ===========================
phone       mainland mobile ``1[3-9]`` + 9 digits (optionally ``+86``/``86``/       ``138****5678``: first 3 and
            ``0086`` in front); landline ``0`` + 2–3 digit area code + 7–8 digit    last 4 digits kept, country
            local number starting 1–9. Spaces/dashes between digit groups are ok.   code kept, separators kept
id_card     18 digits (last may be X) with a valid region code, a real birth date  ``110*************14``: first
            and the GB 11643 check digit; or a 15-digit legacy number (region +    3 and last 2 kept
            real YYMMDD date)
bank_card   16–19 digits passing the Luhn check, starting like a payment card      ``***************0123``: last
            (3/4/5/6/9, or Mastercard 2221–2720)                                   4 kept
email       ``local@domain.tld``                                                   ``z*******@qq.com``: first
                                                                                   character and domain kept
address     a road / community / district followed by a house number and unit    ``北京市朝阳区******``: the
            (路…88号, 小区3栋2单元, 区…27号院 …), extended left over 省/市/区/县    administrative divisions
            and right over further number + unit pairs (502室, 3楼, A座1001)      (省/市/区/县…) kept, the
                                                                                   detail masked
==========  =====================================================================  ===========================

Masking keeps the length (every masked character becomes one ``mask_char``), so offsets computed on
the original text stay valid in the masked text; whitespace and ``-`` separators are never masked.
Digit runs that fail validation (an 18-digit order number, a 16-digit number failing Luhn) are not PII,
except an 11-digit run starting ``1[3-9]`` which is always taken for a mobile number. ID-card and bank
numbers glued to a Latin letter (``SF1234…``, ``JD…``) are tracking / order codes and are skipped; a
mobile number glued to letters (``wx13812345678``) is still a phone. Full-width digits and symbols
(``１３８…``, ``＠``) are detected; so are traditional address markers (號, 區, 樓 …).
Placeholders of anonymised corpora (``[电话]``, ``[身份证号]``, ``[ORDERID_123]``) are not PII.

How: :class:`PiiDetector` runs a blank ``zh`` spaCy pipeline (jieba segmenter) with the registered
component ``zhijian_pii``. Inside the component

* addresses come from a spaCy ``Matcher`` over jieba tokens (token-level ``REGEX`` / ``IN`` patterns
  find a road / community / district + number + unit core) and are extended token by token;
* numbers and e-mails come from a validated regex pass over ``doc.text``: jieba glues digits to
  Latin letters (``abc13812345678`` is one token), splits ``138-1234-5678`` and e-mails into many
  tokens and full-width digits into one token per digit, so token patterns would need a variant per
  spelling. The results are still set on the ``Doc``: ``doc.spans["pii"]`` (token-aligned) and
  ``doc._.zhijian_pii`` (exact character offsets).

Cost (``bench/privacy_cost.py``, one core): the prefilter is ~1–2 µs per turn, spaCy ~200–500 µs
(jieba segmentation and ``Doc`` construction dominate), i.e. a few hundred times more. So
:class:`PiiDetector` keeps spaCy off every turn that can't hold what it looks for:

1. :data:`PREFILTER` (a run of 7+ digits, an ``@``, or a digit followed by an address unit 号/室/栋 …)
   rejects most turns with one regex search;
2. only turns that may hold an address (:func:`may_hold_address`: digit + unit *and* a road / place /
   division character) go through spaCy — numbers and e-mails need no tokens, so the other turns get
   the component's character pass (:func:`scan_characters`) directly.

Both conditions are necessary conditions of the detections above, and the fast path returns exactly
what the full pipeline returns (both property-tested).

``import pipeline.privacy`` does not import spaCy; the component is registered when a detector builds
its pipeline, by :func:`register_component`, or at import time if spaCy is already imported.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from pipeline.schema import Span

LABELS = ("phone", "id_card", "bank_card", "email", "address")
COMPONENT_NAME = "zhijian_pii"
SPAN_KEY = "pii"  # doc.spans[SPAN_KEY]
DOC_ATTR = "zhijian_pii"  # doc._.zhijian_pii: list of (start, end, label, score) in exact char offsets

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
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
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
            if _MOBILE.fullmatch(rest):
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


# ---------------------------------------------------------------------------------------------------
# Addresses: token classes (regexes on jieba tokens of folded text) and Matcher patterns.
_CJK = "\u4e00-\u9fff"
ADMIN_RE = rf"^[{_CJK}]{{1,10}}(?:省|自治区|特别行政区|市|区|县|旗|盟|州|镇|乡)$"
ADMIN_STOP = [
    "超市", "城市", "都市", "门市", "股市", "集市", "夜市", "市区", "地区", "小区", "社区", "园区",
    "景区", "校区", "郊区", "山区", "城区", "专区", "街区", "误区", "禁区", "片区", "厂区", "灾区",
    "分区", "全区", "本区", "我区", "市县", "城乡", "家乡", "故乡", "老乡", "下乡", "回乡", "同乡", "县城",
]
ROAD_RE = rf"^[{_CJK}0-9]{{0,10}}(?:路|街|大街|大道|巷|胡同)$"
ROAD_STOP = [
    "路", "街", "马路", "道路", "网路", "思路", "线路", "出路", "套路", "一路", "走路", "电路", "上路",
    "半路", "公路", "铁路", "迷路", "带路", "让路", "逛街", "上街", "大街", "大道", "小路", "后路",
    "老路", "退路", "来路", "去路", "门路", "回路", "路路", "沿路", "顺路", "赶路", "领路",
]
PLACE_RE = (
    rf"^[{_CJK}A-Za-z0-9]{{0,10}}"
    r"(?:小区|花园|家园|公寓|大厦|大楼|广场|中心|新村|社区|苑|园|村|城|府|庭|湾|里|公馆|別墅|别墅|宿舍)$"
)
NUM_RE = r"^[0-9]{1,5}$"
# jieba sometimes glues the unit to the next character (建国路 88 号单): a unit token may carry up to two
# trailing characters, which the span then leaves out.
_UNIT = "(?:号楼|号院|号门|单元|号|弄|栋|幢|座|楼|层|室|期)"
_BUNIT = "(?:号楼|号院|号门|单元|栋|幢|座|楼|层|室|期)"
UNIT_RE = rf"^{_UNIT}[{_CJK}]{{0,2}}$"
BUILDING_UNIT_RE = rf"^{_BUNIT}[{_CJK}]{{0,2}}$"
GLUED_BUILDING_RE = r"^[A-Za-z0-9]{1,4}(?:座|栋|幢|区|号楼|单元)$"  # A座, 3栋 (right extension)
GLUED_BUILDING_DIGIT_RE = r"^[A-Za-z]?[0-9]{1,4}(?:座|栋|幢|号楼|单元)$"  # a core needs a digit + unit
SEGMENT_RE = r"^[一二三四五六七八九十0-9]{1,3}段$"
_NAME_STOP = frozenset(
    "地址 住址 收货 收件 寄到 送到 发到 我家 家里 这个 那个 就是 还是 但是 现在 已经 可以 没有 "
    "不是 因为 所以 然后 明天 今天 后天 昨天 快递 订单 号码 电话".split()
)

_admin_re = re.compile(ADMIN_RE)
_place_re = re.compile(PLACE_RE)
_num_re = re.compile(NUM_RE)
_unit_re = re.compile(UNIT_RE)
_bunit_re = re.compile(BUILDING_UNIT_RE)
_unit_prefix_re = re.compile(_UNIT)
_glued_re = re.compile(GLUED_BUILDING_RE)
_name_re = re.compile(rf"^[{_CJK}A-Za-z]{{2,8}}$")
_ADMIN_STOP = frozenset(ADMIN_STOP)


def _is_admin(t: str) -> bool:
    return bool(_admin_re.match(t)) and t not in _ADMIN_STOP and not any(t.endswith(s) for s in ("小区", "社区", "超市", "园区"))


def _is_name(t: str) -> bool:
    return bool(_name_re.match(t)) and t not in _NAME_STOP and not _is_admin(t)


_FUNCTION_CHARS = frozenset("的了在和与及跟我你您他她它是到去来送寄就还也都把被给从往向对这那个吗呢吧啊哦呀嗯又再好谢请问哈嘛")


def _is_name_char(t: str) -> bool:
    """A one-character token that may be part of a building name (太古 汇 2座), not a function word."""
    return len(t) == 1 and "\u4e00" <= t <= "\u9fff" and t not in _FUNCTION_CHARS


def _address_patterns() -> dict[str, list[list[dict[str, Any]]]]:
    admin = {"TEXT": {"REGEX": ADMIN_RE, "NOT_IN": ADMIN_STOP}}
    road = {"TEXT": {"REGEX": ROAD_RE, "NOT_IN": ROAD_STOP}}
    bare_road = {"TEXT": {"IN": ["路", "街", "大街", "大道", "巷", "胡同"]}}
    name = {"TEXT": {"REGEX": rf"^[{_CJK}]{{2,6}}$", "NOT_IN": sorted(_NAME_STOP)}}
    place = {"TEXT": {"REGEX": PLACE_RE}}
    seg = {"TEXT": {"REGEX": SEGMENT_RE}, "OP": "?"}
    space = {"IS_SPACE": True, "OP": "?"}
    num = {"TEXT": {"REGEX": NUM_RE}}
    # "88" or "12-3" / "12之3": every variant ends in a number token directly before the unit
    numbers = [[num], [num, {"TEXT": {"IN": ["-", "之"]}}, num]]
    unit = {"TEXT": {"REGEX": UNIT_RE}}
    bunit = {"TEXT": {"REGEX": BUILDING_UNIT_RE}}
    glued = {"TEXT": {"REGEX": GLUED_BUILDING_DIGIT_RE}}
    cjk_words = {"TEXT": {"REGEX": rf"^[{_CJK}]{{2,6}}$", "NOT_IN": sorted(_NAME_STOP)}, "OP": "{0,2}"}
    return {
        # 建国路88号, 人民南路四段12号, 中山北路 88 号
        "ADDR_ROAD": [[road, space, seg, space, *ns, space, unit] for ns in numbers],
        # 民族 路 188 号 (jieba split the road name from its suffix)
        "ADDR_BARE_ROAD": [[name, bare_road, space, seg, space, *ns, space, unit] for ns in numbers],
        # 望京花园3号楼, 阳光小区5栋, 现代城3座
        "ADDR_PLACE": [[place, space, *ns, space, bunit] for ns in numbers] + [[place, space, glued]],
        # 海淀区中关村27号院
        "ADDR_ADMIN": [[admin, cjk_words, *ns, space, unit] for ns in numbers],
    }


class PiiComponent:
    """The ``zhijian_pii`` spaCy component: sets ``doc.spans["pii"]`` and ``doc._.zhijian_pii``."""

    def __init__(self, nlp: Any, name: str = COMPONENT_NAME, labels: Sequence[str] = LABELS):
        from spacy.matcher import Matcher

        unknown = set(labels) - set(LABELS)
        if unknown:
            raise ValueError(f"{name}: unknown PII labels {sorted(unknown)}; known: {', '.join(LABELS)}")
        self.name = name
        self.labels = tuple(labels)
        self.matcher = Matcher(nlp.vocab)
        for key, patterns in _address_patterns().items():
            self.matcher.add(key, patterns)

    def __call__(self, doc: Any) -> Any:
        found = find_pii(doc, self.matcher, self.labels)
        doc._.set(DOC_ATTR, found)
        spans = []
        for start, end, label, score in found:
            sp = doc.char_span(start, end, label=label, alignment_mode="expand")
            if sp is not None:
                spans.append(sp)
        doc.spans[SPAN_KEY] = spans
        return doc


def scan_characters(text: str, labels: Sequence[str] = LABELS) -> list[tuple[int, int, str, float]]:
    """The token-free part of the detection: validated numbers and e-mails in ``text`` (any width)."""
    folded = fold_text(text)
    cands: list[tuple[int, int, str, float]] = []
    if "email" in labels and "@" in folded:
        cands += _scan_emails(folded)
    if {"phone", "id_card", "bank_card"} & set(labels):
        cands += [c for c in _scan_numbers(folded) if c[2] in labels]
    return cands


def find_pii(doc: Any, matcher: Any, labels: Sequence[str] = LABELS) -> list[tuple[int, int, str, float]]:
    """All PII in ``doc`` as ``(start, end, label, score)`` character spans, non-overlapping, sorted."""
    cands = scan_characters(doc.text, labels)
    if "address" in labels and may_hold_address(doc.text):
        cands += _scan_addresses(doc, matcher)
    return _resolve(cands)


_PRIORITY = {"email": 0, "id_card": 1, "bank_card": 2, "phone": 3, "address": 4}


def _resolve(cands: Iterable[tuple[int, int, str, float]]) -> list[tuple[int, int, str, float]]:
    """Keep the most specific of overlapping detections (email > id card > bank card > phone > address)."""
    kept: list[tuple[int, int, str, float]] = []
    for c in sorted(cands, key=lambda c: (_PRIORITY.get(c[2], 9), -(c[1] - c[0]), c[0])):
        if all(c[1] <= k[0] or k[1] <= c[0] for k in kept):
            kept.append(c)
    return sorted(kept)


def _scan_addresses(doc: Any, matcher: Any) -> list[tuple[int, int, str, float]]:
    matches = matcher(doc)
    if not matches:
        return []
    toks = [fold_text(t.text) for t in doc]
    spaces = [t.is_space for t in doc]
    n = len(toks)

    def nxt(i: int) -> int:  # next non-space token index at or after i
        while i < n and spaces[i]:
            i += 1
        return i

    def number_unit_at(i: int, building_only: bool) -> int | None:
        """End (exclusive token index) of ``NUM [-NUM] UNIT`` starting at i, or a glued ``A座``."""
        i = nxt(i)
        if i < n and _glued_re.match(toks[i]):
            return i + 1
        if i >= n or not _num_re.match(toks[i]):
            return None
        j = nxt(i + 1)
        if j + 1 < n and toks[j] in ("-", "之") and _num_re.match(toks[j + 1]):
            j = nxt(j + 2)
        if j < n and (_bunit_re.match(toks[j]) if building_only else _unit_re.match(toks[j])):
            return j + 1
        return None

    spans: list[tuple[int, int]] = []
    for _match_id, s, e in matches:
        # extend left: over up to two name tokens to a run of administrative divisions
        start = s
        k, names = s - 1, 0
        while k >= 0 and names < 2 and _is_name(toks[k]):
            k, names = k - 1, names + 1
        if k >= 0 and _is_admin(toks[k]):
            while k >= 0 and _is_admin(toks[k]):
                k -= 1
            start = k + 1
        elif names and len(toks[s]) <= 2 and not _is_admin(toks[s]):
            start = s - 1  # a bare suffix (路, 花园): take the one name token before it
        # extend right: more number + unit pairs, a room number after a building unit, building names
        end = e
        while not _is_glued_unit(toks[end - 1]):
            prev = toks[end - 1]
            if _bunit_re.match(prev) or _glued_re.match(prev):
                j = nxt(end)
                if j < n and _num_re.match(toks[j]) and number_unit_at(j, False) is None:
                    end = j + 1  # 5栋302, A座1001: a bare room number ends the address
                    break
            nu = number_unit_at(end, building_only=False)
            if nu is not None:
                end = nu
                continue
            j, names = nxt(end), 0
            while j < n and names < 3 and (_is_name(toks[j]) or _place_re.match(toks[j]) or _is_name_char(toks[j])):
                j, names = nxt(j + 1), names + 1
            if names:
                nu = number_unit_at(j, building_only=True)
                if nu is not None:
                    end = nu
                    continue
            break
        spans.append((start, end))
    out = []
    for s, e in spans:
        last = doc[e - 1]
        stop = last.idx + len(last.text)
        if _is_glued_unit(toks[e - 1]):
            stop = last.idx + len(_unit_prefix_re.match(toks[e - 1]).group())
        out.append((doc[s].idx, stop, "address", 0.6))
    return out


def _is_glued_unit(t: str) -> bool:
    """A unit token jieba glued to what follows (号单): the address ends inside it."""
    m = _unit_prefix_re.match(t)
    return m is not None and m.end() < len(t) and bool(_unit_re.match(t))


# ---------------------------------------------------------------------------------------------------
# spaCy registration and the detector.
def make_pii_component(nlp: Any, name: str, labels: list[str]) -> PiiComponent:
    return PiiComponent(nlp, name, labels)


def register_component() -> None:
    """Register ``zhijian_pii`` with spaCy (idempotent) so that ``nlp.add_pipe("zhijian_pii")`` works."""
    from spacy.language import Language
    from spacy.tokens import Doc

    if not Doc.has_extension(DOC_ATTR):
        Doc.set_extension(DOC_ATTR, default=None)
    if not Language.has_factory(COMPONENT_NAME):
        Language.factory(COMPONENT_NAME, default_config={"labels": list(LABELS)})(make_pii_component)


if "spacy" in sys.modules:  # already paid for: register now, like any spaCy plugin
    register_component()


def build_nlp(labels: Sequence[str] = LABELS) -> Any:
    """A blank ``zh`` pipeline with the jieba segmenter and the ``zhijian_pii`` component."""
    import logging

    import jieba
    import spacy

    jieba.setLogLevel(logging.WARNING)  # spaCy's segmenter loads jieba's dictionary: no banner on stderr
    register_component()
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
    nlp.add_pipe(COMPONENT_NAME, config={"labels": list(labels)})
    return nlp


class PiiDetector:
    """Finds PII spans in turns; spaCy is loaded on first use and only for turns the prefilter passes.

    ``config`` is the whole configuration (its ``privacy`` section is used) or that section itself:
    ``mask`` (bool, default True: ``Span.text`` holds the masked text; False keeps the raw text),
    ``mask_char`` (default ``*``), ``labels`` (optional, default all five).
    """

    def __init__(self, config: dict | None = None, nlp: Any = None, tokenize: Any = None):
        # ``tokenize``: an optional ``str -> list[str]`` (the pipeline passes its rjieba segmenter).
        # Building the Doc from those words skips spaCy's own Python-jieba tokenizer, which is most
        # of spaCy's cost here; the words must concatenate back to the text (else spaCy tokenizes).
        self._tokenize = tokenize
        section = (config or {}).get("privacy", config or {})
        self.mask: bool = bool(section.get("mask", True))
        self.mask_char: str = str(section.get("mask_char", "*"))
        if len(self.mask_char) != 1:
            raise ValueError(f"privacy.mask_char must be one character, got {self.mask_char!r}")
        self.labels = tuple(section.get("labels", LABELS))
        unknown = set(self.labels) - set(LABELS)
        if unknown:
            raise ValueError(f"privacy.labels: unknown {sorted(unknown)}; known: {', '.join(LABELS)}")
        self._nlp = nlp

    @property
    def nlp(self) -> Any:
        if self._nlp is None:
            self._nlp = build_nlp(self.labels)
        return self._nlp

    def _doc(self, folded: str) -> Any:
        """The processed Doc of a folded text."""
        if self._tokenize is not None:
            words = self._tokenize(folded)
            if "".join(words) == folded:
                from spacy.tokens import Doc

                doc = Doc(self.nlp.vocab, words=words, spaces=[False] * len(words))
                for _, proc in self.nlp.pipeline:
                    doc = proc(doc)
                return doc
        return self.nlp(folded)

    def __getstate__(self) -> dict:  # picklable for worker processes; each rebuilds its pipeline
        state = self.__dict__.copy()
        state["_nlp"] = None
        return state

    def _spans(self, text: str, found: list[tuple[int, int, str, float]]) -> list[Span]:
        spans = [Span(s, e, label, text[s:e], score) for s, e, label, score in found]
        if self.mask and spans:
            masked = mask_text(text, spans, self.mask_char)
            for sp in spans:
                sp.text = masked[sp.start : sp.end]
        return spans

    def needs_spacy(self, text: str) -> bool:
        """True when ``text`` may hold an address, the one kind of PII found on tokens."""
        return "address" in self.labels and may_hold_address(text)

    def detect(self, text: str, force: bool = False) -> list[Span]:
        """PII spans in ``text`` (its offsets). Turns the prefilter rejects cost one regex search; turns
        that can't hold an address skip spaCy and get the component's character pass directly.
        ``force`` runs the full spaCy pipeline whatever the text (tests and benchmarks)."""
        if not text:
            return []
        if force or self.needs_spacy(text):
            doc = self._doc(fold_text(text))
            return self._spans(text, doc._.get(DOC_ATTR) or [])
        if not might_contain_pii(text):
            return []
        return self._spans(text, _resolve(scan_characters(text, self.labels)))

    def annotate(self, conversation: Any) -> None:
        """Fill ``turn.pii`` for every turn; spaCy runs only on the turns that may hold an address."""
        via_spacy = []
        for turn in conversation.turns:
            turn.pii = []
            if not turn.text or not might_contain_pii(turn.text):
                continue
            if self.needs_spacy(turn.text):
                via_spacy.append(turn)
            else:
                turn.pii = self._spans(turn.text, _resolve(scan_characters(turn.text, self.labels)))
        for turn in via_spacy:
            turn.pii = self._spans(turn.text, self._doc(fold_text(turn.text))._.get(DOC_ATTR) or [])


# ---------------------------------------------------------------------------------------------------
# Masking.
_ADMIN_PREFIX = re.compile(rf"[{_CJK}]{{1,9}}?(?:省|自治区|特别行政区|市|区|县|旗|盟|州)")
_ADMIN_PREFIX_STOP = ("小区", "社区", "园区", "景区", "校区", "街区", "厂区", "超市", "门市", "集市", "夜市")


def admin_prefix_len(address: str) -> int:
    """Length of the leading administrative divisions (省/市/区/县 …) of an address, kept when masking."""
    folded, pos = fold_text(address), 0
    for _ in range(5):
        m = _ADMIN_PREFIX.match(folded, pos)
        if m is None or m.group().endswith(_ADMIN_PREFIX_STOP) or any(c in m.group() for c in "路街号"):
            break
        pos = m.end()
    return pos


def _digit_positions(s: str, extra: str = "") -> list[int]:
    f = fold_text(s)
    return [i for i, c in enumerate(f) if ("0" <= c <= "9") or c in extra]


def _keep_mask(s: str, label: str) -> list[bool]:
    """For each character of a span's text, True when the masking policy keeps it."""
    f = fold_text(s)
    keep = [c.isspace() or c == "-" for c in f]  # separators stay
    if label == "phone":
        pos = _digit_positions(s)
        digits = "".join(f[i] for i in pos)
        for prefix in ("0086", "86"):
            if digits.startswith(prefix) and _MOBILE.fullmatch(digits[len(prefix) :]):
                for i in pos[: len(prefix)]:
                    keep[i] = True
                pos = pos[len(prefix) :]
                break
        for i, c in enumerate(f):
            if c == "+":
                keep[i] = True
        if len(pos) >= 8:
            for i in pos[:3] + pos[-4:]:
                keep[i] = True
    elif label == "id_card":
        pos = _digit_positions(s, "Xx")
        if len(pos) >= 10:
            for i in pos[:3] + pos[-2:]:
                keep[i] = True
    elif label == "bank_card":
        pos = _digit_positions(s)
        if len(pos) >= 8:
            for i in pos[-4:]:
                keep[i] = True
    elif label == "email":
        at = f.find("@")
        if at < 0:
            keep[:1] = [True] * min(1, len(f))
        else:
            keep[0] = True
            for i in range(at, len(f)):
                keep[i] = True
    elif label == "address":
        for i in range(admin_prefix_len(s)):
            keep[i] = True
    return keep


def mask_text(text: str, spans: Iterable[Span], mask_char: str = "*") -> str:
    """``text`` with every PII span masked per the module's policy; same length, nothing else changed."""
    chars: list[str] | None = None
    for sp in spans:
        start, end = max(0, sp.start), min(len(text), sp.end)
        if end <= start:
            continue
        if chars is None:
            chars = list(text)
        for i, k in enumerate(_keep_mask(text[start:end], sp.label), start):
            if not k:
                chars[i] = mask_char
    return text if chars is None else "".join(chars)


def mask_span_text(text: str, start: int, end: int, spans: Iterable[Span], mask_char: str = "*") -> str:
    """The masked version of ``text[start:end]``: what a finding's evidence shows. The policy is applied
    to each PII span as a whole, so a slice cutting a phone number reveals no more than the policy allows."""
    relevant = [sp for sp in spans if sp.start < end and start < sp.end]
    if not relevant:
        return text[start:end]
    return mask_text(text, relevant, mask_char)[start:end]


CHARACTER_LABELS = ("phone", "id_card", "bank_card", "email")  # what scan_characters finds without a tokenizer


def mask_free_text(text: str | None, mask_char: str = "*") -> str | None:
    """Free text with no stored spans — a reviewer's comment, a dispute reason, a rating comment in a
    report, an added finding's fields — with validated phone, ID-card, bank-card numbers (also in
    Chinese numerals) and e-mail masked: the token-free pass, cheap enough for every page view.
    The one masking path the workbench, its exports and the report share."""
    if not text or not might_contain_pii(text):
        return text
    spans = [Span(s, e, label) for s, e, label, _ in scan_characters(text, CHARACTER_LABELS)]
    return mask_text(text, spans, mask_char) if spans else text


def mask_findings(conversation: Any, mask_char: str = "*") -> None:
    """Replace each finding's ``evidence`` by the masked original text of its range when that range
    touches a PII span of its turn (call after ``annotate`` and the rules, when masking is on)."""
    turns = {t.index: t for t in conversation.turns}
    for f in conversation.findings:
        turn = turns.get(f.turn) if f.turn is not None else None
        if turn is None or not turn.pii or f.start is None or f.end is None:
            continue
        if any(sp.start < f.end and f.start < sp.end for sp in turn.pii):
            f.evidence = mask_span_text(turn.text, f.start, f.end, turn.pii, mask_char)
