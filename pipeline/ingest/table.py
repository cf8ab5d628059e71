"""Long tables (CSV, Parquet): one row per turn, grouped into conversations."""

from __future__ import annotations

import csv
import zlib
from pathlib import Path
from typing import Any, Callable, Iterator


from pipeline.schema import Conversation, Reject, SourceRef

from .files import _open_maybe_gz, detect_format
from .validate import _BOM, _COLUMN_KEY_ALIASES, REQUIRED_TABLE_COLUMNS, TABLE_COLUMNS, InputError, Validator, _short


# --------------------------------------------------------------------------------------------
# long tables (CSV, Parquet)

class TableColumns:
    """Our column names → the user's, from ``--column`` mappings.

    ``names[ours]`` is the user's column name, or None when declared absent (``--column ts=``).
    Required columns and explicitly mapped ones must exist in each table; other optional columns
    are used when present.
    """

    def __init__(self, table_columns: dict[str, str | None] | None = None):
        self.names: dict[str, str | None] = dict(TABLE_COLUMNS)
        self.explicit: set[str] = set()
        for key, value in (table_columns or {}).items():
            ours = _COLUMN_KEY_ALIASES.get(key, key)
            if ours not in self.names:
                raise InputError(
                    f"--column {key}=…: unknown column name '{key}'; known: id, " + ", ".join(TABLE_COLUMNS))
            if value is None or (isinstance(value, str) and not value.strip()):
                if ours in REQUIRED_TABLE_COLUMNS:
                    raise InputError(f"--column {key}=: the {ours} column is required and cannot be declared absent")
                self.names[ours] = None
            else:
                self.names[ours] = str(value)
                self.explicit.add(ours)

    def present(self, path: Path, available: list[str]) -> dict[str, str]:
        """Our name → the user's column for every column this table has; InputError if one is missing."""
        have = set(available)
        present: dict[str, str] = {}
        for ours, theirs in self.names.items():
            if theirs is None:
                continue
            if theirs in have:
                present[ours] = theirs
            elif ours in REQUIRED_TABLE_COLUMNS or ours in self.explicit:
                shown = ", ".join(available[:30]) + (" …" if len(available) > 30 else "")
                raise InputError(
                    f"{path}: no column '{theirs}' for {ours} (columns: {shown}); "
                    f"name yours with --column {'id' if ours == 'conversation_id' else ours}=<your column>")
        return present




