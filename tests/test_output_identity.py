"""The fast paths change no output (issue 15).

The lexicon matcher (automaton, per-regex trigger literals, anchored regexes run once) and the
models stage (token memo, unrolled sentiment arithmetic) are held, in the same run, to plain
reference implementations of the same semantics — ``LexiconSet.match_reference`` (every phrase
looked up with ``str.find``, every regex run over the whole text) and the models' whole-document
analyzer with a loop over the classes — on real chats (the gold dev set: JD customer-service
chats) and the samples. Comparing within one run, rather than against stored digests, keeps the
guard valid while people edit the lexicons and retrain the models: any optimisation that changes a
finding, a score, an evidence span or a probability fails here, whatever the lexicons say today.
"""

from __future__ import annotations

import copy
import json

import orjson
import pytest

from pipeline.literals import cheapest_literals

CHATS = ["data/gold/dev.jsonl", "data/samples/conversations.jsonl", "data/samples/calls.jsonl",
         "data/samples/hostile.jsonl"]


@pytest.fixture(scope="module")
def conversations(config, repo):
    from pipeline.ingest import read_inputs

    convs = [r for r in read_inputs([str(repo / p) for p in CHATS], config) if hasattr(r, "turns")]
    assert len(convs) > 700
    return convs


@pytest.fixture(scope="module")
def texts(inspector, conversations):
    """Every distinct normalized turn of the chats, and every lexicon example."""
    raw = [t.text for c in conversations for t in c.turns]
    for e in inspector.lexicons.entries.values():
        raw += e.examples["hit"] + e.examples["miss"]
    return list(dict.fromkeys(inspector.normalizer.text(t) for t in raw))


def _spans(hits):
    return [(h.entry.id, h.start, h.end, h.text) for h in hits]


def test_matcher_equals_reference_on_real_turns(inspector, texts):
    lexicons = inspector.lexicons
    assert not lexicons.reference
    sets = [None, *{s for s in inspector.rules.needed.values() if s}]
    compared = 0
    for only in sets:
        fast = lexicons.matcher_for(only)
        for t in texts:
            want = _spans(lexicons.match_reference(t, only))
            assert _spans(fast(t)) == want, (sorted(only) if only else "all lexicons", t)
            compared += bool(want)
    assert compared > 2000  # texts with at least one hit, summed over the lexicon sets


def test_trigger_literals_are_required(inspector, texts):
    """Each regex's chosen trigger literals: one of them is in every text the regex matches."""
    checked = 0
    for e in inspector.lexicons.entries.values():
        for rx in e.patterns:
            req = cheapest_literals(rx.pattern)
            if req is None:
                continue
            for t in texts:
                if rx.search(t):
                    checked += 1
                    assert any(lit in t for lit in req), (e.id, rx.pattern, sorted(req)[:10], t)
    assert checked > 1000


def _answerers(inspector) -> list:
    from pipeline.questions import load_answerer

    models_dir = str(inspector.config["paths"]["models"])
    found = [load_answerer(models_dir, r.params["model"]) for r in inspector.rules.rules
             if r.kind == "question" and r.params.get("model")]
    return [a for a in found if a is not None]


def _results(inspector, conversations, reference: bool) -> list[bytes]:
    answerers = _answerers(inspector)
    inspector.lexicons.reference = reference
    inspector.models.reference = reference
    for a in answerers:
        a.reference = reference
    try:
        out = []
        for c in copy.deepcopy(conversations):
            r = inspector.inspect(c)
            out.append(orjson.dumps(r))
        return out
    finally:
        inspector.lexicons.reference = False
        inspector.models.reference = False
        for a in answerers:
            a.reference = False


def test_results_byte_identical_to_reference(inspector, conversations):
    """Whole results (findings, evidence, scores, predictions, review flags) of the fast paths equal
    those of the reference paths byte for byte."""
    fast = _results(inspector, conversations, reference=False)
    slow = _results(inspector, conversations, reference=True)
    differ = [json.loads(a)["id"] for a, b in zip(fast, slow) if a != b]
    assert not differ, f"{len(differ)} of {len(fast)} conversations differ, e.g. {differ[:5]}"
    assert sum(b'"rule"' in a for a in fast) > 300  # the chats do produce findings
    assert sum(b'"questions"' in a for a in fast) > 700  # …and answers to the scorecard questions


