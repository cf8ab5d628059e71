"""JSONL / NDJSON (optionally gzipped), streamed line by line as bytes."""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path
from typing import Iterator

import orjson

from pipeline.schema import Conversation, Reject, SourceRef

from .files import _open_maybe_gz
from .validate import _BOM, InputError, Validator


# --------------------------------------------------------------------------------------------
# JSONL

def read_jsonl(
    path: str | Path,
    validator: Validator,
    gz: bool | None = None,
    start: int = 0,
    end: int | None = None,
    first_line: int = 1,
    data: bytes | None = None,
) -> Iterator[Conversation | Reject]:
    """Stream a JSON Lines file (``.gz`` too): one Conversation/Reject per non-blank line.

    A partition of a file is read with ``start``/``end`` (byte offsets on line boundaries of a
    plain file) and ``first_line`` (the line number at ``start``), or with ``data``: the
    partition's lines themselves (a gzip file is cut into partitions by the process that
    decompresses it). Line numbers in sources always refer to the whole file.
    """
    spath = str(path)
    if gz is None:
        gz = spath.lower().endswith(".gz")
    validator.begin_file(spath, "line")
    maxb = validator.max_line_bytes
    limit = maxb + 2  # room for "\r\n"
    loads = orjson.loads
    JSONDecodeError = orjson.JSONDecodeError
    validate = validator.validate
    lineno = first_line - 1
    try:
        if data is not None:
            f = io.BytesIO(data)
        else:
            f = gzip.open(path, "rb") if gz else open(path, "rb")
            if start:
                f.seek(start)
    except OSError as e:
        raise InputError(f"{spath}: cannot open ({e.strerror or e})") from None
    with f:
        readline = f.readline
        tell = f.tell
        while True:
            try:
                if end is not None and tell() >= end:
                    break
                raw = readline(limit)
                if not raw:
                    break
                lineno += 1
                if len(raw) > maxb:
                    size = len(raw.rstrip(b"\r\n"))
                    blank = not raw.removeprefix(_BOM).strip()
                    if not raw.endswith(b"\n"):  # the line goes on: skip to its end, counting
                        while True:
                            chunk = readline(1 << 20)
                            size += len(chunk)
                            blank = blank and not chunk.strip()
                            if not chunk or chunk.endswith(b"\n"):
                                size -= len(chunk) - len(chunk.rstrip(b"\r\n"))
                                break
                    if blank:  # a blank line is not a record, however long
                        continue
                    if size > maxb:
                        yield Reject(SourceRef(spath, line=lineno), "line.too_large",
                                     f"the line has {size} bytes, more than limits.max_line_bytes = {maxb}; "
                                     "it was not parsed (check the export or raise the limit)")
                        continue
            except (OSError, EOFError, zlib.error) as e:
                yield Reject(SourceRef(spath, line=lineno + 1), "file.unreadable",
                             f"reading stopped here: {e}; the rest of the file was not read "
                             "(a truncated or corrupt file? re-export it)")
                return
            if raw[:3] == _BOM:
                raw = raw[3:]
            if not raw or raw.isspace():
                continue
            warns = None
            try:
                obj = loads(raw)
            except JSONDecodeError as e:
                obj, warns, reject = _decode_slow(raw, e, SourceRef(spath, line=lineno))
                if reject is not None:
                    yield reject
                    continue
            yield validate(obj, SourceRef(spath, line=lineno), warns)


def _preflight_jsonl(path: Path, gz: bool) -> None:
    """Catch a whole-file problem up front: a file named .gz that is not gzip."""
    try:
        with _open_maybe_gz(path, gz) as f:
            f.read(4)
    except (OSError, EOFError, zlib.error) as e:
        raise InputError(f"{path}: cannot read ({e})" + ("; is it really gzip-compressed?" if gz else "")) from None


def _decode_slow(raw: bytes, err: Exception, source: SourceRef):
    """orjson failed: a JSON error, or not UTF-8 (then try GB18030). → (obj, warnings, reject)."""
    if raw.count(0) * 3 >= len(raw):  # every other byte NUL: UTF-16 text
        return None, None, Reject(source, "encoding.invalid",
                                  "the line is mostly NUL bytes: the file looks UTF-16 encoded; save it as UTF-8")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as ue:
        try:
            text = raw.decode("gb18030")
        except UnicodeDecodeError:
            return None, None, Reject(source, "encoding.invalid",
                                      f"the line is neither UTF-8 nor GB18030 (bad byte at offset {ue.start}); "
                                      "re-export the file as UTF-8")
        try:
            return orjson.loads(text), ["encoding.gb18030"], None
        except orjson.JSONDecodeError as e2:
            return None, None, Reject(source, "json.invalid", f"not valid JSON (read as GB18030): {e2}")
    hint = ""
    if raw.lstrip()[:1] == b"[":
        hint = " — write one conversation object per line, not a JSON array"
    return None, None, Reject(source, "json.invalid", f"not valid JSON: {err}{hint}")
