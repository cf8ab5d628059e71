"""write: stream results into ``results.jsonl``, ``results.parquet``, ``findings.parquet``,
``rejects.jsonl`` and ``manifest.json``.

Files are written under a temporary name and renamed when the run completes, so an output
directory never holds a half-written file under its final name. Parquet is written in row groups
of ``parquet_batch_rows`` so memory stays bounded whatever the input size.
"""

from __future__ import annotations

import hashlib
import os
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
    ("rating_score", "float64"),
    ("rating_comment", "string"),
    ("turns", "int32"),
    ("first_response_s", "float64"),
    ("avg_response_s", "float64"),
    ("max_response_s", "float64"),
    ("issue_type", "string"),
    ("issue_type_confidence", "float64"),
    ("sentiment", "string"),
    ("sentiment_confidence", "float64"),
    ("customer_end", "string"),
    ("warnings", "list<string>"),
    ("source_path", "string"),
    ("source_line", "int64"),
    ("source_row", "int64"),
]
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
        "rating_score": float(rating_score) if isinstance(rating_score, (int, float)) and not isinstance(rating_score, bool) else None,
        "rating_comment": _str_or_none(_get(r.rating, "comment")),
        "turns": m.get("turns"),
        "first_response_s": m.get("first_response_s"),
        "avg_response_s": m.get("avg_response_s"),
        "max_response_s": m.get("max_response_s"),
        "issue_type": _get(r.issue_type, "label"),
        "issue_type_confidence": _get(r.issue_type, "confidence"),
        "sentiment": _get(r.sentiment, "label"),
        "sentiment_confidence": _get(r.sentiment, "confidence"),
        "customer_end": _get(r.sentiment, "customer_end"),
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


class RunWriter:
    """The writers of one run. Use as a context manager; files get their final names on success."""

    FILES = ("results.jsonl", "results.parquet", "findings.parquet", "rejects.jsonl", "manifest.json")

    def __init__(self, out_dir: Path, batch_rows: int = 5000):
        self.out_dir = Path(out_dir)
        self.batch_rows = batch_rows

    def _tmp(self, name: str) -> Path:
        return self.out_dir / f".{name}.partial"

    def __enter__(self) -> "RunWriter":
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._results = open(self._tmp("results.jsonl"), "wb")
        self._rejects = open(self._tmp("rejects.jsonl"), "wb")
        self._results_pq = _ParquetStream(self._tmp("results.parquet"), RESULT_COLUMNS, self.batch_rows)
        self._findings_pq = _ParquetStream(self._tmp("findings.parquet"), FINDING_COLUMNS, self.batch_rows * 4)
        self._manifest: dict | None = None
        return self

    def write_result(self, result: ConversationResult) -> None:
        self._results.write(orjson.dumps(result) + b"\n")  # orjson serializes the dataclasses natively
        self._results_pq.add([result_row(result)])
        if result.findings:
            self._findings_pq.add(finding_rows(result))

    def write_reject(self, reject: Reject) -> None:
        self._rejects.write(orjson.dumps(reject.to_dict()) + b"\n")

    def write_manifest(self, manifest: dict) -> None:
        self._manifest = manifest

    def output_names(self) -> list[str]:
        return list(self.FILES)

    def __exit__(self, exc_type, exc, tb) -> None:
        self._results.close()
        self._rejects.close()
        self._results_pq.close()
        self._findings_pq.close()
        if exc_type is not None:
            return  # leave the .partial files for inspection; final names are untouched
        with open(self._tmp("manifest.json"), "wb") as fh:
            fh.write(orjson.dumps(self._manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
        for name in self.FILES:
            os.replace(self._tmp(name), self.out_dir / name)


def describe_inputs(paths: list[Path]) -> list[dict[str, Any]]:
    """Each input's path, size and sha256 (read in 1 MiB blocks)."""
    out = []
    for p in paths:
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        out.append({"path": str(p), "bytes": p.stat().st_size, "sha256": h.hexdigest()})
    return out
