"""Property (hypothesis): every finding's start/end land on its evidence in the original text —
the evidence is exactly ``text[start:end]`` and it normalizes to a phrase of the entry that fired."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import make_conversation

NOISE = st.sampled_from([" ", "*", "~", "·", "\u200b", "，", "啊", "好", "Ａ", "1", "😡", "\u3000", "的", "。"])
PHRASE = st.sampled_from(["你明白吗", "你明白嗎", "妳明白嗎", "你知道吗", "我再跟您说一遍", "爱买不买", "你什么意思"])


@st.composite
def agent_text(draw):
    phrase = draw(PHRASE)
    # scatter decoration inside the phrase, as people do to dodge filters; spaces only between single
    # characters (你 明 白 吗): a space between two words of 2+ characters separates two messages
    if draw(st.booleans()):
        inner = [" "] * len(phrase)
    else:
        inner = draw(st.lists(st.sampled_from(["", "", "*", "·", "\u200b"]), min_size=len(phrase), max_size=len(phrase)))
    dressed = "".join(ch + sep for ch, sep in zip(phrase, inner[:-1] + [""]))
    before = "".join(draw(st.lists(NOISE, max_size=8)))
    after = "".join(draw(st.lists(NOISE, max_size=8)))
    return before + dressed + after


@pytest.fixture(scope="module")
def stages(inspector):
    return inspector


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(agent_text())
def test_findings_land_on_their_evidence(stages, text):
    c = make_conversation([("agent", "您好,很高兴为您服务", 0), ("agent", text, 1)])
    result = stages.inspect(c)
    found = [f for f in result.findings if f.rule == "forbidden.phrase"]
    assert found, f"no forbidden phrase found in {text!r}"
    for f in found:
        original = c.turns[f.turn].text
        assert original[f.start : f.end] == f.evidence
        entry = stages.lexicons.entries[f.entry]
        folded = stages.normalizer.text(f.evidence)
        assert any(p in folded for p in entry.phrases) or any(rx.search(folded) for rx in entry.patterns)
