"""Input files: the formats by extension, globs and folders expanded, gzip opened."""

from __future__ import annotations

import glob
import gzip
from pathlib import Path
from typing import Iterable



from .validate import InputError


# --------------------------------------------------------------------------------------------
# files

_FORMATS = (
    (".jsonl.gz", "jsonl", True), (".ndjson.gz", "jsonl", True),
    (".jsonl", "jsonl", False), (".ndjson", "jsonl", False),
    (".csv.gz", "csv", True), (".csv", "csv", False),
    (".parquet", "parquet", False), (".pq", "parquet", False),
)
SUPPORTED = ".jsonl, .jsonl.gz, .ndjson, .csv, .csv.gz, .parquet"


def detect_format(path: str | Path) -> tuple[str, bool]:
    """``(format, gzipped)`` from the file name; InputError with the fix for anything else."""
    name = Path(path).name.lower()
    for ext, fmt, gz in _FORMATS:
        if name.endswith(ext):
            return fmt, gz
    if name.endswith((".json", ".json.gz")):
        raise InputError(
            f"{path}: zhijian reads JSON Lines (one conversation object per line), not .json. "
            "If the file already holds one object per line, rename it to .jsonl; if it is one JSON "
            f"array, convert it: jq -c '.[]' {Path(path).name} > {Path(path).stem.removesuffix('.json')}.jsonl")
    if name.endswith((".xlsx", ".xls")):
        raise InputError(f"{path}: Excel files are not read; save the sheet as CSV (UTF-8) with one turn per row")
    raise InputError(f"{path}: unknown input format; supported extensions are {SUPPORTED}")


def expand_inputs(patterns: Iterable[str | Path]) -> list[Path]:
    """Files named by ``patterns``: existing paths as given, directories → their input files
    (recursive, supported extensions only, sorted), otherwise a glob (``**`` allowed).

    A pattern that matches no file raises InputError naming it. Each file is listed once, in order.
    """
    out: list[Path] = []
    seen: set[Path] = set()

    def add(p: Path) -> None:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            out.append(p)

    for pattern in patterns:
        p = Path(pattern)
        if p.is_file():
            add(p)
        elif p.is_dir():
            found = sorted(
                f for f in p.rglob("*")
                if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts)
                and any(f.name.lower().endswith(ext) for ext, _, _ in _FORMATS)
            )
            if not found:
                raise InputError(f"{pattern}: directory holds no input files ({SUPPORTED})")
            for f in found:
                add(f)
        else:
            matches = sorted(Path(m) for m in glob.glob(str(pattern), recursive=True))
            files = [m for m in matches if m.is_file()]
            if not files:
                if glob.has_magic(str(pattern)):
                    raise InputError(f"{pattern}: no file matches this pattern")
                raise InputError(f"{pattern}: no such file or directory")
            for f in files:
                add(f)
    return out


def _open_maybe_gz(path: Path, gz: bool):
    return gzip.open(path, "rb") if gz else open(path, "rb")
