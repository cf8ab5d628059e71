"""Privacy, addresses: token classes (regexes on jieba tokens of folded text), the spaCy ``Matcher``
patterns that find an address core (road / community / district + number + unit), and its extension
token by token over administrative divisions and further number + unit pairs."""

from __future__ import annotations

import re
from typing import Any

from .characters import fold_text

# ---------------------------------------------------------------------------------------------------
# Addresses: token classes (regexes on jieba tokens of folded text) and Matcher patterns.
CJK = "\u4e00-\u9fff"
ADMIN_RE = rf"^[{CJK}]{{1,10}}(?:省|自治区|特别行政区|市|区|县|旗|盟|州|镇|乡)$"
ADMIN_STOP = [
    "超市", "城市", "都市", "门市", "股市", "集市", "夜市", "市区", "地区", "小区", "社区", "园区",
    "景区", "校区", "郊区", "山区", "城区", "专区", "街区", "误区", "禁区", "片区", "厂区", "灾区",
    "分区", "全区", "本区", "我区", "市县", "城乡", "家乡", "故乡", "老乡", "下乡", "回乡", "同乡", "县城",
]
ROAD_RE = rf"^[{CJK}0-9]{{0,10}}(?:路|街|大街|大道|巷|胡同)$"
ROAD_STOP = [
    "路", "街", "马路", "道路", "网路", "思路", "线路", "出路", "套路", "一路", "走路", "电路", "上路",
    "半路", "公路", "铁路", "迷路", "带路", "让路", "逛街", "上街", "大街", "大道", "小路", "后路",
    "老路", "退路", "来路", "去路", "门路", "回路", "路路", "沿路", "顺路", "赶路", "领路",
]
PLACE_RE = (
    rf"^[{CJK}A-Za-z0-9]{{0,10}}"
    r"(?:小区|花园|家园|公寓|大厦|大楼|广场|中心|新村|社区|苑|园|村|城|府|庭|湾|里|公馆|別墅|别墅|宿舍)$"
)
NUM_RE = r"^[0-9]{1,5}$"
# jieba sometimes glues the unit to the next character (建国路 88 号单): a unit token may carry up to two
# trailing characters, which the span then leaves out.
_UNIT = "(?:号楼|号院|号门|单元|号|弄|栋|幢|座|楼|层|室|期)"
_BUNIT = "(?:号楼|号院|号门|单元|栋|幢|座|楼|层|室|期)"
UNIT_RE = rf"^{_UNIT}[{CJK}]{{0,2}}$"
BUILDING_UNIT_RE = rf"^{_BUNIT}[{CJK}]{{0,2}}$"
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
_name_re = re.compile(rf"^[{CJK}A-Za-z]{{2,8}}$")
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
    name = {"TEXT": {"REGEX": rf"^[{CJK}]{{2,6}}$", "NOT_IN": sorted(_NAME_STOP)}}
    place = {"TEXT": {"REGEX": PLACE_RE}}
    seg = {"TEXT": {"REGEX": SEGMENT_RE}, "OP": "?"}
    space = {"IS_SPACE": True, "OP": "?"}
    num = {"TEXT": {"REGEX": NUM_RE}}
    # "88" or "12-3" / "12之3": every variant ends in a number token directly before the unit
    numbers = [[num], [num, {"TEXT": {"IN": ["-", "之"]}}, num]]
    unit = {"TEXT": {"REGEX": UNIT_RE}}
    bunit = {"TEXT": {"REGEX": BUILDING_UNIT_RE}}
    glued = {"TEXT": {"REGEX": GLUED_BUILDING_DIGIT_RE}}
    cjk_words = {"TEXT": {"REGEX": rf"^[{CJK}]{{2,6}}$", "NOT_IN": sorted(_NAME_STOP)}, "OP": "{0,2}"}
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
