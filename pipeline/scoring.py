"""score: price each finding with the scorecard and work out the score and grade.

The maths (also in the README, so a QA lead can redo it by hand):

1. Each finding is priced by the first item (in file order) whose ``rules`` list its rule and
   whose ``severity`` filter, if any, matches it. It gets that item's ``points``.
2. An item's total is the sum of its findings' points, limited to ``cap`` (for deductions:
   at most ``cap`` points lost; for bonuses: at most ``cap`` points won).
3. A part's deductions are limited to its ``weight``; its bonuses are added as they are.
4. score = min(max_score, base + Σ parts), then at least 0. A finding priced by a ``fatal``
   item (红线) makes the score 0.
5. The grade is the first band whose ``min`` the score reaches.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import ConfigError
from .yaml_lines import load_yaml_with_lines
from .schema import Conversation, Finding


@dataclass
class Item:
    id: str
    part: str
    rules: frozenset[str]
    points: float
    cap: float | None
    severity: str | None
    fatal: bool


class Scorecard:
    """The score stage: prices findings, fills ``score``, ``grade`` and ``score_detail``."""

    name = "score"

    def __init__(self, raw: dict, path: Path, sha256: str, rule_ids: set[str] | None = None):
        self.path = path
        self.sha256 = sha256
        where = str(path)
        for key in ("scorecard", "version", "base", "grades", "parts"):
            if key not in raw:
                raise ConfigError(f"{where}: '{key}' is required")
        self.name_ = raw["scorecard"]
        self.version_ = raw["version"]
        self.base = float(raw["base"])
        self.max_score = float(raw.get("max_score", raw["base"]))
        self.grades = sorted(((float(g["min"]), g["grade"]) for g in raw["grades"]), reverse=True)
        if not self.grades or self.grades[-1][0] > 0:
            raise ConfigError(f"{where}: grades must include a band with min: 0 so every score gets a grade")
        self.parts: dict[str, float] = {}
        self.items: list[Item] = []
        for part in raw["parts"]:
            pline = part.get("__line__")
            if not isinstance(part.get("id"), str) or not isinstance(part.get("weight"), (int, float)):
                raise ConfigError(f"{where}:{pline}: a part needs an 'id' and a numeric 'weight'")
            self.parts[part["id"]] = float(part["weight"])
            for it in part.get("items") or []:
                iline = it.get("__line__")
                if not isinstance(it.get("id"), str) or not it.get("rules"):
                    raise ConfigError(f"{where}:{iline}: an item needs an 'id' and a 'rules' list")
                if not it.get("fatal") and not isinstance(it.get("points"), (int, float)):
                    raise ConfigError(f"{where}:{iline} ({it['id']}): 'points' (per finding) is required unless fatal: true")
                unknown_rules = set(it["rules"]) - rule_ids if rule_ids is not None else set()
                if unknown_rules:
                    raise ConfigError(f"{where}:{iline} ({it['id']}): unknown rule id(s) {sorted(unknown_rules)}")
                self.items.append(
                    Item(
                        id=it["id"],
                        part=part["id"],
                        rules=frozenset(it["rules"]),
                        points=float(it.get("points", 0)),
                        cap=float(it["cap"]) if it.get("cap") is not None else None,
                        severity=it.get("severity"),
                        fatal=bool(it.get("fatal", False)),
                    )
                )

    @classmethod
    def load(cls, path: str | Path, rule_ids: set[str] | None = None) -> "Scorecard":
        path = Path(path)
        raw = load_yaml_with_lines(path, "scorecard")
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: a scorecard must be a mapping")
        return cls(raw, path, hashlib.sha256(path.read_bytes()).hexdigest(), rule_ids)

    @property
    def version(self) -> str:
        return f"{self.name_}@{self.version_}:{self.sha256[:12]}"

    def unpriced_rules(self, rule_ids: set[str]) -> set[str]:
        priced = set().union(*(i.rules for i in self.items)) if self.items else set()
        return rule_ids - priced

    def price(self, finding: Finding) -> Item | None:
        for item in self.items:
            if finding.rule in item.rules and (item.severity is None or item.severity == finding.severity):
                return item
        return None

    def grade(self, score: float) -> str:
        for low, grade in self.grades:
            if score >= low:
                return grade
        return self.grades[-1][1]

    def __call__(self, conversation: Conversation) -> dict[str, Any]:
        """Price the findings in place; return the score, grade and the worked-out detail."""
        item_totals: dict[str, float] = {}
        fatal: list[str] = []
        for f in conversation.findings:
            item = self.price(f)
            if item is None:
                f.points, f.item, f.fatal = 0.0, None, False
                continue
            f.item, f.fatal = item.id, item.fatal
            if item.fatal:
                f.points = 0.0
                fatal.append(item.id)
                continue
            f.points = item.points
            item_totals[item.id] = item_totals.get(item.id, 0.0) + item.points
        parts: dict[str, dict[str, float]] = {}
        items_detail = []
        for item in self.items:
            if item.id not in item_totals:
                continue
            raw = item_totals[item.id]
            capped = raw if item.cap is None else (max(raw, -item.cap) if raw < 0 else min(raw, item.cap))
            items_detail.append({"item": item.id, "part": item.part, "raw": raw, "counted": capped})
            p = parts.setdefault(item.part, {"deductions": 0.0, "bonus": 0.0})
            p["deductions" if capped < 0 else "bonus"] += capped
        total = 0.0
        parts_detail = []
        for name, p in parts.items():
            weight = self.parts[name]
            counted = max(p["deductions"], -weight) + p["bonus"]
            parts_detail.append({"part": name, "deductions": p["deductions"], "bonus": p["bonus"], "weight": weight, "counted": counted})
            total += counted
        score = max(0.0, min(self.max_score, self.base + total))
        if fatal:
            score = 0.0
        score = round(score, 2)
        return {
            "score": score,
            "grade": self.grade(score),
            "detail": {"base": self.base, "items": items_detail, "parts": parts_detail, "fatal": sorted(set(fatal))},
        }
