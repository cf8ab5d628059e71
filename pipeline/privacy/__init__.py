"""Privacy: find personal data (PII) in turns and mask it wherever a person sees text (seed 003 职业操守).

What is detected (labels of :class:`pipeline.schema.Span`):

==========  =====================================================================  ===========================
label       accepted when                                                          masked as
==========  =====================================================================  ===========================
phone       mainland mobile ``1[3-9]`` + 9 digits (optionally ``+86``/``86``/       ``138****5678``: first 3 and
            ``0086`` in front); landline ``0`` + 2–3 digit area code + 7–8 digit    last 4 digits kept, country
            local number starting 1–9. Spaces/dashes between digit groups are ok.   code kept, separators kept
id_card     18 digits (last may be X) with a valid region code, a real birth date  ``110*************14``: first
            and the GB 11643 check digit; or a 15-digit legacy number (region +    3 and last 2 kept
            real YYMMDD date)
bank_card   16–19 digits passing the Luhn check, starting like a payment card      ``***************0123``: last
            (3/4/5/6/9, or Mastercard 2221–2720)                                   4 kept
email       ``local@domain.tld``                                                   ``z*******@qq.com``: first
                                                                                   character and domain kept
address     a road / community / district followed by a house number and unit    ``北京市朝阳区******``: the
            (路…88号, 小区3栋2单元, 区…27号院 …), extended left over 省/市/区/县    administrative divisions
            and right over further number + unit pairs (502室, 3楼, A座1001)      (省/市/区/县…) kept, the
                                                                                   detail masked
==========  =====================================================================  ===========================

Masking keeps the length (every masked character becomes one ``mask_char``), so offsets computed on
the original text stay valid in the masked text; whitespace and ``-`` separators are never masked.
Digit runs that fail validation (an 18-digit order number, a 16-digit number failing Luhn) are not PII,
except an 11-digit run starting ``1[3-9]`` which is always taken for a mobile number. ID-card and bank
numbers glued to a Latin letter (``SF1234…``, ``JD…``) are tracking / order codes and are skipped; a
mobile number glued to letters (``wx13812345678``) is still a phone. Full-width digits and symbols
(``１３８…``, ``＠``) are detected; so are traditional address markers (號, 區, 樓 …).
Placeholders of anonymised corpora (``[电话]``, ``[身份证号]``, ``[ORDERID_123]``) are not PII.

How: :class:`PiiDetector` runs a blank ``zh`` spaCy pipeline (jieba segmenter) with the registered
component ``zhijian_pii``. Inside the component

* addresses come from a spaCy ``Matcher`` over jieba tokens (token-level ``REGEX`` / ``IN`` patterns
  find a road / community / district + number + unit core) and are extended token by token;
* numbers and e-mails come from a validated regex pass over ``doc.text``: jieba glues digits to
  Latin letters (``abc13812345678`` is one token), splits ``138-1234-5678`` and e-mails into many
  tokens and full-width digits into one token per digit, so token patterns would need a variant per
  spelling. The results are still set on the ``Doc``: ``doc.spans["pii"]`` (token-aligned) and
  ``doc._.zhijian_pii`` (exact character offsets).

Cost (``bench/privacy_cost.py``, one core): the prefilter is ~1–2 µs per turn, spaCy ~200–500 µs
(jieba segmentation and ``Doc`` construction dominate), i.e. a few hundred times more. So
:class:`PiiDetector` keeps spaCy off every turn that can't hold what it looks for:

1. :data:`PREFILTER` (a run of 7+ digits, an ``@``, or a digit followed by an address unit 号/室/栋 …)
   rejects most turns with one regex search;
2. only turns that may hold an address (:func:`may_hold_address`: digit + unit *and* a road / place /
   division character) go through spaCy — numbers and e-mails need no tokens, so the other turns get
   the component's character pass (:func:`scan_characters`) directly.

Both conditions are necessary conditions of the detections above, and the fast path returns exactly
what the full pipeline returns (both property-tested).

The package, one job per module: ``characters`` (folding, the prefilter, validated numbers and e-mail),
``addresses`` (token classes, Matcher patterns, extension), ``component`` (the spaCy component and
pipeline), ``masking`` (the policy and the one masking path); :class:`PiiDetector` (here) is the stage.

``import pipeline.privacy`` does not import spaCy; the component is registered when a detector builds
its pipeline, by :func:`register_component`, or at import time if spaCy is already imported.
"""

from __future__ import annotations

from typing import Any

from pipeline.schema import Span

