"""The sampling design: strata, how many to draw from each, the seeded draw with its design
weights, and the planner (how many reviews a margin needs).

Strata are the ``--by`` columns (team, channel, agent) crossed with a machine risk band — flagged /
not flagged, or score bands (``sampling.score_cuts``). Allocation is proportional (n_h ∝ N_h) or
Neyman (n_h ∝ N_h·S_h, S_h = sqrt(p_h(1−p_h)) from the machine's defect rate p_h in the stratum, at
least ``sampling.sd_floor``); every stratum gets at least ``min_per_stratum`` (all of it when
smaller) — a rare high-risk stratum is oversampled, and its weight N_h/n_h says so. The draw is a
simple random sample without replacement in each stratum, from a generator seeded with ``seed``,
over conversations sorted by id: the same runs, design and seed give the same sample.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from statistics import NormalDist

import numpy as np
import pandas as pd

BY_COLUMNS = {"team": "team", "channel": "channel", "agent": "agent_id"}
BANDS = ("flagged", "score")
ALLOCATIONS = ("proportional", "neyman")
FLAG_LABELS = {True: "flagged", False: "not_flagged"}


class DesignError(ValueError):
    """A design that can't be drawn (bad --by, a size too small for the strata, …); says the fix."""


@dataclass
class Design:
    by: list[str] = field(default_factory=list)
    bands: str = "flagged"
    score_cuts: list[float] = field(default_factory=list)
    allocation: str = "proportional"
    min_per_stratum: int = 0
    seed: int = 0

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Design":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    def check(self) -> None:
        unknown = [b for b in self.by if b not in BY_COLUMNS]
        if unknown:
            raise DesignError(f"--by {','.join(unknown)}: not a stratum column; use any of {', '.join(BY_COLUMNS)} (e.g. --by team,channel)")
        if self.bands not in BANDS:
            raise DesignError(f"--bands {self.bands}: use flagged (machine flag / not) or score (sampling.score_cuts)")
        if self.allocation not in ALLOCATIONS:
            raise DesignError(f"--allocation {self.allocation}: use proportional or neyman")
        if self.min_per_stratum < 0:
            raise DesignError(f"--min-per-stratum {self.min_per_stratum}: must be 0 or more")


def _score_band(score: float, cuts: list[float]) -> str:
    if score is None or math.isnan(score):
        return "score?"
    lower = [c for c in cuts if c <= score]
    upper = [c for c in cuts if c > score]
    if not lower:
        return f"score<{upper[0]:g}"
    if not upper:
        return f"score≥{lower[-1]:g}"
    return f"{lower[-1]:g}≤score<{upper[0]:g}"


def strata(conversations: pd.DataFrame, design: Design) -> pd.Series:
    """Each conversation's stratum: its --by values and risk band joined with " | "."""
    design.check()
    parts = [conversations[BY_COLUMNS[b]].fillna("?").astype(str) for b in design.by]
    if design.bands == "flagged":
        parts.append(conversations["flagged"].map(FLAG_LABELS))
    else:
        cuts = sorted(float(c) for c in design.score_cuts)
        parts.append(conversations["score"].map(lambda s: _score_band(s, cuts)))
    key = parts[0]
    for p in parts[1:]:
        key = key + " | " + p
    return key.rename("stratum")


def allocate(sizes: dict[str, int], n: int, *, min_per_stratum: int = 0, sd: dict[str, float] | None = None) -> dict[str, int]:
    """n_h per stratum, Σ n_h = n: n_h = clip(λ·a_h, min(K, N_h), N_h) rounded by largest remainder,
    a_h = N_h (proportional) or N_h·sd_h (Neyman, ``sd`` given)."""
    total = sum(sizes.values())
    if n > total:
        raise DesignError(f"--size {n}: the runs hold only {total} conversations; ask for at most {total}")
    keys = sorted(sizes)
    lo = np.array([min(min_per_stratum, sizes[k]) for k in keys], dtype=float)
    hi = np.array([sizes[k] for k in keys], dtype=float)
    if lo.sum() > n:
        raise DesignError(f"--size {n} is less than the minimum per stratum: {len(keys)} strata × --min-per-stratum "
                          f"{min_per_stratum} need {int(lo.sum())}; raise --size, lower --min-per-stratum or use fewer --by columns")
    a = hi * np.array([sd[k] for k in keys]) if sd is not None else hi.copy()
    fill = lambda lam: np.clip(lam * a, lo, hi)  # noqa: E731 — monotone in λ
    low, high = 0.0, 1.0
    while fill(high).sum() < n:
        high *= 2
    for _ in range(100):
        mid = (low + high) / 2
        low, high = (mid, high) if fill(mid).sum() < n else (low, mid)
    exact = fill(high)
    counts = np.floor(exact + 1e-9)
    short = n - int(counts.sum())
    order = sorted((i for i in range(len(keys)) if counts[i] < hi[i]), key=lambda i: (-(exact[i] - counts[i]), keys[i]))
    for i in order[:max(short, 0)]:
        counts[i] += 1
    return {k: int(c) for k, c in zip(keys, counts)}


