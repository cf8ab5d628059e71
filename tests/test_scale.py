"""Partitioned runs: parallel engines give identical outputs, a killed run resumes with nothing
lost and nothing duplicated, duplicates across partitions are caught, the output directories read
as one dataset, and the nightly command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.cli import EXIT_OK, EXIT_REJECTS, EXIT_USAGE, main
from pipeline.config import load_config

REPO = Path(__file__).resolve().parent.parent


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """~400 conversations: the samples twice over with fresh ids, plus the hostile lines."""
    d = tmp_path_factory.mktemp("corpus")
    lines = []
    for copy in range(2):
        for line in (REPO / "data/samples/conversations.jsonl").read_text(encoding="utf-8").splitlines()[:200]:
            rec = json.loads(line)
            rec["id"] = f"{rec['id']}-{copy}"
            lines.append(json.dumps(rec, ensure_ascii=False).encode())
    lines += (REPO / "data/samples/hostile.jsonl").read_bytes().splitlines()
    path = d / "corpus.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.fixture(scope="module")
def small_partitions(tmp_path_factory) -> Path:
    cfg = tmp_path_factory.mktemp("cfg") / "run.yaml"
    cfg.write_text("run:\n  partition_size: 40\n", encoding="utf-8")
    return cfg


@pytest.fixture(scope="module")
def reference(tmp_path_factory, corpus, small_partitions) -> Path:
    """The corpus inspected in one process, partition after partition."""
    out = tmp_path_factory.mktemp("ref")
    assert main(["inspect", str(corpus), "--out", str(out), "--quiet", "--workers", "1", "--config", str(small_partitions)]) == EXIT_REJECTS
    return out


def same_outputs(a: Path, b: Path) -> None:
    assert (a / "results.jsonl").read_bytes() == (b / "results.jsonl").read_bytes()
    assert (a / "rejects.jsonl").read_bytes() == (b / "rejects.jsonl").read_bytes()
    for name in ("results.parquet", "findings.parquet"):
        assert pq.read_table(a / name).equals(pq.read_table(b / name))


def test_partitioned_run_counts_add_up_and_equal_one_partition(reference, corpus, tmp_path):
    manifest = json.loads((reference / "manifest.json").read_text())
    assert manifest["status"] == "complete" and len(manifest["partitions"]) == 11
    assert manifest["counts"]["read"] == manifest["counts"]["inspected"] + manifest["counts"]["rejected"]
    assert manifest["counts"]["read"] == sum(1 for x in corpus.read_bytes().split(b"\n") if x.strip())
    one = tmp_path / "one"
    main(["inspect", str(corpus), "--out", str(one), "--quiet", "--workers", "1"])  # a single partition
    same_outputs(reference, one)


def test_local_worker_processes_give_identical_outputs(reference, corpus, small_partitions, tmp_path):
    out = tmp_path / "local2"
    assert main(["inspect", str(corpus), "--out", str(out), "--quiet", "--workers", "2", "--config", str(small_partitions)]) == EXIT_REJECTS
    same_outputs(reference, out)
    pids = {p["counts"]["pid"] for p in json.loads((out / "manifest.json").read_text())["partitions"]}
    # inspected in worker processes (one may take every partition if the other starts slowly)
    assert pids and os.getpid() not in pids


def test_dask_engine_gives_identical_outputs(reference, corpus, small_partitions, tmp_path):
    pytest.importorskip("dask.distributed")
    out = tmp_path / "dask"
    assert main(["inspect", str(corpus), "--out", str(out), "--quiet", "--engine", "dask", "--workers", "2", "--config", str(small_partitions)]) == EXIT_REJECTS
    same_outputs(reference, out)


def test_dask_worker_killed_mid_run_loses_nothing(reference, corpus, small_partitions, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    from pipeline.config import load_config
    from pipeline.runner import run_inspection

    config = load_config(small_partitions)
    out = tmp_path / "dask-kill"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            pids = list(client.run(os.getpid).values())
            result: dict = {}
            thread = threading.Thread(target=lambda: result.update(run_inspection([str(corpus)], out, config, engine="dask", scheduler=cluster.scheduler_address, workers=2)))
            thread.start()
            # kill a worker once some partitions are done and others are still to do
            deadline = time.time() + 240
            while time.time() < deadline:
                done = len(json.loads((out / "manifest.json").read_text()).get("partitions", [])) if (out / "manifest.json").exists() else 0
                if done >= 2:
                    break
                time.sleep(0.2)
            os.kill(pids[0], signal.SIGKILL)
            thread.join(timeout=600)
    assert result["status"] == "complete"
    same_outputs(reference, out)


def test_killed_run_resumes_with_nothing_lost_or_duplicated(reference, corpus, small_partitions, tmp_path):
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "pipeline.cli", "inspect", str(corpus), "--out", str(out), "--quiet", "--workers", "2", "--config", str(small_partitions)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    done = 0
    while time.time() < deadline and proc.poll() is None:
        try:
            done = len(json.loads((out / "manifest.json").read_text())["partitions"])
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            done = 0
        if done >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(0.5)  # the workers die with their parent (PR_SET_PDEATHSIG)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "running" and 3 <= len(manifest["partitions"]) < 11
    assert not (out / "results.jsonl").exists()
    rerun = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    assert rerun.returncode == EXIT_REJECTS, rerun.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["resumed_partitions"] >= 3
    same_outputs(reference, out)
    ids = [r["id"] for r in read_jsonl(out / "results.jsonl")]
    assert len(ids) == len(set(ids))


def test_duplicates_across_partitions_are_rejected_once(tmp_path, small_partitions):
    lines = (REPO / "data/samples/conversations.jsonl").read_text(encoding="utf-8").splitlines()[:50]
    path = tmp_path / "dups.jsonl"
    path.write_text("\n".join(lines + lines[:5]) + "\n", encoding="utf-8")  # the last five repeat the first five
    out_many, out_one = tmp_path / "many", tmp_path / "one"
    assert main(["inspect", str(path), "--out", str(out_many), "--quiet", "--workers", "1", "--config", str(small_partitions)]) == EXIT_REJECTS
    assert main(["inspect", str(path), "--out", str(out_one), "--quiet", "--workers", "1"]) == EXIT_REJECTS
    same_outputs(out_many, out_one)
    rejects = read_jsonl(out_many / "rejects.jsonl")
    assert [r["reason"] for r in rejects] == ["id.duplicate"] * 5 and [r["line"] for r in rejects] == list(range(51, 56))
    assert [r["detail"].split("(")[1].split(")")[0].rsplit(" ", 2)[1:] for r in rejects] == [["line", str(i)] for i in range(1, 6)]
    counts = json.loads((out_many / "manifest.json").read_text())["counts"]
    assert (counts["read"], counts["inspected"], counts["rejected"]) == (55, 50, 5)


def test_outputs_read_as_one_dataset(reference):
    import duckdb
    import pandas as pd
    import pyarrow.dataset as ds

    n = json.loads((reference / "manifest.json").read_text())["counts"]["inspected"]
    assert len(pd.read_parquet(reference / "results.parquet")) == n
    assert ds.dataset(reference / "results.parquet").count_rows() == n
    con = duckdb.connect()
    assert con.execute(f"select count(*) from read_parquet('{reference}/results.parquet/*.parquet')").fetchone()[0] == n
    top = con.execute(f"select rule, count(*) from read_parquet('{reference}/findings.parquet/*.parquet') group by rule order by 2 desc").fetchall()
    assert top and top[0][1] > 0


def test_another_run_in_the_same_directory_is_refused(reference, corpus, tmp_path, capsys):
    assert main(["inspect", str(REPO / "data/samples/turns.csv"), "--out", str(reference), "--quiet"]) == EXIT_USAGE
    assert "holds a different run" in capsys.readouterr().err
    out = tmp_path / "again"
    assert main(["inspect", str(REPO / "data/samples/turns.csv"), "--out", str(out), "--quiet"]) == EXIT_OK
    assert main(["inspect", str(corpus), "--out", str(out), "--quiet", "--restart", "--workers", "1"]) == EXIT_REJECTS


def test_no_merge_keeps_partition_files_only(corpus, small_partitions, tmp_path):
    out = tmp_path / "nomerge"
    main(["inspect", str(corpus), "--out", str(out), "--quiet", "--workers", "1", "--no-merge-jsonl", "--config", str(small_partitions)])
    assert not (out / "results.jsonl").exists() and (out / "rejects.jsonl").exists()
    assert len(list((out / "parts").glob("results-*.jsonl"))) == 11


def test_gzip_input_is_partitioned_too(corpus, small_partitions, reference, tmp_path):
    import gzip

    gz = tmp_path / "corpus.jsonl.gz"
    gz.write_bytes(gzip.compress(corpus.read_bytes()))
    out = tmp_path / "gz"
    main(["inspect", str(gz), "--out", str(out), "--quiet", "--workers", "1", "--config", str(small_partitions)])
    assert len(json.loads((out / "manifest.json").read_text())["partitions"]) == 11
    assert [r["id"] for r in read_jsonl(out / "results.jsonl")] == [r["id"] for r in read_jsonl(reference / "results.jsonl")]


def test_nightly_reads_the_day_and_writes_its_run(tmp_path, capsys):
    day = tmp_path / "incoming" / "2026-11-22"
    day.mkdir(parents=True)
    (day / "a.jsonl").write_bytes((REPO / "data/samples/conversations.jsonl").read_bytes())
    cfg = tmp_path / "nightly.yaml"
    cfg.write_text(f"nightly:\n  incoming: '{tmp_path}/incoming/{{date}}/*.jsonl'\n  runs: '{tmp_path}/runs/{{date}}'\n", encoding="utf-8")
    assert main(["nightly", "--date", "2026-11-22", "--config", str(cfg), "--quiet", "--workers", "1"]) == EXIT_OK
    assert json.loads((tmp_path / "runs/2026-11-22/manifest.json").read_text())["status"] == "complete"
    assert main(["nightly", "--date", "2026-11-23", "--config", str(cfg), "--quiet"]) == EXIT_USAGE
    assert main(["nightly", "--date", "22/11/2026", "--config", str(cfg), "--quiet"]) == EXIT_USAGE


def test_progress_lines_when_not_a_terminal(monkeypatch):
    import io

    from pipeline import progress as progress_mod

    monkeypatch.setattr(progress_mod, "LOG_EVERY_S", 0.0)
    stream = io.StringIO()
    p = progress_mod.Progress(total=100, stream=stream)
    p(40, resumed=True)
    time.sleep(0.01)
    p(20)
    p.close()
    lines = stream.getvalue().splitlines()
    assert lines and "60/100 records (40 resumed)" in lines[-1] and "conv/s" in lines[-1] and "ETA" in lines[-1]


@pytest.mark.parametrize("settle", [True, False])
def test_a_worker_takes_what_it_loaded_out_of_the_gcs_walks(settle, tmp_path):
    """After loading and warming its inspector, a worker freezes the loaded objects (``run.gc_freeze``), so
    the cyclic GC's full collections stop walking the lexicons, segmenter, spaCy and models, and collects its
    young generation less often (``run.gc_young_every``); a second partition of the same configuration
    freezes nothing more. Switched off, the collector is left as Python sets it. Run in a fresh process:
    the collector's settings are per process."""
    cfg = tmp_path / "gc.yaml"
    cfg.write_text("run:\n  gc_freeze: false\n  gc_young_every: 0\n" if not settle else "run: {}\n", encoding="utf-8")
    code = (
        "import gc; from pipeline.config import load_config; from pipeline.engines import _inspector_for\n"
        f"config = load_config({str(cfg)!r}); default = gc.get_threshold()[0]\n"
        "_inspector_for(config, True); first = gc.get_freeze_count()\n"
        "_inspector_for(config, True); print(default, first, gc.get_freeze_count(), gc.get_threshold()[0])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parent.parent)
    default, first, second, young = map(int, out.stdout.split())
    assert first == second
    if settle:
        assert first > 50_000  # ~106,000 objects today
        assert young == load_config()["run"]["gc_young_every"] > default
    else:
        assert first == 0 and young == default
