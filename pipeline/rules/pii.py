"""Rule kind ``pii``: a turn of the given role holds personal data (phone, ID-card, bank-card
number, e-mail, address) found by the privacy stage — e.g. an agent reading out a customer's full
number (seed 004: 泄露客户隐私信息). The evidence is the number itself, so it is masked in every
output unless masking is turned off."""

from __future__ import annotations

from . import Rule, RuleContext, register
from ..schema import Finding


LABEL_NAMES = {"phone": "电话号码", "id_card": "身份证号", "bank_card": "银行卡号", "email": "邮箱", "address": "地址"}


@register("pii", {"role", "labels"})
def pii(rule: Rule, ctx: RuleContext) -> list[Finding]:
    labels = set(rule.params.get("labels") or ())
    found: list[Finding] = []
    for i in ctx.turns_of(rule.params.get("role", "any")):
        turn = ctx.conversation.turns[i]
        for span in turn.pii:
            if labels and span.label not in labels:
                continue
            f = rule.finding(ctx, i, label=LABEL_NAMES.get(span.label, span.label))
            f.start, f.end, f.evidence = span.start, span.end, turn.text[span.start : span.end]
            found.append(f)
    return found
