"""Scaling: conversations/s with 1 and 2 local workers and on a 2-worker Dask LocalCluster,
next to the read + tokenize floor measured in the same run.

    python bench/scaling.py [-n 20000]
    python bench/scaling.py --memory 10000,1000000   # wall time and peak RSS at two sizes

Start-up (spawning workers, loading lexicons, jieba and spaCy in each) is measured apart: every
engine also runs a one-partition input, and the rate is (N − n_small) / (T_N − T_small), the
steady-state throughput a long nightly run sees. Scaling efficiency = 2-worker rate ÷ (2 × 1-worker
rate); Dask overhead = 1 − Dask rate ÷ local 2-worker rate.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.generate import generate  # noqa: E402


def timed_run(corpus: Path, out: Path, *flags: str) -> tuple[float, dict]:
    """One `zhijian inspect` as its own process: wall seconds and its manifest."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "inspect", str(corpus), "--out", str(out), "--quiet", "--restart", *flags],
        cwd=REPO, capture_output=True, text=True,
    )
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 3):
        raise SystemExit(f"run failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return wall, json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def floor_rate(corpus: Path) -> float:
    from bench.throughput import floor
    from pipeline.config import load_config

    return floor(corpus, load_config(), "rjieba")[0]


def _spin(n: int) -> float:
    t0 = time.perf_counter()
    x = 0
    for i in range(n):
        x += i * i
    return time.perf_counter() - t0


def machine_parallel_efficiency(n: int = 15_000_000) -> float:
    """What this machine gives two processes: a pure-Python CPU loop run alone, then twice at
    once. 1.0 = two cores' worth; shared or hyper-threaded vCPUs give less, and no program can
    scale better than this here."""
    from concurrent.futures import ProcessPoolExecutor

    alone = _spin(n)
    with ProcessPoolExecutor(2) as pool:
        pair = list(pool.map(_spin, [n, n]))
    return alone / max(pair)


ENGINES = {
    "local, 1 worker": ["--workers", "1"],
    "local, 2 workers": ["--workers", "2"],
    "dask LocalCluster, 2 workers": ["--engine", "dask", "--workers", "2"],
}


def rates(n: int, partition: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        big = generate(tmp / "big.jsonl", n)
        small = generate(tmp / "small.jsonl", partition // 2)
        cfg = tmp / "run.yaml"
        cfg.write_text(f"run:\n  partition_size: {partition}\n", encoding="utf-8")
        base = floor_rate(big)
        ceiling = machine_parallel_efficiency()
        print(f"corpus: {n} conversations × 20 turns; partitions of {partition}; {os.cpu_count()} cores")
        print(f"machine: two CPU-bound processes at once each run at {ceiling:.2f} × the speed of one alone "
              f"(the ceiling for any 2-worker scaling efficiency here)")
        print(f"floor (read + tokenize, 1 process): {base:8.0f} conversations/s")
        got = {}
        for label, flags in ENGINES.items():
            t_small, _ = timed_run(small, tmp / "o-small", "--config", str(cfg), *flags)
            t_big, manifest = timed_run(big, tmp / "o-big", "--config", str(cfg), *flags)
            rate = (n - partition // 2) / (t_big - t_small)
            got[label] = rate
            print(f"{label:<30}: {rate:8.0f} conversations/s  (wall {t_big:6.1f} s, start-up ≈ {t_small:4.1f} s; "
                  f"{rate / base:.2f} × floor; counts add up: {manifest['counts_add_up']})")
        one, two, dask = got["local, 1 worker"], got["local, 2 workers"], got["dask LocalCluster, 2 workers"]
        print(f"scaling efficiency (2 workers ÷ 2 × 1 worker): {two / (2 * one):.2f}  "
              f"(machine ceiling {ceiling:.2f}; pipeline ÷ ceiling {two / (2 * one) / ceiling:.2f})")
        print(f"Dask overhead vs local processes:              {1 - dask / two:+.1%}")


def memory(sizes: list[int], partition: int) -> None:
    """Each size in its own child process tree, so ru_maxrss of the children is that run's peak."""
    with tempfile.TemporaryDirectory(dir=os.environ.get("ZHIJIAN_BENCH_DIR")) as tmp:
        tmp = Path(tmp)
        for n in sizes:
            corpus = generate(tmp / f"c{n}.jsonl", n)
            size_gb = corpus.stat().st_size / 1e9
            code = (
                "import resource, subprocess, sys, time; t=time.perf_counter();"
                f"p=subprocess.run([sys.executable,'-m','pipeline.cli','inspect',{str(corpus)!r},'--out',{str(tmp / f'o{n}')!r},'--quiet','--restart','--workers','2']);"
                "w=time.perf_counter()-t; u=resource.getrusage(resource.RUSAGE_CHILDREN);"
                "print(f'{w:.1f} {u.ru_maxrss} {u.ru_utime+u.ru_stime:.1f}')"
            )
            out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
            wall, maxrss_kb, cpu = out.stdout.split()
            # a fast run that rejected its input would be no result: say what the manifest counted
            manifest = json.loads((tmp / f"o{n}" / "manifest.json").read_text(encoding="utf-8"))
            counts = manifest["counts"]
            # CPU seconds (all processes) say what the run cost apart from what else the machine was doing
            print(f"{n:>9} conversations ({size_gb:.2f} GB): wall {float(wall):7.1f} s = {n / float(wall):6.0f} conv/s; "
                  f"CPU {float(cpu):8.1f} s = {n / float(cpu):5.0f} conv per CPU-second; "
                  f"peak RSS of the largest process {int(maxrss_kb) / 1024:6.0f} MB; "
                  f"{manifest['workers']} workers, inspected {counts['inspected']:,}, rejected {counts['rejected']:,}, "
                  f"counts add up: {manifest['counts_add_up']}; findings {counts['findings']:,}", flush=True)
            shutil.rmtree(tmp / f"o{n}")
            corpus.unlink()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=20000)
    ap.add_argument("--partition", type=int, default=2000)
    ap.add_argument("--memory", help="comma-separated sizes, e.g. 10000,1000000")
    a = ap.parse_args()
    if a.memory:
        memory([int(x) for x in a.memory.split(",")], a.partition)
    else:
        rates(a.n, a.partition)
    _ = resource  # the module is used inside the child processes' code
