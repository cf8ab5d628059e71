"""The run: inputs → partitions → an engine (inline, local processes, Dask) → the writers and the
manifest. Per conversation the work is :class:`pipeline.run.Inspector`'s; the engines
(:mod:`pipeline.engines`) run it per partition. This module imports both; neither imports it.
"""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path
from typing import Any

from . import __version__
from .run import RunSummary

GZIP_TEXT_RATIO = 5  # a .gz input holds about this many times its size in text (for the worker estimate only)


def auto_workers(cores: int, inputs: list[dict[str, Any]], min_bytes_per_worker: int) -> tuple[int, str | None]:
    """How many local workers a run of ``inputs`` is worth: each beyond the first needs
    ``min_bytes_per_worker`` of input to pay for its start-up (loading segmenter, spaCy, lexicons
    and models), so the 241 samples run in one process. Returns the number and, when it is fewer
    than ``cores``, why (the manifest and the log say it)."""
    size = sum(i["bytes"] * (GZIP_TEXT_RATIO if str(i["path"]).endswith(".gz") else 1) for i in inputs)
    worth = max(1, size // max(1, min_bytes_per_worker))
    if worth >= cores:
        return cores, None
    return int(worth), (f"{int(worth)} of {cores} workers: {size / 1e6:.1f} MB of input; each further worker needs "
                        f"{min_bytes_per_worker / 1e6:g} MB to pay for its start-up (--workers N to choose)")


def run_inspection(
    inputs: list[str],
    out_dir: str | Path,
    config: dict,
    mask: bool = True,
    table_columns: dict | None = None,
    progress=None,
    workers: int | None = None,
    engine: str | None = None,
    scheduler: str | None = None,
    restart: bool = False,
    merge_jsonl: bool | None = None,
) -> dict[str, Any]:
    """Inspect ``inputs`` into ``out_dir`` partition by partition; return the manifest.

    Resumable: the manifest (rewritten atomically after every partition) lists the partitions
    done; re-running the same command on the same ``out_dir`` skips them. A directory holding a
    different run (other inputs, configuration or partition size) is refused unless ``restart``.
    """
    from .engines import _inspector_for, make_engine
    from .ingest import expand_inputs
    from .io.writers import RunLayout, describe_inputs, drop_duplicates, partition_stats
    from .partition import plan_partitions

    run_cfg = config["run"]
    auto = workers is None and not run_cfg["workers"]
    workers = workers if workers is not None else (run_cfg["workers"] or os.cpu_count() or 1)
    engine = engine or run_cfg["engine"]
    merge_jsonl = run_cfg["merge_jsonl"] if merge_jsonl is None else merge_jsonl
    started = time.time()
    paths = expand_inputs(inputs)
    for p in paths:  # usage errors (unknown format, unreadable file, missing columns) before any work
        _preflight(p, table_columns)
    loading = time.perf_counter()
    versions = _inspector_for(config, mask, warm=False).versions  # a bad rule file fails here, not in a worker
    startup_s = time.perf_counter() - loading  # loading lexicons, segmenter, spaCy and models in this process
    identity = {
        "inputs": describe_inputs(paths),
        "config": config,
        "mask": mask,
        "table_columns": table_columns,
        "zhijian": __version__,
    }
    layout = RunLayout(out_dir)
    previous = layout.read_manifest()
    done: dict[str, dict] = {}
    if previous and not restart:
        if {k: previous.get(k) for k in identity} != _jsonable(identity):
            raise RunDirError(
                f"{layout.out} holds a different run (other inputs, configuration or version); "
                "use another --out, or --restart to discard it"
            )
        done = {p["partition"]: p for p in previous.get("partitions", []) if layout.partition_complete(p["partition"])}
    elif previous and restart:
        import shutil

        for d in (layout.parts, layout.results_pq, layout.findings_pq):
            shutil.rmtree(d, ignore_errors=True)
    layout.create()
    partitions: dict[str, dict] = dict(done)
    manifest = {**_jsonable(identity), "status": "running", "started_at": _iso(started), "engine": engine,
                "workers": workers, "partitions": sorted(partitions.values(), key=lambda p: p["partition"])}
    layout.write_manifest(manifest)

    names: list[str] = []

    def todo():
        for spec in plan_partitions(paths, run_cfg["partition_size"]):
            names.append(spec.name)
            if spec.name in done:
                if progress:
                    progress(done[spec.name]["counts"]["read"], resumed=True)
                continue
            yield spec

    specs = todo()
    head = list(itertools.islice(specs, 2))
    if engine == "local" and len(head) < 2:
        workers = 1  # one partition to do: starting worker processes would only cost time
    elif engine == "local" and auto:
        workers, manifest["workers_note"] = auto_workers(workers, identity["inputs"], int(run_cfg["min_input_bytes_per_worker"]))
    manifest["workers"] = workers
    run = make_engine(engine, workers, scheduler)
    skipped = len(done)
    for spec, stats in run(itertools.chain(head, specs), str(layout.out), config, mask, table_columns):
        partitions[spec.name] = {**spec.describe(), "counts": stats}
        manifest["partitions"] = sorted(partitions.values(), key=lambda p: p["partition"])
        layout.write_manifest(manifest)  # the partition is recorded as done only once its files are in place
        if progress:
            progress(stats["read"])

    # run-level steps: duplicates between partitions, the merged JSONL files, the final counts
    added = drop_duplicates(layout, names)
    for name in added:
        partitions[name]["counts"] = {**partitions[name]["counts"], **partition_stats(layout, name)}
    layout.merge_jsonl(names, "rejects")
    if merge_jsonl:
        layout.merge_jsonl(names, "results")
    finished = time.time()
    totals = RunSummary()
    for p in partitions.values():
        totals.add(p["counts"])
    counts = totals.as_dict()
    manifest.update(
        status="complete",
        partitions=[partitions[n] for n in names],
        counts=counts,
        counts_add_up=counts["read"] == counts["inspected"] + counts["rejected"],
        versions=versions,
        finished_at=_iso(finished),
        elapsed_s=round(finished - started, 3),
        conversations_per_s=round(counts["read"] / (finished - started), 1) if finished > started else None,
        # start-up apart: a small run is mostly start-up, and conversations/s alone would say the pipeline is slow
        startup_s=round(startup_s, 3),
        work_conversations_per_s=(round(counts["read"] / (finished - started - startup_s), 1)
                                  if finished - started > startup_s else None),
        resumed_partitions=skipped,
        outputs={
            "results.jsonl": merge_jsonl,
            "rejects.jsonl": True,
            "results.parquet/": "one part-NNNNNN.parquet per partition",
            "findings.parquet/": "one part-NNNNNN.parquet per partition",
            "parts/": "per-partition JSONL",
        },
    )
    layout.write_manifest(manifest)
    return manifest


class RunDirError(ValueError):
    """The output directory holds another run."""


def _preflight(path: Path, table_columns: dict | None) -> None:
    from .ingest import TableColumns, _preflight_jsonl, _preflight_table, detect_format

    fmt, gz = detect_format(path)
    if fmt == "jsonl":
        _preflight_jsonl(path, gz)
    else:
        _preflight_table(path, fmt, gz, TableColumns(table_columns))


def _jsonable(value):
    import orjson

    return orjson.loads(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS))


def _iso(ts: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ts, timezone.utc).astimezone().isoformat(timespec="seconds")
