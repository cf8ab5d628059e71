"""Start-up: what a small job pays before the first conversation (issue 15).

    python bench/startup.py [--rounds 5]

Measured in fresh processes, ``--rounds`` times each, medians printed:

- the floor: a bare ``python -c pass`` (the interpreter), and importing ``pipeline.run``;
- one process's start-up: building the ``Inspector`` (configuration, lexicons, rules, scorecard,
  segmenter, privacy, models) and warming it up, timed inside the process — the goal is ≤ 2 s warm;
- ``zhijian inspect`` on the 241 bundled samples with default options and with ``--workers 1``
  (wall time) and their ratio — the goal is ≤ 1.5: a small job must not pay for parallelism.

Ratios against the floor measured in the same run are what to compare across machines.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLES = [str(REPO / "data" / "samples" / "conversations.jsonl"), str(REPO / "data" / "samples" / "turns.csv")]
BUILD = ("import time; t = time.perf_counter(); from pipeline.config import load_config; from pipeline.run import Inspector; "
         "Inspector(load_config()).warm_up(); print(time.perf_counter() - t)")


def wall(cmd: list[str], cwd: Path | None = None) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def inside(code: str) -> float:
    """Seconds the process itself reports (its last stdout line)."""
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=REPO).stdout
    return float(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    rows: dict[str, list[float]] = {k: [] for k in ("python -c pass", "import pipeline.run", "Inspector built + warm",
                                                      "inspect samples (default)", "inspect samples --workers 1")}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            rows["python -c pass"].append(wall([sys.executable, "-c", "pass"]))
            rows["import pipeline.run"].append(wall([sys.executable, "-c", "import pipeline.run"], cwd=REPO))
            rows["Inspector built + warm"].append(inside(BUILD))
            for key, extra in (("inspect samples (default)", []), ("inspect samples --workers 1", ["--workers", "1"])):
                out = Path(tmp) / f"{r}-{len(extra)}"
                rows[key].append(wall([sys.executable, "-m", "pipeline.cli", "inspect", *SAMPLES, "--out", str(out), "--quiet", *extra]))
    med = {k: statistics.median(v) for k, v in rows.items()}
    floor = med["python -c pass"]
    print(f"{'what':<30} {'median s':>9} {'× interpreter':>14}")
    for k, v in med.items():
        print(f"{k:<30} {v:>9.2f} {v / floor:>14.1f}")
    print(f"\nstart-up per process (built + warm, in-process): {med['Inspector built + warm']:.2f} s (goal ≤ 2 s)")
    ratio = med["inspect samples (default)"] / med["inspect samples --workers 1"]
    print(f"inspect samples, default ÷ --workers 1: {ratio:.2f} (goal ≤ 1.5)")


if __name__ == "__main__":
    main()
