"""rules, the parts a rule kind builds on: the registry of kinds (:func:`register`), :class:`Rule` (one
entry of ``rules.yaml``) and :class:`RuleContext` (one conversation's turns, hits and findings as the
kinds see them). Kind modules import from here, never from the package, so the package can import
them at the top like any other module."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..lexicons import Hit
from ..schema import Conversation, Finding

_ALNUM = re.compile(r"[^\W_]")  # a character for which str.isalnum() is true (\w is alnum or _)
_NO_HITS: dict[int, list[Hit]] = {}  # shared, never written: a lexicon without hits in a conversation

KINDS: dict[str, Callable[["Rule", "RuleContext"], list[Finding]]] = {}
KIND_KEYS: dict[str, set[str]] = {}
COMMON_KEYS = {"id", "kind", "category", "severity", "message", "source", "enabled", "description", "__line__"}


def register(name: str, keys: set[str]):
    """Register a rule kind under ``name``; ``keys`` are the conditions it accepts."""

    def deco(fn):
        KINDS[name] = fn
        KIND_KEYS[name] = keys
        return fn

    return deco


@dataclass
class Rule:
    id: str
    kind: str
    category: str
    severity: str
    message: str
    source: str
    params: dict[str, Any] = field(default_factory=dict)
    line: int | None = None

    def finding(self, ctx: "RuleContext", turn: int | None = None, hit: Hit | None = None, **fmt: Any) -> Finding:
        """A finding of this rule, with evidence in the original text when a hit is given."""
        start = end = evidence = None
        role = None
        severity = self.severity
        entry = None
        if turn is not None:
            t = ctx.conversation.turns[turn]
            role = t.role
            if hit is not None:
                start, end = t.orig_span(hit.start, hit.end)
                evidence = t.text[start:end]
                entry = hit.entry.id
                severity = hit.entry.severity or severity
        values = {"evidence": evidence or "", "turn": turn, "role": role or "", **fmt}
        try:
            message = self.message.format(**values)
        except (KeyError, IndexError, ValueError):
            message = self.message
        return Finding(
            rule=self.id,
            category=(hit.entry.category if hit is not None and self.params.get("category_from_entry") else self.category),
            severity=severity,
            message=message,
            turn=turn,
            role=role,
            start=start,
            end=end,
            evidence=evidence,
            entry=entry,
            value=fmt.get("value"),
        )


class RuleContext:
    """What the rule kinds see of one conversation: its turns, hits per turn, the configuration.

    Turns without content — only stickers (``#E-s[数字x]``), emoji, placeholders, punctuation; what
    ``non_content`` in rules.yaml describes — are not turns for positions and windows: a sticker
    after the closing does not push the closing out of "the agent's last turns"."""

    def __init__(self, conversation: Conversation, hits: list[list[Hit]], config: dict, non_content: re.Pattern | None = None):
        self.conversation = conversation
        self.hits = hits
        self.config = config
        self.fired: dict[str, list[Finding]] = {}
        self._by_lexicon: dict[str, dict[int, list[Hit]]] | None = None
        self._of_role: dict[str, list[int]] = {}
        self._non_content = non_content
        self._content: list[bool] | None = None
        self._replies: dict[str, list[list[int]]] = {}  # judged once per role: windows and bare refusals ask often

    def has_content(self, turn: int) -> bool:
        content = self._content
        if content is None:
            content = self._content = self._content_of_turns()
        return content[turn]

    def _content_of_turns(self) -> list[bool]:
        """Per turn: a letter or digit left once ``non_content`` is removed (judged once per turn)."""
        non_content, alnum = self._non_content, _ALNUM.search
        out = []
        for t in self.conversation.turns:
            norm = t.norm
            if alnum(norm) is None:  # nothing to remove could leave a letter behind
                out.append(False)
                continue
            if non_content is not None:
                norm = non_content.sub("", norm)
            out.append(alnum(norm) is not None)
        return out

    def turns_of(self, role: str, position: dict | None = None) -> list[int]:
        """The role's turns with content, in order; ``position`` narrows them to the first / last N,
        or to the final exchange (after the other side's last turn that is not a mere
        acknowledgement such as 好的 / 谢谢 / 没有了)."""
        idx = self._of_role.get(role)
        if idx is None:
            content = self._content
            if content is None:
                content = self._content = self._content_of_turns()
            idx = self._of_role[role] = [
                t.index for t in self.conversation.turns if (role == "any" or t.role == role) and content[t.index]
            ]
        if position:
            if "final_exchange" in position:
                spec = position["final_exchange"]
                acknowledged = [self.hits_by_turn(lx) for lx in lexicon_names(spec["except"])]
                # the other side's last turn that is not a mere acknowledgement
                last = next((t for t in reversed(self.turns_of(spec["after"])) if not any(t in a for a in acknowledged)), None)
                idx = [t for t in idx if t > last] if last is not None else idx
            if "first" in position:
                idx = idx[: position["first"]]
            if "last" in position:
                idx = idx[-position["last"] :] if position["last"] else []
        return idx

    def replies_of(self, role: str) -> list[list[int]]:
        """The role's turns with content grouped into replies: a reply ends where a turn with
        content of another side comes."""
        cached = self._replies.get(role)
        if cached is not None:
            return cached
        replies: list[list[int]] = []
        current: list[int] = []
        content = self._content
        if content is None:
            content = self._content = self._content_of_turns()
        for t in self.conversation.turns:
            if not content[t.index]:
                continue
            if t.role == role:
                current.append(t.index)
            elif current:
                replies.append(current)
                current = []
        if current:
            replies.append(current)
        self._replies[role] = replies
        return replies

    def starts_with(self, spec: dict[str, str]) -> bool:
        """Whether the first turn with content of any role named in ``spec`` holds a hit of the
        lexicon named for it (e.g. the customer's first words are 好的 / 谢谢, or the agent's first
        words are a closing: the transcript starts mid-session). Entries marked ``not_opening`` don't
        count: a first reply that ends 「…谢谢!」 is an opening reply that thanks, not a closing."""
        for role, lexicons in spec.items():
            turns = self.turns_of(role)
            if turns and any(not h.entry.not_opening for lx in lexicon_names(lexicons) for h in self.lexicon_hits(turns[0], lx)):
                return True
        return False

    def lexicon_hits(self, turn: int, lexicon: str) -> list[Hit]:
        return self.hits_by_turn(lexicon).get(turn) or []

    def hits_by_turn(self, lexicon: str) -> dict[int, list[Hit]]:
        """The turns holding hits of ``lexicon`` → those hits (in turn order; read-only). Most
        turns hold none: the rule kinds look here instead of asking turn by turn."""
        grouped = self._by_lexicon
        if grouped is None:
            grouped = self._by_lexicon = {}
            for i, found in enumerate(self.hits):
                for h in found:
                    by_turn = grouped.get(h.entry.lexicon)
                    if by_turn is None:
                        by_turn = grouped[h.entry.lexicon] = {}
                    by_turn.setdefault(i, []).append(h)
        return grouped.get(lexicon, _NO_HITS)

    def threshold(self, value: Any) -> float:
        """A number, or a per-channel mapping ``{chat: 30, phone: 60, default: 30}``."""
        if isinstance(value, dict):
            channel = self.conversation.channel
            return value.get(channel, value.get("default"))
        return value


def lexicon_names(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)
