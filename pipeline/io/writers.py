"""write: stream results into ``results.jsonl``, ``results.parquet``, ``findings.parquet``,
``rejects.jsonl`` and ``manifest.json``.

Files are written under a temporary name and renamed when the run completes, so an output
directory never holds a half-written file under its final name. Parquet is written in row groups
of ``parquet_batch_rows`` so memory stays bounded whatever the input size.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import orjson

from ..schema import ConversationResult, Reject

RESULT_COLUMNS = [
    # (column, arrow type name) — one row per conversation
    ("id", "string"),
    ("score", "float64"),
    ("grade", "string"),
    ("review_needed", "bool"),
    ("review_reasons", "list<string>"),
    ("findings", "int32"),
    ("deductions", "float64"),
    ("fatal", "bool"),
    ("channel", "string"),
    ("started_at", "string"),
    ("agent_id", "string"),
    ("agent_name", "string"),
    ("agent_team", "string"),
    ("customer_id", "string"),  # the input's customer.id (masked when it is a phone / e-mail …): the report's FCR
    ("rating_score", "float64"),
    ("rating_comment", "string"),
    ("turns", "int32"),
    ("first_response_s", "float64"),
    ("avg_response_s", "float64"),
    ("max_response_s", "float64"),
    ("duration_s", "float64"),  # handling time: the last timed turn's end − the first turn's ts (the report's AHT)
    # calls only (null for a chat): pipeline/call_timing.py
    ("interruptions", "int32"),
    ("silence_total_s", "float64"),
    ("silence_max_s", "float64"),
    ("agent_talk_share", "float64"),
    ("agent_chars_per_s", "float64"),
    ("issue_type", "string"),
    ("issue_type_confidence", "float64"),
    ("sentiment", "string"),
    ("sentiment_confidence", "float64"),
    ("customer_end", "string"),
    ("questions_json", "string"),  # the scorecard questions' answers (docs/QUESTIONS.md) as JSON; null when none was answered
    ("warnings", "list<string>"),
    ("source_path", "string"),
    ("source_line", "int64"),
    ("source_row", "int64"),
]
CALL_METRIC_COLUMNS = ("interruptions", "silence_total_s", "silence_max_s", "agent_talk_share", "agent_chars_per_s")
FINDING_COLUMNS = [
    ("conversation_id", "string"),
    ("rule", "string"),
    ("category", "string"),
    ("severity", "string"),
    ("points", "float64"),
    ("item", "string"),
    ("turn", "int32"),
    ("role", "string"),
    ("start", "int32"),
    ("end", "int32"),
    ("evidence", "string"),
    ("message", "string"),
    ("entry", "string"),
    ("value", "float64"),
    ("fatal", "bool"),
    ("agent_id", "string"),
    ("agent_team", "string"),
    ("channel", "string"),
    ("started_at", "string"),
]


def arrow_schema(columns):
    import pyarrow as pa

    types = {
        "string": pa.string(),
        "float64": pa.float64(),
        "bool": pa.bool_(),
        "int32": pa.int32(),
        "int64": pa.int64(),
        "list<string>": pa.list_(pa.string()),
    }
    return pa.schema([(name, types[t]) for name, t in columns])


def _get(d: dict | None, key: str):
    return d.get(key) if isinstance(d, dict) else None


def _questions_json(questions: list[dict[str, Any]] | None) -> str | None:
    if not questions:
        return None
    import orjson

    return orjson.dumps(questions).decode()


def _str_or_none(v):
    return None if v is None else str(v)


def result_row(r: ConversationResult) -> dict[str, Any]:
    m = r.metrics or {}
    rating_score = _get(r.rating, "score")
    return {
        "id": r.id,
        "score": r.score,
        "grade": r.grade,
        "review_needed": r.review["needed"],
        "review_reasons": r.review["reasons"],
        "findings": len(r.findings),
        "deductions": sum(f.points for f in r.findings if f.points < 0),
        "fatal": bool((r.score_detail or {}).get("fatal")),
        "channel": r.channel,
        "started_at": r.started_at,
        "agent_id": _str_or_none(_get(r.agent, "id")),
        "agent_name": _str_or_none(_get(r.agent, "name")),
        "agent_team": _str_or_none(_get(r.agent, "team")),
        "customer_id": r.customer_id,
        "rating_score": float(rating_score) if isinstance(rating_score, (int, float)) and not isinstance(rating_score, bool) else None,
        "rating_comment": _str_or_none(_get(r.rating, "comment")),
        "turns": m.get("turns"),
        "first_response_s": m.get("first_response_s"),
        "avg_response_s": m.get("avg_response_s"),
        "max_response_s": m.get("max_response_s"),
        "duration_s": r.duration_s,
        **{k: m.get(k) for k in CALL_METRIC_COLUMNS},
        "issue_type": _get(r.issue_type, "label"),
        "issue_type_confidence": _get(r.issue_type, "confidence"),
        "sentiment": _get(r.sentiment, "label"),
        "sentiment_confidence": _get(r.sentiment, "confidence"),
        "customer_end": _get(r.sentiment, "customer_end"),
        "questions_json": _questions_json(r.questions),
        "warnings": r.warnings,
        "source_path": _get(r.source, "path"),
        "source_line": _get(r.source, "line"),
        "source_row": _get(r.source, "row"),
    }


def finding_rows(r: ConversationResult) -> list[dict[str, Any]]:
    agent_id = _str_or_none(_get(r.agent, "id"))
    team = _str_or_none(_get(r.agent, "team"))
    rows = []
    for f in r.findings:
        d = f.to_dict()
        d.update(conversation_id=r.id, agent_id=agent_id, agent_team=team, channel=r.channel, started_at=r.started_at)
        rows.append(d)
    return rows


class _ParquetStream:
    """Rows in, row groups out."""

    def __init__(self, path: Path, columns, batch_rows: int):
        import pyarrow.parquet as pq

        self.path = path
        self.schema = arrow_schema(columns)
        self.names = [c for c, _ in columns]
        self.batch_rows = batch_rows
        self.rows: list[dict] = []
        self.writer = pq.ParquetWriter(str(path), self.schema, compression="zstd")

    def add(self, rows: list[dict]) -> None:
        self.rows.extend(rows)
        if len(self.rows) >= self.batch_rows:
            self.flush()

    def flush(self) -> None:
        import pyarrow as pa

        if self.rows:
            cols = {n: [row.get(n) for row in self.rows] for n in self.names}
            self.writer.write_table(pa.Table.from_pydict(cols, schema=self.schema))
            self.rows = []

    def close(self) -> None:
        self.flush()
        self.writer.close()


class PartitionWriter:
    """The output files of one partition, written under temporary names and renamed only when the
    partition completes — a partition's files exist whole or not at all.

    Layout of a run directory (``RunLayout``): the Parquet *directories* ``results.parquet/`` and
    ``findings.parquet/`` hold one ``part-NNNNNN.parquet`` per partition (pandas, pyarrow and DuckDB
    read a directory as one table); ``parts/`` holds each partition's ``results-NNNNNN.jsonl`` and
    ``rejects-NNNNNN.jsonl``, merged in partition order into ``results.jsonl`` and
    ``rejects.jsonl`` when the run completes.
    """

    def __init__(self, layout: "RunLayout", name: str, batch_rows: int = 5000):
        self.layout = layout
        self.name = name
        self.batch_rows = batch_rows
        self.finals = layout.partition_files(name)
        self.temps = [f.with_name(f".{f.name}.partial") for f in self.finals]

    def __enter__(self) -> "PartitionWriter":
        results_jsonl, rejects_jsonl, results_pq, findings_pq = self.temps
        self._results = open(results_jsonl, "wb")
        self._rejects = open(rejects_jsonl, "wb")
        self._results_pq = _ParquetStream(results_pq, RESULT_COLUMNS, self.batch_rows)
        self._findings_pq = _ParquetStream(findings_pq, FINDING_COLUMNS, self.batch_rows * 4)
        return self

    def write_result(self, result: ConversationResult) -> None:
        self._results.write(orjson.dumps(result) + b"\n")  # orjson serializes the dataclasses natively
        self._results_pq.add([result_row(result)])
        if result.findings:
            self._findings_pq.add(finding_rows(result))

    def write_reject(self, reject: Reject) -> None:
        self._rejects.write(orjson.dumps(reject.to_dict()) + b"\n")

    def __exit__(self, exc_type, exc, tb) -> None:
        self._results.close()
        self._rejects.close()
        self._results_pq.close()
        self._findings_pq.close()
        if exc_type is not None:
            for t in self.temps:
                t.unlink(missing_ok=True)
            return
        for t, f in zip(self.temps, self.finals):
            os.replace(t, f)


class RunLayout:
    """Where a run's files live, and the run-level steps over them (manifest, merge)."""

    def __init__(self, out_dir: str | Path):
        self.out = Path(out_dir)
        self.parts = self.out / "parts"
        self.results_pq = self.out / "results.parquet"
        self.findings_pq = self.out / "findings.parquet"
        self.manifest = self.out / "manifest.json"

    def create(self) -> None:
        for d in (self.out, self.parts, self.results_pq, self.findings_pq):
            if d.exists() and not d.is_dir():
                d.unlink()  # a single-file output of an older layout
            d.mkdir(parents=True, exist_ok=True)

    def partition_files(self, name: str) -> list[Path]:
        return [
            self.parts / f"results-{name}.jsonl",
            self.parts / f"rejects-{name}.jsonl",
            self.results_pq / f"part-{name}.parquet",
            self.findings_pq / f"part-{name}.parquet",
        ]

    def partition_complete(self, name: str) -> bool:
        return all(f.exists() for f in self.partition_files(name))

    def read_manifest(self) -> dict | None:
        try:
            return orjson.loads(self.manifest.read_bytes())
        except FileNotFoundError:
            return None

    def write_manifest(self, manifest: dict) -> None:
        write_atomic(self.manifest, orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))

    def merge_jsonl(self, names: list[str], kind: str) -> Path:
        """Concatenate the partitions' ``kind`` files (results / rejects) in partition order."""
        target = self.out / f"{kind}.jsonl"
        tmp = target.with_name(f".{target.name}.partial")
        with open(tmp, "wb") as out:
            for name in names:
                with open(self.parts / f"{kind}-{name}.jsonl", "rb") as fh:
                    shutil.copyfileobj(fh, out, 1 << 20)
        os.replace(tmp, target)
        return target


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def drop_duplicates(layout: RunLayout, names: list[str]) -> dict[str, list[dict]]:
    """Conversations whose id an earlier partition already inspected become ``id.duplicate``
    rejects (the first occurrence wins, as in one sequential pass). Partitions are validated
    independently, so this run-level pass finds the duplicates between them; it rewrites only the
    partitions that hold one and is idempotent. Returns the rejects added, by partition."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    # Only the ids are held, as one Arrow column (~16 bytes a conversation), and repeats are found
    # by sorting it: a dict of Python strings cost ~200 MB at a million conversations, Arrow's
    # hash group-by ~170 MB; the sort needs ~20 MB. Python objects are built for repeated ids alone.
    import numpy as np

    tables = []
    for i, name in enumerate(names):
        ids = pq.read_table(layout.results_pq / f"part-{name}.parquet", columns=["id"]).column("id")
        tables.append(pa.table({"id": ids, "part": pa.array(np.full(len(ids), i, dtype=np.int32)),
                                "row": pa.array(np.arange(len(ids), dtype=np.int32))}))
    if not tables:
        return {}
    every = pa.concat_tables(tables).combine_chunks()
    del tables
    ordered = every.column("id").take(pc.sort_indices(every.column("id")))
    n = len(ordered)
    same_as_previous = pc.equal(ordered.slice(1), ordered.slice(0, max(n - 1, 0)))
    if n < 2 or not pc.any(same_as_previous).as_py():
        return {}
    repeated = pc.unique(ordered.slice(1).filter(same_as_previous))
    del ordered, same_as_previous
    hits = every.filter(pc.is_in(every.column("id"), value_set=repeated)).sort_by([("part", "ascending"), ("row", "ascending")])
    del every
    by_part: dict[int, list[tuple[str, int]]] = {}
    for rid, part, row in zip(*(hits.column(c).to_pylist() for c in ("id", "part", "row"))):
        by_part.setdefault(part, []).append((rid, row))

    first_seen: dict[str, str] = {}
    added: dict[str, list[dict]] = {}
    for part in sorted(by_part):
        name = names[part]
        table = pq.read_table(layout.results_pq / f"part-{name}.parquet", columns=["source_path", "source_line", "source_row"])
        paths, src_lines, src_rows = (table.column(c).to_pylist() for c in table.column_names)
        dups = []
        for rid, r in by_part[part]:
            path, line, row = paths[r], src_lines[r], src_rows[r]
            where = f"{path} {'line ' + str(line) if line else 'row ' + str(row)}"
            if rid in first_seen:
                dups.append({"source": path, "line": line, "row": row, "id": rid, "reason": "id.duplicate",
                             "detail": f"id {rid!r} was already inspected earlier in this run ({first_seen[rid]}); "
                                       "ids must be unique across all inputs of a run — remove the duplicate or give it its own id"})
            else:
                first_seen[rid] = where
        if not dups:
            continue
        added[name] = dups
        ids = {d["id"] for d in dups}
        res_pq, find_pq = layout.results_pq / f"part-{name}.parquet", layout.findings_pq / f"part-{name}.parquet"
        keep = pq.read_table(res_pq)  # (a partition's own validator already rejected repeats inside it)
        mask = pc.invert(pc.is_in(keep.column("id"), value_set=pa_array(ids)))
        write_table_atomic(keep.filter(mask), res_pq)
        findings = pq.read_table(find_pq)
        write_table_atomic(findings.filter(pc.invert(pc.is_in(findings.column("conversation_id"), value_set=pa_array(ids)))), find_pq)
        jsonl = layout.parts / f"results-{name}.jsonl"
        lines = [ln for ln in jsonl.read_bytes().splitlines(keepends=True) if orjson.loads(ln)["id"] not in ids]
        write_atomic(jsonl, b"".join(lines))
        rejects = layout.parts / f"rejects-{name}.jsonl"
        write_atomic(rejects, rejects.read_bytes() + b"".join(orjson.dumps(d) + b"\n" for d in dups))
    return added


def partition_stats(layout: RunLayout, name: str) -> dict[str, Any]:
    """A partition's counts, recomputed from its files (after :func:`drop_duplicates` changed them)."""
    import pyarrow.parquet as pq

    table = pq.read_table(layout.results_pq / f"part-{name}.parquet", columns=["findings", "review_needed", "warnings"])
    warnings: dict[str, int] = {}
    for ws in table.column("warnings").to_pylist():
        for w in ws or ():
            k = w.split(":", 1)[0]
            warnings[k] = warnings.get(k, 0) + 1
    reasons: dict[str, int] = {}
    for line in (layout.parts / f"rejects-{name}.jsonl").read_bytes().splitlines():
        if line.strip():
            r = orjson.loads(line)["reason"]
            reasons[r] = reasons.get(r, 0) + 1
    inspected, rejected = table.num_rows, sum(reasons.values())
    return {
        "read": inspected + rejected,
        "inspected": inspected,
        "rejected": rejected,
        "findings": int(sum(v or 0 for v in table.column("findings").to_pylist())),
        "review_needed": int(sum(bool(v) for v in table.column("review_needed").to_pylist())),
        "rejects_by_reason": reasons,
        "warnings_by_kind": warnings,
    }


def pa_array(values):
    import pyarrow as pa

    return pa.array(sorted(values), type=pa.string())


def write_table_atomic(table, path: Path) -> None:
    import pyarrow.parquet as pq

    tmp = path.with_name(f".{path.name}.partial")
    pq.write_table(table, str(tmp), compression="zstd")
    os.replace(tmp, path)


def describe_inputs(paths: list[Path]) -> list[dict[str, Any]]:
    """Each input's path, size and sha256 (read in 1 MiB blocks)."""
    from .hashing import sha256_file

    return [{"path": str(p), "bytes": p.stat().st_size, "sha256": sha256_file(p)} for p in paths]