def test_batched_results_are_one_by_ones_and_an_error_stays_with_its_conversation(inspector, conversations, monkeypatch):
    """inspect_records in batches (the emotion model scores the customer turns of many conversations in
    one call) gives what one by one gives, byte for byte, in the same order; the turn probabilities
    are the same floats. A conversation that fails before the models, in the models or after them is
    that conversation's reject, and the batch's others are unchanged."""
    from pipeline.run import RunSummary, inspect_records

    def run(batch, convs):
        results, rejects, summary = [], [], RunSummary()
        inspect_records(inspector, copy.deepcopy(convs), results.append, rejects.append, summary, batch=batch)
        return [orjson.dumps(r) for r in results], [(r.id, r.reason) for r in rejects], summary

    one, _, _ = run(1, conversations)
    many, rejects, summary = run(64, conversations)
    assert many == one and not rejects and summary.inspected == len(conversations)
    convs = copy.deepcopy(conversations[:40])
    for c in convs:
        for _, stage in inspector.stages[:4]:
            stage(c)
    batched = inspector.models.emotion_many(convs)
    assert sum(map(len, batched)) > 100
    for c, rows in zip(convs, batched):
        docs = [t.tokens for t in c.turns if t.role == "customer" and t.tokens]
        assert rows == (inspector.models._emotion.proba_rows(docs) if docs else [])

    ids = [c.id for c in conversations[:30]]
    boom = {ids[3]: "normalize", ids[11]: "models", ids[17]: "rules"}

    def exploding(name, stage):
        def call(conv, *args):
            if boom.get(conv.id) == name:
                raise RuntimeError(f"{name} bug")
            return stage(conv, *args)
        return call

    stages = list(inspector.stages)
    monkeypatch.setattr(inspector, "stages", [(n, exploding(n, s) if n in boom.values() else s) for n, s in stages])
    many, rejects, summary = run(8, conversations[:30])
    assert [json.loads(r)["id"] for r in many] == [i for i in ids if i not in boom]
    assert many == [r for r, i in zip(one[:30], ids) if i not in boom]
    assert sorted(rejects) == sorted((i, "internal.error") for i in boom)
    assert (summary.read, summary.inspected, summary.rejected) == (30, 27, 3)


def test_model_probabilities_equal_reference_exactly(inspector, conversations):
    """Before rounding: the sentiment probabilities of every customer turn and the issue-type
    probabilities of every conversation are the same floats on the fast and the reference paths."""
    from pipeline.models.features import conversation_document

    models = inspector.models
    convs = copy.deepcopy(conversations)
    for c in convs:
        for name, stage in inspector.stages[:3]:  # normalize, tokenize, privacy: the models' input
            stage(c)
    if models._sent is not None:
        docs = [t.tokens for c in convs for t in c.turns if t.role == "customer" and t.tokens]
        assert len(docs) > 5000
        assert models._sent.proba_rows(docs) == models._sent.proba_rows_reference(docs)
    if models._issue is not None:
        issue = models._issue
        for c in convs:
            models(c)
            doc = conversation_document(((t.role, t.tokens or ()) for t in c.turns), models._issue_roles)
            label, conf, because, _ = issue.predict(doc, explain=models.because_tokens)
            got = c.predictions["issue_type"]
            assert (got["label"], got["confidence"], got["because"]) == (label, round(conf, 4), because), c.id


def test_question_features_equal_the_document(inspector, conversations):
    """A question model's features counted straight from the tokens (``question_counts``) are the
    counts of ``question_document`` — same indices, same counts, same order (so the tf-idf sums run
    in the same order) — for every part of the conversation a question can read; and the evidence
    turns found from the part boundaries are those of the plain scan, for any features."""
    import random
    from collections import Counter

    from pipeline.questions import READS, evidence_turns, evidence_turns_reference, question_counts, question_document

    answerers = _answerers(inspector)
    assert answerers, "no question model installed (models/question_resolved)"
    vocab = answerers[0].fast.vocab
    convs = copy.deepcopy(conversations)
    for c in convs:
        inspector.inspect(c)  # tokens, findings and the end mood: what the document reads
    rng = random.Random(15)
    counted = 0
    for reads in READS:
        memo: dict = {}
        for c in convs:
            doc = question_document(c, reads)
            want = [(vocab[f], n) for f, n in Counter(doc).items() if f in vocab]
            assert list(question_counts(c, reads, vocab, memo).items()) == want, (c.id, reads)
            counted += bool(want)
            features = question_document(c, "whole")
            for _ in range(3):
                because = rng.sample(features, min(8, len(features)))
                assert evidence_turns(c, because) == evidence_turns_reference(c, because), (c.id, because)
    assert counted > 2000


def test_warm_up_builds_what_inspecting_would_build_lazily(config, conversations):
    """After ``warm_up`` (a run's start-up), inspecting chats and calls builds no lexicon matcher, n-gram
    table or question model: what the first conversations paid for before is start-up now, counted in the
    manifest's ``startup_s`` rather than in the first partition's rate."""
    from pipeline.questions import load_answerer
    from pipeline.run import Inspector

    load_answerer.cache_clear()
    fresh = Inspector(config)
    assert len(fresh.lexicons._matchers) == 1  # the load-time check's, over every lexicon
    fresh.warm_up()
    matchers = set(fresh.lexicons._matchers)
    assert len(matchers) > 3  # each role's rules, the end mood, the review flags, the calls' hold
    assert all(m.fast._ngram_table is not None for m in fresh.models.loaded.values() if m.fast.char_ngrams or m.fast.text_chars)
    loaded = load_answerer.cache_info().currsize
    assert loaded >= 1
    results = fresh.inspect_many(copy.deepcopy(conversations[-300:]))  # the samples: chats, calls, hostile input
    assert sum(not isinstance(r, Exception) for r in results) > 250
    assert set(fresh.lexicons._matchers) == matchers
    assert load_answerer.cache_info().currsize == loaded
