"""Phrase lexicons: ``lexicons/*.yaml`` → validated entries and one character matcher.

Every phrase of every lexicon goes into one Aho-Corasick automaton (pyahocorasick), so a turn is
scanned once whatever the number of phrases. Matching is on normalized characters, never on
tokens. A hit is suppressed by the entry's ``except`` phrases / ``exclude`` regexes (when they
overlap it) and by negation cues just before it. The format is documented in docs/LEXICONS.md.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import ConfigError
from .normalize import Normalizer
from .yaml_lines import load_yaml_with_lines, strip_lines

SEVERITIES = ("info", "minor", "major", "critical", "fatal", "bonus")
# lexicon files that are not phrase lexicons
NON_PHRASE_FILES = {"rules.yaml", "scorecard.yaml"}
_SEPARATOR = "\x1f"  # reserved: phrases may not contain it (it once joined turns for one automaton pass)
_CLAUSE_PUNCT = frozenset(",.!?;:。,!?;:\n")
_ENTRY_KEYS = {
    "id", "category", "severity", "phrases", "patterns", "except", "exclude", "negations",
    "guard", "source", "examples", "note", "bare", "not_opening", "__line__",
}
_LEXICON_KEYS = {"lexicon", "version", "description", "define", "negations", "negation_window_chars", "entries", "__line__"}
_DEFINED = re.compile(r"\{\{([A-Z_]+)\}\}")


@dataclass(slots=True)
class Entry:
    id: str
    lexicon: str
    category: str
    source: str
    severity: str | None = None
    phrases: list[str] = field(default_factory=list)  # normalized
    patterns: list[re.Pattern] = field(default_factory=list)
    except_phrases: list[str] = field(default_factory=list)  # normalized
    exclude: list[re.Pattern] = field(default_factory=list)
    negations: list[str] = field(default_factory=list)  # normalized
    negation_window: int = 0
    guard: str | None = None
    bare: bool = False  # counts only when it is all the speaker said in that reply (rules: bare_reply_except)
    not_opening: bool = False  # a hit in the first turn doesn't mean the transcript starts mid-session (rules: skip_when_first)
    examples: dict[str, list[str]] = field(default_factory=dict)
    line: int | None = None
    guarded: bool = False  # has except / exclude / negations: hits need the suppression check
    negation_reach: int = 0  # how far before a hit a negation cue can start
    except_rx: re.Pattern | None = None  # every except phrase starting at a position (lookahead)
    except_reach: int = 0
    negation_rx: re.Pattern | None = None  # a cue, then at most the window of non-clause characters, then the hit

    def __post_init__(self) -> None:
        # compiled once: checking 30+ except phrases one by one on every hit was the rules' hot spot
        self.guarded = bool(self.except_phrases or self.exclude or self.negations)
        if self.except_phrases:
            alternatives = "|".join(map(re.escape, sorted(set(self.except_phrases), key=len, reverse=True)))
            self.except_rx = re.compile(f"(?=({alternatives}))")
            self.except_reach = max(map(len, self.except_phrases)) - 1
        if self.negations:
            self.negation_reach = self.negation_window + max(map(len, self.negations))
            cues = "|".join(map(re.escape, sorted(set(self.negations), key=len, reverse=True)))
            self.negation_rx = re.compile(f"(?:{cues})[^{re.escape(''.join(sorted(_CLAUSE_PUNCT)))}]{{0,{self.negation_window}}}$")


@dataclass(slots=True)
class Hit:
    """A lexicon entry found in a turn's normalized text at ``[start, end)``."""

    entry: Entry
    start: int
    end: int
    text: str


@dataclass
class Lexicon:
    name: str
    version: int
    description: str
    entries: list[Entry]
    path: Path
    sha256: str