def stratum_sd(conversations: pd.DataFrame, stratum: pd.Series, floor: float) -> dict[str, float]:
    """Neyman's S_h: sqrt(p(1−p)) of the machine's defect rate in each stratum, at least ``floor``."""
    p = conversations["defect"].astype(float).groupby(stratum).mean()
    return {k: max(float(np.sqrt(v * (1 - v))), floor) for k, v in p.items()}


def draw(conversations: pd.DataFrame, design: Design, n: int, sd_floor: float) -> pd.DataFrame:
    """The sample: id, run, stratum, N_h, n_h, weight = N_h/n_h, inclusion probability n_h/N_h."""
    stratum = strata(conversations, design)
    sizes = stratum.value_counts().to_dict()
    sd = stratum_sd(conversations, stratum, sd_floor) if design.allocation == "neyman" else None
    alloc = allocate(sizes, n, min_per_stratum=design.min_per_stratum, sd=sd)
    frame = conversations.assign(stratum=stratum).sort_values("id", kind="stable")
    rng = np.random.default_rng(design.seed)
    rows = []
    for key in sorted(alloc):
        members = frame[frame["stratum"] == key]
        n_h, N_h = alloc[key], len(members)
        picked = members.iloc[np.sort(rng.choice(N_h, size=n_h, replace=False))] if n_h else members.iloc[:0]
        for cid, run in zip(picked["id"], picked["run"]):
            rows.append({"conversation_id": cid, "run": run, "stratum": key, "stratum_size": N_h, "stratum_sample": n_h,
                         "weight": N_h / n_h, "inclusion_probability": n_h / N_h})
    return pd.DataFrame(rows, columns=["conversation_id", "run", "stratum", "stratum_size", "stratum_sample", "weight",
                                       "inclusion_probability"])


def reviews_needed(p: float, margin: float, coverage: float, population: int) -> int:
    """Simple random sample size for ±margin on a proportion p at ``coverage``, with the finite
    population correction: n0 = z²p(1−p)/m², n = n0 / (1 + (n0 − 1)/N)."""
    z = NormalDist().inv_cdf(0.5 + coverage / 2)
    n0 = z * z * p * (1 - p) / (margin * margin)
    return min(population, math.ceil(n0 / (1 + (n0 - 1) / population))) if population else 0


def plan(conversations: pd.DataFrame, by: list[str], margin: float, coverage: float, unknown_p: float) -> pd.DataFrame:
    """Per group of ``by`` (all together when empty): N, the machine's defect rate, the p used (the
    machine's, or ``unknown_p`` where it says 0 % or 100 % — no information on the spread), and the
    reviews needed for ±margin with that p and with the conservative p = 0.5."""
    Design(by=by).check()
    keys = [BY_COLUMNS[b] for b in by]
    groups = conversations.groupby(keys, sort=True) if keys else [(("全部",), conversations)]
    rows = []
    for name, g in groups:
        rate = float(g["defect"].mean()) if len(g) else None
        known = rate is not None and 0 < rate < 1
        p = rate if known else unknown_p
        rows.append({"group": " | ".join(map(str, name if isinstance(name, tuple) else (name,))), "N": len(g),
                     "machine_rate": rate, "p": p, "p_source": "machine" if known else "assumed",
                     "n": reviews_needed(p, margin, coverage, len(g)),
                     "n_conservative": reviews_needed(0.5, margin, coverage, len(g))})
    return pd.DataFrame(rows)
