"""Small statistics the report's tables rest on (issue 13, "statistics that hold").

* :func:`wilson_interval` — interval of a proportion ``k / n`` (pipeline/stats.py's, re-exported);
* :func:`mean_interval` — mean ± t · s / √n (Student's t with ``n − 1`` degrees of freedom);
* :func:`binom_greater` — one-sided binomial test p-values, P(X ≥ k | n, p0);
* :func:`bh_qvalues` — Benjamini–Hochberg adjusted p-values (q-values) over a family of tests.

scipy is imported inside the functions, so importing the report does not pay for it.
"""

from __future__ import annotations

import math

import numpy as np


from ..stats import wilson_interval  # noqa: F401 — the project's one Wilson interval, re-exported for the report


def t_half_width(sd, n, coverage: float = 0.95) -> np.ndarray:
    """``t · s / √n`` (Student's t, ``n − 1`` degrees of freedom), vectorised; NaN where ``n < 2``."""
    from scipy.stats import t as student_t

    n = np.asarray(n, dtype=float)
    sd = np.asarray(sd, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = np.where(n >= 2, n - 1, np.nan)
        return np.asarray(student_t.ppf(0.5 + coverage / 2, df) * sd / np.sqrt(n), dtype=float)


def mean_interval(values, coverage: float = 0.95) -> tuple[float | None, float | None, float | None]:
    """(mean, lo, hi): ``mean ± t · s / √n``; the bounds are None with fewer than 2 values."""
    v = np.asarray([x for x in values if x is not None and not math.isnan(x)], dtype=float)
    if len(v) == 0:
        return None, None, None
    m = float(v.mean())
    if len(v) < 2:
        return m, None, None
    half = float(t_half_width(v.std(ddof=1), len(v), coverage))
    return m, m - half, m + half


def binom_greater(k, n, p0) -> np.ndarray:
    """One-sided p-values that ``k`` of ``n`` is above a rate ``p0``: P(X ≥ k), X ~ Binomial(n, p0) —
    what ``scipy.stats.binomtest(k, n, p0, alternative="greater")`` returns, vectorised over arrays."""
    from scipy.stats import binom

    k = np.asarray(k, dtype=float)
    return np.asarray(binom.sf(k - 1, np.asarray(n, dtype=float), np.asarray(p0, dtype=float)), dtype=float)


def bh_qvalues(pvalues) -> np.ndarray:
    """Benjamini–Hochberg q-values: flag ``q ≤ α`` to keep the expected false-discovery rate ≤ α."""
    p = np.asarray(pvalues, dtype=float)
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, m + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(q, 1.0)
    return out
