"""flag: decide whether a person must look at a conversation, and why.

Adds ``review = {"needed": bool, "reasons": [...]}``. Reasons (stable ids): ``fatal`` (a 红线
item), ``score.low``, ``complaint.risk``, ``rating.bad``, ``customer.end_negative`` and
``model.low_confidence`` (when the models stage ran), and ``calibration.sample`` — a random share
of the *other* conversations, so the machine's clean verdicts get checked too. The sample is a
hash of (seed, conversation id): the same on every run, worker and machine.

``review.skip_review_for_trusted_rules`` (empty by default) drops the reasons that come only from
findings of the rules a QA lead listed after ``zhijian agreement`` called them trusted
(pipeline/trust.py); the dropped ones are kept as ``review.skipped``.

``customer.end_negative`` follows ``review.end_negative_from``: ``customer_end`` (default) — the
customer's mood at the end as the end-sentiment stage reads it (pipeline/end_sentiment.py: an
emotion in the last substantive turns, with the turn and lexicon entry as evidence); ``model`` —
the sentiment model's label of the last customer turn at ``end_negative_min_confidence``, judged
only when that turn is more than an acknowledgement: a customer answering 「还有其他可以帮您的吗」
with 「没有了」 has not ended negative, whatever a sentiment model makes of 没有 (issue 10: 92 of
117 such flags on real chats).
``model.low_confidence`` looks only at the models named in ``review.model_confidence_below``, each
with its own threshold on the model's calibrated probability; ``auto`` takes the threshold the
model's training chose on out-of-fold predictions (metadata ``low_confidence_below``: predictions
below it are more often wrong than right, and at most 5 % of conversations fall below it —
docs/MODELS.md).
"""

from __future__ import annotations

import hashlib
from typing import Any

from .schema import Conversation
from .trust import reasons_from_trusted_rules, skip_rules

# what each reason is called where people read it (explain, the workbench queue, reports)
REASON_LABELS = {"fatal": "红线", "score.low": "低分", "complaint.risk": "投诉风险", "rating.bad": "差评",
                 "customer.end_negative": "客户结束时负面", "model.low_confidence": "模型置信度低",
                 "calibration.sample": "校准抽样", "sample.stratified": "分层抽样"}


def review_in_words(review: dict[str, Any] | None) -> str:
    """``{"needed": True, "reasons": ["fatal", "score.low"]}`` → 「需人工复核:红线、低分」."""
    review = review or {}
    skipped = "、".join(REASON_LABELS.get(r, r) for r in review.get("skipped") or [])
    tail = f"(可信规则免复核:{skipped})" if skipped else ""  # review.skip_review_for_trusted_rules (pipeline/trust.py)
    if not review.get("needed"):
        return "无需人工复核" + tail
    reasons = "、".join(REASON_LABELS.get(r, r) for r in review.get("reasons") or [])
    return (f"需人工复核:{reasons}" if reasons else "需人工复核") + tail


def in_calibration_sample(conversation_id: str, seed: int, rate: float) -> bool:
    if rate <= 0:
        return False
    digest = hashlib.blake2b(f"{seed}:{conversation_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < rate


def resolve_confidence_thresholds(configured: dict[str, Any], model_metadata: dict[str, dict]) -> dict[str, float]:
    """Model name → threshold, for the models with one > 0: numbers as configured, ``auto`` from
    the loaded model's metadata (no model loaded, or none chosen: off)."""
    from .config import ConfigError

    out = {}
    for model, value in configured.items():
        if value == "auto":
            value = (model_metadata.get(model) or {}).get("low_confidence_below") or 0.0
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"review.model_confidence_below.{model}: {value!r} is neither a probability nor 'auto'")
        if value > 0:
            out[model] = float(value)
    return out


class ReviewFlags:
    name = "flag"

    def __init__(self, config: dict, lexicons=None, model_metadata: dict[str, dict] | None = None):
        c = config["review"]
        self.low_score_below = c["low_score_below"]
        self.model_confidence_below = resolve_confidence_thresholds(c["model_confidence_below"] or {}, model_metadata or {})
        skip = c.get("end_negative_skip_lexicon")
        self._lexicons = lexicons
        # the lexicon of closing replies (没有了 / 好的 / 嗯) a negative last turn is not counted on, if it is loaded
        self._acknowledgements = frozenset([skip]) if skip and lexicons is not None and skip in lexicons.lexicons else None
        self.end_negative_min_confidence = c["end_negative_min_confidence"]
        self.end_negative_from = c.get("end_negative_from", "customer_end")
        if self.end_negative_from not in ("customer_end", "model"):
            from .config import ConfigError

            raise ConfigError(f"review.end_negative_from must be customer_end or model, got {self.end_negative_from!r}")
        self.bad_rating_at_most = c["bad_rating_at_most"]
        self.rate = c["calibration_rate"]
        self.seed = c["calibration_seed"]
        self.skip_rules = skip_rules(config)

    def _ended_negative(self, preds: dict[str, Any], conversation: Conversation) -> bool:
        if self.end_negative_from == "customer_end":
            return (preds.get("sentiment") or {}).get("customer_end") == "negative"
        last = next((t for t in reversed(preds.get("turn_sentiment") or []) if t.get("label")), None)
        # a confident negative on words that say something: 没有了 / 好的 / 嗯 at the end are no reason to review
        return bool(last and last["label"] == "negative" and last["confidence"] >= self.end_negative_min_confidence
                    and not self._acknowledged(conversation.turns[last["turn"]]))

    def _acknowledged(self, turn) -> bool:
        if self._acknowledgements is None:
            return False
        lexicons = self._lexicons
        return bool(lexicons.match(turn.norm or lexicons.normalizer.text(turn.text), self._acknowledgements))

    def warm_up(self) -> None:
        if self._acknowledgements is not None:
            self._lexicons.warm(self._acknowledgements)

    def __call__(self, conversation: Conversation, scored: dict[str, Any]) -> dict[str, Any]:
        reasons: list[str] = []
        if scored["detail"]["fatal"]:
            reasons.append("fatal")
        if scored["score"] < self.low_score_below:
            reasons.append("score.low")
        if any(f.rule == "complaint.risk" for f in conversation.findings):
            reasons.append("complaint.risk")
        rating = conversation.rating or {}
        score = rating.get("score") if isinstance(rating, dict) else None
        if isinstance(score, (int, float)) and not isinstance(score, bool) and score <= self.bad_rating_at_most:
            reasons.append("rating.bad")
        preds = conversation.predictions
        if self._ended_negative(preds, conversation):
            reasons.append("customer.end_negative")
        if any((p := preds.get(model)) and p.get("confidence") is not None and p["confidence"] < below
               for model, below in self.model_confidence_below.items()):
            reasons.append("model.low_confidence")
        skipped = reasons_from_trusted_rules(reasons, conversation.findings, self.skip_rules)
        reasons = [r for r in reasons if r not in skipped]
        if not reasons and in_calibration_sample(conversation.id, self.seed, self.rate):
            reasons.append("calibration.sample")
        if skipped:  # only with rules listed: the default output is unchanged
            return {"needed": bool(reasons), "reasons": reasons, "skipped": skipped}
        return {"needed": bool(reasons), "reasons": reasons}
