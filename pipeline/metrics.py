"""Response timing: which agent turn answered which customer turn, and how long it took.

Adds ``Conversation.metrics`` (``first_response_s``, ``avg_response_s``, ``max_response_s``,
``turns``) and gives the timing rules the (customer turn, agent turn, seconds) pairs they judge;
for a call also the speech timing of :mod:`pipeline.call_timing` (interruptions, silences, speech
rate, talk share: ``null`` for a chat) and ``Conversation.call_timing`` for the call rules.

A customer's wait starts at the first customer turn not yet answered (for a call with
``end_ts``: when the customer stopped talking) and ends at the next agent turn. Bot and system
turns don't stop the clock: an auto-reply is not the agent. A pair whose clock runs backwards
(timestamps out of order, already warned about by ingest) or lacks a timestamp is left out:
fields that can't be measured are ``null``, never invented.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import call_timing
from .schema import Conversation


@dataclass(slots=True, frozen=True)
class Reply:
    customer_turn: int  # the turn whose wait this reply ends
    agent_turn: int
    seconds: float


def replies(conversation: Conversation) -> list[Reply]:
    out: list[Reply] = []
    waiting_turn: int | None = None
    waiting_since: float | None = None
    for turn in conversation.turns:
        if turn.role == "customer":
            if waiting_turn is None:
                waiting_turn, waiting_since = turn.index, turn.ts
            if turn.end_ts is not None:
                # a call: the wait runs from the end of the customer's last words
                waiting_since = turn.end_ts
        elif turn.role == "agent":
            if waiting_turn is not None and waiting_since is not None and turn.ts is not None:
                seconds = turn.ts - waiting_since
                if seconds >= 0:
                    out.append(Reply(waiting_turn, turn.index, round(seconds, 3)))
            waiting_turn, waiting_since = None, None
    return out


class ResponseMetrics:
    """The metrics stage (runs before the rules, which read ``conversation.metrics``)."""

    name = "metrics"

    def __init__(self, config: dict | None = None, lexicons=None):
        calls = (config or {}).get("calls") or {}
        self.calls = calls
        self._hold = frozenset([calls["hold_lexicon"]]) if lexicons is not None and calls.get("hold_lexicon") else None
        self._lexicons = lexicons

    def warm_up(self) -> None:
        if self._hold is not None:
            self._lexicons.warm(self._hold)

    def _announced_hold(self, conversation: Conversation):
        def held(i: int) -> bool:
            return bool(self._lexicons.match(conversation.turns[i].norm, self._hold))
        return held

    def __call__(self, conversation: Conversation) -> Conversation:
        pairs = replies(conversation)
        seconds = [p.seconds for p in pairs]
        conversation.metrics = {
            "first_response_s": seconds[0] if seconds else None,
            "avg_response_s": round(sum(seconds) / len(seconds), 3) if seconds else None,
            "max_response_s": max(seconds) if seconds else None,
            "turns": len(conversation.turns),
            "agent_turns": sum(1 for t in conversation.turns if t.role == "agent"),
            "customer_turns": sum(1 for t in conversation.turns if t.role == "customer"),
            "replies": len(seconds),
        }
        conversation.replies = pairs
        timing = None
        if self.calls and call_timing.is_call(conversation):
            timing = call_timing.measure(
                conversation, tolerance_s=float(self.calls["interruption_tolerance_s"]), min_gap_s=float(self.calls["silence_min_gap_s"]),
                min_rate_turn_s=float(self.calls["speech_rate_min_turn_s"]),
                announced_hold=self._announced_hold(conversation) if self._hold else (lambda i: False))
        conversation.call_timing = timing
        conversation.metrics.update(timing.metrics() if timing else dict.fromkeys(call_timing.METRIC_KEYS))
        return conversation
