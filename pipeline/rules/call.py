"""Call rule kinds (issue 18): what a call's timing shows and its words can't — ``interruption``
(抢话), ``silence`` (冷场), ``speech_rate`` (语速) and ``talk_share`` (说话占比 / 独白). They read
``Conversation.call_timing`` (pipeline/call_timing.py, measured by the metrics stage); a chat has
none and gets no finding. Each finding carries its measured ``value``."""

from __future__ import annotations

from .base import Rule, RuleContext, register
from ..schema import Finding


@register("interruption", {"threshold"})
def interruption(rule: Rule, ctx: RuleContext) -> list[Finding]:
    timing = ctx.conversation.call_timing
    if timing is None or len(timing.interruptions) <= rule.params["threshold"]:
        return []
    cut = timing.interruptions
    # evidence: the customer turn first cut into; the message counts them all
    return [rule.finding(ctx, cut[0].customer_turn, value=len(cut), threshold=rule.params["threshold"],
                         overlap=round(sum(i.overlap_s for i in cut), 1), agent_turn=cut[0].agent_turn)]


@register("silence", {"threshold"})
def silence(rule: Rule, ctx: RuleContext) -> list[Finding]:
    timing = ctx.conversation.call_timing
    if timing is None or not timing.silences:
        return []
    longest = max(timing.silences, key=lambda s: s.seconds)
    if longest.seconds <= rule.params["threshold"]:
        return []
    total = sum(s.seconds for s in timing.silences)
    return [rule.finding(ctx, longest.before_turn, value=longest.seconds, threshold=rule.params["threshold"], total=round(total, 1))]


@register("speech_rate", {"lower", "upper"})
def speech_rate(rule: Rule, ctx: RuleContext) -> list[Finding]:
    timing = ctx.conversation.call_timing
    rate = ctx.conversation.metrics.get("agent_chars_per_s")  # measured once, by the metrics stage
    if timing is None or rate is None:
        return []
    lower, upper = rule.params["lower"], rule.params["upper"]
    if lower <= rate <= upper:
        return []
    too_fast = rate > upper
    # the turn that shows it most (the fastest or the slowest judged turn), when there is one
    turn = (max if too_fast else min)(timing.turn_rates, key=timing.turn_rates.get) if timing.turn_rates else None
    return [rule.finding(ctx, turn, value=rate, lower=lower, upper=upper, pace="过快" if too_fast else "过慢")]


@register("talk_share", {"threshold", "monologue"})
def talk_share(rule: Rule, ctx: RuleContext) -> list[Finding]:
    timing = ctx.conversation.call_timing
    if timing is None:
        return []
    found: list[Finding] = []
    share = ctx.conversation.metrics.get("agent_talk_share")
    longest = max(timing.turn_seconds, key=timing.turn_seconds.get) if timing.turn_seconds else None
    if share is not None and share > rule.params["threshold"]:
        found.append(rule.finding(ctx, longest, value=share, threshold=rule.params["threshold"], share=f"{share:.0%}",
                                  what="坐席说话占比"))
    limit = rule.params.get("monologue")
    for turn, seconds in timing.turn_seconds.items():
        if limit is not None and seconds > limit:
            found.append(rule.finding(ctx, turn, value=seconds, threshold=limit, share=f"{seconds:.0f} 秒", what="坐席单次独白"))
    return found
