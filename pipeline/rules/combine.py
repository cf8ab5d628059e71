"""Rule kind ``combine``: "rule A and not rule B" — fires when every rule in ``all`` fired, at
least one rule in ``any`` did (when ``any`` is given) and no rule in ``none`` did. The finding
points at the first finding of the first ``all`` rule."""

from __future__ import annotations

from .base import Rule, RuleContext, register
from ..schema import Finding


@register("combine", {"all", "any", "none"})
def combine(rule: Rule, ctx: RuleContext) -> list[Finding]:
    required = rule.params.get("all") or []
    if not required or not all(ctx.fired.get(r) for r in required):
        return []
    either = rule.params.get("any") or []
    if either and not any(ctx.fired.get(r) for r in either):
        return []
    if any(ctx.fired.get(r) for r in rule.params.get("none") or []):
        return []
    first = ctx.fired[required[0]][0]
    f = rule.finding(ctx, first.turn)
    f.start, f.end, f.evidence = first.start, first.end, first.evidence
    return [f]
