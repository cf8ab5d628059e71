"""Runs that overlap (a re-run next to its original): each conversation counts once, from the latest run.

Adds to the loader: :func:`recency_ranks` orders the runs by their manifest's ``finished_at`` (else
``started_at``) — not by the order they were given — and :func:`dedupe` drops, from the results,
the findings and the rejects alike, every row a later run holds again, and says in Chinese what it
dropped from which run. A conversation is the same when its id is; a reject without an id is the
same when it sits at the same place of the same input (file sha256, or its path, + line / row).
Rules: docs/REPORTS.md ("Several runs").
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from .keys import string_codes

REJECT_COLUMNS = ["run", "id", "position", "reason"]


def run_time(manifest: dict) -> datetime | None:
    """When the run finished (else started), timezone-aware; None when the manifest says neither."""
    for key in ("finished_at", "started_at"):
        v = manifest.get(key)
        if isinstance(v, str) and v:
            try:
                t = datetime.fromisoformat(v.replace("Z", "+00:00"))
            except ValueError:
                continue
            return t if t.tzinfo else t.replace(tzinfo=timezone.utc)
    return None


def recency_ranks(times: list[datetime | None]) -> list[int]:
    """Each run's rank, 0 = oldest: runs without a time first (in the order given), then by time
    (ties in the order given). The highest rank holding a conversation wins."""
    order = sorted(range(len(times)), key=lambda i: (times[i] is not None, times[i] or datetime.min.replace(tzinfo=timezone.utc), i))
    ranks = [0] * len(times)
    for rank, i in enumerate(order):
        ranks[i] = rank
    return ranks


@dataclass
class Dropped:
    """What one run lost to later runs."""

    results: int = 0
    rejects: int = 0
    reject_reasons: dict[str, int] = field(default_factory=dict)
    by: set[int] = field(default_factory=set)  # the runs that hold the kept copies


def _repeated(values: pd.Series) -> pd.Series:
    """``values.notna() & values.duplicated(keep=False)``, counted per code of :func:`.keys.string_codes`
    (3 M ids hashed by Arrow's dictionary, not as Python objects)."""
    codes = string_codes([values])
    counts = np.bincount(codes[codes >= 0], minlength=int(codes.max(initial=0)) + 1)
    return pd.Series((codes >= 0) & (counts[np.maximum(codes, 0)] > 1), index=values.index)


def _winners(keys: pd.DataFrame, key: str, rank: pd.Series) -> pd.DataFrame:
    """For each value of ``key`` held by several rows: the highest rank and the run holding it."""
    multi = _repeated(keys[key])
    sub = keys.loc[multi, [key, "run"]].assign(rank=rank[multi])
    if sub.empty:
        return pd.DataFrame(columns=["run", "rank"])
    top = sub.loc[sub.groupby(key)["rank"].idxmax()]
    return top.set_index(key)[["run", "rank"]]


def dedupe(results: pd.DataFrame, findings: pd.DataFrame, rejects: pd.DataFrame, ranks: list[int],
           paths: list[str]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[int, Dropped], list[str]]:
    """Drop what a later run holds again (``run`` columns index ``ranks`` and ``paths``). Returns the
    kept results, findings and rejects, what each run lost, and a note (Chinese) when anything was dropped."""
    rank_of = pd.Series(ranks, dtype="int64")
    ids = pd.concat([results[["id", "run"]], rejects.loc[rejects["id"].notna(), ["id", "run"]]], ignore_index=True)
    id_rank = ids["run"].map(rank_of)
    by_id = _winners(ids, "id", id_rank)
    by_pos = _winners(rejects[["position", "run"]].reset_index(drop=True), "position", rejects["run"].map(rank_of).reset_index(drop=True))
    if by_id.empty and by_pos.empty:
        return results, findings, rejects, {}, []

    def superseded(frame: pd.DataFrame, key: str, winners: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
        """Rows of ``frame`` whose ``key`` a later run holds, and that run."""
        lost = pd.Series(False, index=frame.index)
        cand = frame[key].isin(winners.index) if len(winners) else lost
        if not cand.any():
            return lost, pd.Series(dtype="int64")
        win_rank = frame.loc[cand, key].map(winners["rank"]).astype("int64")
        lost[cand] = (win_rank > frame.loc[cand, "run"].map(rank_of)).to_numpy()
        return lost, frame.loc[lost, key].map(winners["run"])

    res_lost, res_by = superseded(results, "id", by_id)
    rej_lost_id, rej_by_id = superseded(rejects, "id", by_id)
    rej_lost_pos, rej_by_pos = superseded(rejects, "position", by_pos)
    rej_lost = rej_lost_id | rej_lost_pos
    rej_by = rej_by_id.combine_first(rej_by_pos)
    if not res_lost.any() and not rej_lost.any():  # repeats inside one run (a rejected id.duplicate next to its result)
        return results, findings, rejects, {}, []

    dropped: dict[int, Dropped] = defaultdict(Dropped)
    for run, n in results.loc[res_lost, "run"].value_counts().items():
        dropped[int(run)].results = int(n)
    for run, winner in set(zip(results.loc[res_lost, "run"], res_by)):
        dropped[int(run)].by.add(int(winner))
    gone = rejects.loc[rej_lost].assign(by=rej_by)
    for run, g in gone.groupby("run"):
        d = dropped[int(run)]
        d.rejects = len(g)
        d.reject_reasons = {str(k): int(v) for k, v in g["reason"].value_counts().items()}
        d.by.update(int(w) for w in g["by"].dropna().unique())

    if len(findings) and res_lost.any():
        lost_keys = pd.MultiIndex.from_frame(results.loc[res_lost, ["run", "id"]].rename(columns={"id": "conversation_id"}))
        findings = findings[~pd.MultiIndex.from_frame(findings[["run", "conversation_id"]]).isin(lost_keys)].reset_index(drop=True)
    dropped = dict(dropped)
    return (results.loc[~res_lost].reset_index(drop=True), findings, rejects.loc[~rej_lost].reset_index(drop=True), dropped,
            [duplicate_note(dropped, paths, ranks)])


def duplicate_note(dropped: dict[int, Dropped], paths: list[str], ranks: list[int]) -> str:
    n_res = sum(d.results for d in dropped.values())
    n_rej = sum(d.rejects for d in dropped.values())
    parts = []
    for run in sorted(dropped, key=lambda i: ranks[i]):
        d = dropped[run]
        what = "、".join(x for x in (f"{d.results:,} 个会话结果" if d.results else "", f"{d.rejects:,} 条拒收" if d.rejects else "") if x)
        parts.append(f"{paths[run]} 去掉 {what}(由较新的 {'、'.join(paths[w] for w in sorted(d.by))} 取代)")
    return (f"重复会话:同一会话 id(或同一输入位置的拒收)出现在多个运行中,按运行时间(manifest 的 finished_at,没有则 started_at)"
            f"只保留最新一次,共去掉 {n_res:,} 个会话结果、{n_rej:,} 条拒收 —— " + ";".join(parts) + "。")
