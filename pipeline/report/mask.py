"""Mask personal data in any text the report shows (defence in depth).

Evidence in ``findings.parquet`` is already masked by ``zhijian inspect`` unless the run used
``--no-mask``; the report masks again with the pipeline's token-free detectors (phone, ID-card,
bank-card numbers and e-mail, validated as in :mod:`pipeline.privacy`) so an unmasked run can't
leak through a report. Rating comments are never shown verbatim: the report shows the lexicon
keywords they matched.
"""

from __future__ import annotations

from functools import lru_cache

_LABELS = ("phone", "id_card", "bank_card", "email")


@lru_cache(maxsize=65536)
def mask_pii(text: str | None, mask_char: str = "*") -> str | None:
    if not text:
        return text
    from ..privacy import mask_text, might_contain_pii, scan_characters
    from ..schema import Span

    if not might_contain_pii(text):
        return text
    spans = [Span(s, e, label) for s, e, label, _ in scan_characters(text, _LABELS)]
    return mask_text(text, spans, mask_char) if spans else text