from .characters import (
    CHARACTER_LABELS, LABELS, PREFILTER, resolve_overlaps, fold_text, id_check_digit, is_valid_bank_card, is_valid_id_card,
    luhn_ok, may_hold_address, might_contain_pii, scan_characters,
)
from .component import COMPONENT_NAME, DOC_ATTR, SPAN_KEY, PiiComponent, build_nlp, find_pii, register_component
from .masking import admin_prefix_len, mask_findings, mask_free_text, mask_span_text, mask_text

__all__ = [
    "CHARACTER_LABELS", "COMPONENT_NAME", "DOC_ATTR", "LABELS", "PREFILTER", "SPAN_KEY", "PiiComponent", "PiiDetector",
    "admin_prefix_len", "build_nlp", "find_pii", "fold_text", "id_check_digit", "is_valid_bank_card", "is_valid_id_card",
    "luhn_ok", "mask_findings", "mask_free_text", "mask_span_text", "mask_text", "may_hold_address", "might_contain_pii",
    "register_component", "scan_characters",
]


class PiiDetector:
    """Finds PII spans in turns; spaCy is loaded on first use and only for turns the prefilter passes.

    ``config`` is the whole configuration (its ``privacy`` section is used) or that section itself:
    ``mask`` (bool, default True: ``Span.text`` holds the masked text; False keeps the raw text),
    ``mask_char`` (default ``*``), ``labels`` (optional, default all five).
    """

    def __init__(self, config: dict | None = None, nlp: Any = None, tokenize: Any = None):
        # ``tokenize``: an optional ``str -> list[str]`` (the pipeline passes its rjieba segmenter).
        # Building the Doc from those words skips spaCy's own Python-jieba tokenizer, which is most
        # of spaCy's cost here; the words must concatenate back to the text (else spaCy tokenizes).
        self._tokenize = tokenize
        section = (config or {}).get("privacy", config or {})
        self.mask: bool = bool(section.get("mask", True))
        self.mask_char: str = str(section.get("mask_char", "*"))
        if len(self.mask_char) != 1:
            raise ValueError(f"privacy.mask_char must be one character, got {self.mask_char!r}")
        self.labels = tuple(section.get("labels", LABELS))
        unknown = set(self.labels) - set(LABELS)
        if unknown:
            raise ValueError(f"privacy.labels: unknown {sorted(unknown)}; known: {', '.join(LABELS)}")
        self._nlp = nlp

    @property
    def nlp(self) -> Any:
        if self._nlp is None:
            self._nlp = build_nlp(self.labels)
        return self._nlp

    def _doc(self, folded: str) -> Any:
        """The processed Doc of a folded text."""
        if self._tokenize is not None:
            words = self._tokenize(folded)
            if "".join(words) == folded:
                from spacy.tokens import Doc

                doc = Doc(self.nlp.vocab, words=words, spaces=[False] * len(words))
                for _, proc in self.nlp.pipeline:
                    doc = proc(doc)
                return doc
        return self.nlp(folded)

    def __getstate__(self) -> dict:  # picklable for worker processes; each rebuilds its pipeline
        state = self.__dict__.copy()
        state["_nlp"] = None
        return state

    def _spans(self, text: str, found: list[tuple[int, int, str, float]]) -> list[Span]:
        spans = [Span(s, e, label, text[s:e], score) for s, e, label, score in found]
        if self.mask and spans:
            masked = mask_text(text, spans, self.mask_char)
            for sp in spans:
                sp.text = masked[sp.start : sp.end]
        return spans

    def needs_spacy(self, text: str) -> bool:
        """True when ``text`` may hold an address, the one kind of PII found on tokens."""
        return "address" in self.labels and may_hold_address(text)

    def detect(self, text: str, force: bool = False) -> list[Span]:
        """PII spans in ``text`` (its offsets). Turns the prefilter rejects cost one regex search; turns
        that can't hold an address skip spaCy and get the component's character pass directly.
        ``force`` runs the full spaCy pipeline whatever the text (tests and benchmarks)."""
        if not text:
            return []
        if force or self.needs_spacy(text):
            doc = self._doc(fold_text(text))
            return self._spans(text, doc._.get(DOC_ATTR) or [])
        if not might_contain_pii(text):
            return []
        return self._spans(text, resolve_overlaps(scan_characters(text, self.labels)))

    def annotate(self, conversation: Any) -> None:
        """Fill ``turn.pii`` for every turn; spaCy runs only on the turns that may hold an address."""
        via_spacy = []
        for turn in conversation.turns:
            turn.pii = []
            if not turn.text or not might_contain_pii(turn.text):
                continue
            if self.needs_spacy(turn.text):
                via_spacy.append(turn)
            else:
                turn.pii = self._spans(turn.text, resolve_overlaps(scan_characters(turn.text, self.labels)))
        for turn in via_spacy:
            turn.pii = self._spans(turn.text, self._doc(fold_text(turn.text))._.get(DOC_ATTR) or [])
