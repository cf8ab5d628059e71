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
Deliberately simple: no weekday seasonality, no damping — the interval says how much the days
scatter around the trend, and a forecast with a wide interval is telling you exactly that.
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
    pts = [(d, v) for d, v in zip(days, values) if v is not None and not math.isnan(v)]
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
    lo_b, hi_b = bounds

    def clip(v: float) -> float:
        if lo_b is not None:
            v = max(lo_b, v)
        if hi_b is not None:
            v = min(hi_b, v)
        return v

    last = pts[-1][0]
    fc = Forecast(metric, n, b, s)
    future_x = []
    for k in range(1, horizon + 1):
        day = last + timedelta(days=k)
        x0 = (day - d0).days
        future_x.append(x0)
        y0 = a + b * x0
        half = t * s * math.sqrt(1 + 1 / n + (x0 - mx) ** 2 / sxx)
        fc.days.append(day)
        fc.yhat.append(clip(y0))
        fc.lo.append(clip(y0 - half))
        fc.hi.append(clip(y0 + half))
    xm = sum(future_x) / horizon
    ym = a + b * xm
    half = t * s * math.sqrt(1 / horizon + 1 / n + (xm - mx) ** 2 / sxx)
    scale = horizon if total else 1
    fc.period_value = clip(ym) * scale
    fc.period_lo = clip(ym - half) * scale
    fc.period_hi = clip(ym + half) * scale
    return fc