def _str_list(value: Any, where: str, key: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{where}: '{key}' must be a list of non-empty strings")
    return value


def _flag(value: Any, where: str, key: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: '{key}' must be true or false")
    return value


def _definitions(raw: Any, path: Path) -> dict[str, str]:
    """A lexicon's ``define`` mapping: NAME → regex fragment, used in patterns as ``{{NAME}}``
    (one place for what a clause start, an address prefix or a run of particles is)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: 'define' must be a mapping NAME: regex (NAME in capitals, used as {{{{NAME}}}})")
    out = {}
    for name, value in strip_lines(raw).items():
        if not re.fullmatch(r"[A-Z_]+", str(name)) or not isinstance(value, str):
            raise ConfigError(f"{path}: define {name!r} must be NAME (capitals and _) → a regex string")
        out[name] = value
    for name in out:  # a definition may use the ones before it
        out[name] = _expand(out[name], {k: v for k, v in out.items() if k != name}, f"{path}: define {name}")
    return out


def _expand(pattern: str, defined: dict[str, str], where: str) -> str:
    def sub(m: re.Match) -> str:
        if m.group(1) not in defined:
            raise ConfigError(f"{where}: {{{{{m.group(1)}}}}} is not defined; the lexicon's 'define' has {sorted(defined)}")
        return f"(?:{defined[m.group(1)]})"

    return _DEFINED.sub(sub, pattern)


def _compile(patterns: list[str], where: str, key: str, defined: dict[str, str] | None = None) -> list[re.Pattern]:
    compiled = []
    for p in patterns:
        p = _expand(p, defined or {}, f"{where} {key}")
        try:
            compiled.append(re.compile(p))
        except re.error as e:
            raise ConfigError(f"{where}: bad regex in '{key}': {p!r}: {e}") from None
    return compiled


def parse_lexicon(path: Path, normalizer: Normalizer) -> Lexicon:
    raw = load_yaml_with_lines(path, "lexicon")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a lexicon file must be a mapping with 'lexicon', 'version' and 'entries'")
    unknown = set(raw) - _LEXICON_KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown top-level key(s) {sorted(unknown)}; allowed: {sorted(_LEXICON_KEYS - {'__line__'})}")
    name = raw.get("lexicon")
    if name != path.stem:
        raise ConfigError(f"{path}:1: 'lexicon: {name}' must equal the file name '{path.stem}'")
    version = raw.get("version")
    if not isinstance(version, int):
        raise ConfigError(f"{path}: 'version' must be an integer (bump it when entries change)")
    entries_raw = raw.get("entries")
    if not isinstance(entries_raw, list) or not entries_raw:
        raise ConfigError(f"{path}: 'entries' must be a non-empty list")
    norm = normalizer.text
    defined = _definitions(raw.get("define"), path)
    lex_negations = [norm(x) for x in _str_list(raw.get("negations"), str(path), "negations")]
    window = raw.get("negation_window_chars", 0)
    if not isinstance(window, int) or window < 0:
        raise ConfigError(f"{path}: 'negation_window_chars' must be a non-negative integer")
    entries = []
    for i, e in enumerate(entries_raw):
        line = e.get("__line__") if isinstance(e, dict) else None
        where = f"{path}:{line or '?'} (entry #{i + 1})"
        if not isinstance(e, dict):
            raise ConfigError(f"{where}: an entry must be a mapping")
        unknown = set(e) - _ENTRY_KEYS
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_ENTRY_KEYS - {'__line__'})}")
        for key in ("id", "category", "source"):
            if not isinstance(e.get(key), str) or not e[key].strip():
                raise ConfigError(f"{where}: '{key}' is required (a non-empty string)")
        where = f"{path}:{line} ({e['id']})"
        severity = e.get("severity")
        if severity is not None and severity not in SEVERITIES:
            raise ConfigError(f"{where}: severity {severity!r} is not one of {SEVERITIES}")
        phrases = [norm(p) for p in _str_list(e.get("phrases"), where, "phrases")]
        if any(_SEPARATOR in p for p in phrases):
            raise ConfigError(f"{where}: phrases may not contain control character U+001F")
        patterns = _compile(_str_list(e.get("patterns"), where, "patterns"), where, "patterns", defined)
        if not phrases and not patterns:
            raise ConfigError(f"{where}: an entry needs 'phrases' or 'patterns'")
        if any(len(p) <= 2 for p in phrases) and not e.get("guard"):
            short = [p for p in phrases if len(p) <= 2]
            raise ConfigError(
                f"{where}: short phrase(s) {short} could fire inside longer words; "
                "add a 'guard' saying how they are protected (except list, pattern, scope)"
            )
        examples = e.get("examples") or {}
        if not isinstance(examples, dict) or not _str_list(examples.get("hit"), where, "examples.hit"):
            raise ConfigError(f"{where}: 'examples.hit' needs at least one example sentence")
        entries.append(
            Entry(
                id=e["id"],
                lexicon=name,
                category=e["category"],
                source=e["source"],
                severity=severity,
                phrases=phrases,
                patterns=patterns,
                except_phrases=[norm(x) for x in _str_list(e.get("except"), where, "except")],
                exclude=_compile(_str_list(e.get("exclude"), where, "exclude"), where, "exclude", defined),
                negations=lex_negations + [norm(x) for x in _str_list(e.get("negations"), where, "negations")],
                negation_window=window,
                guard=e.get("guard"),
                bare=_flag(e.get("bare"), where, "bare"),
                not_opening=_flag(e.get("not_opening"), where, "not_opening"),
                examples={
                    "hit": _str_list(examples.get("hit"), where, "examples.hit"),
                    "miss": _str_list(examples.get("miss"), where, "examples.miss"),
                },
                line=line,
            )
        )
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    return Lexicon(name, version, raw.get("description") or "", entries, path, sha)


class LexiconSet:
    """All phrase lexicons of a folder, with one matcher over all of them."""

    def __init__(self, lexicons: list[Lexicon], normalizer: Normalizer):
        self.lexicons = {lx.name: lx for lx in lexicons}
        self.normalizer = normalizer
        self.entries: dict[str, Entry] = {}
        for lx in lexicons:
            for e in lx.entries:
                if e.id in self.entries:
                    other = self.entries[e.id]
                    raise ConfigError(
                        f"{lx.path}:{e.line}: entry id {e.id!r} already used in {other.lexicon}.yaml:{other.line}; ids must be unique"
                    )
                self.entries[e.id] = e
        self._build()

    @classmethod
    def load(cls, folder: str | Path, normalizer: Normalizer | None = None) -> "LexiconSet":
        folder = Path(folder)
        if not folder.is_dir():
            raise ConfigError(f"lexicon folder not found: {folder}")
        normalizer = normalizer or Normalizer(folder / "char_variants.txt")
        files = sorted(p for p in folder.glob("*.yaml") if p.name not in NON_PHRASE_FILES)
        if not files:
            raise ConfigError(f"{folder}: no lexicon files (*.yaml)")
        return cls([parse_lexicon(p, normalizer) for p in files], normalizer)

    def _build(self) -> None:
        self._order = {e.id: k for k, e in enumerate(self.entries.values())}
        self._matchers: dict[frozenset[str] | None, _Matcher] = {}
        # per regex: (anchored, trigger literals) — worked out once, whichever lexicon sets share the regex
        self._regex_plans: dict[re.Pattern, tuple[bool, frozenset[str] | None]] = {}
        self.reference = False  # True: match the slow, obvious way (tests compare both; see match_reference)
        self._matcher(None)  # fail at load time, not on the first turn

    def _matcher(self, lexicons: frozenset[str] | None) -> "_Matcher":
        """One automaton over the phrases (→ hits) and the regexes' trigger literals (→ which
        regexes are worth running) of ``lexicons``; built once per set (per role).

        Each regex has its own triggers: the requirement (a set of literals one of which every
        match contains, :func:`~pipeline.literals.cheapest_literals`) estimated to fire on the
        fewest turns. A regex with none runs on every text."""
        matcher = self._matchers.get(lexicons)
        if matcher is not None:
            return matcher
        import ahocorasick

        from .literals import cheapest_literals

        phrase_owners: dict[str, list[Entry]] = {}
        trigger_owners: dict[str, list[int]] = {}
        patterns: list[tuple[Entry, re.Pattern, bool]] = []  # pattern id → (entry, regex, anchored), in entry order
        always_run: list[int] = []
        for e in self.entries.values():
            if lexicons is not None and e.lexicon not in lexicons:
                continue
            for p in dict.fromkeys(e.phrases):
                phrase_owners.setdefault(p, []).append(e)
            for rx in e.patterns:
                pid = len(patterns)
                plan = self._regex_plans.get(rx)
                if plan is None:
                    plan = self._regex_plans[rx] = (_anchored(rx), cheapest_literals(rx.pattern))
                anchored, req = plan
                patterns.append((e, rx, anchored))
                if req is None:
                    always_run.append(pid)
                else:
                    for lit in sorted(req):
                        trigger_owners.setdefault(lit, []).append(pid)
        automaton = None
        if phrase_owners or trigger_owners:
            automaton = ahocorasick.Automaton()
            for key in sorted(phrase_owners.keys() | trigger_owners.keys()):
                automaton.add_word(key, (len(key) - 1, tuple(phrase_owners.get(key, ())), tuple(trigger_owners.get(key, ()))))
            automaton.make_automaton()
        matcher = self._matchers[lexicons] = _Matcher(automaton, tuple(patterns), frozenset(always_run))
        return matcher

    @property
    def version(self) -> str:
        """Content hash over all lexicon files (names, versions, bytes): changes when any entry does."""
        h = hashlib.sha256()
        for name in sorted(self.lexicons):
            lx = self.lexicons[name]
            h.update(f"{name}:{lx.version}:{lx.sha256};".encode())
        return h.hexdigest()[:12]

    def user_words(self) -> list[str]:
        """Phrases worth keeping whole in the segmenter's user dictionary."""
        return sorted({p for e in self.entries.values() for p in e.phrases if len(p) >= 2})

    def match(self, text: str, lexicons: frozenset[str] | None = None) -> list[Hit]:
        """All unsuppressed hits in a normalized text, restricted to ``lexicons`` if given."""
        if self.reference:
            return self.match_reference(text, lexicons)
        return self._matcher(lexicons).hits(text)

    def warm(self, *sets: frozenset[str] | None) -> None:
        """Build the matchers of these lexicon sets now (start-up), not on the first turn that needs one."""
        if not self.reference:
            for lexicons in sets:
                self._matcher(lexicons)

    def matcher_for(self, lexicons: frozenset[str] | None = None) -> Callable[[str], list[Hit]]:
        """``match`` for one set of lexicons, as a function of the text (the rules stage asks once
        per conversation and role, then calls it on every turn)."""
        if self.reference:
            return functools.partial(self.match_reference, lexicons=lexicons)
        return self._matcher(lexicons).hits

    def match_texts(self, texts: list[str], lexicons: frozenset[str] | None = None) -> list[list[Hit]]:
        """Hits for each of ``texts`` (a conversation's turns of one role).

        Overlapping hits of one lexicon are reduced to the longest (so 我再跟您说一遍 is one
        forbidden phrase, not two); among hits of the same span the phrase hit comes before the
        regex hit, and entries keep the order of the lexicon files.
        """
        if self.reference:
            return [self.match_reference(t, lexicons) for t in texts]
        hits = self._matcher(lexicons).hits
        return [hits(t) for t in texts]

    def match_reference(self, text: str, lexicons: frozenset[str] | None = None) -> list[Hit]:
        """The same hits as :meth:`match`, found the obvious way: every phrase of every entry
        looked up with ``str.find``, every regex run over the whole text — no automaton, no
        trigger literals. Slow; kept so that tests can hold the fast path to it."""
        found: list[Hit] = []
        entries = [e for e in self.entries.values() if lexicons is None or e.lexicon in lexicons]
        for e in entries:
            for p in dict.fromkeys(e.phrases):
                start = text.find(p)
                while start != -1:
                    found.append(Hit(e, start, start + len(p), p))
                    start = text.find(p, start + 1)
        for e in entries:
            for rx in e.patterns:
                for m in rx.finditer(text):
                    if m.end() > m.start():
                        found.append(Hit(e, m.start(), m.end(), m.group(0)))
        found = [h for h in found if not (h.entry.guarded and _suppressed(h, text))]
        return _longest_per_lexicon(found) if len(found) > 1 else found

    def check_examples(self) -> list[str]:
        """Run every entry's hit/miss examples; return the failures as readable lines."""
        failures = []
        for e in self.entries.values():
            only = frozenset([e.lexicon])
            for ex in e.examples.get("hit", []):
                if not any(h.entry.id == e.id for h in self.match(self.normalizer.text(ex), only)):
                    failures.append(f"{e.lexicon}.yaml:{e.line} {e.id}: hit example not matched: {ex!r}")
            for ex in e.examples.get("miss", []):
                if any(h.entry.id == e.id for h in self.match(self.normalizer.text(ex), only)):
                    failures.append(f"{e.lexicon}.yaml:{e.line} {e.id}: miss example matched: {ex!r}")
        return failures


class _Matcher:
    """The fast path for one set of lexicons: an Aho-Corasick automaton whose values are
    ``(length - 1, entries owning the phrase, ids of the regexes the literal triggers)``."""

    __slots__ = ("automaton", "patterns", "always_run")

    def __init__(self, automaton: Any, patterns: tuple[tuple[Entry, re.Pattern, bool], ...], always_run: frozenset[int]):
        self.automaton = automaton
        self.patterns = patterns
        self.always_run = always_run

    def hits(self, text: str) -> list[Hit]:
        automaton = self.automaton
        if automaton is None:
            return []
        found: list[Hit] = []
        run = self.always_run
        for end, (last, owners, triggered) in automaton.iter(text):
            if owners:
                start = end - last
                phrase = text[start : end + 1]
                for e in owners:
                    found.append(Hit(e, start, end + 1, phrase))
            if triggered:
                run = run.union(triggered)
        if run:
            patterns = self.patterns
            for pid in sorted(run) if len(run) > 1 else run:  # entry order, whatever fired first
                e, rx, anchored = patterns[pid]
                if anchored:  # one match at most, at 0: don't let the regex try every position
                    m = rx.match(text)
                    if m is not None and m.end() > 0:
                        found.append(Hit(e, 0, m.end(), m.group(0)))
                    continue
                for m in rx.finditer(text):
                    start, end = m.span()
                    if end > start:
                        found.append(Hit(e, start, end, m.group(0)))
        if not found:
            return found
        if len(found) == 1:
            return [] if found[0].entry.guarded and _suppressed(found[0], text) else found
        found = [h for h in found if not (h.entry.guarded and _suppressed(h, text))]
        return _longest_per_lexicon(found) if len(found) > 1 else found


def _anchored(rx: re.Pattern) -> bool:
    """Whether every match of ``rx`` starts at the beginning of the text (a leading ``^`` or ``\\A``,
    without MULTILINE): then ``finditer`` finds what ``match`` finds, after trying every position."""
    if rx.flags & re.MULTILINE:
        return False
    from .literals import sre_c, sre_parse

    try:
        parsed = list(sre_parse.parse(rx.pattern, rx.flags & ~re.UNICODE))
    except Exception:  # noqa: BLE001 — unknown syntax: take the general path
        return False
    return bool(parsed) and parsed[0][0] is sre_c.AT and parsed[0][1] in (sre_c.AT_BEGINNING, sre_c.AT_BEGINNING_STRING)


def _suppressed(hit: Hit, text: str) -> bool:
    e = hit.entry
    if e.except_rx is not None:
        # an except phrase overlapping the hit: look only where one could start
        lo = max(0, hit.start - e.except_reach)
        for m in e.except_rx.finditer(text, lo, hit.end + e.except_reach):
            if m.start() < hit.end and m.start() + len(m.group(1)) > hit.start:
                return True
    for rx in e.exclude:
        for m in rx.finditer(text):
            if m.start() < hit.end and m.end() > hit.start:
                return True
    if e.negation_rx is not None:
        if e.negation_rx.search(text[max(0, hit.start - e.negation_reach) : hit.start]):
            return True
    return False


def _by_lexicon_start_longest(h: Hit) -> tuple[str, int, int]:
    return h.entry.lexicon, h.start, h.start - h.end


def _longest_per_lexicon(hits: list[Hit]) -> list[Hit]:
    if len(hits) == 1:
        return hits
    hits.sort(key=_by_lexicon_start_longest)
    kept: list[Hit] = []
    for h in hits:
        if kept and kept[-1].entry.lexicon == h.entry.lexicon and h.start < kept[-1].end:
            continue  # overlaps a longer (or earlier) hit of the same lexicon
        kept.append(h)
    kept.sort(key=lambda h: (h.start, h.end))
    return kept
