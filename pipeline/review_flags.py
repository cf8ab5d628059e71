"""flag: decide whether a person must look at a conversation, and why.

Adds ``review = {"needed": bool, "reasons": [...]}``. Reasons (stable ids): ``fatal`` (a 红线
item), ``score.low``, ``complaint.risk``, ``rating.bad``, ``customer.end_negative`` and
``model.low_confidence`` (when the models stage ran), and ``calibration.sample`` — a random share
of the *other* conversations, so the machine's clean verdicts get checked too. The sample is a
hash of (seed, conversation id): the same on every run, worker and machine.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .schema import Conversation


def in_calibration_sample(conversation_id: str, seed: int, rate: float) -> bool:
    if rate <= 0:
        return False
    digest = hashlib.blake2b(f"{seed}:{conversation_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < rate


class ReviewFlags:
    name = "flag"

    def __init__(self, config: dict):
        c = config["review"]
        self.low_score_below = c["low_score_below"]
        self.model_confidence_below = c["model_confidence_below"]
        self.end_negative_min_confidence = c["end_negative_min_confidence"]
        self.bad_rating_at_most = c["bad_rating_at_most"]
        self.rate = c["calibration_rate"]
        self.seed = c["calibration_seed"]

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
        sentiment = preds.get("sentiment")
        last = next((t for t in reversed(preds.get("turn_sentiment") or []) if t.get("label")), None)
        if last and last["label"] == "negative" and last["confidence"] >= self.end_negative_min_confidence:
            # a confident negative only: a closing 没有了 rated mildly negative is no reason to review
            reasons.append("customer.end_negative")
        confidences = [p.get("confidence") for p in (preds.get("issue_type"), sentiment) if p]
        if any(c is not None and c < self.model_confidence_below for c in confidences):
            reasons.append("model.low_confidence")
        if not reasons and in_calibration_sample(conversation.id, self.seed, self.rate):
            reasons.append("calibration.sample")
        return {"needed": bool(reasons), "reasons": reasons}
