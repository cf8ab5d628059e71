"""Rule kind ``question``: a scorecard question answered by a trained model (issue 17).

Adds the answer to ``predictions["questions"]`` — ``{id, question, answer, confidence, because,
evidence_turns, status, model}`` — for every conversation, and a finding only when all of these
hold: the answer is the one that costs points (``fails_on``), its confidence reaches
``min_confidence`` (below it the answer is ``null`` with ``needs_review: true`` — never a guess),
and the model's held-out macro-F1 reached ``accuracy_floor`` (status 正式; below it the question is
试运行: answers are shown, nothing is scored). No model installed → no answer, no finding. A rule
without ``min_confidence`` / ``accuracy_floor`` takes them from the ``questions:`` configuration.
Questions added in the workbench are rules of this kind too, built from their bundle's definition
(pipeline/questions/workbench.py).
"""

from __future__ import annotations

from .base import Rule, RuleContext, register
from ..questions import STATUS_LIVE, STATUS_TRIAL, load_answerer, threshold
from ..schema import Finding

KEYS = {"question", "choices", "fails_on", "answerer", "model", "reads", "min_confidence", "accuracy_floor", "gold_label", "gold_map"}


@register("question", KEYS)
def question(rule: Rule, ctx: RuleContext) -> list[Finding]:
    p = rule.params
    if p.get("answerer", "classifier") == "endpoint":
        return _ask_endpoint(rule, ctx)
    answerer = answerer_for(rule, ctx.config)
    if answerer is None:
        return []
    label, conf, because, turns = answerer.answer(ctx.conversation)
    floor = threshold(p, ctx.config, "accuracy_floor")
    live = answerer.held_out_macro_f1 is not None and answerer.held_out_macro_f1 >= floor
    sure = conf >= threshold(p, ctx.config, "min_confidence")
    ctx.conversation.predictions.setdefault("questions", []).append({
        "id": rule.id, "question": p["question"], "answer": label if sure else None, "confidence": round(conf, 4),
        "needs_review": not sure, "because": because, "evidence_turns": turns,
        "status": STATUS_LIVE if live else STATUS_TRIAL, "model": answerer.version,
    })
    if not (live and sure and label == p.get("fails_on")):
        return []
    return [rule.finding(ctx, turns[0] if turns else None, answer=label, confidence=f"{conf:.2f}")]


def answerer_for(rule: Rule, config: dict):
    """The installed question model a ``question`` rule names (loaded once per process), or None."""
    return load_answerer(str(config["paths"]["models"]), rule.params["model"])


def _ask_endpoint(rule: Rule, ctx: RuleContext) -> list[Finding]:
    """An OpenAI-compatible endpoint's answer (pipeline/questions/endpoint.py): shown with its
    quotes, 试运行, never a finding; nothing at all when no endpoint is configured."""
    from ..questions.endpoint import endpoint_for

    endpoint = endpoint_for(ctx.config)
    if not endpoint.enabled:
        return []
    r = endpoint.answer(rule.id, rule.params, ctx.conversation)
    ctx.conversation.predictions.setdefault("questions", []).append({
        "id": rule.id, "question": rule.params["question"], "answer": r["answer"], "confidence": None,
        "needs_review": r["answer"] is None, "because": r["quotes"], "evidence_turns": r["evidence_turns"],
        "status": STATUS_TRIAL, "model": f"endpoint:{endpoint.model}", "reason": r["reason"],
    })
    return []
