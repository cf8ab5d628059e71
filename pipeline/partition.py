"""Partitions: the unit of work, of parallelism and of resumption.

A plain JSONL file is cut into partitions of ``run.partition_size`` lines at line boundaries
(byte offsets, found by scanning for newlines — no parsing); a gzip JSONL file is decompressed
once by the planner and each partition carries its lines; a CSV or Parquet table is one partition
(its rows must be grouped by conversation, which needs the whole file). The plan is a pure
function of the inputs and the partition size, so a re-run finds the same partitions and can skip
those already done. Planning is lazy: at most one partition's lines are in memory at a time.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .ingest import TableColumns, Validator, _preflight_table, detect_format, read_jsonl, read_table
from .schema import Conversation, Reject, SourceRef

SCAN_BLOCK = 1 << 22  # bytes read at a time while looking for line boundaries


@dataclass(frozen=True)
class PartitionSpec:
    index: int  # position in the run's plan; names the partition's files
    path: str
    fmt: str  # jsonl | csv | parquet
    gz: bool = False
    start: int = 0  # byte offsets (plain JSONL)
    end: int | None = None
    first_line: int = 1
    lines: int | None = None  # lines in the partition (JSONL), for progress
    data: bytes | None = None  # the lines themselves (gzip JSONL)
    error: str | None = None  # the file broke off here (truncated gzip): the partition is one reject

    @property
    def name(self) -> str:
        return f"{self.index:06d}"

    def describe(self) -> dict:
        return {"partition": self.name, "path": self.path, "first_line": self.first_line, "lines": self.lines,
                "bytes": [self.start, self.end] if self.end is not None else None}


def plan_partitions(paths: list[Path], partition_size: int) -> Iterator[PartitionSpec]:
    index = 0
    for path in paths:
        fmt, gz = detect_format(path)
        if fmt != "jsonl":
            yield PartitionSpec(index, str(path), fmt, gz)
            index += 1
            continue
        chunks = _gzip_chunks(path, partition_size) if gz else _line_chunks(path, partition_size)
        for first_line, lines, start, end, data, error in chunks:
            yield PartitionSpec(index, str(path), fmt, gz, start, end, first_line, lines, data, error)
            index += 1


def _line_chunks(path: Path, n: int):
    """(first_line, lines, start, end, None, None) for every ``n`` lines of a plain file."""
    start = pos = 0
    tail_newline = True
    lines = 0
    first_line = 1
    with open(path, "rb") as fh:
        while True:
            block = fh.read(SCAN_BLOCK)
            if not block:
                break
            i = 0
            while True:
                j = block.find(b"\n", i)
                if j == -1:
                    break
                lines += 1
                i = j + 1
                if lines == n:
                    end = pos + i
                    yield first_line, lines, start, end, None, None
                    start, first_line, lines = end, first_line + lines, 0
            tail_newline = block.endswith(b"\n")
            pos += len(block)
    if pos > start:
        # the rest, and a last line without its newline
        yield first_line, lines + (0 if tail_newline else 1), start, pos, None, None


def _gzip_chunks(path: Path, n: int):
    first_line = 1
    buf: list[bytes] = []
    error = None
    try:
        with gzip.open(path, "rb") as fh:
            for line in fh:
                buf.append(line)
                if len(buf) == n:
                    yield first_line, n, 0, None, b"".join(buf), None
                    first_line += n
                    buf = []
    except (OSError, EOFError, zlib.error) as e:
        error = str(e)  # a truncated or corrupt file: what was read is inspected, the break is a reject
    if buf:
        yield first_line, len(buf), 0, None, b"".join(buf), None
        first_line += len(buf)
    if error:
        yield first_line, 1, 0, None, b"", error


def read_partition(spec: PartitionSpec, config: dict, table_columns: dict | None = None) -> Iterator[Conversation | Reject]:
    """The records of one partition (validated; duplicates are caught within the partition here
    and across partitions by the run, see ``io.writers.drop_duplicates``)."""
    if spec.error is not None:
        yield Reject(SourceRef(spec.path, line=spec.first_line), "file.unreadable",
                     f"reading stopped here: {spec.error}; the rest of the file was not read "
                     "(a truncated or corrupt file? re-export it)")
        return
    validator = Validator(config)
    if spec.fmt == "jsonl":
        yield from read_jsonl(spec.path, validator, spec.gz, spec.start, spec.end, spec.first_line, spec.data)
        return
    columns = TableColumns(table_columns)
    info = _preflight_table(Path(spec.path), spec.fmt, spec.gz, columns)
    yield from read_table(spec.path, validator, columns, spec.fmt, info)
