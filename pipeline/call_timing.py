"""Call timing: who spoke when, from a call transcript's ``ts`` / ``end_ts`` (issue 18).

A turn with both timestamps is an interval of speech. From them, for a call (a conversation whose
turns carry ``end_ts``):

* **interruptions** (抢话 / 打断) — an agent turn that starts before the customer's speech it follows
  has ended, by more than a tolerance; each with the overlap in seconds and the turn cut into;
* **silences** (静音 / 冷场) — gaps in which nobody speaks, longer than a minimum, except those after
  an agent turn that announced a hold (「请稍等」, also when the customer said 「好的」 in between:
  ``hold.no_apology`` judges those);
* **speech rate** (语速) — the agent's characters per second of speech, over the call and per turn;
* **talk share** (说话占比) — the agent's share of the speaking time, and the longest agent turn.

Seed 003 asks 「是否經常打斷客戶說話」 and 「控制通話節奏的主動權，引導客戶順利的完成此次通話」.
A chat (no ``end_ts``) gets ``null`` for all of these — never a guess. A turn whose end is before
its start, or that starts before the previous one (out of order), is left out of the measures and
noted in ``skipped``; ingest has already warned about it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .schema import Conversation

METRIC_KEYS = ("interruptions", "interruption_overlap_s", "silence_total_s", "silence_max_s", "agent_talk_share",
               "agent_chars_per_s", "longest_agent_turn_s")


@dataclass(frozen=True, slots=True)
class Interruption:
    agent_turn: int
    customer_turn: int  # the turn cut into
    overlap_s: float


@dataclass(frozen=True, slots=True)
class Silence:
    after_turn: int  # the last turn before the gap
    before_turn: int  # the turn that ends it
    seconds: float


@dataclass(slots=True)
class CallTiming:
    interruptions: list[Interruption] = field(default_factory=list)
    silences: list[Silence] = field(default_factory=list)
    agent_speech_s: float = 0.0
    customer_speech_s: float = 0.0
    agent_chars: int = 0
    turn_rates: dict[int, float] = field(default_factory=dict)  # agent turn → chars/s (turns long enough to judge)
    turn_seconds: dict[int, float] = field(default_factory=dict)  # agent turn → its duration
    skipped: list[int] = field(default_factory=list)  # turns without a usable interval

    def metrics(self) -> dict[str, float | int | None]:
        talk = self.agent_speech_s + self.customer_speech_s
        return {
            "interruptions": len(self.interruptions),
            "interruption_overlap_s": round(float(sum(i.overlap_s for i in self.interruptions)), 3),
            "silence_total_s": round(float(sum(s.seconds for s in self.silences)), 3),
            "silence_max_s": round(max((s.seconds for s in self.silences), default=0.0), 3),
            "agent_talk_share": round(self.agent_speech_s / talk, 4) if talk > 0 else None,
            "agent_chars_per_s": round(self.agent_chars / self.agent_speech_s, 3) if self.agent_speech_s > 0 else None,
            "longest_agent_turn_s": round(max(self.turn_seconds.values(), default=0.0), 3),
        }


def is_call(conversation: Conversation) -> bool:
    """A transcript with speech intervals: at least one turn has ``end_ts``."""
    return any(t.end_ts is not None for t in conversation.turns)


def measure(conversation: Conversation, *, tolerance_s: float, min_gap_s: float, min_rate_turn_s: float,
            announced_hold: Callable[[int], bool] = lambda i: False) -> CallTiming | None:
    """The call's timing, or None for a chat. ``announced_hold(i)``: does agent turn ``i`` put the
    customer on hold (then the gap after it is not a silence)."""
    if not is_call(conversation):
        return None
    out = CallTiming()
    last_start = float("-inf")
    spoken_until, last_turn = None, None  # end of all speech so far, and whose turn ended it
    last_customer_end, last_customer_turn = None, None
    last_agent_turn = None  # a hold announced there covers the gap, even after the customer's 「好的」
    for t in conversation.turns:
        if t.ts is None or t.end_ts is None or t.end_ts < t.ts or t.ts < last_start or t.role not in ("agent", "customer"):
            if t.role in ("agent", "customer"):
                out.skipped.append(t.index)
            continue
        last_start = t.ts
        seconds = t.end_ts - t.ts
        if t.role == "agent":
            out.agent_speech_s += seconds
            out.agent_chars += len(t.text)
            out.turn_seconds[t.index] = round(seconds, 3)
            if seconds >= min_rate_turn_s:
                out.turn_rates[t.index] = round(len(t.text) / seconds, 3)
            if last_customer_end is not None and last_customer_end - t.ts > tolerance_s:
                out.interruptions.append(Interruption(t.index, last_customer_turn, round(last_customer_end - t.ts, 3)))
        else:
            out.customer_speech_s += seconds
        if spoken_until is not None and t.ts - spoken_until > min_gap_s:
            if last_agent_turn is None or not announced_hold(last_agent_turn):
                out.silences.append(Silence(last_turn, t.index, round(t.ts - spoken_until, 3)))
        if spoken_until is None or t.end_ts >= spoken_until:
            spoken_until, last_turn = t.end_ts, t.index
        if t.role == "customer":
            last_customer_end, last_customer_turn = t.end_ts, t.index
        else:
            last_customer_end = None  # the agent has taken the floor: a later agent turn can't cut into it
            last_agent_turn = t.index
    return out
