"""Required literals of a regex: a set of strings one of which every match must contain.

The rules stage puts them in its Aho-Corasick automaton as triggers, so an entry's regexes run
only on the turns that hold one of its literals — instead of ~150 regex scans of every turn.
A pattern we can't analyse (or that needs no literal, e.g. ``\\d{11}``) has no triggers and is
simply run on every turn: the prefilter can only skip work, never a match.

Adjacent pieces that match exactly one of a few strings (literals, small character classes,
alternations of literals) are multiplied out — ``我(再|最后)说`` requires one of 我再说 / 我最后说 —
because a longer trigger fires on fewer turns.
"""

from __future__ import annotations

try:  # Python ≥ 3.11 keeps the parser here; sre_parse is its deprecated alias
    from re import _constants as sre_c  # type: ignore[attr-defined]
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_constants as sre_c  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

# a character class of at most this many characters still narrows the search usefully
MAX_CLASS_CHARS = 12
# more alternatives than this make a poor trigger set
MAX_ALTERNATIVES = 64

_REPEATS = tuple(x for x in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, getattr(sre_c, "POSSESSIVE_REPEAT", None)) if x is not None)


def _rank(req: frozenset[str] | None) -> tuple[int, int]:
    # a set holding "" requires nothing (every piece of the run was optional)
    return (min(map(len, req)), -len(req)) if req and "" not in req else (-1, 0)


