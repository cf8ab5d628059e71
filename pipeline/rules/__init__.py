"""rules: apply ``lexicons/rules.yaml`` to a conversation and add its findings.

A rule is data: an id, a registered *kind* and the conditions of that kind (lexicon, role,
position, anchor window, timing threshold, other rules). Each kind is a small function in this
package, registered by name with :func:`~pipeline.rules.base.register`; a new kind is one module
(importing `Rule`, `RuleContext` and `register` from `.base`) and one name in the import below.
Every turn is scanned once for all the lexicons the rules need for its role.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..config import ConfigError
from ..lexicons import SEVERITIES, Hit, LexiconSet
from ..yaml_lines import load_yaml_with_lines, strip_lines
from ..models import TURN_MODEL_LABELS
from ..schema import ROLES, Conversation
from . import call, combine, phrase, pii, question, timing  # noqa: F401 — the kinds register themselves on import
from .base import COMMON_KEYS, KIND_KEYS, KINDS, Rule, RuleContext, lexicon_names, register

__all__ = ["KINDS", "Rule", "RuleContext", "RuleSet", "config_value", "register"]

NUMBER_PARAMS = ("threshold", "lower", "upper", "monologue")  # numbers, or dotted keys into the configuration


def config_value(config: dict, value: Any, where: str) -> Any:
    """Numbers are taken as they are; a string is a dotted key into the configuration."""
    if isinstance(value, str):
        node: Any = config
        for part in value.split("."):
            if not isinstance(node, dict) or part not in node:
                raise ConfigError(f"{where}: '{value}' is not a configuration key (see pipeline/defaults.yaml)")
            node = node[part]
        return node
    return value


class RuleSet:
    """The rules stage: ``Conversation`` → the same conversation with ``findings`` added."""

    name = "rules"

    def __init__(self, rules: list[Rule], lexicons: LexiconSet, config: dict, path: Path | None = None, sha256: str = "",
                 non_content: re.Pattern | None = None):
        self.rules = rules
        self.lexicons = lexicons
        self.config = config
        self.path = path
        self.sha256 = sha256
        self.non_content = non_content
        # which lexicons to look for on a turn of each role
        needed: dict[str, set[str]] = {r: set() for r in ROLES}
        for rule in rules:
            for role, lexicon in _lexicon_uses(rule):
                for r in ROLES if role == "any" else (role,):
                    needed[r].add(lexicon)
        self.needed = {r: frozenset(v) for r, v in needed.items()}

    @classmethod
    def load(cls, path: str | Path, lexicons: LexiconSet, config: dict) -> "RuleSet":
        import hashlib

        path = Path(path)
        raw = load_yaml_with_lines(path, "rules")
        if not isinstance(raw, dict) or not isinstance(raw.get("rules"), list):
            raise ConfigError(f"{path}: expected a mapping with a 'rules' list")
        non_content = _non_content(raw.get("non_content"), path)
        rules: list[Rule] = []
        seen: set[str] = set()
        for i, r in enumerate(raw["rules"]):
            line = r.get("__line__") if isinstance(r, dict) else None
            where = f"{path}:{line or '?'} (rule #{i + 1})"
            if not isinstance(r, dict):
                raise ConfigError(f"{where}: a rule must be a mapping")
            for key in ("id", "kind", "category", "severity", "message", "source"):
                if not isinstance(r.get(key), str) or not r[key].strip():
                    raise ConfigError(f"{where}: '{key}' is required (a non-empty string)")
            where = f"{path}:{line} ({r['id']})"
            if r["id"] in seen:
                raise ConfigError(f"{where}: duplicate rule id")
            if r["kind"] not in KINDS:
                raise ConfigError(f"{where}: unknown kind {r['kind']!r}; registered kinds: {sorted(KINDS)}")
            if r["severity"] not in SEVERITIES:
                raise ConfigError(f"{where}: severity {r['severity']!r} is not one of {SEVERITIES}")
            params = strip_lines({k: v for k, v in r.items() if k not in COMMON_KEYS})
            unknown = set(params) - KIND_KEYS[r["kind"]]
            if unknown:
                raise ConfigError(
                    f"{where}: key(s) {sorted(unknown)} don't apply to kind {r['kind']!r}; it takes {sorted(KIND_KEYS[r['kind']])}"
                )
            _validate_params(params, where, lexicons, config, seen)
            seen.add(r["id"])
            if r.get("enabled", True):
                rules.append(Rule(r["id"], r["kind"], r["category"], r["severity"], r["message"], r["source"], params, line))
        return cls(rules, lexicons, config, path, hashlib.sha256(path.read_bytes()).hexdigest(), non_content)

    def warm_up(self) -> None:
        """Build each role's lexicon matcher and load the question models now, not in the first conversation."""
        self.lexicons.warm(*(lexicons for lexicons in self.needed.values() if lexicons))
        for rule in self.rules:
            if rule.kind == "question" and rule.params.get("answerer", "classifier") != "endpoint":
                question.answerer_for(rule, self.config)

    def __call__(self, conversation: Conversation) -> Conversation:
        matchers = {role: self.lexicons.matcher_for(lexicons) for role, lexicons in self.needed.items() if lexicons}
        hits: list[list[Hit]] = []
        for t in conversation.turns:
            match = matchers.get(t.role)
            hits.append(match(t.norm) if match is not None else [])
        ctx = RuleContext(conversation, hits, self.config, self.non_content)
        for rule in self.rules:
            found = KINDS[rule.kind](rule, ctx)
            ctx.fired[rule.id] = found
            conversation.findings.extend(found)
        return conversation