def _preflight_table(path: Path, fmt: str, gz: bool, columns: TableColumns) -> dict:
    """Check the header / schema before any work: → {'present': {...}, 'encoding': ...}."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            names = pq.read_schema(path).names
        except Exception as e:  # not a Parquet file at all
            raise InputError(f"{path}: cannot read the Parquet schema ({e}); is it a Parquet file?") from None
        return {"present": columns.present(path, names), "encoding": None}
    try:
        with _open_maybe_gz(path, gz) as f:
            head = f.readline(1 << 20)
    except (OSError, EOFError, zlib.error) as e:
        raise InputError(f"{path}: cannot read the CSV header ({e})") from None
    if head[:3] == _BOM:
        head = head[3:]
    try:
        line, encoding = head.decode("utf-8"), "utf8"
    except UnicodeDecodeError:
        try:
            line, encoding = head.decode("gb18030"), "gb18030"
        except UnicodeDecodeError:
            raise InputError(f"{path}: the CSV header is neither UTF-8 nor GB18030; save the file as CSV UTF-8") from None
    if not line.strip():
        raise InputError(f"{path}: the CSV file is empty or its first line is blank; the first line must be the header")
    names = next(csv.reader([line.rstrip("\r\n")]))
    return {"present": columns.present(path, names), "encoding": encoding}


def _read_csv(path: str, present: dict[str, str], encoding: str):
    """→ (pyarrow table of the needed columns as strings, [(data_row, detail)] of skipped rows).

    Rows with the wrong number of fields are skipped and reported. The multithreaded reader does
    not know row numbers, so a file with such rows is read again single-threaded.
    """
    import pyarrow as pa
    import pyarrow.csv as pcsv

    include = list(dict.fromkeys(present.values()))
    convert = pcsv.ConvertOptions(include_columns=include, column_types={c: pa.string() for c in include},
                                  strings_can_be_null=False)

    def attempt(threads: bool):
        bad: list[tuple[int, str]] = []
        unnumbered: list[bool] = []

        def on_bad_row(row) -> str:
            if row.number is None:
                unnumbered.append(True)
                return "error"
            bad.append((row.number - 1, f"the row has {row.actual_columns} fields, the header "
                                        f"{row.expected_columns}: {row.text[:80]!r}"))
            return "skip"

        try:
            table = pcsv.read_csv(
                path,
                read_options=pcsv.ReadOptions(encoding=encoding, use_threads=threads),
                parse_options=pcsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_bad_row),
                convert_options=convert,
            )
        except pa.ArrowInvalid:
            if unnumbered:
                return None
            raise
        return table, bad

    return attempt(True) or attempt(False)


def read_table(path: str | Path, validator: Validator, columns: TableColumns | None = None, fmt: str | None = None,
               info: dict | None = None) -> Iterator[Conversation | Reject]:
    """A long table (one turn per row) → one Conversation/Reject per conversation id.

    Memory: the needed columns of the whole file are loaded into Arrow memory (about their
    uncompressed size; unused columns are never read), because a conversation's rows may be
    anywhere in the file. Conversations are then built in slices of ~64k rows, so only one slice
    exists as Python objects at a time. For files larger than memory, split them by conversation
    or export JSONL (streamed).
    Output order: by each conversation's first row; ``source.row`` is that row, 1-based over the
    data rows (in a CSV the header is row 0).
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    path = Path(path)
    spath = str(path)
    if fmt is None:
        fmt, gz = detect_format(path)
    else:
        gz = spath.lower().endswith(".gz")
    if columns is None:
        columns = TableColumns()
    if info is None:
        info = _preflight_table(path, fmt, gz, columns)
    present: dict[str, str] = info["present"]
    validator.begin_file(spath, "row")
    warn0: list[str] | None = None
    skipped: list[tuple[int, str]] = []

    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(path, columns=list(dict.fromkeys(present.values())))
        else:
            encoding = info["encoding"]
            try:
                table, skipped = _read_csv(spath, present, encoding)
            except pa.ArrowInvalid as e:
                if encoding != "utf8" or "UTF8" not in str(e):
                    raise
                table, skipped = _read_csv(spath, present, "gb18030")
                encoding = "gb18030"
            if encoding == "gb18030":
                warn0 = ["encoding.gb18030"]
    except Exception as e:  # corrupt Parquet, CSV syntax (e.g. an unclosed quote), undecodable bytes
        yield Reject(SourceRef(spath), "file.unreadable",
                     f"the table could not be read: {e}; nothing from this file was inspected — fix or re-export it")
        return

    n = table.num_rows
    # data row number (1-based) of each table row: skipped CSV rows leave gaps
    if skipped:
        skipped.sort()
        gone = np.array([r for r, _ in skipped], dtype=np.int64)
        file_row = np.setdiff1d(np.arange(1, n + len(skipped) + 1, dtype=np.int64), gone)
    else:
        file_row = None

    def row_of(i: int) -> int:
        return int(file_row[i]) if file_row is not None else i + 1

    # -- group keys
    ids = table.column(present["conversation_id"])
    if not pa.types.is_string(ids.type) and not pa.types.is_large_string(ids.type):
        try:
            ids = pc.cast(ids, pa.string())
        except pa.ArrowInvalid:
            ids = pa.chunked_array([pa.array([None if v is None else str(v) for v in ids.to_pylist()], pa.string())])
    bad_id = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(ids), ""), True)
    bad_rows = np.flatnonzero(bad_id.to_numpy(zero_copy_only=False))
    uniq = pc.unique(ids)
    codes = pc.index_in(ids, value_set=uniq)
    rowidx = pa.array(np.arange(n, dtype=np.int64))
    key_cols = {"c": codes, "r": rowidx}
    sort_keys = [("c", "ascending")]
    order_bad: np.ndarray | None = None
    turn_col = present.get("turn")
    if turn_col is not None:
        tcol = table.column(turn_col)
        try:
            tnum = pc.cast(tcol, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            vals = []
            for v in tcol.to_pylist():
                try:
                    vals.append(float(v) if v is not None and not isinstance(v, bool) else None)
                except (TypeError, ValueError):
                    vals.append(None)
            tnum = pa.array(vals, pa.float64())
        if isinstance(tnum, pa.ChunkedArray):
            tnum = tnum.combine_chunks()
        tnum = pc.if_else(pc.is_nan(tnum), pa.scalar(None, pa.float64()), tnum)
        order_bad = np.asarray(pc.is_null(tnum).to_numpy(zero_copy_only=False))
        key_cols["t"] = pc.fill_null(tnum, 0.0)
        sort_keys.append(("t", "ascending"))
    # numeric ts / end_ts cells (the common case) become floats here, not one Python parse per cell
    for name in ("ts", "end_ts"):
        col = present.get(name)
        if col is not None and pa.types.is_string(table.schema.field(col).type):
            try:
                as_num = pc.cast(pc.if_else(pc.equal(table.column(col), ""), pa.scalar(None, pa.string()),
                                            table.column(col)), pa.float64())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue  # ISO timestamps (or junk): parsed per cell by the validator
            table = table.set_column(table.schema.get_field_index(col), col, as_num)
    sort_keys.append(("r", "ascending"))
    keys = pa.table(key_cols)
    if len(bad_rows):
        keys = keys.filter(pc.invert(bad_id))
    keys = keys.take(pc.sort_indices(keys, sort_keys=sort_keys))
    c_sorted = keys.column("c").to_numpy()
    r_sorted = keys.column("r").to_numpy()
    m = len(c_sorted)
    starts = np.flatnonzero(np.diff(c_sorted)) + 1 if m else np.array([], dtype=np.int64)
    starts = np.concatenate(([0], starts)) if m else starts
    ends = np.append(starts[1:], m) if m else starts
    firsts = np.minimum.reduceat(r_sorted, starts) if m else starts
    group_bad_order = None
    if order_bad is not None and m and order_bad.any():
        group_bad_order = np.add.reduceat(order_bad[r_sorted].astype(np.int64), starts) > 0

    # records in first-row order: conversations, id-less rows and skipped CSV rows
    events: list[tuple[int, int, int]] = [(int(firsts[g]), 0, g) for g in range(len(starts))]
    events += [(int(r), 1, 0) for r in bad_rows]
    skipped_by_row = dict(skipped)
    if file_row is None:
        events.sort()
    else:  # skipped rows have no table index: merge on file rows
        events = [(row_of(i), kind, g) for i, kind, g in events]
        events += [(r, 2, 0) for r, _ in skipped]
        events.sort()

    names = [k for k in TABLE_COLUMNS if k in present and k not in ("conversation_id", "turn")]
    id_name = present["conversation_id"]
    batch_rows = 65536
    pending: list[tuple[int, int, int]] = []
    pending_rows = 0

    def flush(batch):
        """Materialise the rows of the conversations in ``batch`` and validate them."""
        conv_groups = [g for _, kind, g in batch if kind == 0]
        if conv_groups:
            take_idx = np.concatenate([r_sorted[starts[g]:ends[g]] for g in conv_groups])
            sub = table.take(pa.array(take_idx))
            cols = {k: sub.column(present[k]).to_pylist() for k in names}
            idl = ids.take(pa.array(take_idx)).to_pylist()
        pos = 0
        for first, kind, g in batch:
            if kind == 0:
                size = int(ends[g] - starts[g])
                rows = r_sorted[starts[g]:ends[g]]
                src = SourceRef(spath, row=first if file_row is not None else first + 1)
                rid = idl[pos]
                if group_bad_order is not None and group_bad_order[g]:
                    r = int(rows[np.flatnonzero(order_bad[rows])[0]])
                    yield Reject(src, "turn.order_invalid",
                                 f"row {row_of(r)}: the {present['turn']} (turn order) cell is "
                                 f"{_short(table.column(present['turn'])[r].as_py())}; it must be a number", rid)
                else:
                    yield validator.validate(_table_record(rid, cols, pos, size), src, warn0, _Rows(rows, row_of))
                pos += size
            elif kind == 1:
                row = first if file_row is not None else first + 1
                yield Reject(SourceRef(spath, row=row), "id.missing",
                             f"row {row}: the {id_name} (conversation id) cell is empty; every row needs one")
            else:
                yield Reject(SourceRef(spath, row=first), "row.invalid",
                             f"row {first}: {skipped_by_row[first]}; the row was skipped — fix its quoting or separators")

    for ev in events:
        pending.append(ev)
        if ev[1] == 0:
            pending_rows += int(ends[ev[2]] - starts[ev[2]])
        if pending_rows >= batch_rows:
            yield from flush(pending)
            pending, pending_rows = [], 0
    if pending:
        yield from flush(pending)


class _Rows:
    """Source row of each turn of one conversation, computed only when a message needs one."""

    __slots__ = ("_idx", "_row_of")

    def __init__(self, idx, row_of: Callable[[int], int]):
        self._idx = idx
        self._row_of = row_of

    def __len__(self) -> int:
        return len(self._idx)

    def __getitem__(self, i: int) -> int:
        return self._row_of(int(self._idx[i]))


def _first(values: list, a: int, b: int) -> Any:
    for k in range(a, b):
        v = values[k]
        if v is not None and v != "":
            return v
    return None


def _table_record(rid: str, cols: dict[str, list], pos: int, size: int) -> dict:
    """The rows ``pos:pos+size`` of one conversation (in turn order) → a SPEC-shaped record."""
    end = pos + size
    role = cols["role"]
    text = cols["text"]
    ts = cols.get("ts")
    end_ts = cols.get("end_ts")
    turns = []
    for k in range(pos, end):
        t = {"role": role[k], "text": text[k]}
        if ts is not None:
            t["ts"] = ts[k]
        if end_ts is not None:
            t["end_ts"] = end_ts[k]
        turns.append(t)
    rec: dict[str, Any] = {"id": rid, "turns": turns}
    for name in ("channel", "started_at"):
        if name in cols:
            rec[name] = _first(cols[name], pos, end)
    agent = {}
    for name, key in (("agent_id", "id"), ("agent_name", "name"), ("agent_team", "team")):
        if name in cols:
            v = _first(cols[name], pos, end)
            if v is not None:
                agent[key] = v if isinstance(v, str) else str(v)
    if agent:
        rec["agent"] = agent
    if "customer_id" in cols:
        v = _first(cols["customer_id"], pos, end)
        if v is not None:
            rec["customer"] = {"id": v if isinstance(v, str) else str(v)}
    return rec
