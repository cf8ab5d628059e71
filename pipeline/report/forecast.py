"""Forecast of a daily series: an ordinary least-squares linear trend with a prediction interval.

For days ``x`` (calendar days since the first day of data; days without data are simply absent)
and values ``y``: fit ``y = a + b·x``; the residual spread is ``s = sqrt(SSE / (n − 2))``.

* a future day ``x0``: ``ŷ = a + b·x0``, interval ``ŷ ± t · s · sqrt(1 + 1/n + (x0 − x̄)² / Sxx)``
  (the textbook prediction interval of one new observation);
* the next period (``h`` days, mean day ``x̄h``): the mean of its days is forecast as
  ``a + b·x̄h`` with ``± t · s · sqrt(1/h + 1/n + (x̄h − x̄)² / Sxx)`` (the interval of the mean of
  ``h`` new observations); for a count (conversations) the period total is ``h`` times that.

``t`` is Student's t quantile with ``n − 2`` degrees of freedom for the configured coverage
(Cornish–Fisher expansion; within 0.005 of the exact value from 5 degrees of freedom).
Bounds are clipped to the metric's range (rates to [0, 1], scores to [0, 100], counts ≥ 0).
No damping — the interval says how much the days scatter around the trend, and a forecast with a
wide interval is telling you exactly that.

:func:`seasonal_forecast` (from ``report.forecast.seasonal_min_days`` = 21 days, issue 13) adds
day-of-week effects: ``y = a + b·x + Σ_d c_d·[weekday = d]`` (Monday the baseline, six dummies) by
least squares (numpy). With design matrix ``X``, ``s² = SSE / (n − 8)`` and a future row ``x0``:
``ŷ ± t · s · sqrt(1 + x0ᵀ(XᵀX)⁻¹x0)``; the period mean uses the mean row ``x̄h`` and
``sqrt(1/h + x̄hᵀ(XᵀX)⁻¹x̄h)``. Same clipping and ``t`` (now with ``n − 8`` degrees of freedom).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta


@dataclass
class Forecast:
    metric: str
    n_days: int
    slope_per_day: float
    residual_sd: float
    days: list[date] = field(default_factory=list)  # the forecast days
    yhat: list[float] = field(default_factory=list)
    lo: list[float] = field(default_factory=list)
    hi: list[float] = field(default_factory=list)
    period_value: float | None = None  # mean per day (rates, scores) or total (counts) over the horizon
    period_lo: float | None = None
    period_hi: float | None = None
    method: str = "linear"  # linear | seasonal (trend + day-of-week)


def t_quantile(p: float, df: int) -> float:
    """Student's t quantile by the Cornish–Fisher expansion around the normal quantile (error
    < 0.005 for df ≥ 5 at coverages up to 99 %; no scipy import on the report's start-up path)."""
    from statistics import NormalDist

    z = NormalDist().inv_cdf(p)
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def _assemble(fc: Forecast, days: list[tuple[date, float, float]], period: tuple[float, float],
              bounds: tuple[float | None, float | None], scale: int) -> Forecast:
    """Fills ``fc`` from (day, ŷ, half-width) per forecast day and the period's (mean, half-width),
    clipped to ``bounds``; ``scale`` = the horizon for a period total (counts), else 1."""
    lo_b, hi_b = bounds

    def clip(v: float) -> float:
        if lo_b is not None:
            v = max(lo_b, v)
        if hi_b is not None:
            v = min(hi_b, v)
        return v

    for day, y0, half in days:
        fc.days.append(day)
        fc.yhat.append(clip(y0))
        fc.lo.append(clip(y0 - half))
        fc.hi.append(clip(y0 + half))
    ym, half = period
    fc.period_value = clip(ym) * scale
    fc.period_lo = clip(ym - half) * scale
    fc.period_hi = clip(ym + half) * scale
    return fc


def _points(days: list[date], values: list[float]) -> list[tuple[date, float]]:
    return [(d, v) for d, v in zip(days, values) if v is not None and not math.isnan(v)]


def linear_forecast(
    metric: str,
    days: list[date],
    values: list[float],
    horizon: int,
    interval: float = 0.95,
    bounds: tuple[float | None, float | None] = (None, None),
    total: bool = False,
) -> Forecast | None:
    """Forecast ``horizon`` days after the last of ``days``; None with fewer than 7 points."""
    pts = _points(days, values)
    n = len(pts)
    if n < 7 or horizon < 1:
        return None
    d0 = pts[0][0]
    xs = [(d - d0).days for d, _ in pts]
    ys = [v for _, v in pts]
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    a = my - b * mx
    sse = sum((y - (a + b * x)) ** 2 for x, y in zip(xs, ys))
    s = math.sqrt(sse / (n - 2))
    t = t_quantile(0.5 + interval / 2, n - 2)
    fdays = [pts[-1][0] + timedelta(days=k) for k in range(1, horizon + 1)]
    future_x = [(day - d0).days for day in fdays]
    days_ = [(day, a + b * x0, t * s * math.sqrt(1 + 1 / n + (x0 - mx) ** 2 / sxx)) for day, x0 in zip(fdays, future_x)]
    xm = sum(future_x) / horizon
    period = (a + b * xm, t * s * math.sqrt(1 / horizon + 1 / n + (xm - mx) ** 2 / sxx))
    return _assemble(Forecast(metric, n, b, s), days_, period, bounds, horizon if total else 1)


SEASONAL_PARAMS = 8  # intercept, slope, six weekday effects


def _design(d0: date, ds: list[date]):
    import numpy as np

    x = np.array([(d - d0).days for d in ds], dtype=float)
    wd = np.array([d.weekday() for d in ds])
    return np.column_stack([np.ones(len(ds)), x] + [(wd == k).astype(float) for k in range(1, 7)])


def seasonal_forecast(metric: str, days: list[date], values: list[float], horizon: int, *, interval: float = 0.95,
                      bounds: tuple[float | None, float | None] = (None, None), total: bool = False) -> Forecast | None:
    """Linear trend + day-of-week effects (module docstring); None without two points per weekday
    beyond the parameters (fewer than 14 points) or when a weekday never occurs."""
    import numpy as np

    pts = _points(days, values)
    n = len(pts)
    if n < 2 * 7 or horizon < 1:
        return None
    d0 = pts[0][0]
    X = _design(d0, [d for d, _ in pts])
    y = np.array([v for _, v in pts], dtype=float)
    if np.linalg.matrix_rank(X) < SEASONAL_PARAMS:
        return None
    xtx_inv = np.linalg.inv(X.T @ X)
    beta = xtx_inv @ X.T @ y
    s = math.sqrt(float(((y - X @ beta) ** 2).sum()) / (n - SEASONAL_PARAMS))
    t = t_quantile(0.5 + interval / 2, n - SEASONAL_PARAMS)
    fdays = [pts[-1][0] + timedelta(days=k) for k in range(1, horizon + 1)]
    F = _design(d0, fdays)
    days_ = [(day, float(row @ beta), t * s * math.sqrt(1 + float(row @ xtx_inv @ row))) for day, row in zip(fdays, F)]
    xm = F.mean(axis=0)
    period = (float(xm @ beta), t * s * math.sqrt(1 / horizon + float(xm @ xtx_inv @ xm)))
    return _assemble(Forecast(metric, n, float(beta[1]), s, method="seasonal"), days_, period, bounds, horizon if total else 1)
