"""bench/headroom.py's replay gives back exactly what each kernel computed (issue 15).

The headroom figures — how fast the pipeline would run if the text stages, the lexicon matchers, the models
or the question models cost nothing — are only worth reading if a replayed pass changes no result. The bench
checks that on every pass; these tests hold the check itself: on real JD chats (gold dev) and the samples,
replaying each group gives the plain pipeline's results, and a replay that gives back something else fails.
"""

from __future__ import annotations

import sys

import pytest


@pytest.fixture(scope="module")
def headroom(repo):
    sys.path.insert(0, str(repo))
    from bench import headroom

    return headroom


@pytest.fixture(scope="module")
def corpus(repo, tmp_path_factory):
    """120 real chats and every sample record (chats, calls, hostile input that becomes rejects)."""
    path = tmp_path_factory.mktemp("headroom") / "corpus.jsonl"
    gold = (repo / "data/gold/dev.jsonl").read_bytes().splitlines()[:120]
    samples = [line for f in sorted((repo / "data/samples").glob("*.jsonl")) for line in f.read_bytes().splitlines() if line.strip()]
    path.write_bytes(b"".join(line + b"\n" for line in gold + samples))
    return path


@pytest.fixture(scope="module")
def recorded(headroom, corpus, config):
    replay = headroom.Replay()
    best = headroom.measure(corpus, config, 1, list(headroom.KERNELS), replay)
    return replay, best


def test_each_replayed_group_gives_the_plain_results(headroom, recorded):
    replay, best = recorded
    assert set(best) == {"plain", "all", *headroom.KERNELS}
    assert all(rate > 0 for rate in best.values())
    assert len(replay.reference) > 300  # the samples' chats and calls and the gold chats were inspected
    # every group recorded something to give back
    assert all(replay.store[g] for g in headroom.KERNELS)


@pytest.mark.parametrize("group", ["models", "lexicons"])
def test_a_replay_that_gives_back_something_else_fails(headroom, recorded, corpus, config, group):
    replay, _ = recorded
    store = replay.store[group]
    key = next(k for k, v in store.items() if v)  # something that matters to a result
    saved = store[key]
    store[key] = {} if group == "models" else []
    try:
        with pytest.raises(headroom.ReplayMismatch, match=group):
            headroom.measure(corpus, config, 1, [group], replay)
    finally:
        store[key] = saved
