"""Engines: where partitions are inspected. The same function, :func:`inspect_partition`, runs
in-process (one worker), in local worker processes (``--workers N``), or on a Dask cluster
(``--engine dask``). Each worker process loads the inspector (lexicons, segmenter, spaCy, models)
once and keeps it for every partition it is given.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .partition import PartitionSpec, read_partition

_INSPECTORS: dict[str, Any] = {}  # per process: configuration key → Inspector


def _inspector_for(config: dict, mask: bool, warm: bool = True):
    """This process's inspector for ``config`` (loaded once). The main process calls it first
    (``warm=False``) so that a bad lexicon, rule or model file fails at start-up, not in a worker."""
    import orjson

    from .run import Inspector

    key = orjson.dumps([config, mask], option=orjson.OPT_SORT_KEYS).decode()
    fresh = key not in _INSPECTORS
    if fresh:
        _INSPECTORS.clear()  # one configuration per worker at a time
        _INSPECTORS[key] = Inspector(config, mask=mask)
    if warm:
        _INSPECTORS[key].warm_up()
        if fresh:
            settle_gc(config["run"])
    return _INSPECTORS[key]


def settle_gc(run: dict) -> None:
    """Set the cyclic garbage collector for a worker that has loaded its inspector (``run.gc_*``).

    ``gc_freeze``: move what is loaded now (lexicons, segmenter, spaCy, models: ~100,000 objects that live as long
    as the process) out of the collector's reach — each full collection walked all of them. ``gc_young_every``:
    allocations between young-generation collections (Python's default is 700; the stages allocate and free
    many small objects per turn, nearly all freed by reference counting before a collection would find them).
    Together they took the collector from ~12 % of a worker's time to ~1 % (docs/PERFORMANCE.md, "Eighth pass").
    Garbage is collected before freezing, so nothing already unreachable is kept."""
    import gc

    if run["gc_freeze"]:
        gc.collect()
        gc.freeze()
    young = int(run["gc_young_every"] or 0)
    if young > 0:
        gc.set_threshold(young, *gc.get_threshold()[1:])


def inspect_partition(spec: PartitionSpec, out_dir: str, config: dict, mask: bool, table_columns: dict | None) -> dict:
    """Inspect one partition into its own files (atomically); return its counts."""
    from .io.writers import PartitionWriter, RunLayout
    from .run import RunSummary, inspect_records

    inspector = _inspector_for(config, mask)
    summary = RunSummary()
    started = time.perf_counter()
    with PartitionWriter(RunLayout(out_dir), spec.name, config["output"]["parquet_batch_rows"]) as writer:
        inspect_records(inspector, read_partition(spec, config, table_columns), writer.write_result, writer.write_reject, summary)
    stats = summary.as_dict()
    stats["seconds"] = round(time.perf_counter() - started, 3)
    stats["pid"] = os.getpid()
    stats["versions"] = inspector.versions
    return stats


def _die_with_parent() -> None:
    """Local workers end when the main process does, even on SIGKILL (Linux), so a killed run
    leaves no orphans writing into the output directory."""
    try:
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: workers still exit when their queue closes
        pass


def _local_worker_init(config: dict, mask: bool) -> None:
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    _inspector_for(config, mask)


Task = tuple[PartitionSpec, dict]  # (spec, stats)


def run_inline(specs: Iterable[PartitionSpec], out_dir: str, config: dict, mask: bool, table_columns) -> Iterator[Task]:
    for spec in specs:
        yield spec, inspect_partition(spec, out_dir, config, mask, table_columns)


def run_local(specs: Iterable[PartitionSpec], out_dir: str, config: dict, mask: bool, table_columns, workers: int) -> Iterator[Task]:
    """Worker processes, at most ``2 × workers`` partitions in flight (bounded memory)."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    # spawn, not fork: the main process may hold library thread pools (pyarrow) a fork would copy
    # mid-state; each worker loads its own inspector anyway
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_local_worker_init, initargs=(config, mask)) as pool:
        pending: dict[Any, PartitionSpec] = {}
        it = iter(specs)
        exhausted = False
        while pending or not exhausted:
            while not exhausted and len(pending) < 2 * workers:
                spec = next(it, None)
                if spec is None:
                    exhausted = True
                    break
                pending[pool.submit(inspect_partition, spec, out_dir, config, mask, table_columns)] = spec
            if not pending:
                break
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                yield pending.pop(fut), fut.result()


def run_dask(specs: Iterable[PartitionSpec], out_dir: str, config: dict, mask: bool, table_columns, workers: int,
             scheduler: str | None = None, retries: int = 3) -> Iterator[Task]:
    """On Dask distributed: ``scheduler`` (tcp://host:port) or a LocalCluster of ``workers``
    single-threaded worker processes. A task whose worker dies is rerun elsewhere (``retries``);
    its partition is rewritten whole, so nothing is lost or duplicated. The output directory
    must be shared storage reachable from every worker."""
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:  # pragma: no cover — the optional extra
        from .config import ConfigError

        raise ConfigError("--engine dask needs Dask: pip install 'zhijian[dask]'") from None
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        pending = {}
        it = iter(specs)
        exhausted = False
        window = 2 * max(1, len(client.scheduler_info()["workers"]) or workers)
        ac = as_completed()
        while pending or not exhausted:
            while not exhausted and len(pending) < window:
                spec = next(it, None)
                if spec is None:
                    exhausted = True
                    break
                fut = client.submit(inspect_partition, spec, out_dir, config, mask, table_columns,
                                    key=f"zhijian-partition-{spec.name}-{uuid.uuid4().hex[:8]}", retries=retries)
                pending[fut.key] = spec
                ac.add(fut)
            if not pending:
                break
            fut = next(ac)
            yield pending.pop(fut.key), fut.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def make_engine(name: str, workers: int, scheduler: str | None) -> Callable[..., Iterator[Task]]:
    if name == "dask":
        return lambda specs, *a: run_dask(specs, *a, workers=workers, scheduler=scheduler)
    if workers <= 1:
        return run_inline
    return lambda specs, *a: run_local(specs, *a, workers=workers)