def _better(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    """The more selective of two requirement sets (longer shortest literal, then fewer)."""
    return a if _rank(a) >= _rank(b) else b


def _union(branches, of, limit: int = MAX_ALTERNATIVES) -> frozenset[str] | None:
    """An alternation requires one of its branches' requirements: their union (if each has one)."""
    out: set[str] = set()
    for branch in branches:
        r = of(branch)
        if r is None:
            return None
        out |= r
    return frozenset(out) if len(out) <= limit else None


def _exact(op, av) -> frozenset[str] | None:
    """The strings a piece matches, when it matches exactly one of a few fixed strings."""
    if op is sre_c.LITERAL:
        return frozenset([chr(av)])
    if op is sre_c.IN:
        chars = [chr(v) for o, v in av if o is sre_c.LITERAL]
        return frozenset(chars) if len(chars) == len(av) and 0 < len(chars) <= MAX_CLASS_CHARS else None
    if op is sre_c.SUBPATTERN:
        return _exact_seq(av[-1])
    if op is sre_c.BRANCH:
        return _union(av[1], _exact_seq)
    if op in _REPEATS and av[0] == 0 and av[1] == 1:  # an optional piece: its strings or nothing
        e = _exact_seq(av[2])
        return e | {""} if e is not None else None
    return None


def _exact_seq(items) -> frozenset[str] | None:
    acc = frozenset([""])
    for op, av in items:
        e = _exact(op, av)
        if e is None:
            return None
        acc = frozenset(a + b for a in acc for b in e)
        if len(acc) > MAX_ALTERNATIVES:
            return None
    return acc


def _seq(items) -> frozenset[str] | None:
    """Best requirement of a sequence: the best run of exact pieces multiplied out, or the best
    requirement of any single piece."""
    best: frozenset[str] | None = None
    run: frozenset[str] | None = None
    for op, av in items:
        e = _exact(op, av)
        if e is not None:
            product = frozenset(a + b for a in run for b in e) if run else e
            if len(product) <= MAX_ALTERNATIVES:
                run = product
                continue
            best = _better(best, run)
            run = e
            continue
        best = _better(best, run)
        run = None
        best = _better(best, _node(op, av))
    best = _better(best, run)
    return best if best and "" not in best else None


def _node(op, av) -> frozenset[str] | None:
    if op is sre_c.SUBPATTERN:
        return _seq(av[-1])
    if op is sre_c.BRANCH:
        return _union(av[1], _seq)
    if op in _REPEATS:
        low, _high, inner = av
        return _seq(inner) if low >= 1 else None
    if op is getattr(sre_c, "ATOMIC_GROUP", None):
        return _seq(av)
    return None  # lookarounds, anchors, any-char, categories, back-references … require nothing


def required_literals(pattern: str) -> frozenset[str] | None:
    """Literals one of which every match of ``pattern`` contains, or None if none is known."""
    try:
        parsed = sre_parse.parse(pattern)
    except Exception:  # noqa: BLE001 — unknown syntax: no prefilter, the regex still runs
        return None
    req = _seq(list(parsed))
    if not req or any(len(s) == 0 for s in req):
        return None
    return req


# --- choosing the cheapest requirement ------------------------------------------------------------
# ``required_literals`` keeps the requirement with the longest shortest literal. The matcher wants
# the one that fires on the fewest turns: a requirement of 好 (one customer turn in eight) costs a
# regex run where 好棒 / 真好 / 太好 … would not. ``cheapest_literals`` enumerates the requirements a
# pattern offers (every run of exact pieces multiplied out, every group, every branch union, a
# repeat's first repetitions) and keeps the one with the smallest estimated frequency.

# products of up to this many strings are still considered (a trigger set of 100 two-character
# literals fires far less often than one of 8 single characters)
MAX_OPTION_ALTERNATIVES = 256

# the 200 most frequent characters of real customer-service turns (normalized JD chats: gold and
# CSDS val, 44,161 turns), most frequent first; ``literal_frequency`` estimates from their rank
COMMON_CHARS = (
    "的您,是我有[了]以可请好呢这?单吗问不还到么个帮订数下字一哦在亲没号要什货为谢后他退时你给客其x发就边询题商e能看等"
    "东小天理那送京对品:会快点申收需处妹们查款电解服提编系取人上s价支-联买话已务id爱吧稍!~o咨现地前机票开都户经用再之哈"
    "回怎。持嗯售也说#成子心新信感址消烦或意改家名多来间麻啊手修祝很决付换保生1过活核见果自通行里供0p额配如想姓件气站接愉"
    "工正知候方作 员中日期金购应实待打出明交面法击样3m息h账5r2无_内费选直确该评定和今c示完只递去"
)
_RANK = {c: r for r, c in enumerate(COMMON_CHARS)}


def char_frequency(ch: str) -> float:
    """Estimated share of turns holding ``ch`` (from its rank among ``COMMON_CHARS``; 0.3 % beyond)."""
    r = _RANK.get(ch)
    return 0.4 / (1 + r / 8) ** 0.9 if r is not None else 0.003


def literal_frequency(lit: str) -> float:
    """Estimated share of turns holding ``lit``: its rarest character's, × 0.3 for each further
    character (characters of a word come together, so not the product of all of them)."""
    return min(map(char_frequency, lit)) * 0.3 ** (len(lit) - 1)


def _set_cost(req: frozenset[str]) -> float:
    return sum(map(literal_frequency, req))


def _valid(req: frozenset[str] | None, limit: int) -> bool:
    return bool(req) and "" not in req and len(req) <= limit


def _product(a: frozenset[str], b: frozenset[str]) -> frozenset[str]:
    return frozenset(x + y for x in a for y in b)


def _exact_opt(op, av, limit: int) -> frozenset[str] | None:
    """Like ``_exact`` with a larger limit, and a fixed repeat (``X{3}``) multiplied out."""
    if op is sre_c.LITERAL or op is sre_c.IN:
        return _exact(op, av)
    if op is sre_c.SUBPATTERN:
        return _exact_seq_opt(av[-1], limit)
    if op is sre_c.BRANCH:
        return _union(av[1], lambda branch: _exact_seq_opt(branch, limit), limit)
    if op in _REPEATS:
        low, high, inner = av
        e = _exact_seq_opt(inner, limit)
        if e is None:
            return None
        if low == 0 and high == 1:
            return e | {""}
        if low == high and low >= 1:
            acc = frozenset([""])
            for _ in range(low):
                acc = _product(acc, e)
                if len(acc) > limit:
                    return None
            return acc
    return None


def _exact_seq_opt(items, limit: int) -> frozenset[str] | None:
    acc = frozenset([""])
    for op, av in items:
        e = _exact_opt(op, av, limit)
        if e is None:
            return None
        acc = _product(acc, e)
        if len(acc) > limit:
            return None
    return acc


def _cheapest(options) -> frozenset[str] | None:
    best, best_cost = None, None
    for req in options:
        if req is None:
            continue
        cost = _set_cost(req)
        if best_cost is None or cost < best_cost or (cost == best_cost and sorted(req) < sorted(best)):
            best, best_cost = req, cost
    return best


def _seq_options(items, limit: int):
    """Every requirement a sequence offers: each contiguous run of exact pieces multiplied out, and
    the best requirement of each other piece."""
    items = list(items)
    exact = [_exact_opt(op, av, limit) for op, av in items]
    for i, e in enumerate(exact):
        if e is None:
            yield _node_cheapest(*items[i], limit)
            continue
        acc = frozenset([""])
        for j in range(i, len(items)):
            if exact[j] is None:
                break
            acc = _product(acc, exact[j])
            if len(acc) > limit:
                break
            if _valid(acc, limit):
                yield acc


def _seq_cheapest(items, limit: int) -> frozenset[str] | None:
    return _cheapest(_seq_options(items, limit))


def _node_cheapest(op, av, limit: int) -> frozenset[str] | None:
    if op is sre_c.SUBPATTERN:
        return _seq_cheapest(av[-1], limit)
    if op is sre_c.BRANCH:  # the cheapest requirement of each branch, together
        return _union(av[1], lambda branch: _seq_cheapest(branch, limit), limit)
    if op in _REPEATS:
        low, _high, inner = av
        if low < 1:
            return None
        once = _exact_seq_opt(inner, limit)
        options = [_seq_cheapest(inner, limit)]
        if once is not None and low >= 2:  # the first two repetitions come together: 好好 / !! / ?! …
            twice = _product(once, once)
            if _valid(twice, limit):
                options.append(twice)
        return _cheapest(options)
    if op is getattr(sre_c, "ATOMIC_GROUP", None):
        return _seq_cheapest(av, limit)
    return None


def cheapest_literals(pattern: str, limit: int = MAX_OPTION_ALTERNATIVES) -> frozenset[str] | None:
    """Literals one of which every match of ``pattern`` contains, chosen to fire on as few turns as
    possible (``literal_frequency``), without literals another of the set already implies (with
    好 in the set, 好的 adds nothing); None if the pattern requires no literal."""
    try:
        parsed = sre_parse.parse(pattern)
    except Exception:  # noqa: BLE001 — unknown syntax: no prefilter, the regex still runs
        return None
    req = _seq_cheapest(list(parsed), limit)
    if not _valid(req, limit):
        return None
    return frozenset(lit for lit in req if not any(o != lit and o in lit for o in req))
