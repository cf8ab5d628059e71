"""Rule kinds ``phrase`` (a finding per lexicon hit in scope) and ``absent`` (a finding when
the scope holds no hit — optionally once per anchor, for "the agent's next N turns").

With an anchor, ``after.lookback_turns`` also counts the role's last N turns *before* the anchor:
a customer repeating a complaint the agent has just apologised for needs no second apology.

``after.unit: reply`` counts *replies* instead of turns: the messages one side sends in a row, before
the other side speaks again, are one reply (chat exports often keep each message as its own turn,
and a person reading the chat judges "the agent's next two replies", not the next two messages)."""

from __future__ import annotations

from .base import Rule, RuleContext, register
from ..lexicons import Entry, Hit
from ..schema import Finding

_SCOPE = {"lexicon", "role", "position", "after", "category_from_entry", "skip_when_first", "once_per_turn", "bare_reply_except"}


def _anchors(rule: Rule, ctx: RuleContext):
    """(turn, hit, score) triples that open a window: lexicon hits of a role, turns a per-turn model
    labels ``after.label`` with at least ``after.min_confidence`` (both kinds, when both are
    given; ``score`` is the model's probability, else None), or another rule's findings."""
    after = rule.params["after"]
    if "rule" in after:
        for f in ctx.fired.get(after["rule"], []):
            if f.turn is not None:
                yield f.turn, None, None
        return
    by_model = _model_turns(ctx, after) if "model" in after else {}
    by_turn = ctx.hits_by_turn(after["lexicon"]) if "lexicon" in after else {}
    if not by_turn and not by_model:
        return
    for t in ctx.turns_of(after.get("role", "any")):
        hits = by_turn.get(t)
        if hits:
            yield t, hits[0], None  # one anchor per turn
        elif t in by_model:
            yield t, *by_model[t]


def _model_turns(ctx: RuleContext, after: dict) -> dict[int, tuple[Hit, float]]:
    """Turns the per-turn model ``after.model`` (its predictions ``turn_<model>``: sentiment, emotion)
    labels ``after.label`` confidently enough, each as a whole-turn hit (so the finding's evidence is
    the customer's turn and its entry says ``model:emotion``). Without a loaded model there are no
    predictions and no model anchors."""
    out: dict[int, Hit] = {}
    for p in ctx.conversation.predictions.get(f"turn_{after['model']}") or ():
        conf = p.get("confidence")
        if p.get("label") == after["label"] and conf is not None and conf >= after["min_confidence"]:
            turn = ctx.conversation.turns[p["turn"]]
            entry = Entry(id=f"model:{after['model']}", lexicon="model", category="", source=f"{after['model']} model")
            out[p["turn"]] = Hit(entry, 0, len(turn.norm), turn.norm), conf
    return out


def _units(rule: Rule, ctx: RuleContext) -> list[list[int]]:
    """The role's turns as units of judgement: one turn each, or one reply (a run of the role's
    turns with no other side's turn with content in between)."""
    role = rule.params.get("role", "any")
    if rule.params["after"].get("unit", "turn") == "turn":
        return [[t] for t in ctx.turns_of(role)]
    return ctx.replies_of(role)


def _window(rule: Rule, ctx: RuleContext, anchor_turn: int) -> list[int]:
    n = rule.params["after"]["within_turns"]
    return [t for unit in [u for u in _units(rule, ctx) if u[0] > anchor_turn][:n] for t in unit]


def _lookback(rule: Rule, ctx: RuleContext, anchor_turn: int) -> list[int]:
    n = rule.params["after"].get("lookback_turns", 0)
    if not n:
        return []
    return [t for unit in [u for u in _units(rule, ctx) if u[-1] < anchor_turn][-n:] for t in unit]


@register("phrase", _SCOPE)
def phrase(rule: Rule, ctx: RuleContext) -> list[Finding]:
    lexicon = rule.params["lexicon"]
    by_turn = ctx.hits_by_turn(lexicon)
    if not by_turn:
        return []  # no hit of the lexicon anywhere in the conversation
    if "after" in rule.params:
        turns = sorted({t for a, *_ in _anchors(rule, ctx) for t in _window(rule, ctx, a)})
    else:
        turns = ctx.turns_of(rule.params.get("role", "any"), rule.params.get("position"))
    found = []
    for t in turns:
        hits = by_turn.get(t)
        if not hits:
            continue
        hits = [h for h in hits if not h.entry.bare or _bare_in_reply(rule, ctx, t)]
        if rule.params.get("once_per_turn"):  # one finding per turn, on its first hit
            hits = hits[:1]
        found.extend(rule.finding(ctx, t, h) for h in hits)
    return found


def _bare_in_reply(rule: Rule, ctx: RuleContext, turn: int) -> bool:
    """Whether the reply holding ``turn`` says nothing else: each of its other turns is bare too
    (a hit of a ``bare`` entry of the rule's lexicon) or holds a hit of a ``bare_reply_except``
    lexicon (a closing, an acknowledgement). A 没办法 with a reason or an alternative in the same
    reply is not a bare refusal (GOLD_RUBRIC)."""
    role = rule.params.get("role", "any")
    reply = next((r for r in ctx.replies_of(role) if turn in r), [turn])
    allowed = rule.params.get("bare_reply_except") or []
    for other in reply:
        if other == turn:
            continue
        if any(h.entry.bare for h in ctx.lexicon_hits(other, rule.params["lexicon"])):
            continue
        if any(ctx.lexicon_hits(other, lx) for lx in allowed):
            continue
        return False
    return True


@register("absent", _SCOPE)
def absent(rule: Rule, ctx: RuleContext) -> list[Finding]:
    lexicon = rule.params["lexicon"]
    if "skip_when_first" in rule.params and ctx.starts_with(rule.params["skip_when_first"]):
        return []  # the transcript starts mid-session: an opening can't be judged
    if "after" not in rule.params:
        role, position = rule.params.get("role", "any"), rule.params.get("position")
        turns = ctx.turns_of(role, position)
        if not turns:
            final = (position or {}).get("final_exchange") or {}
            spoke = ctx.turns_of(role)
            if final.get("unanswered") == "missing" and spoke:
                # the other side's last words got no reply at all: nothing closed the conversation
                return [rule.finding(ctx, spoke[-1])]
            return []  # nothing to judge
        if not ctx.hits_by_turn(lexicon).keys().isdisjoint(turns):
            return []  # the phrase is there
        return [rule.finding(ctx, turns[0])]
    found: list[Finding] = []
    judged: set[int] = set()
    by_turn = ctx.hits_by_turn(lexicon)
    for anchor_turn, anchor_hit, score in _anchors(rule, ctx):
        window = _window(rule, ctx, anchor_turn)
        if not window or judged.issuperset(window):
            continue  # no reply to judge, or these replies were judged for an earlier anchor
        judged.update(window)
        earlier = _lookback(rule, ctx, anchor_turn)
        if not any(t in by_turn for t in (*earlier, *window)):
            shown = {"value": score} if score is not None else {}  # a model anchor: how sure the model was
            found.append(rule.finding(ctx, anchor_turn, anchor_hit, window=len(window), **shown))
    return found
