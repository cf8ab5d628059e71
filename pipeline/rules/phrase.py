"""Rule kinds ``phrase`` (a finding per lexicon hit in scope) and ``absent`` (a finding when
the scope holds no hit — optionally once per anchor, for "the agent's next N turns").

With an anchor, ``after.lookback_turns`` also counts the role's last N turns *before* the anchor:
a customer repeating a complaint the agent has just apologised for needs no second apology."""

from __future__ import annotations

from . import Rule, RuleContext, register
from ..schema import Finding

_SCOPE = {"lexicon", "role", "position", "after", "category_from_entry"}


def _anchors(rule: Rule, ctx: RuleContext):
    """(turn, hit) pairs that open a window: lexicon hits of a role, or another rule's findings."""
    after = rule.params["after"]
    if "rule" in after:
        for f in ctx.fired.get(after["rule"], []):
            if f.turn is not None:
                yield f.turn, None
        return
    for t in ctx.turns_of(after.get("role", "any")):
        for h in ctx.lexicon_hits(t, after["lexicon"]):
            yield t, h
            break  # one anchor per turn


def _window(rule: Rule, ctx: RuleContext, anchor_turn: int) -> list[int]:
    role = rule.params.get("role", "any")
    n = rule.params["after"]["within_turns"]
    return [t for t in ctx.turns_of(role) if t > anchor_turn][:n]


@register("phrase", _SCOPE)
def phrase(rule: Rule, ctx: RuleContext) -> list[Finding]:
    lexicon = rule.params["lexicon"]
    if "after" in rule.params:
        turns = sorted({t for a, _ in _anchors(rule, ctx) for t in _window(rule, ctx, a)})
    else:
        turns = ctx.turns_of(rule.params.get("role", "any"), rule.params.get("position"))
    return [rule.finding(ctx, t, h) for t in turns for h in ctx.lexicon_hits(t, lexicon)]


@register("absent", _SCOPE)
def absent(rule: Rule, ctx: RuleContext) -> list[Finding]:
    lexicon = rule.params["lexicon"]
    if "after" not in rule.params:
        turns = ctx.turns_of(rule.params.get("role", "any"), rule.params.get("position"))
        if not turns or any(ctx.lexicon_hits(t, lexicon) for t in turns):
            return []  # nothing to judge, or the phrase is there
        return [rule.finding(ctx, turns[0])]
    found: list[Finding] = []
    judged: set[int] = set()
    for anchor_turn, anchor_hit in _anchors(rule, ctx):
        window = _window(rule, ctx, anchor_turn)
        if not window or judged.issuperset(window):
            continue  # no reply to judge, or these replies were judged for an earlier anchor
        judged.update(window)
        lookback = rule.params["after"].get("lookback_turns", 0)
        earlier = [t for t in ctx.turns_of(rule.params.get("role", "any")) if t < anchor_turn][-lookback:] if lookback else []
        if not any(ctx.lexicon_hits(t, lexicon) for t in (*earlier, *window)):
            found.append(rule.finding(ctx, anchor_turn, anchor_hit, window=len(window)))
    return found
