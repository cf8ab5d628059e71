"""One generic test for every lexicon entry: its hit examples hit it, its miss examples don't."""

from __future__ import annotations

import pytest

from pipeline.config import load_config, resolve_path
from pipeline.lexicons import LexiconSet

LEXICONS = LexiconSet.load(resolve_path(load_config()["paths"]["lexicons"]))
ENTRIES = sorted(LEXICONS.entries.values(), key=lambda e: e.id)


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.id for e in ENTRIES])
def test_entry_examples(entry):
    only = frozenset([entry.lexicon])
    norm = LEXICONS.normalizer.text
    assert entry.examples["hit"], "every entry needs hit examples"
    for example in entry.examples["hit"]:
        assert any(h.entry.id == entry.id for h in LEXICONS.match(norm(example), only)), f"should hit: {example!r}"
    for example in entry.examples["miss"]:
        assert not any(h.entry.id == entry.id for h in LEXICONS.match(norm(example), only)), f"should miss: {example!r}"


def test_every_entry_has_a_source_and_the_forbidden_list_is_real():
    assert all(e.source.strip() for e in ENTRIES)
    forbidden = [e for e in ENTRIES if e.lexicon == "forbidden_phrases"]
    assert len(forbidden) >= 60
    assert any(e.severity == "fatal" for e in forbidden)  # 红线
    assert {"greetings", "closings", "empathy", "negative_emotion", "hold", "hold_return", "complaint_risk", "praise"} <= set(LEXICONS.lexicons)


def test_real_jd_forms_are_in_the_lexicons():
    norm = LEXICONS.normalizer.text
    for text, lexicon in [
        ("有什么问题我可以帮您处理或解决呢?", "greetings"),
        ("请问还有其他还可以帮到您的吗?", "closings"),
        ("本来想给您带来阳光般的服务,却不小心给了您一片乌云", "empathy"),
    ]:
        assert LEXICONS.match(norm(text), frozenset([lexicon])), text
