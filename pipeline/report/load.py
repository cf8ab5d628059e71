"""Read inspection runs into pandas tables.

A RUN_DIR is what ``zhijian inspect --out`` writes: ``results.parquet`` and ``findings.parquet``
(each a file, or a directory of ``part-*.parquet`` files), ``manifest.json`` and, when reviewers
have judged findings, ``verdicts.parquet`` or ``verdicts.jsonl`` (format: docs/REPORTS.md).
Only the columns the report uses are read; a column an older run lacks is added as null. Runs that
overlap (a re-run given next to its original) are deduplicated by :mod:`.dedupe`, the latest run
winning, and each run's read / rejected counts are reduced by what it lost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from .dedupe import REJECT_COLUMNS, dedupe, recency_ranks, run_time
from .keys import arrow_text, string_codes

RESULT_COLUMNS = [
    "id", "score", "grade", "review_needed", "findings", "deductions", "fatal", "channel", "started_at",
    "agent_id", "agent_name", "agent_team", "rating_score", "rating_comment", "turns",
    "first_response_s", "avg_response_s", "max_response_s", "issue_type", "issue_type_confidence",
    "sentiment", "sentiment_confidence", "customer_end", "questions_json",
    # calls only (pipeline/call_timing.py); null for chats and for runs made before issue 18
    "interruptions", "silence_total_s", "silence_max_s", "agent_talk_share", "agent_chars_per_s",
    "customer_start",  # not written yet: the customer's first-turn sentiment (else read from results.jsonl)
    # written by `zhijian inspect` since issue 13 (an older run lacks them: the seed KPIs then ask the workbench, else 无数据):
    "customer_id",  # the input's customer.id, masked when it is a phone / e-mail … — FCR (repeat contacts of the same customer)
    "duration_s",  # handling time: last turn's end − first turn's ts (pipeline.schema.handling_time_s) — AHT
]
FINDING_COLUMNS = ["conversation_id", "rule", "category", "severity", "points", "item", "evidence", "entry"]
VERDICT_COLUMNS = ["conversation_id", "rule", "verdict", "turn", "start", "reviewer", "reviewed_at", "human_score"]
VERDICT_VALUES = ("confirmed", "rejected", "missed")
_NUMERIC = {"duration_s", "score", "findings", "deductions", "rating_score", "turns", "first_response_s", "avg_response_s",
            "max_response_s", "issue_type_confidence", "sentiment_confidence", "points", "turn", "start", "human_score",
            "interruptions", "silence_total_s", "silence_max_s", "agent_talk_share", "agent_chars_per_s"}
_BOOL = {"review_needed", "fatal"}
#: text the report hands to Arrow itself, never reads as Python strings (3 M mostly distinct ``str`` objects
#: cost more than what is done with them): each conversation's answers JSON (questions.answers_frame), its
#: start time (the day and the hour are cut in Arrow, FCR parses the times) and its customer id (FCR's codes)
_ARROW_TEXT = {"questions_json", "started_at", "customer_id"}
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}")


class ReportInputError(ValueError):
    """A RUN_DIR that can't be read; the message names the path and what is wrong."""


@dataclass
class RunSet:
    results: pd.DataFrame  # one row per conversation (+ ``run``: index into ``runs``; ``day``: YYYY-MM-DD or None)
    findings: pd.DataFrame  # one row per finding (+ ``run``)
    runs: list[dict[str, Any]]  # per RUN_DIR: path, counts (read / inspected / rejected … after dedupe), mask, times, dropped
    verdicts: pd.DataFrame | None = None  # None when no RUN_DIR has a verdicts file
    notes: list[str] = field(default_factory=list)  # what the loader had to decide (duplicates …)
    history: list[dict[str, Any]] = field(default_factory=list)  # purged runs' aggregates.json daily rows (+ "source"): same-period comparison


def _dataset_table(path: Path, wanted: list[str]) -> pd.DataFrame:
    import pyarrow.dataset as ds

    try:
        dataset = ds.dataset(str(path), format="parquet")  # a file or a directory of parts (hidden .partial files ignored)
        present = [c for c in wanted if c in dataset.schema.names]
        table = dataset.to_table(columns=present)
    except Exception as e:  # noqa: BLE001 — a corrupt or foreign file: say which
        raise ReportInputError(f"{path}: cannot read as Parquet ({type(e).__name__}: {e})") from None
    df = table.to_pandas()
    for c in wanted:
        if c not in df.columns:
            df[c] = None
    return df[wanted]


