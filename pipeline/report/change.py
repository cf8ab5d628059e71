"""A change between two periods, judged as it is shown — one rule for the HTML and the Excel report.

Adds: the change is first rounded to what the reader sees (0.1 percentage point, 0.1 s, 0.1 point,
1 conversation); one that rounds to zero is 持平 — no arrow, no colour — so a ▼ −0.0 pp can't
show green. Otherwise ▲ / ▼, coloured good or bad by which way the KPI should move (``GOOD``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# +1: higher is better; -1: lower is better; 0 (or absent): neither
GOOD = {
    "avg_score": 1, "first_response_sla_compliance": 1, "negative_recovery_rate": 1, "csat": 1, "rating_rate": 0,
    "conversations": 0, "review_rate": 0, "fatal_rate": -1, "first_response_mean": -1, "first_response_p50": -1,
    "first_response_p90": -1, "avg_response_s": -1, "complaint_risk_rate": -1, "bad_rating_rate": -1, "customer_negative_rate": -1,
}
# how a change is shown: (multiplier to the shown unit, decimals, unit)
SHOWN = {"pct": (100.0, 1, " 个百分点"), "seconds": (1.0, 1, " s"), "score": (1.0, 1, ""), "count": (1.0, 0, "")}
FLAT = "持平"


@dataclass(frozen=True)
class Change:
    shown: float  # the change in the shown unit (percentage points for rates), rounded as displayed
    value: float  # the same rounding in the metric's own unit (a fraction for rates): what Excel stores
    arrow: str  # "▲" | "▼" | "" (持平)
    verdict: str | None  # "good" | "bad" | None (持平, or a KPI with no better direction)
    text: str  # "+1.2 个百分点", "-3 s", or 持平

    @property
    def word(self) -> str:
        """变好 / 变差 (a KPI with a better direction), 上升 / 下降 (one without), or 持平."""
        if not self.arrow:
            return FLAT
        if self.verdict:
            return "变好" if self.verdict == "good" else "变差"
        return "上升" if self.shown > 0 else "下降"


def judge_change(key: str, kind: str, change: float | None) -> Change | None:
    """The change of KPI ``key`` (of ``kind``) as the report shows it; None when there is none."""
    if change is None or (isinstance(change, float) and math.isnan(change)):
        return None
    scale, decimals, unit = SHOWN.get(kind, (1.0, 1, ""))
    shown = round(change * scale, decimals)
    if shown == 0:
        return Change(0.0, 0.0, "", None, FLAT)
    good = GOOD.get(key, 0)
    verdict = None if not good else ("good" if (shown > 0) == (good > 0) else "bad")
    return Change(shown, shown / scale, "▲" if shown > 0 else "▼", verdict, f"{shown:+,.{decimals}f}{unit}")
