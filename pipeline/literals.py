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


def _union(branches, of) -> frozenset[str] | None:
    """An alternation requires one of its branches' requirements: their union (if each has one)."""
    out: set[str] = set()
    for branch in branches:
        r = of(branch)
        if r is None:
            return None
        out |= r
    return frozenset(out) if len(out) <= MAX_ALTERNATIVES else None


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
