"""normalize: folding table cases, and the property that evidence offsets always land on the
evidence in the original text, whatever spaces, symbols and character variants surround it."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.normalize import MESSAGE_BOUNDARY, Normalizer, normalize_text


@pytest.fixture(scope="module")
def normalizer(repo):
    return Normalizer(repo / "lexicons" / "char_variants.txt")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("你 明 白 吗", "你明白吗"),
        ("妳明白嗎", "你明白吗"),
        ("你*明~白·吗", "你明白吗"),
        ("ＯＫ，１２３", "ok,123"),
        ("iPhone 15 Pro", "iphone 15 pro"),  # spaces between Latin words are kept
        ("你好，请问", "你好,请问"),  # punctuation between Chinese characters is kept
        ("好的\u200b呢", "好的呢"),  # zero-width characters are dropped
        ("這個訂單怎麼還沒發貨", "这个订单怎么还没发货"),
        ("電話 138-1234-5678", "电话 138-1234-5678"),  # digits keep their dashes
        ("😡太差了！", "😡太差了!"),
        ("", ""),
    ],
)
def test_folding(normalizer, text, expected):
    assert normalizer.text(text) == expected


def test_offset_map_points_back_to_the_source_character(normalizer):
    text = "您 好*請問"
    norm, offsets = normalize_text(text, normalizer.table)
    assert norm == "您好请问"
    assert [text[o] for o in offsets] == ["您", "好", "請", "問"]


CHUNKS = st.sampled_from(
    ["你", "明", "白", "吗", "嗎", "妳", " ", "  ", "*", "~", "·", "\u200b", "，", "。", "?", "Ａ", "a", "1", "😡", "的", "好", "\u3000"]
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(CHUNKS, max_size=30))
def test_offsets_are_monotonic_and_in_range(normalizer, chunks):
    text = "".join(chunks)
    norm, offsets = normalize_text(text, normalizer.table)
    if offsets is None:
        assert len(norm) == len(text)
        return
    assert len(offsets) == len(norm)
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)
    assert all(0 <= o < len(text) for o in offsets)
    # every kept character is the folded form of the character it maps to, or the boundary a space
    # between two messages became
    assert all(text[o].translate(normalizer.table) == c or (c == MESSAGE_BOUNDARY and text[o].isspace())
               for o, c in zip(offsets, norm))


@pytest.mark.parametrize("text, norm", [
    ("您好 这个不清楚的", "您好,这个不清楚的"),  # two messages of one turn: the space is a clause boundary
    ("好的  谢谢", "好的,谢谢"),
    ("你 明 白 吗", "你明白吗"),  # spaced-out characters still collapse
    ("你明白 吗", "你明白吗"),
    ("嗯 是的", "嗯是的"),  # a one-character word is not a message of its own
])
def test_a_space_between_two_messages_becomes_a_clause_boundary(normalizer, text, norm):
    got, offsets = normalize_text(text, normalizer.table)
    assert got == norm
    if "," in got and "," not in text:
        assert text[offsets[got.index(",")]].isspace()  # evidence maps back onto the space
