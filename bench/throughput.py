"""Throughput of the full pipeline against its floor, measured in the same run, on one core.

    python bench/throughput.py [-n 20000]                 # generated 20-turn chats (bench/generate.py)
    python bench/throughput.py --real --rounds 5          # real chats, each once: CSDS val + JDDC valid + the samples

Prints, for each segmenter backend: conversations/s of (a) the floor — read + validate + the
segmenter on every turn, nothing else — and (b) the full pipeline writing all outputs, their
ratio, and a per-stage breakdown of the full pipeline's time. Ratios, not absolute figures, are
what to compare across machines (these machines are noisy).

``--real`` reads real chats instead of generated ones, **each distinct chat once**: every dialogue
of CSDS ``val.json`` and JDDC ``valid_jddc.txt`` (the gold set's pool, ~1,100 JD customer-service
chats of ~26 turns, ``pipeline/gold/sample.py``) and the bundled samples (chat, phone calls, hostile
inputs); ``-n`` caps the count. No chat is repeated: a repeated chat would flatter whatever a
stage remembers per token (the models' token → feature memos), and would flatter any per-turn
cache. Each round builds a new Inspector and reloads the question models, so each starts with
empty memos. ``--rounds`` runs floor and
full pipeline that many times in turn and reports the fastest round of each (the machine's speed
moves within a run). ``--config`` points at a configuration file (e.g. fixed copies of lexicons
and models, to compare two versions of the code on the same data).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.generate import generate  # noqa: E402


def floor(path: Path, config: dict, backend: str) -> tuple[float, int]:
    from pipeline.ingest import read_inputs
    from pipeline.run import Inspector

    inspector = Inspector({**config, "segmenter": {**config["segmenter"], "backend": backend}})
    cut = inspector.segmenter.cut
    t0 = time.perf_counter()
    n = 0
    for rec in read_inputs([str(path)], config):
        n += 1
        for t in getattr(rec, "turns", ()):
            cut(t.text)
    return n / (time.perf_counter() - t0), n


def worker_inspector(config: dict, profile: bool = False):
    """A fresh Inspector set up as a worker sets one up: warmed, the garbage collector settled. Each round
    builds its own and reloads the question models, so none starts with another's memos."""
    from pipeline.engines import settle_gc
    from pipeline.questions import load_answerer
    from pipeline.run import Inspector

    load_answerer.cache_clear()  # a question model's token memo too starts empty
    inspector = Inspector(config, profile=profile)
    inspector.warm_up()
    settle_gc(config["run"])
    return inspector


