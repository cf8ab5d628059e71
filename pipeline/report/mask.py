"""Mask personal data in any text the report shows (defence in depth).

Evidence in ``findings.parquet`` is already masked by ``zhijian inspect`` unless the run used
``--no-mask``; the report masks again with the pipeline's token-free detectors (phone, ID-card,
bank-card numbers and e-mail, validated as in :mod:`pipeline.privacy`) so an unmasked run can't
leak through a report. Rating comments are never shown verbatim: the report shows the lexicon
keywords they matched.
"""

from __future__ import annotations

from functools import lru_cache

from ..privacy import mask_free_text


@lru_cache(maxsize=65536)
def mask_pii(text: str | None, mask_char: str = "*") -> str | None:
    """:func:`pipeline.privacy.mask_free_text`, cached: a report shows the same evidence many times."""
    return mask_free_text(text, mask_char)