def _non_content(patterns: Any, path: Path) -> re.Pattern | None:
    """``non_content:`` of rules.yaml — regexes (on normalized text) of what is not content."""
    if patterns is None:
        return None
    patterns = strip_lines(patterns)
    if not isinstance(patterns, list) or not all(isinstance(p, str) and p for p in patterns):
        raise ConfigError(f"{path}: non_content must be a list of regexes (stickers, emoji, placeholders)")
    try:
        return re.compile("|".join(f"(?:{p})" for p in patterns))
    except re.error as e:
        raise ConfigError(f"{path}: non_content: bad regex: {e}") from None


def _lexicon_uses(rule: Rule):
    p = rule.params
    if "lexicon" in p:
        yield p.get("role", "any"), p["lexicon"]
    final = (p.get("position") or {}).get("final_exchange")
    if isinstance(final, dict):
        for lexicon in lexicon_names(final["except"]):
            yield final["after"], lexicon
    for role, lexicons in (p.get("skip_when_first") or {}).items():
        for lexicon in lexicon_names(lexicons):
            yield role, lexicon
    for lexicon in p.get("bare_reply_except") or []:
        yield p.get("role", "any"), lexicon
    if "return_lexicon" in p:
        yield p.get("role", "any"), p["return_lexicon"]
    after = p.get("after")
    if isinstance(after, dict) and "lexicon" in after:
        yield after.get("role", "any"), after["lexicon"]