def full(path: Path, config: dict, backend: str, out: Path) -> tuple[float, dict, float, dict]:
    """(conversations/s, share of the time per stage, start-up s, the garbage collector's time and collections
    — which the stages' shares include: a collection is charged to whatever allocates when it starts)."""
    import gc

    from pipeline.ingest import read_inputs
    from pipeline.io.writers import PartitionWriter, RunLayout
    from pipeline.run import RunSummary, inspect_records

    cfg = {**config, "segmenter": {**config["segmenter"], "backend": backend}}
    t_load = time.perf_counter()
    inspector = worker_inspector(cfg, profile=True)
    startup = time.perf_counter() - t_load
    collector = {"seconds": 0.0, "collections": 0, "full": 0}
    started = [0.0]

    def timed(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            collector["seconds"] += time.perf_counter() - started[0]
            collector["collections"] += 1
            collector["full"] += info["generation"] == 2

    gc.callbacks.append(timed)
    summary = RunSummary()
    t0 = time.perf_counter()
    layout = RunLayout(out)
    layout.create()
    with PartitionWriter(layout, "000000", cfg["output"]["parquet_batch_rows"]) as w:
        t_write = [0.0]

        def on_result(r):
            s = time.perf_counter()
            w.write_result(r)
            t_write[0] += time.perf_counter() - s

        try:
            inspect_records(inspector, read_inputs([str(path)], cfg), on_result, w.write_reject, summary)
        finally:
            gc.callbacks.remove(timed)
    elapsed = time.perf_counter() - t0
    collector["share"] = collector["seconds"] / elapsed
    stages = dict(inspector.stage_seconds)
    stages["write"] = t_write[0]
    stages["read+validate+other"] = elapsed - sum(stages.values())
    return summary.read / elapsed, {k: v / elapsed for k, v in stages.items()}, startup, collector


def real_corpus(out: Path, n: int, data_dir: str | None = None) -> tuple[Path, int]:
    """Every distinct real chat once — the JD pool (CSDS val + JDDC valid, as ``zhijian gold sample``
    draws from it) and the samples' records — up to ``n``; returns the file and how many it holds."""
    import json

    from pipeline.gold.sample import build_pool, gold_record
    from pipeline.models.datasets import DataPaths

    repo = Path(__file__).resolve().parent.parent
    pool = build_pool(DataPaths(data_dir) if data_dir else DataPaths())
    lines = [json.dumps(gold_record(item, "bench"), ensure_ascii=False).encode("utf-8") for item in pool]
    # bytes: the hostile samples hold invalid UTF-8 on purpose (they become rejects, as in a real run)
    lines += [line for f in sorted((repo / "data" / "samples").glob("*.jsonl")) for line in f.read_bytes().splitlines() if line.strip()]
    lines = lines[:n]
    out.write_bytes(b"".join(line + b"\n" for line in lines))
    return out, len(lines)


def compare_models(dirs: list[str], n: int, backend: str, rounds: int) -> None:
    import statistics

    from pipeline.config import load_config

    with tempfile.TemporaryDirectory() as tmp:
        corpus = generate(Path(tmp) / "corpus.jsonl", n)
        ratios: dict[str, list[float]] = {d: [] for d in dirs}
        rates: dict[str, list[float]] = {d: [] for d in dirs}
        print(f"corpus: {n} conversations × 20 turns; {backend}; {rounds} rounds, the model folders in turn")
        for r in range(rounds):
            for d in dirs:
                cfg = load_config(overrides={"paths": {"models": str(Path(d).resolve())}})
                floor_rate, _ = floor(corpus, cfg, backend)
                full_rate, shares, _, _ = full(corpus, cfg, backend, Path(tmp) / f"out-{r}-{Path(d).name}")
                ratios[d].append(full_rate / floor_rate)
                rates[d].append(full_rate)
                print(f"  round {r + 1} {d:<28} floor {floor_rate:7.0f}/s  full {full_rate:6.0f}/s  ratio {full_rate / floor_rate:.4f}"
                      f"  models {shares.get('models', 0) * 100:4.1f} %")
        base = dirs[0]
        for d in dirs:
            med, med_rate = statistics.median(ratios[d]), statistics.median(rates[d])
            change = "" if d == base else (f"  → ratio {med / statistics.median(ratios[base]) - 1:+.1%}, "
                                           f"full {med_rate / statistics.median(rates[base]) - 1:+.1%} vs {base}")
            print(f"{d:<30} median full/floor {med:.4f}, full {med_rate:.0f}/s{change}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=20000)
    ap.add_argument("--backends", default="rjieba,jieba")
    ap.add_argument("--compare-models", metavar="DIR,DIR",
                    help="A/B two model folders (e.g. the shipped models/ and a candidate): floor and full pipeline "
                         "measured for each in turn, --rounds times, in one process; prints each one's median full/floor "
                         "ratio and the change (issue 11: a new model may cost at most 10 %%)")
    ap.add_argument("--rounds", type=int, default=None, help="rounds of floor + full pipeline (default 1; 3 with --compare-models)")
    ap.add_argument("--real", action="store_true", help="real chats, each distinct one once (CSDS val, JDDC valid, the samples) instead of generated ones")
    ap.add_argument("--data-dir", metavar="DIR", help="with --real: where the corpora are (default ../shared/data/raw)")
    ap.add_argument("--config", metavar="FILE", help="configuration file (default: pipeline/defaults.yaml)")
    args = ap.parse_args()
    from pipeline.config import load_config

    config = load_config(args.config)
    if args.compare_models:
        compare_models(args.compare_models.split(","), args.n, args.backends.split(",")[0], args.rounds or 3)
        return
    rounds = args.rounds or 1
    with tempfile.TemporaryDirectory() as tmp:
        if args.real:
            corpus, count = real_corpus(Path(tmp) / "corpus.jsonl", args.n, args.data_dir)
            what = f"{count} real records, each once (CSDS val, JDDC valid, data/samples)"
        else:
            corpus = generate(Path(tmp) / "corpus.jsonl", args.n)
            what = f"{args.n} conversations × 20 turns"
        size = os.path.getsize(corpus)
        print(f"corpus: {what}, {size / 1e6:.1f} MB; one process, one core")
        for backend in args.backends.split(","):
            floors, fulls = [], []
            for r in range(rounds):
                floors.append(floor(corpus, config, backend)[0])
                fulls.append(full(corpus, config, backend, Path(tmp) / f"out-{backend}-{r}"))
                if rounds > 1:
                    print(f"  round {r + 1} [{backend}] floor {floors[-1]:7.0f}/s  full {fulls[-1][0]:6.0f}/s  "
                          f"ratio {fulls[-1][0] / floors[-1]:.3f}")
            # the fastest round of each: the one the machine's other jobs disturbed least
            floor_rate = max(floors)
            full_rate, shares, startup, collector = max(fulls, key=lambda f: f[0])
            print(f"\n[{backend}]" + (f" fastest of {rounds} rounds, floor and full pipeline each" if rounds > 1 else ""))
            print(f"  floor (read + tokenize) : {floor_rate:8.0f} conversations/s")
            print(f"  full pipeline           : {full_rate:8.0f} conversations/s")
            print(f"  full / floor            : {full_rate / floor_rate:8.3f}")
            print(f"  start-up (once/process) : {startup:8.1f} s (lexicons and their matchers, segmenter, spaCy, models; not in the rates)")
            print("  full-pipeline time by stage:      share   ms/conversation")
            for name, share in sorted(shares.items(), key=lambda kv: -kv[1]):
                print(f"    {name:<26} {share * 100:5.1f} %   {share / full_rate * 1e3:7.3f}")
            print(f"  of which the garbage collector: {collector['share'] * 100:4.1f} %   {collector['share'] / full_rate * 1e3:7.3f}"
                  f"   ({collector['collections']} collections, {collector['full']} full; run.gc_freeze / run.gc_young_every)")


if __name__ == "__main__":
    main()
