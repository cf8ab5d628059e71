"""Rule kind ``pii``: a turn of the given role holds personal data (phone, ID-card, bank-card
number, e-mail, address) found by the privacy stage — e.g. an agent reading out a customer's full
number (seed 004: 泄露客户隐私信息). The evidence is the number itself, so it is masked in every
output unless masking is turned off."""

from __future__ import annotations

from functools import lru_cache

from .base import Rule, RuleContext, register
from ..schema import Finding


LABEL_NAMES = {"phone": "电话号码", "id_card": "身份证号", "bank_card": "银行卡号", "email": "邮箱", "address": "地址"}
# a made-up value per label; the message shows it masked by the privacy policy itself ({example}),
# so an e-mail finding gives an e-mail example, not a phone number
_SAMPLES = {"phone": "13812345678", "id_card": "110101199003077571", "bank_card": "6222021234567890128",
            "email": "zhang.san@example.com", "address": "北京市海淀区中关村大街27号"}


@lru_cache(maxsize=None)
def masked_example(label: str) -> str:
    from ..privacy import mask_text
    from ..schema import Span

    sample = _SAMPLES.get(label, "")
    return mask_text(sample, [Span(0, len(sample), label)]) if sample else ""


@register("pii", {"role", "labels"})
def pii(rule: Rule, ctx: RuleContext) -> list[Finding]:
    labels = set(rule.params.get("labels") or ())
    found: list[Finding] = []
    for i in ctx.turns_of(rule.params.get("role", "any")):
        turn = ctx.conversation.turns[i]
        for span in turn.pii:
            if labels and span.label not in labels:
                continue
            f = rule.finding(ctx, i, label=LABEL_NAMES.get(span.label, span.label), example=masked_example(span.label))
            f.start, f.end, f.evidence = span.start, span.end, turn.text[span.start : span.end]
            found.append(f)
    return found
