"""tokenize: the two backends give the same tokens (user dictionary included) on a real corpus."""

from __future__ import annotations

import json

import pytest

from pipeline.segment import Segmenter, read_domain_words
from tests.conftest import SHARED_DATA


def corpus(repo, limit=4000):
    """Customer-service turns: the bundled samples, plus real JD turns when shared data is present."""
    texts = []
    for line in (repo / "data" / "samples" / "conversations.jsonl").read_text(encoding="utf-8").splitlines():
        texts += [t["text"] for t in json.loads(line)["turns"] if isinstance(t.get("text"), str)]
    csds = SHARED_DATA / "csds_topic" / "val.json"
    if csds.exists():
        for row in json.loads(csds.read_text(encoding="utf-8"))[:300]:
            texts += [u.split(":", 1)[-1] for u in row["Dialogue"].split("[SEP][CLS]")]
    return texts[:limit]


@pytest.fixture(scope="module")
def segmenters(inspector, repo):
    from pipeline.segment import USER_WORD_FREQ

    words = read_domain_words(repo / "lexicons" / "domain_words.txt")
    words += [(p, USER_WORD_FREQ) for p in inspector.lexicons.user_words()]
    return Segmenter("rjieba", words), Segmenter("jieba", words), words


def test_backends_agree_on_a_corpus(segmenters, repo, inspector):
    fast, reference, _ = segmenters
    texts = [inspector.normalizer.text(t) for t in corpus(repo)]
    assert len(texts) > 1000
    diffs = [(t, fast.cut(t), reference.cut(t)) for t in texts if fast.cut(t) != reference.cut(t)]
    assert diffs == []


def test_user_dictionary_keeps_phrases_whole(segmenters):
    fast, reference, words = segmenters
    long_words = [w for w, _ in words if len(w) >= 4][:200]
    assert long_words
    for seg in (fast, reference):
        kept = sum(1 for w in long_words if w in seg.cut(f"我说{w}了"))
        assert kept / len(long_words) > 0.9
