"""Bad-review reason classes (seed 004 差评原因): the rating comment first, then the findings.

The keyword rules are data: ``lexicons/reports/bad_review_reasons.yaml`` (format in
docs/REPORTS.md). Comments are normalized like conversation text (``pipeline.normalize``), so
traditional characters, full-width forms and spaces inside words don't hide a keyword.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import ConfigError, load_yaml

_CLAUSE = ",.!?;:。,!?;:\n"
_TOP_KEYS = {"lexicon", "version", "description", "classes", "fallback", "negations", "negation_window_chars", "entries"}
_ENTRY_KEYS = {"id", "category", "phrases", "patterns", "except", "rules", "guard", "source", "examples", "note"}


@dataclass
class ReasonEntry:
    id: str
    category: str
    source: str
    phrases: list[str] = field(default_factory=list)  # normalized
    patterns: list[re.Pattern] = field(default_factory=list)
    except_phrases: list[str] = field(default_factory=list)  # normalized
    rules: list[str] = field(default_factory=list)
    examples: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Classification:
    primary: str  # the reason class
    basis: str  # "comment" | "findings" | "fallback"
    classes: list[str]  # every class that matched (comment or findings), in priority order; never the fallback
    keywords: list[str]  # the comment keywords that matched (normalized; lexicon words, not the raw comment)
    rules: list[str]  # the finding rules that matched an entry
    comment_classes: list[str] = field(default_factory=list)  # the classes the comment names (the customer's mentions)
    finding_classes: list[str] = field(default_factory=list)  # the classes the findings point at


class ReasonClassifier:
    def __init__(self, path: Path, normalize=None):
        raw = load_yaml(path, "bad-review reasons")
        if not isinstance(raw, dict) or not isinstance(raw.get("entries"), list) or not raw["entries"]:
            raise ConfigError(f"{path}: expected a mapping with a non-empty 'entries' list")
        unknown = set(raw) - _TOP_KEYS
        if unknown:
            raise ConfigError(f"{path}: unknown top-level key(s) {sorted(unknown)}; allowed: {sorted(_TOP_KEYS)}")
        if normalize is None:
            from ..normalize import Normalizer

            normalize = Normalizer(path.parent.parent / "char_variants.txt").text
        self.normalize = normalize
        self.path = path
        self.version = raw.get("version")
        self.classes: list[str] = list(raw.get("classes") or [])
        self.fallback: str = raw.get("fallback") or "其他"
        if not self.classes or self.fallback not in self.classes:
            raise ConfigError(f"{path}: 'classes' must list the reason classes, including the fallback {self.fallback!r}")
        self.negations = [normalize(x) for x in raw.get("negations") or []]
        self.window = int(raw.get("negation_window_chars") or 0)
        self.entries: list[ReasonEntry] = []
        for i, e in enumerate(raw["entries"]):
            where = f"{path} (entry #{i + 1}{', ' + str(e.get('id')) if isinstance(e, dict) else ''})"
            if not isinstance(e, dict):
                raise ConfigError(f"{where}: an entry must be a mapping")
            if set(e) - _ENTRY_KEYS:
                raise ConfigError(f"{where}: unknown key(s) {sorted(set(e) - _ENTRY_KEYS)}; allowed: {sorted(_ENTRY_KEYS)}")
            for key in ("id", "category", "source"):
                if not isinstance(e.get(key), str) or not e[key].strip():
                    raise ConfigError(f"{where}: '{key}' is required (a non-empty string)")
            if e["category"] not in self.classes:
                raise ConfigError(f"{where}: category {e['category']!r} is not one of classes {self.classes}")
            try:
                patterns = [re.compile(p) for p in e.get("patterns") or []]
            except re.error as err:
                raise ConfigError(f"{where}: bad regex: {err}") from None
            entry = ReasonEntry(
                id=e["id"], category=e["category"], source=e["source"],
                phrases=[normalize(p) for p in e.get("phrases") or []], patterns=patterns,
                except_phrases=[normalize(p) for p in e.get("except") or []],
                rules=list(e.get("rules") or []), examples=e.get("examples") or {},
            )
            if not (entry.phrases or entry.patterns or entry.rules):
                raise ConfigError(f"{where}: an entry needs 'phrases' / 'patterns' (comment keywords) or 'rules' (finding rule ids)")
            if (entry.phrases or entry.patterns) and not entry.examples.get("hit"):
                raise ConfigError(f"{where}: a keyword entry needs 'examples.hit'")
            self.entries.append(entry)

    # -- the comment ---------------------------------------------------------------------------
    def _negated(self, text: str, start: int) -> bool:
        before = text[max(0, start - self.window - 8) : start]
        for cue in self.negations:
            i = before.rfind(cue)
            if i != -1:
                gap = before[i + len(cue) :]
                if len(gap) <= self.window and not any(c in _CLAUSE for c in gap):
                    return True
        return False

    def _entry_hits(self, e: ReasonEntry, text: str) -> list[str]:
        spans = []
        for p in e.phrases:
            i = text.find(p)
            while i != -1:
                spans.append((i, i + len(p)))
                i = text.find(p, i + 1)
        for rx in e.patterns:
            spans += [(m.start(), m.end()) for m in rx.finditer(text)]
        # a hit inside a longer hit of the same entry (冷冰冰 in 态度冷冰冰) is the same keyword
        spans = sorted(set(spans), key=lambda st: (st[0], -(st[1] - st[0])))
        spans = [(s, t) for s, t in spans if not any(s2 <= s and t <= t2 and (s2, t2) != (s, t) for s2, t2 in spans)]
        hits = []
        for s, t in spans:
            # an except phrase containing the hit cancels it (态度好 is no 态度差 … but 不专业 stays a hit)
            if any(_contains(text, x, s, t) for x in e.except_phrases):
                continue
            if self._negated(text, s):
                continue
            hits.append(text[s:t])
        return hits

    def comment_hits(self, comment: str | None) -> list[tuple[ReasonEntry, list[str]]]:
        if not comment or not comment.strip():
            return []
        text = self.normalize(comment)
        out = []
        for e in self.entries:
            if e.phrases or e.patterns:
                hits = self._entry_hits(e, text)
                if hits:
                    out.append((e, hits))
        return out

    # -- comment + findings --------------------------------------------------------------------
    def classify(self, comment: str | None, rules: set[str] | frozenset[str] = frozenset(), comment_hits=None) -> Classification:
        hits = self.comment_hits(comment) if comment_hits is None else comment_hits
        rule_entries = [(e, sorted(set(e.rules) & set(rules))) for e in self.entries if e.rules and set(e.rules) & set(rules)]
        said = self._ordered(e.category for e, _ in hits)
        pointed = self._ordered(e.category for e, _ in rule_entries)
        classes = self._ordered(said + pointed)
        keywords = list(dict.fromkeys(k for _, ks in hits for k in ks))
        matched_rules = list(dict.fromkeys(r for _, rs in rule_entries for r in rs))
        if hits:
            return Classification(hits[0][0].category, "comment", classes, keywords, matched_rules, said, pointed)
        if rule_entries:
            return Classification(rule_entries[0][0].category, "findings", classes, keywords, matched_rules, said, pointed)
        # nothing to go on: the primary class is the fallback, but nobody mentioned it
        return Classification(self.fallback, "fallback", [], keywords, matched_rules)

    def _ordered(self, classes) -> list[str]:
        return sorted(set(classes), key=self.classes.index)

    def check_examples(self) -> list[str]:
        """Each keyword entry's hit examples must hit it and its miss examples must not."""
        failures = []
        for e in self.entries:
            for ex in e.examples.get("hit") or []:
                if not self._entry_hits(e, self.normalize(ex)):
                    failures.append(f"{e.id}: hit example not matched: {ex!r}")
            for ex in e.examples.get("miss") or []:
                if self._entry_hits(e, self.normalize(ex)):
                    failures.append(f"{e.id}: miss example matched: {ex!r}")
        return failures


def _contains(text: str, x: str, s: int, t: int) -> bool:
    """Does an occurrence of ``x`` in ``text`` cover the whole range [s, t)?"""
    lo = max(0, t - len(x))
    i = text.find(x, lo)
    while i != -1 and i <= s:
        if i + len(x) >= t:
            return True
        i = text.find(x, i + 1)
    return False


def load_classifier(config: dict[str, Any]) -> ReasonClassifier:
    from ..config import resolve_path

    return ReasonClassifier(resolve_path(config["report"]["bad_review"]["lexicon"]))
