"""Matching rows of two tables on a conversation key without a Python tuple per row.

A conversation is ``(run, id)``; :func:`.load.conversation_keys` gives every results, findings and
verdicts row that pair as one int64, ``conv_key`` (the ids hashed once for the whole report). At
30 days × 100 k conversations (issue 13, item 5) sets of ``(run, id)`` tuples, string merges and then
``(run, id)`` MultiIndexes (each hashing 3 M id strings again) were the report's hot spots; these match
on the integers. Same answers as ``[k in set(zip(...)) for k in zip(...)]`` and an inner ``merge`` on
the pair (tests/test_report_scale.py). The text helpers below (:func:`arrow_text`, :func:`string_codes`)
serve the loader, the dedupe, FCR and the questions' answers alike.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

KEY = "conv_key"


def key_isin(keys, in_keys) -> np.ndarray:
    """For each of ``keys``: is it among ``in_keys``? (a bool array; hashed, as pandas' ``isin`` on integers)."""
    keys = np.asarray(keys, dtype=np.int64)
    if len(keys) == 0 or len(in_keys) == 0:
        return np.zeros(len(keys), dtype=bool)
    return pd.Index(keys).isin(np.asarray(in_keys, dtype=np.int64))


def key_positions(keys, target_keys) -> np.ndarray | None:
    """For each of ``keys`` its row number in ``target_keys``, −1 when absent; None when the target
    keys are not unique (the caller then merges)."""
    target = pd.Index(np.asarray(target_keys, dtype=np.int64))
    if not target.is_unique:
        return None
    return target.get_indexer(np.asarray(keys, dtype=np.int64))


def inner_join(left: pd.DataFrame, right: pd.DataFrame, right_drop: tuple[str, ...] = ()) -> pd.DataFrame:
    """``left.merge(right, on=KEY, how="inner")`` for a right side whose key is unique (each left row
    matches at most one right row): left's rows in left's order, then right's columns other than
    ``KEY`` and ``right_drop`` (the right side's own names of the pair, e.g. ``run`` / ``id``), on a
    fresh index. Falls back to ``merge`` when right's key repeats or a column name is on both sides."""
    right = right.drop(columns=[c for c in right_drop if c in right.columns])
    pos = key_positions(left[KEY], right[KEY])
    if pos is None or any(c in left.columns for c in right.columns if c != KEY):
        return left.merge(right, on=KEY, how="inner")
    keep = pos >= 0
    out = left[keep].reset_index(drop=True)
    matched = right.iloc[pos[keep]].reset_index(drop=True)
    for c in right.columns:
        if c != KEY:
            out[c] = matched[c]  # both on a fresh 0…k index: aligned, dtype kept
    return out


def arrow_text(s: pd.Series):
    """A text column as one Arrow ``large_string`` array: the loader's Arrow strings as they are, Python
    strings / None converted (raises ``ArrowInvalid`` / ``ArrowTypeError`` when a value is not a string)."""
    import pyarrow as pa

    if s.dtype != object and hasattr(s.array, "__arrow_array__"):
        arr = pa.array(s.array).cast(pa.large_string())
        return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    return pa.array(s.to_numpy(dtype=object), type=pa.large_string(), from_pandas=True)


def string_codes(columns: list[pd.Series]) -> np.ndarray:
    """One code per value of the columns together (equal strings, equal codes; −1 when missing)."""
    import pyarrow as pa

    try:
        chunks = []
        for s in columns:
            a = pa.array(s.array) if s.dtype != object else pa.array(s.to_numpy(dtype=object), type=pa.large_string(), from_pandas=True)
            chunks += [c.cast(pa.large_string()) for c in (a.chunks if isinstance(a, pa.ChunkedArray) else [a])]
        enc = pa.chunked_array(chunks, type=pa.large_string()).dictionary_encode()  # one dictionary for every chunk
        return np.concatenate([np.zeros(0, dtype=np.int64)] + [c.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
                                                                for c in enc.chunks])
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):  # ids that aren't all strings
        return pd.factorize(np.concatenate([s.to_numpy(dtype=object) for s in columns]))[0].astype(np.int64)
