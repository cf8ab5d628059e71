"""Matching rows of two tables on a conversation key without a Python tuple per row.

A conversation is ``(run, id)``; :func:`.load.conversation_keys` gives every results, findings and
verdicts row that pair as one int64, ``conv_key`` (the ids hashed once for the whole report). At
30 days × 100 k conversations (issue 13, item 5) sets of ``(run, id)`` tuples, string merges and then
``(run, id)`` MultiIndexes (each hashing 3 M id strings again) were the report's hot spots; these match
on the integers. Same answers as ``[k in set(zip(...)) for k in zip(...)]`` and an inner ``merge`` on
the pair (tests/test_report_scale.py).
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
