"""Timing rule kinds: ``first_response`` and ``reply_time`` (against a per-channel SLA from the
configuration) and ``hold`` (the agent comes back from a hold too late without thanking the
customer for waiting). They read the reply pairs of :mod:`pipeline.metrics`."""

from __future__ import annotations

from .base import Rule, RuleContext, register
from ..schema import Finding


@register("first_response", {"threshold"})
def first_response(rule: Rule, ctx: RuleContext) -> list[Finding]:
    replies = ctx.conversation.replies
    if not replies:
        return []
    sla = ctx.threshold(rule.params["threshold"])
    first = replies[0]
    if first.seconds > sla:
        return [rule.finding(ctx, first.agent_turn, value=first.seconds, threshold=sla)]
    return []


@register("reply_time", {"threshold", "skip_first"})
def reply_time(rule: Rule, ctx: RuleContext) -> list[Finding]:
    replies = ctx.conversation.replies
    if rule.params.get("skip_first", True):
        replies = replies[1:]  # the first reply is judged by first_response
    sla = ctx.threshold(rule.params["threshold"])
    return [rule.finding(ctx, r.agent_turn, value=r.seconds, threshold=sla) for r in replies if r.seconds > sla]


@register("hold", {"lexicon", "return_lexicon", "role", "threshold"})
def hold(rule: Rule, ctx: RuleContext) -> list[Finding]:
    turns = ctx.conversation.turns
    role = rule.params.get("role", "agent")
    limit = ctx.threshold(rule.params["threshold"])
    own = ctx.turns_of(role)
    found: list[Finding] = []
    for i, nxt in zip(own, own[1:]):
        if not ctx.lexicon_hits(i, rule.params["lexicon"]):
            continue
        start = turns[i].end_ts if turns[i].end_ts is not None else turns[i].ts
        if start is None or turns[nxt].ts is None:
            continue
        waited = turns[nxt].ts - start
        if waited > limit and not ctx.lexicon_hits(nxt, rule.params["return_lexicon"]):
            found.append(rule.finding(ctx, nxt, value=round(waited, 3), threshold=limit, hold_turn=i))
    return found
