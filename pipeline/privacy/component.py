"""Privacy, the spaCy side: the registered ``zhijian_pii`` component (addresses from the Matcher,
numbers and e-mail from the character pass, set on the ``Doc``) and the blank ``zh`` pipeline that
holds it. Importing this module does not import spaCy."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from .addresses import _address_patterns, _scan_addresses
from .characters import LABELS, resolve_overlaps, may_hold_address, scan_characters

COMPONENT_NAME = "zhijian_pii"
SPAN_KEY = "pii"  # doc.spans[SPAN_KEY]
DOC_ATTR = "zhijian_pii"  # doc._.zhijian_pii: list of (start, end, label, score) in exact char offsets


class PiiComponent:
    """The ``zhijian_pii`` spaCy component: sets ``doc.spans["pii"]`` and ``doc._.zhijian_pii``."""

    def __init__(self, nlp: Any, name: str = COMPONENT_NAME, labels: Sequence[str] = LABELS):
        from spacy.matcher import Matcher

        unknown = set(labels) - set(LABELS)
        if unknown:
            raise ValueError(f"{name}: unknown PII labels {sorted(unknown)}; known: {', '.join(LABELS)}")
        self.name = name
        self.labels = tuple(labels)
        self.matcher = Matcher(nlp.vocab)
        for key, patterns in _address_patterns().items():
            self.matcher.add(key, patterns)

    def __call__(self, doc: Any) -> Any:
        found = find_pii(doc, self.matcher, self.labels)
        doc._.set(DOC_ATTR, found)
        spans = []
        for start, end, label, score in found:
            sp = doc.char_span(start, end, label=label, alignment_mode="expand")
            if sp is not None:
                spans.append(sp)
        doc.spans[SPAN_KEY] = spans
        return doc


def find_pii(doc: Any, matcher: Any, labels: Sequence[str] = LABELS) -> list[tuple[int, int, str, float]]:
    """All PII in ``doc`` as ``(start, end, label, score)`` character spans, non-overlapping, sorted."""
    cands = scan_characters(doc.text, labels)
    if "address" in labels and may_hold_address(doc.text):
        cands += _scan_addresses(doc, matcher)
    return resolve_overlaps(cands)


# ---------------------------------------------------------------------------------------------------
# spaCy registration.
def make_pii_component(nlp: Any, name: str, labels: list[str]) -> PiiComponent:
    return PiiComponent(nlp, name, labels)


def register_component() -> None:
    """Register ``zhijian_pii`` with spaCy (idempotent) so that ``nlp.add_pipe("zhijian_pii")`` works."""
    from spacy.language import Language
    from spacy.tokens import Doc

    if not Doc.has_extension(DOC_ATTR):
        Doc.set_extension(DOC_ATTR, default=None)
    if not Language.has_factory(COMPONENT_NAME):
        Language.factory(COMPONENT_NAME, default_config={"labels": list(LABELS)})(make_pii_component)


if "spacy" in sys.modules:  # already paid for: register now, like any spaCy plugin
    register_component()


def build_nlp(labels: Sequence[str] = LABELS) -> Any:
    """A blank ``zh`` pipeline with the jieba segmenter and the ``zhijian_pii`` component."""
    import logging

    import jieba
    import spacy

    jieba.setLogLevel(logging.WARNING)  # spaCy's segmenter loads jieba's dictionary: no banner on stderr
    register_component()
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
    nlp.add_pipe(COMPONENT_NAME, config={"labels": list(labels)})
    return nlp
