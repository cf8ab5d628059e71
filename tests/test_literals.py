"""The regex prefilter: required literals must be a necessary condition of every match."""

from __future__ import annotations

import json

import pytest

from pipeline.literals import required_literals
from tests.conftest import SHARED_DATA


@pytest.mark.parametrize(
    "pattern, expected",
    [
        ("[你您]好", {"你好", "您好"}),
        ("我(再|最后)说", {"我再说", "我最后说"}),
        (r"(?<![0-9.])315(?![0-9.])", {"315"}),
        (r"\d{11}", None),  # nothing literal is required: run on every turn
        ("(a)?b?", None),
        ("x(a)?", {"x", "xa"}),
        ("(不知道|不清楚)", {"不知道", "不清楚"}),
    ],
)
def test_required_literals(pattern, expected):
    got = required_literals(pattern)
    assert (set(got) if got is not None else None) == expected


def test_prefilter_never_skips_a_match(inspector, repo):
    """For every lexicon regex and a corpus of real and sample turns plus all examples: when the
    regex matches, one of its required literals is in the text."""
    texts = []
    for line in (repo / "data" / "samples" / "conversations.jsonl").read_text(encoding="utf-8").splitlines():
        texts += [t["text"] for t in json.loads(line)["turns"]]
    csds = SHARED_DATA / "csds_topic" / "val.json"
    if csds.exists():
        for row in json.loads(csds.read_text(encoding="utf-8"))[:400]:
            texts += [u.split(":", 1)[-1] for u in row["Dialogue"].split("[SEP][CLS]")]
    for e in inspector.lexicons.entries.values():
        texts += e.examples["hit"] + e.examples["miss"]
    texts = [inspector.normalizer.text(t) for t in dict.fromkeys(texts)]
    checked = 0
    for e in inspector.lexicons.entries.values():
        for rx in e.patterns:
            req = required_literals(rx.pattern)
            if req is None:
                continue
            for t in texts:
                if rx.search(t):
                    checked += 1
                    assert any(lit in t for lit in req), (e.id, rx.pattern, t)
    assert checked > 100