def _validate_params(params: dict, where: str, lexicons: LexiconSet, config: dict, earlier: set[str]) -> None:
    for key in ("lexicon", "return_lexicon"):
        if key in params and params[key] not in lexicons.lexicons:
            raise ConfigError(f"{where}: {key} {params[key]!r} not found; lexicons: {sorted(lexicons.lexicons)}")
    role = params.get("role", "any")
    if role != "any" and role not in ROLES:
        raise ConfigError(f"{where}: role {role!r} must be one of {ROLES} or 'any'")
    pos = params.get("position")
    if pos is not None:
        if not isinstance(pos, dict) or not set(pos) <= {"first", "last", "final_exchange"} or not pos:
            raise ConfigError(f"{where}: position must be {{first: N}}, {{last: N}} or {{final_exchange: {{after: ROLE, except: LEXICON}}}}")
        for k, v in pos.items():
            if k == "final_exchange":
                if (not isinstance(v, dict) or not {"after", "except"} <= set(v) <= {"after", "except", "unanswered"}
                        or v["after"] not in ROLES or not isinstance(v["except"], (str, list))
                        or any(n not in lexicons.lexicons for n in lexicon_names(v["except"])) or v.get("unanswered", "skip") not in ("skip", "missing")):
                    raise ConfigError(f"{where}: position.final_exchange must be {{after: ROLE, except: LEXICON, unanswered: skip|missing}} "
                                      f"(the other side's turns that are mere acknowledgements); lexicons: {sorted(lexicons.lexicons)}")
                continue
            pos[k] = config_value(config, v, where)
            if not isinstance(pos[k], int) or pos[k] < 0:
                raise ConfigError(f"{where}: position.{k} must be a non-negative integer")
    bare = params.get("bare_reply_except")
    if bare is not None and (not isinstance(bare, list) or any(lx not in lexicons.lexicons for lx in bare)):
        raise ConfigError(f"{where}: bare_reply_except must be a list of lexicons (turns that don't count against a bare "
                          f"refusal in the same reply, e.g. [closings, acknowledgements]); lexicons: {sorted(lexicons.lexicons)}")
    skip = params.get("skip_when_first")
    if skip is not None:
        if not isinstance(skip, dict) or not skip or any(
            r not in ROLES or not isinstance(lx, (str, list)) or any(n not in lexicons.lexicons for n in lexicon_names(lx)) for r, lx in skip.items()
        ):
            raise ConfigError(f"{where}: skip_when_first must map a role to a lexicon or a list of lexicons, "
                              f"e.g. {{customer: acknowledgements, agent: [acknowledgements, closings]}}; lexicons: {sorted(lexicons.lexicons)}")
    if "question" in params:
        from ..questions import validate_params

        validate_params(params, where)
    after = params.get("after")
    if after is not None:
        if not isinstance(after, dict) or not ({"lexicon", "rule", "model"} & set(after)):
            raise ConfigError(f"{where}: after must name a 'lexicon', a 'rule' or a 'model' as its anchor")
        if "model" in after:  # a customer turn a per-turn model labels `label` with ≥ min_confidence
            if after["model"] not in TURN_MODEL_LABELS:
                raise ConfigError(f"{where}: after.model must be one of the per-turn models {sorted(TURN_MODEL_LABELS)}, "
                                  f"got {after['model']!r}")
            labels = TURN_MODEL_LABELS[after["model"]]
            if after.get("label") not in labels:
                raise ConfigError(f"{where}: after.label of the {after['model']} model must be one of {', '.join(labels)}, "
                                  f"got {after.get('label')!r}")
            after["min_confidence"] = config_value(config, after.get("min_confidence", 0.5), where)
            if isinstance(after["min_confidence"], bool) or not isinstance(after["min_confidence"], (int, float)) or not 0 <= after["min_confidence"] <= 1:
                raise ConfigError(f"{where}: after.min_confidence must be a number between 0 and 1")
            if "rule" in after:
                raise ConfigError(f"{where}: after takes a 'rule' anchor or lexicon/model anchors, not both")
        if "lexicon" in after and after["lexicon"] not in lexicons.lexicons:
            raise ConfigError(f"{where}: after.lexicon {after['lexicon']!r} not found")
        if "rule" in after and after["rule"] not in earlier:
            raise ConfigError(f"{where}: after.rule {after['rule']!r} must be a rule defined above this one")
        if after.get("unit", "turn") not in ("turn", "reply"):
            raise ConfigError(f"{where}: after.unit must be 'turn' or 'reply' (a run of one side's turns), got {after.get('unit')!r}")
        after["within_turns"] = config_value(config, after.get("within_turns", 1), where)
        after["lookback_turns"] = config_value(config, after.get("lookback_turns", 0), where)
        for key in ("within_turns", "lookback_turns"):
            if not isinstance(after[key], int) or after[key] < 0:
                raise ConfigError(f"{where}: after.{key} must be a non-negative integer")
    for key in NUMBER_PARAMS:
        if key in params:
            params[key] = config_value(config, params[key], where)
            if isinstance(params[key], bool) or not isinstance(params[key], (int, float, dict)):
                raise ConfigError(f"{where}: {key} must be a number or a configuration key naming one, got {params[key]!r}")
    labels = params.get("labels")
    if labels is not None:
        known = ("phone", "id_card", "bank_card", "email", "address")
        if not isinstance(labels, list) or not set(labels) <= set(known):
            raise ConfigError(f"{where}: labels must be a list drawn from {known}")
    for key in ("all", "any", "none"):
        for rid in params.get(key, []) or []:
            if rid not in earlier:
                raise ConfigError(f"{where}: {key}: rule {rid!r} must be defined above this one")
