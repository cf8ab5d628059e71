"""Privacy, masking: the policy (what of each kind of span stays visible) and the one masking path
for turns, findings' evidence and free text."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pipeline.schema import Span

from .addresses import CJK
from .characters import CHARACTER_LABELS, MOBILE, fold_text, might_contain_pii, scan_characters

_ADMIN_PREFIX = re.compile(rf"[{CJK}]{{1,9}}?(?:省|自治区|特别行政区|市|区|县|旗|盟|州)")
_ADMIN_PREFIX_STOP = ("小区", "社区", "园区", "景区", "校区", "街区", "厂区", "超市", "门市", "集市", "夜市")


def admin_prefix_len(address: str) -> int:
    """Length of the leading administrative divisions (省/市/区/县 …) of an address, kept when masking."""
    folded, pos = fold_text(address), 0
    for _ in range(5):
        m = _ADMIN_PREFIX.match(folded, pos)
        if m is None or m.group().endswith(_ADMIN_PREFIX_STOP) or any(c in m.group() for c in "路街号"):
            break
        pos = m.end()
    return pos


def _digit_positions(s: str, extra: str = "") -> list[int]:
    f = fold_text(s)
    return [i for i, c in enumerate(f) if ("0" <= c <= "9") or c in extra]


def _keep_mask(s: str, label: str) -> list[bool]:
    """For each character of a span's text, True when the masking policy keeps it."""
    f = fold_text(s)
    keep = [c.isspace() or c == "-" for c in f]  # separators stay
    if label == "phone":
        pos = _digit_positions(s)
        digits = "".join(f[i] for i in pos)
        for prefix in ("0086", "86"):
            if digits.startswith(prefix) and MOBILE.fullmatch(digits[len(prefix) :]):
                for i in pos[: len(prefix)]:
                    keep[i] = True
                pos = pos[len(prefix) :]
                break
        for i, c in enumerate(f):
            if c == "+":
                keep[i] = True
        if len(pos) >= 8:
            for i in pos[:3] + pos[-4:]:
                keep[i] = True
    elif label == "id_card":
        pos = _digit_positions(s, "Xx")
        if len(pos) >= 10:
            for i in pos[:3] + pos[-2:]:
                keep[i] = True
    elif label == "bank_card":
        pos = _digit_positions(s)
        if len(pos) >= 8:
            for i in pos[-4:]:
                keep[i] = True
    elif label == "email":
        at = f.find("@")
        if at < 0:
            keep[:1] = [True] * min(1, len(f))
        else:
            keep[0] = True
            for i in range(at, len(f)):
                keep[i] = True
    elif label == "address":
        for i in range(admin_prefix_len(s)):
            keep[i] = True
    return keep


def mask_text(text: str, spans: Iterable[Span], mask_char: str = "*") -> str:
    """``text`` with every PII span masked per the module's policy; same length, nothing else changed."""
    chars: list[str] | None = None
    for sp in spans:
        start, end = max(0, sp.start), min(len(text), sp.end)
        if end <= start:
            continue
        if chars is None:
            chars = list(text)
        for i, k in enumerate(_keep_mask(text[start:end], sp.label), start):
            if not k:
                chars[i] = mask_char
    return text if chars is None else "".join(chars)


def mask_span_text(text: str, start: int, end: int, spans: Iterable[Span], mask_char: str = "*") -> str:
    """The masked version of ``text[start:end]``: what a finding's evidence shows. The policy is applied
    to each PII span as a whole, so a slice cutting a phone number reveals no more than the policy allows."""
    relevant = [sp for sp in spans if sp.start < end and start < sp.end]
    if not relevant:
        return text[start:end]
    return mask_text(text, relevant, mask_char)[start:end]


def mask_free_text(text: str | None, mask_char: str = "*") -> str | None:
    """Free text with no stored spans — a reviewer's comment, a dispute reason, a rating comment in a
    report, an added finding's fields — with validated phone, ID-card, bank-card numbers (also in
    Chinese numerals) and e-mail masked: the token-free pass, cheap enough for every page view.
    The one masking path the workbench, its exports and the report share."""
    if not text or not might_contain_pii(text):
        return text
    spans = [Span(s, e, label) for s, e, label, _ in scan_characters(text, CHARACTER_LABELS)]
    return mask_text(text, spans, mask_char) if spans else text


def mask_findings(conversation: Any, mask_char: str = "*") -> None:
    """Replace each finding's ``evidence`` by the masked original text of its range when that range
    touches a PII span of its turn (call after ``annotate`` and the rules, when masking is on)."""
    turns = {t.index: t for t in conversation.turns}
    for f in conversation.findings:
        turn = turns.get(f.turn) if f.turn is not None else None
        if turn is None or not turn.pii or f.start is None or f.end is None:
            continue
        if any(sp.start < f.end and f.start < sp.end for sp in turn.pii):
            f.evidence = mask_span_text(turn.text, f.start, f.end, turn.pii, mask_char)
