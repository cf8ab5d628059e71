"""Small statistics shared by the evaluation, the workbench and the reports."""

from __future__ import annotations

import math
from collections import Counter
from statistics import NormalDist
from typing import Any, Sequence


def wilson_interval(k: float, n: float, coverage: float = 0.95) -> tuple[float | None, float | None]:
    """Wilson score interval of a proportion k/n (sound for small n and for 0 % / 100 %)."""
    if n == 0:
        return None, None
    z = NormalDist().inv_cdf(0.5 + coverage / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def cohen_kappa(a: Sequence[Any], b: Sequence[Any]) -> float | None:
    """Cohen's κ of two raters' categorical labels (``None`` is a category of its own); ``None``
    when chance agreement is 1 (both raters gave one and the same value throughout)."""
    if len(a) != len(b):
        raise ValueError("the two raters must label the same items")
    n = len(a)
    if n == 0:
        return None
    po = sum(x == y for x, y in zip(a, b)) / n
    ca, cb = Counter(map(repr, a)), Counter(map(repr, b))
    pe = sum(ca[k] * cb.get(k, 0) for k in ca) / (n * n)
    return None if pe >= 1 else (po - pe) / (1 - pe)


def roc_auc(scores: Sequence[float], positives: Sequence[bool]) -> float | None:
    """Probability that a random positive scores higher than a random negative (ties count ½);
    ``None`` without both classes."""
    pos = [s for s, p in zip(scores, positives) if p]
    neg = [s for s, p in zip(scores, positives) if not p]
    if not pos or not neg:
        return None
    wins = sum((p > q) + 0.5 * (p == q) for p in pos for q in neg)
    return wins / (len(pos) * len(neg))


# --------------------------------------------------------------------------- agreement of several raters
# Nominal data: a unit (one finding judged, one conversation graded …) gets a value from each rater.


def _pairable(units: Sequence[Sequence[Any]]) -> list[list[str]]:
    """Each unit's values (``None``: missing, left out) as comparable keys; units with fewer than two
    values can't be paired and are dropped (Krippendorff's rule)."""
    out = []
    for unit in units:
        values = [repr(v) for v in unit if v is not None]
        if len(values) >= 2:
            out.append(values)
    return out


def unit_agreement(values: Sequence[Any]) -> float | None:
    """Share of agreeing pairs among a unit's raters (Fleiss' P_i); ``None`` below two values."""
    vals = [repr(v) for v in values if v is not None]
    m = len(vals)
    if m < 2:
        return None
    return sum(c * (c - 1) for c in Counter(vals).values()) / (m * (m - 1))


def fleiss_kappa(units: Sequence[Sequence[Any]]) -> float | None:
    """Fleiss' κ (1971): chance-corrected agreement of a fixed number of raters per unit.

    ``units``: per unit the raters' labels, every unit the same number m ≥ 2 of them (no ``None``).
    κ = (P̄ − P̄e) / (1 − P̄e), P̄ the mean of :func:`unit_agreement` over units, P̄e = Σ_j p_j² with
    p_j each category's share of all labels. ``None`` when there are no units or P̄e = 1 (everyone
    gave one and the same label throughout: nothing to correct for)."""
    if not units:
        return None
    sizes = {len(u) for u in units}
    if len(sizes) != 1 or min(sizes) < 2:
        raise ValueError(f"Fleiss' κ needs the same number (≥ 2) of labels per unit; got {sorted(sizes)}")
    if any(v is None for u in units for v in u):
        raise ValueError("Fleiss' κ needs every label: use krippendorff_alpha for missing values")
    p_bar = sum(unit_agreement(u) for u in units) / len(units)
    totals = Counter(repr(v) for u in units for v in u)
    n_labels = sum(totals.values())
    p_e = sum((c / n_labels) ** 2 for c in totals.values())
    return None if p_e >= 1 else (p_bar - p_e) / (1 - p_e)


def krippendorff_alpha(units: Sequence[Sequence[Any]]) -> float | None:
    """Krippendorff's α for nominal data: α = 1 − D_o / D_e from the coincidence matrix.

    ``units``: per unit the values raters gave, ``None`` for a missing one; any number of raters per
    unit. Units with fewer than two values are left out. With n pairable values in all, n_c of value
    c, and per unit u with m_u values: D_o = Σ_u Σ_{c≠k} n_uc·n_uk / (m_u − 1) / n and
    D_e = Σ_{c≠k} n_c·n_k / (n (n − 1)). ``None`` when nothing is pairable or only one value occurs
    (D_e = 0)."""
    pairable = _pairable(units)
    if not pairable:
        return None
    totals: Counter[str] = Counter()
    observed = 0.0  # Σ over units of disagreeing ordered pairs / (m_u − 1)
    for values in pairable:
        counts = Counter(values)
        m = len(values)
        totals.update(counts)
        observed += (m * m - sum(c * c for c in counts.values())) / (m - 1)
    n = sum(totals.values())
    expected = (n * n - sum(c * c for c in totals.values())) / (n - 1)
    if expected == 0:
        return None
    return 1 - observed / expected
