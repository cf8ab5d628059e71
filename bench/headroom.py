"""How fast the pipeline could be if its heaviest kernels cost nothing — the upper bound of any rewrite of them.

    python bench/headroom.py --rounds 3            # real chats, each once (as throughput.py --real)
    python bench/headroom.py -n 300 --rounds 1     # a quick look

A first pass inspects the corpus and records what each kernel returns; then each timed pass inspects it again
with one kernel group's outputs **replayed** from that record instead of computed — the rest of the pipeline
(reading, validation, privacy, metrics, the rules' own logic, scoring, flags, building the results) runs as
usual. The kernel groups:

* ``text`` — the normalize and tokenize stages;
* ``lexicons`` — the lexicon matchers (the Aho-Corasick scan, trigger regexes, guards);
* ``models`` — the issue-type, sentiment and emotion models;
* ``questions`` — the scorecard question models.

A replayed pass must give the same results as a plain one, field for field, or its rate means nothing: each is
checked and the script fails when one differs. Printed, in one run: conversations/s of the plain pipeline, of
each replayed pass and of the rjieba floor (read + tokenize, throughput.py's), the time each group costs a
conversation (plain − replayed), and what issue 15's goal (≥ 2,000 conversations/s on one core, ≥ 0.13 of the
floor) leaves for the four groups together once the rest of the pipeline is paid for.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

KERNELS = {
    "text": "normalize + tokenize stages",
    "lexicons": "lexicon matchers",
    "models": "issue type, sentiment, emotion",
    "questions": "scorecard question models",
}
GOAL_RATE = 2000.0  # issue 15: conversations/s on one core, real chats
GOAL_RATIO = 0.13  # issue 15: of the rjieba floor


class Replay:
    """What each kernel returned on the recording pass, and the patches that give it back on later passes.

    Keys: a conversation by its id and input line (ids may repeat across files), a lexicon scan by its set of
    lexicons and the text. ``replaying``: the groups answered from the record; the others compute."""

    def __init__(self) -> None:
        self.store: dict[str, dict[Any, Any]] = {k: {} for k in KERNELS}
        self.recording = False
        self.replaying: frozenset[str] = frozenset()
        self.reference: list[dict] | None = None  # the recording pass's results

    @staticmethod
    def _key(conv) -> tuple:
        return conv.id, conv.source.line if conv.source else None

    @contextlib.contextmanager
    def installed(self):
        from pipeline import lexicons as lex
        from pipeline.models import ModelsStage
        from pipeline.normalize import Normalizer
        from pipeline.questions import Answerer
        from pipeline.segment import Segmenter

        replay, store = self, self.store
        originals = {(Normalizer, "__call__"): Normalizer.__call__, (Segmenter, "__call__"): Segmenter.__call__,
                     (lex.LexiconSet, "_matcher"): lex.LexiconSet._matcher,
                     (ModelsStage, "predict_many"): ModelsStage.predict_many, (ModelsStage, "__call__"): ModelsStage.__call__,
                     (Answerer, "answer"): Answerer.answer}

        def per_turn(method, group: str, fields: tuple[str, ...]):
            def stage(self, conv):
                if group in replay.replaying:
                    for t, values in zip(conv.turns, store[group][(method.__qualname__, *replay._key(conv))]):
                        for name, v in zip(fields, values):
                            setattr(t, name, v)
                    return conv
                method(self, conv)
                if replay.recording:
                    store[group][(method.__qualname__, *replay._key(conv))] = [tuple(getattr(t, f) for f in fields) for t in conv.turns]
                return conv
            return stage

        class ReplayedMatcher:
            __slots__ = ("inner", "lexicons")

            def __init__(self, inner, lexicons):
                self.inner, self.lexicons = inner, lexicons

            def hits(self, text: str):
                key = (self.lexicons, text)
                if "lexicons" in replay.replaying:
                    return list(store["lexicons"][key])
                found = self.inner.hits(text)
                if replay.recording:
                    store["lexicons"][key] = list(found)
                return found

        wrapped: dict[tuple[int, Any], ReplayedMatcher] = {}

        def matcher(self, lexicons):
            inner = originals[(lex.LexiconSet, "_matcher")](self, lexicons)
            m = wrapped.get((id(inner), lexicons))
            if m is None:
                m = wrapped[(id(inner), lexicons)] = ReplayedMatcher(inner, lexicons)
            return m

        def predict_many(self, conversations):
            if "models" in replay.replaying:
                return [None] * len(conversations)
            return originals[(ModelsStage, "predict_many")](self, conversations)

        def models_call(self, conv, batched=None):
            if "models" in replay.replaying:
                conv.predictions.update(store["models"][replay._key(conv)])
                return conv
            before = set(conv.predictions)
            originals[(ModelsStage, "__call__")](self, conv, batched)
            if replay.recording:
                store["models"][replay._key(conv)] = {k: v for k, v in conv.predictions.items() if k not in before}
            return conv

        def answer(self, conv, explain: int = 8):
            key = (self.name, explain, *replay._key(conv))
            if "questions" in replay.replaying:
                return store["questions"][key]
            out = originals[(Answerer, "answer")](self, conv, explain)
            if replay.recording:
                store["questions"][key] = out
            return out

        patches = {(Normalizer, "__call__"): per_turn(Normalizer.__call__, "text", ("norm", "norm_map")),
                   (Segmenter, "__call__"): per_turn(Segmenter.__call__, "text", ("tokens",)),
                   (lex.LexiconSet, "_matcher"): matcher,
                   (ModelsStage, "predict_many"): predict_many, (ModelsStage, "__call__"): models_call,
                   (Answerer, "answer"): answer}
        try:
            for (cls, name), fn in patches.items():
                setattr(cls, name, fn)
            yield self
        finally:
            for (cls, name), fn in originals.items():
                setattr(cls, name, fn)


def inspect_pass(corpus: Path, config: dict) -> tuple[float, list[dict], int]:
    """One pass as a worker runs it (a fresh Inspector, warmed up, the collector settled): (conversations/s,
    the results as dicts, rejects)."""
    from bench.throughput import worker_inspector
    from pipeline.ingest import read_inputs
    from pipeline.run import RunSummary, inspect_records

    inspector = worker_inspector(config)
    results: list = []
    rejects: list = []
    records = list(read_inputs([str(corpus)], config))  # read before the clock: every pass reads the same
    t0 = time.perf_counter()
    inspect_records(inspector, iter(records), results.append, lambda *a, **k: rejects.append(a), RunSummary())
    elapsed = time.perf_counter() - t0
    return len(results) / elapsed, [r.to_dict() for r in results], len(rejects)


class ReplayMismatch(AssertionError):
    """A replayed pass gave other results than the plain pass: the replay is wrong, its rate means nothing."""


def measure(corpus: Path, config: dict, rounds: int, groups: list[str], replay: Replay | None = None) -> dict[str, float]:
    """The fastest of ``rounds`` passes of each variant ("plain", each group, "all"), interleaved so the
    machine's drift touches them alike. Raises :class:`ReplayMismatch` when a pass's results differ from the
    recording pass's. ``replay``: one already recorded (tests alter it to see the check fail)."""
    variants = ["plain"] + groups + (["all"] if len(groups) > 1 else [])
    best: dict[str, float] = {}
    replay = replay or Replay()
    with replay.installed():
        if replay.reference is None:
            replay.recording = True
            _, replay.reference, _ = inspect_pass(corpus, config)
            replay.recording = False
        for r in range(rounds):
            for v in variants:
                replay.replaying = frozenset(groups if v == "all" else [] if v == "plain" else [v])
                rate, results, _ = inspect_pass(corpus, config)
                if results != replay.reference:
                    pairs = list(zip(results, replay.reference))
                    where = next((a.get("id") for a, b in pairs if a != b), None) if len(results) == len(replay.reference) else "the count"
                    raise ReplayMismatch(f"replaying {v!r} changed the results (first: {where}); its rate would mean nothing")
                best[v] = max(best.get(v, 0.0), rate)
                print(f"  round {r + 1} {v:<10} {rate:7.0f} conversations/s", flush=True)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=100000, help="at most this many real records (default: all)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--groups", default=",".join(KERNELS), help=f"kernel groups to replay, comma-separated ({', '.join(KERNELS)})")
    ap.add_argument("--data-dir", metavar="DIR", help="where the corpora are (default ../shared/data/raw)")
    ap.add_argument("--config", metavar="FILE", help="configuration file (default: pipeline/defaults.yaml)")
    args = ap.parse_args()
    groups = [g for g in args.groups.split(",") if g]
    unknown = [g for g in groups if g not in KERNELS]
    if unknown:
        ap.error(f"unknown kernel group(s) {unknown}; choose from {list(KERNELS)}")

    from bench.throughput import floor, real_corpus
    from pipeline.config import load_config

    config = load_config(args.config)
    with tempfile.TemporaryDirectory() as tmp:
        corpus, count = real_corpus(Path(tmp) / "corpus.jsonl", args.n, args.data_dir)
        print(f"corpus: {count} real records, each once (CSDS val, JDDC valid, data/samples); one process, one core")
        try:
            best = measure(corpus, config, args.rounds, groups)
        except ReplayMismatch as e:
            raise SystemExit(f"headroom: {e}") from None
        floor_rate = max(floor(corpus, config, "rjieba")[0] for _ in range(args.rounds))
    plain_ms = 1e3 / best["plain"]
    print(f"\nfastest of {args.rounds} rounds each; every replayed pass gave the plain pass's results")
    print(f"  {'pass':<52} {'conv/s':>8} {'× plain':>8} {'ms/conv':>8} {'the group costs':>16}")
    print(f"  {'plain pipeline':<52} {best['plain']:8.0f} {1.0:8.2f} {plain_ms:8.3f}")
    for v in groups + (["all"] if len(groups) > 1 else []):
        name = f"{v} replayed ({KERNELS[v]})" if v in KERNELS else f"all {len(groups)} replayed"
        ms = 1e3 / best[v]
        print(f"  {name:<52} {best[v]:8.0f} {best[v] / best['plain']:8.2f} {ms:8.3f} {plain_ms - ms:13.3f} ms")
    print(f"  {'rjieba floor (read + tokenize)':<52} {floor_rate:8.0f}")
    goal = max(GOAL_RATE, GOAL_RATIO * floor_rate)
    top = best["all"] if len(groups) > 1 else best[groups[0]]
    rest_ms, kernels_ms = 1e3 / top, plain_ms - 1e3 / top
    budget = 1e3 / goal - rest_ms
    print(f"\nissue 15's goal here: ≥ {goal:.0f} conversations/s (≥ {GOAL_RATE:.0f}/s and ≥ {GOAL_RATIO} × the floor) → ≤ {1e3 / goal:.3f} ms a conversation")
    print(f"  without the replayed group(s) the pipeline takes {rest_ms:.3f} ms ({top:.0f}/s, ratio {top / floor_rate:.3f} of the floor)")
    if budget <= 0:
        print(f"  → the goal is out of reach even if they cost nothing: the rest alone is over the budget by {-budget:.3f} ms")
    else:
        print(f"  → they may cost {budget:.3f} ms together; they cost {kernels_ms:.3f} ms now ({kernels_ms / budget:.1f} × too much)")


if __name__ == "__main__":
    main()
