"""Matching rows of two tables on a conversation key — ``(run, id)`` — without a Python tuple per row.

At 30 days × 100 k conversations (issue 13, item 5) sets of ``(run, id)`` tuples and string merges were
the report's hot spots; these do the same matching with pandas' hashed indexes. Same answers as
``[k in set(zip(...)) for k in zip(...)]`` and an inner ``merge`` on the key (tests/test_report_scale.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _key(runs, ids) -> pd.MultiIndex:
    return pd.MultiIndex.from_arrays([np.asarray(runs), np.asarray(ids, dtype=object)])


def pair_isin(runs, ids, in_runs, in_ids) -> np.ndarray:
    """For each ``(runs[i], ids[i])``: is that pair among ``zip(in_runs, in_ids)``? (a bool array)."""
    if len(runs) == 0:
        return np.zeros(0, dtype=bool)
    if len(in_runs) == 0:
        return np.zeros(len(runs), dtype=bool)
    return np.asarray(_key(runs, ids).isin(_key(in_runs, in_ids)), dtype=bool)


def pair_positions(runs, ids, target_runs, target_ids) -> np.ndarray | None:
    """For each ``(runs[i], ids[i])`` its row number in the target pairs, −1 when absent; None when the
    target pairs are not unique (the caller then merges)."""
    target = _key(target_runs, target_ids)
    if not target.is_unique:
        return None
    if len(runs) == 0:
        return np.zeros(0, dtype=np.intp)
    return target.get_indexer(_key(runs, ids))


def inner_join(left: pd.DataFrame, left_on: list[str], right: pd.DataFrame, right_on: list[str]) -> pd.DataFrame:
    """``left.merge(right, left_on=left_on, right_on=right_on, how="inner")`` for a right side whose key is
    unique (each left row matches at most one right row): left's rows in left's order, then right's columns
    other than the shared key names, on a fresh index. Falls back to ``merge`` when right's key repeats."""
    pos = pair_positions(left[left_on[0]], left[left_on[1]], right[right_on[0]], right[right_on[1]])
    if pos is None:
        return left.merge(right, left_on=left_on, right_on=right_on, how="inner")
    keep = pos >= 0
    out = left[keep].reset_index(drop=True)
    matched = right.iloc[pos[keep]].reset_index(drop=True)
    for c in right.columns:
        if c in left_on and c in right_on and left_on.index(c) == right_on.index(c):
            continue  # the same key column on both sides: merge keeps one
        if c in out.columns:
            return left.merge(right, left_on=left_on, right_on=right_on, how="inner")  # merge would suffix it: leave that to merge
        out[c] = matched[c]  # both on a fresh 0…k index: aligned, dtype kept
    return out
