"""end sentiment: the customer's mood as the conversation ends, the way a QA lead reads it.

Adds ``sentiment.customer_end`` (``negative`` / ``neutral`` / ``positive``) with its evidence,
``customer_end_turn`` and ``customer_end_entry``, to what the models stage predicted.

Why not the sentiment model's label of the last turn: that model learned JDDC's per-turn
*satisfaction* ratings, where a plain 好的谢谢 is "satisfied" and a late question is often
"dissatisfied". The gold rubric (``GOLD_RUBRIC.md``: end_sentiment) reads the customer's *mood* in
their last substantive message — a plain 谢谢 is neutral, 非常感谢! / 么么哒 are positive, 等个鬼啊 is
negative. On the gold dev chats the model's last-turn label agreed with people 24 % of the time
(macro-F1 0.23); this reading, from the lexicons a QA lead edits, agrees far more often
(docs/ACCURACY.md). So:

* **positive** — the customer's final messages (the last ``positive_last_turns`` customer turns,
  acknowledgements included: 好评了 and 谢谢小姐姐 are both short) hit a positive lexicon (praise,
  warm thanks);
* **negative** — one of the last ``negative_last_substantive`` *substantive* customer turns (not
  only 好的 / 没有了, see ``acknowledgements``) hits the negative-emotion lexicon;
* **neutral** — otherwise, including a conversation that ends on acknowledgements only.

The model's own ``sentiment.label`` (the whole conversation) is left as it is.
"""

from __future__ import annotations

from typing import Any

from .schema import Conversation

DEFAULTS: dict[str, Any] = {
    "enabled": True,
    "skip_lexicon": "acknowledgements",
    "positive_lexicons": ["praise", "warm_thanks"],
    "positive_last_turns": 2,
    "negative_lexicon": "negative_emotion",
    "negative_last_substantive": 2,
    "thanks_after_clears_negative": True,
    "thanks_words": ["谢", "感谢", "多谢"],
}


class EndSentiment:
    """Sets ``predictions["sentiment"]["customer_end"]`` from the lexicons (see the module docstring)."""

    name = "end_sentiment"

    def __init__(self, config: dict, lexicons):
        from .config import ConfigError

        cfg = {**DEFAULTS, **(config.get("end_sentiment") or {})}
        self.enabled = bool(cfg["enabled"])
        self.lexicons = lexicons
        names = [cfg["skip_lexicon"], *cfg["positive_lexicons"], cfg["negative_lexicon"]]
        missing = sorted({n for n in names if n and n not in lexicons.lexicons})
        if self.enabled and missing:
            raise ConfigError(f"end_sentiment: lexicons {missing} are not in {sorted(lexicons.lexicons)} — "
                              "add the YAML file to lexicons/ or change end_sentiment in your config")
        self.skip = frozenset([cfg["skip_lexicon"]]) if cfg["skip_lexicon"] else None
        self.positive = frozenset(cfg["positive_lexicons"])
        self.negative = frozenset([cfg["negative_lexicon"]])
        self.positive_last_turns = int(cfg["positive_last_turns"])
        self.negative_last_substantive = int(cfg["negative_last_substantive"])
        self.thanks_after_clears_negative = bool(cfg["thanks_after_clears_negative"])
        self.thanks_words = tuple(cfg["thanks_words"])  # a customer who thanks after showing emotion has calmed down

    def warm_up(self) -> None:
        if self.enabled:
            self.lexicons.warm(*(s for s in (self.skip, self.positive, self.negative) if s))

    def _hit(self, turn, names: frozenset[str]):
        hits = self.lexicons.match(turn.norm or self.lexicons.normalizer.text(turn.text), names)
        return hits[0] if hits else None

    def _last_substantive(self, customer: list) -> list:
        """The last ``negative_last_substantive`` customer turns that are more than an
        acknowledgement, latest first — read from the end, so the acknowledgements lexicon is
        matched on the few turns needed, not on every turn of the conversation."""
        out: list = []
        for t in reversed(customer):
            if len(out) >= self.negative_last_substantive:
                break
            if not (self.skip and self._hit(t, self.skip)):
                out.append(t)
        return out

    def judge(self, conversation: Conversation) -> tuple[str, int | None, str | None]:
        """``(label, turn index, lexicon entry id)`` — the turn and entry are the evidence (None for neutral)."""
        customer = [t for t in conversation.turns if t.role == "customer" and (t.norm or t.text).strip()]
        for t in reversed(customer[-self.positive_last_turns:] if self.positive_last_turns else []):
            if hit := self._hit(t, self.positive):
                return "positive", t.index, hit.entry.id
        for t in self._last_substantive(customer):
            if hit := self._hit(t, self.negative):
                thanked = self.thanks_after_clears_negative and any(
                    later.index > t.index and any(w in (later.norm or later.text) for w in self.thanks_words) for later in customer)
                if thanked:
                    break
                return "negative", t.index, hit.entry.id
        return "neutral", None, None

    def __call__(self, conversation: Conversation) -> Conversation:
        sentiment = conversation.predictions.get("sentiment")
        if not self.enabled or not sentiment:  # no sentiment model or no customer text: nothing to refine
            return conversation
        label, turn, entry = self.judge(conversation)
        sentiment.update(customer_end=label, customer_end_turn=turn, customer_end_entry=entry)
        return conversation
