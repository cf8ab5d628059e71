"""Run folders → the population to sample and estimate over: one row per conversation with what the
machine said (score, flagged or not, defect or not, team, channel) and its findings per rule / item.

A conversation in several runs counts once, as the newest run (manifest ``started_at``) has it —
the same rule as ``zhijian load``. "Flagged" means a machine review reason other than those in
``sampling.not_risk_reasons`` (``calibration.sample`` is a random share of clean conversations,
no risk signal). A machine "defect" is a finding that costs points (or a 红线 item).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson
import pandas as pd

RESULT_COLUMNS = ["id", "score", "review_reasons", "fatal", "agent_id", "agent_team", "channel"]
FINDING_COLUMNS = ["conversation_id", "rule", "item", "points", "fatal"]


class PopulationError(ValueError):
    """A run folder that can't be read; the message names it and the fix."""


@dataclass
class Population:
    conversations: pd.DataFrame  # id, run, score, flagged, defect, team, channel, agent_id
    findings: pd.DataFrame       # conversation_id, rule, item, points, defect (the kept conversations only)
    runs: list[str]


def _table(path: Path, wanted: list[str]) -> pd.DataFrame:
    import pyarrow.dataset as ds

    if not path.exists():
        raise PopulationError(f"{path}: not found — give the --out folder of a finished `zhijian inspect` run")
    try:
        dataset = ds.dataset(str(path), format="parquet")
        df = dataset.to_table(columns=[c for c in wanted if c in dataset.schema.names]).to_pandas()
    except Exception as e:  # noqa: BLE001 — a damaged file: say which
        raise PopulationError(f"{path}: cannot read as Parquet ({type(e).__name__}: {e}); re-run zhijian inspect") from None
    for c in wanted:
        if c not in df.columns:
            df[c] = None
    return df[wanted]


def _started_at(run_dir: Path) -> str:
    try:
        return str(orjson.loads((run_dir / "manifest.json").read_bytes()).get("started_at") or "")
    except FileNotFoundError:
        raise PopulationError(f"{run_dir}: no manifest.json — not a zhijian run folder (`zhijian inspect … --out RUN_DIR` writes one)") from None


def read_population(run_dirs: list[str | Path], config: dict) -> Population:
    """The conversations of ``run_dirs`` (newest run wins for an id seen twice) and their findings."""
    not_risk = set(config["sampling"]["not_risk_reasons"])
    convs, finds = [], []
    for run in sorted((Path(r) for r in run_dirs), key=_started_at):  # oldest first: later rows win
        res = _table(run / "results.parquet", RESULT_COLUMNS)
        res["run"] = str(run)
        convs.append(res)
        f = _table(run / "findings.parquet", FINDING_COLUMNS)
        f["run"] = str(run)
        finds.append(f)
    if not convs:
        raise PopulationError("no run folders given: name at least one RUN_DIR")
    c = pd.concat(convs, ignore_index=True).drop_duplicates("id", keep="last").reset_index(drop=True)
    f = pd.concat(finds, ignore_index=True)
    f = f.merge(c[["id", "run"]], left_on=["conversation_id", "run"], right_on=["id", "run"]).drop(columns=["id"])
    f["points"] = pd.to_numeric(f["points"], errors="coerce").fillna(0.0)
    f["defect"] = (f["points"] < 0) | f["fatal"].fillna(False).astype(bool)
    defective = set(f.loc[f["defect"], "conversation_id"])
    c["flagged"] = [bool(set(r if r is not None else []) - not_risk) for r in c["review_reasons"]]
    c["defect"] = c["id"].isin(defective) | c["fatal"].fillna(False).astype(bool)
    c["team"] = c["agent_team"].fillna("(无团队)")
    c["channel"] = c["channel"].fillna("(未知渠道)")
    c["score"] = pd.to_numeric(c["score"], errors="coerce")
    keep = ["id", "run", "score", "flagged", "defect", "team", "channel", "agent_id"]
    return Population(c[keep], f[["conversation_id", "rule", "item", "points", "defect"]].reset_index(drop=True),
                      [str(r) for r in run_dirs])
