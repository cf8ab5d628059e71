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