def _coerce(df: pd.DataFrame) -> pd.DataFrame:
    for c in df.columns:
        if c in _NUMERIC:
            df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
        elif c in _BOOL:
            df[c] = df[c].fillna(False).astype(bool)
        elif c not in ("run",) and c not in _ARROW_TEXT:
            df[c] = _strings(df[c])
    return df


def _strings(s: pd.Series) -> pd.Series:
    """A string column as the report's code reads it: Python ``str`` objects, None when missing. From the
    loader's Arrow strings through a dictionary when values repeat (agents, teams, rules, days …), so that
    each distinct value becomes one object: made once instead of 3 M times, and its hash, computed by
    the first group-by, is reused by every later one (issue 13, item 5). Mostly distinct columns (ids,
    times) are converted directly; anything not Arrow-backed as before."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if s.dtype == object or not hasattr(s.array, "__arrow_array__"):
        return s.astype("object").where(s.notna(), None)
    arr = pa.array(s.array)
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    if len(arr) == 0 or pc.count_distinct(arr.slice(0, 10_000)).as_py() * 4 > min(len(arr), 10_000):
        return pd.Series(arr.to_numpy(zero_copy_only=False), index=s.index, dtype=object)
    enc = arr.dictionary_encode()
    lookup = np.append(enc.dictionary.to_numpy(zero_copy_only=False), None)  # index −1 (missing) → None
    return pd.Series(lookup[enc.indices.fill_null(-1).to_numpy(zero_copy_only=False)], index=s.index, dtype=object)


def _day(s: Any) -> str | None:
    return s[:10] if isinstance(s, str) and _DAY.match(s) else None


def _days(started_at: pd.Series) -> pd.Series:
    """The calendar day written in each ``started_at`` ("2026-11-23T20:09:34+08:00" → "2026-11-23"), None when
    there is none — vectorized with pyarrow; values its ASCII regex doesn't match (not strings, or digits
    other than 0–9, which Python's ``\\d`` accepts) go through :func:`_day` one by one, so the result is the same."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        arr = arrow_text(started_at)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # something other than strings: the slow path
        return started_at.map(_day)
    ok = pc.fill_null(pc.match_substring_regex(arr, r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"), False).to_numpy(zero_copy_only=False)
    day = pc.utf8_slice_codeunits(arr, 0, 10).dictionary_encode()  # a few dozen days: one str object each
    lookup = np.append(day.dictionary.to_numpy(zero_copy_only=False), None)
    out = np.where(ok, lookup[day.indices.fill_null(-1).to_numpy(zero_copy_only=False)], None)
    for i in np.flatnonzero(~ok & arr.is_valid().to_numpy(zero_copy_only=False)):
        out[i] = _day(arr[i].as_py())
    return pd.Series(out, index=started_at.index)  # dtype inferred as map() infers it


def _customer_start_from_jsonl(path: Path, ids: set[str]) -> dict[str, str | None]:
    """The first customer turn's sentiment label per conversation, from ``results.jsonl``."""
    out: dict[str, str | None] = {}
    with open(path, "rb") as fh:
        for line in fh:
            if b'"turn_sentiment":null' in line or not line.strip():
                continue
            rec = orjson.loads(line)
            ts = rec.get("turn_sentiment")
            if rec.get("id") in ids and ts:
                first = ts[0] if isinstance(ts[0], dict) else None
                out[rec["id"]] = first.get("label") if first else None
    return out


def _read_verdicts(run_dir: Path) -> pd.DataFrame | None:
    pq_path, jsonl_path = run_dir / "verdicts.parquet", run_dir / "verdicts.jsonl"
    if pq_path.exists():
        df = _dataset_table(pq_path, VERDICT_COLUMNS)
        where = pq_path
    elif jsonl_path.exists():
        rows = []
        for i, line in enumerate(jsonl_path.read_bytes().splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append(orjson.loads(line))
            except orjson.JSONDecodeError as e:
                raise ReportInputError(f"{jsonl_path}:{i}: not valid JSON ({e})") from None
        df = pd.DataFrame(rows, columns=VERDICT_COLUMNS) if rows else pd.DataFrame(columns=VERDICT_COLUMNS)
        where = jsonl_path
    else:
        return None
    has_rule, has_verdict = df["rule"].notna(), df["verdict"].notna()
    bad = df[
        df["conversation_id"].isna()
        | (has_rule & ~df["verdict"].isin(VERDICT_VALUES))
        | (has_verdict & ~has_rule)
        | (~has_rule & df["human_score"].isna())
    ]
    if len(bad):
        raise ReportInputError(
            f"{where}: {len(bad)} bad verdict row(s): each row needs conversation_id and either rule + verdict "
            f"({' | '.join(VERDICT_VALUES)}) or a human_score (first bad row: {bad.iloc[0].to_dict()})"
        )
    return df


def _read_rejects(run_dir: Path, run_index: int, manifest: dict[str, Any]) -> pd.DataFrame | None:
    """The run's ``rejects.jsonl`` as (run, id, position, reason) — None when it is missing or doesn't
    agree with the manifest's count (then the run's rejects can't be matched against other runs)."""
    path = run_dir / "rejects.jsonl"
    expected = (manifest.get("counts") or {}).get("rejected")
    if not path.exists():
        return None if expected else pd.DataFrame(columns=REJECT_COLUMNS)
    sha = {i.get("path"): i.get("sha256") for i in manifest.get("inputs") or [] if isinstance(i, dict)}
    rows = []
    for line in path.read_bytes().splitlines():
        if not line.strip():
            continue
        try:
            d = orjson.loads(line)
        except orjson.JSONDecodeError:
            return None
        src = d.get("source")
        rid = d.get("id")
        rows.append((run_index, None if rid is None else str(rid), f"{sha.get(src) or src}:{d.get('line')}:{d.get('row')}", d.get("reason")))
    if expected is not None and len(rows) != expected:
        return None
    return pd.DataFrame(rows, columns=REJECT_COLUMNS)


def load_runs(paths: list[str | Path]) -> RunSet:
    """Read RUN_DIRs. A conversation id found in several runs is kept from the latest run that holds
    it (by the manifests' finished_at / started_at; a re-run replaces the earlier one) — its result,
    findings and rejects alike — and the report says so (:mod:`.dedupe`)."""
    results, findings, verdicts, runs, notes, rejects, unmatched = [], [], [], [], [], [], []
    history: list[dict[str, Any]] = []
    purged: list[Path] = []
    seen: set[Path] = set()
    for i, p in enumerate(paths):
        run_dir = Path(p)
        if not run_dir.is_dir():
            raise ReportInputError(f"{run_dir}: not a directory (expected a RUN_DIR written by `zhijian inspect --out`)")
        if run_dir.resolve() in seen:
            notes.append(f"{run_dir} 给出了两次,只读一次")
            continue
        seen.add(run_dir.resolve())
        if not (run_dir / "results.parquet").exists():
            if (run_dir / "aggregates.json").exists():
                history += _history_rows(run_dir)
                purged.append(run_dir)
                continue
            raise ReportInputError(f"{run_dir}: no results.parquet (is this a finished `zhijian inspect` output?)")
        manifest: dict[str, Any] = {}
        if (run_dir / "manifest.json").exists():
            try:
                manifest = orjson.loads((run_dir / "manifest.json").read_bytes())
            except orjson.JSONDecodeError as e:
                raise ReportInputError(f"{run_dir / 'manifest.json'}: not valid JSON ({e})") from None
        else:
            notes.append(f"{run_dir}:没有 manifest.json,这次运行的读入 / 拒收数未知")
        run_index = len(runs)
        r = _dataset_table(run_dir / "results.parquet", RESULT_COLUMNS)
        r["run"] = run_index
        if r["customer_start"].isna().all() and r["sentiment"].notna().any() and (run_dir / "results.jsonl").exists():
            starts = _customer_start_from_jsonl(run_dir / "results.jsonl", set(r["id"]))
            r["customer_start"] = r["id"].map(starts)
        results.append(r)
        if (run_dir / "findings.parquet").exists():
            f = _dataset_table(run_dir / "findings.parquet", FINDING_COLUMNS)
        else:
            f = pd.DataFrame(columns=FINDING_COLUMNS)
        f["run"] = run_index
        findings.append(f)
        v = _read_verdicts(run_dir)
        if v is not None:
            v["run"] = run_index
            verdicts.append(v)
        rj = _read_rejects(run_dir, run_index, manifest)
        if rj is None:
            unmatched.append(run_index)
        else:
            rejects.append(rj)
        counts = manifest.get("counts") or {}
        runs.append({
            "path": str(run_dir),
            "read": counts.get("read"),
            "inspected": counts.get("inspected", len(r)),
            "rejected": counts.get("rejected"),
            "rejects_by_reason": counts.get("rejects_by_reason") or {},
            "mask": manifest.get("mask"),
            "started_at": manifest.get("started_at"),
            "finished_at": manifest.get("finished_at"),
            "time": run_time(manifest),
            "versions": manifest.get("versions") or {},
            "has_verdicts": v is not None,
        })
    if not runs and purged:
        raise ReportInputError(f"{purged[0]}: its conversations were deleted by `zhijian purge` (retention); only "
                               "manifest.json and aggregates.json (daily totals) remain — a purged run only serves as history "
                               "(同期对比) next to runs that still have their results")
    if not runs:
        raise ReportInputError("no RUN_DIR to report on")
    if purged:
        notes.append(f"{len(purged)} 个运行已按保留期清除会话(zhijian purge),只读其 aggregates.json 的每日汇总,用于同期对比:"
                     + "、".join(str(p) for p in purged[:5]) + (" …" if len(purged) > 5 else ""))
    res = pd.concat(results, ignore_index=True)
    fnd = pd.concat(findings, ignore_index=True) if findings else pd.DataFrame(columns=FINDING_COLUMNS + ["run"])
    rej = pd.concat(rejects, ignore_index=True) if rejects else pd.DataFrame(columns=REJECT_COLUMNS)
    ranks = recency_ranks([r["time"] for r in runs])
    res, fnd, rej, dropped, dup_notes = dedupe(res, fnd, rej, ranks, [r["path"] for r in runs])
    notes += dup_notes
    for i, run in enumerate(runs):
        d = dropped.get(i)
        run["dropped"] = {"results": d.results if d else 0, "rejects": d.rejects if d else 0}
        if d is None:
            continue
        for key, n in (("inspected", d.results), ("rejected", d.rejects), ("read", d.results + d.rejects)):
            if run[key] is not None:
                run[key] -= n
        run["rejects_by_reason"] = {k: v - d.reject_reasons.get(k, 0) for k, v in run["rejects_by_reason"].items()
                                    if v - d.reject_reasons.get(k, 0) > 0}
    if dropped:
        overlapping = set(dropped) | {w for d in dropped.values() for w in d.by}
        if overlapping & set(unmatched):
            notes.append("以下运行没有可用的 rejects.jsonl(缺失或与 manifest 的拒收数不符),其拒收无法与其他运行比对,按 manifest 计:"
                         + "、".join(runs[i]["path"] for i in sorted(overlapping & set(unmatched))))
        untimed = [runs[i]["path"] for i in sorted(overlapping) if runs[i]["time"] is None]
        if untimed:
            notes.append("以下运行的 manifest 没有运行时间,去重时视为比有时间的运行更早(同类之间按给出顺序):" + "、".join(untimed))
    ver = pd.concat(verdicts, ignore_index=True) if verdicts else None
    conversation_keys(res, fnd, ver)  # on the Arrow strings, before they become Python objects
    res = _coerce(res)
    fnd = _coerce(fnd)
    res["day"] = _days(res["started_at"])
    ver = _coerce(ver) if ver is not None else None
    return RunSet(results=res, findings=fnd, runs=runs, verdicts=ver, notes=notes, history=history)


def conversation_keys(results: pd.DataFrame, findings: pd.DataFrame, verdicts: pd.DataFrame | None = None) -> None:
    """Add ``conv_key``: one int64 per conversation key ``(run, id)`` — results' ``id``, findings' and verdicts'
    ``conversation_id`` — equal exactly when the pairs are equal (a missing id equals nothing). The ids are
    hashed once here (one dictionary over every id column together, in Arrow); the report then matches and
    groups conversations on integers (:mod:`.keys`) instead of hashing 3 M id strings again for each join
    (issue 13, item 5)."""
    tables = [(results, "id"), (findings, "conversation_id")] + ([(verdicts, "conversation_id")] if verdicts is not None else [])
    ids = string_codes([t[c] for t, c in tables])
    runs, run_values = pd.factorize(np.concatenate([t["run"].to_numpy() for t, _ in tables]))
    key = ids.astype(np.int64) * max(len(run_values), 1) + runs
    key = np.where(ids >= 0, key, -1 - np.arange(len(key), dtype=np.int64))  # a missing id: a key of its own
    start = 0
    for t, _c in tables:
        t["conv_key"] = key[start:start + len(t)]
        start += len(t)


def _history_rows(run_dir: Path) -> list[dict[str, Any]]:
    """A purged run's daily KPI rows (``aggregates.json``, pipeline/retention.py: the report's KPI
    table per day with its denominators), each with ``source`` = the folder."""
    path = run_dir / "aggregates.json"
    try:
        agg = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as e:
        raise ReportInputError(f"{path}: not valid JSON ({e})") from None
    rows = []
    for d in agg.get("daily") or []:
        if isinstance(d, dict) and isinstance(d.get("day"), str) and _DAY.match(d["day"]):
            rows.append({k: v for k, v in d.items() if not isinstance(v, dict)} | {"source": str(run_dir)})
    return rows
