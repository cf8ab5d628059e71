"""The report's charts over time: daily volume and score, daily rates against their targets, the
forecasts, the teams' trends (small multiples) and bad reviews by day. Conventions: chart_style.py."""

from __future__ import annotations

import math
from typing import Any

import matplotlib.dates
import numpy as np
from matplotlib.figure import Figure

from .chart_style import PALETTE, REASON_COLORS, _days_ticks, _fig, _legend_below, _pct_axis, _png, target_line
from .measures import KPI_LABELS, Report, report_targets


def daily_volume_score(r: Report, dpi: int | None) -> bytes | Figure | None:
    d = r.daily
    if d is None or len(d) < 2:
        return None
    fig = _fig(8, 3.0)
    ax = fig.subplots()
    x = np.arange(len(d))
    ax.bar(x, d["conversations"], color="#c9d6ea", label="会话数")
    ax.set_ylabel("会话数")
    ax2 = ax.twinx()
    ax2.plot(x, d["avg_score"], color="#3b6fb6", marker="o", ms=3, label="平均分")
    target_line(ax2, "avg_score", report_targets(r), "score")
    ax2.set_ylabel("平均分")
    ax2.spines["right"].set_visible(True)
    _days_ticks(ax, d["day"])
    ax.set_title("每日会话数与平均分")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    _legend_below(fig, h1 + h2, l1 + l2)
    return _png(fig, dpi)


DAILY_RATE_KEYS = ["first_response_sla_compliance", "csat", "bad_rating_rate", "complaint_risk_rate", "fatal_rate",
                   "customer_negative_rate", "negative_recovery_rate"]


def daily_rates(r: Report, dpi: int | None) -> bytes | Figure | None:
    """每日比率: one small panel per daily rate that has data (rates of 0.5 % and 60 % can't share an
    axis), each with its own y-range and its target line; one legend below the panels."""
    d = r.daily
    if d is None or len(d) < 2:
        return None
    keys = [k for k in DAILY_RATE_KEYS if k in d.columns and d[k].notna().any()]
    if not keys:
        return None
    targets = report_targets(r)
    cols = min(4, len(keys))
    rows = math.ceil(len(keys) / cols)
    fig = _fig(8, 0.6 + 2.1 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    x = np.arange(len(d))
    for ax, key in zip(axes, keys):
        ax.plot(x, d[key], marker="o", ms=2.5, lw=1.2, color="#3b6fb6", label="每日实际")
        ax.set_ylim(0, min(1.05, max(float(np.nanmax(d[key])) * 1.15, 0.001)))  # zero-based, never far above 100 %
        target_line(ax, key, targets)
        _pct_axis(ax)
        _days_ticks(ax, d["day"], 4)
        ax.tick_params(labelsize=7)
        ax.set_title(KPI_LABELS[key], fontsize=9)
    for ax in axes[len(keys):]:
        ax.set_visible(False)
    fig.suptitle("每日比率(每格一个指标,纵轴各自从 0 开始)", fontsize=10)
    handles: dict[str, Any] = {}
    for ax in axes[:len(keys)]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    _legend_below(fig, list(handles.values()), list(handles))
    return _png(fig, dpi)


def forecast_panels(r: Report) -> list[dict[str, Any]]:
    """One panel per forecast: the KPI, its forecast and its target line (None when no target is set)."""
    targets = report_targets(r)
    return [{"key": k, "label": KPI_LABELS.get(k, k), "forecast": f, "target": targets.get(k, (None,))[0],
             "method": f.method} for k, f in r.forecasts.items() if f is not None]


def forecasts(r: Report, dpi: int | None) -> bytes | Figure | None:
    panels = forecast_panels(r)
    if not panels:
        return None
    from datetime import date

    cols = 2
    rows = math.ceil(len(panels) / cols)
    fig = _fig(8, 2.5 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    hist_days = [date.fromisoformat(x) for x in r.daily["day"]]
    targets_all = report_targets(r)
    for ax, p in zip(axes, panels):
        key, fc = p["key"], p["forecast"]
        ax.plot(hist_days, r.daily[key], color="#3b6fb6", marker="o", ms=2, lw=1, label="实际")
        ax.plot(fc.days, fc.yhat, color="#e07b39", lw=1.5, label="预测")
        ax.fill_between(fc.days, fc.lo, fc.hi, color="#e07b39", alpha=0.2, label="预测区间")
        target_line(ax, key, targets_all if p["target"] is not None else {},
                    "count" if key == "conversations" else "score" if key == "avg_score" else "pct")
        ax.set_title(p["label"], fontsize=9)
        if key != "conversations" and key != "avg_score":
            _pct_axis(ax)
        ax.tick_params(axis="x", labelsize=7)
        ax.xaxis.set_major_locator(matplotlib.dates.AutoDateLocator(minticks=3, maxticks=6))
        ax.xaxis.set_major_formatter(matplotlib.dates.DateFormatter("%m-%d"))
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    handles: dict[str, Any] = {}
    for ax in axes[:len(panels)]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.legend(list(handles.values()), list(handles), frameon=False, fontsize=7, loc="outside upper center", ncol=4)  # legend off the data
    return _png(fig, dpi)


TEAM_PANELS_MAX = 12  # small multiples: one panel per team; more teams → the lowest-scoring 12


def team_trend_teams(r: Report) -> tuple[list[str], int]:
    """The teams the trend chart draws, in panel order (lowest mean score first: those needing
    attention come first), and how many teams there are in all."""
    order = r.team_daily.mean(axis=0).sort_values(kind="stable")
    return [str(t) for t in order.index[:TEAM_PANELS_MAX]], len(order)


def team_trend(r: Report, dpi: int | None) -> bytes | Figure | None:
    """各团队每日平均分 as small multiples: one panel per team (its line in colour, the other teams in
    light grey behind it for context), a shared y-axis and the 平均分 target in each panel."""
    td = r.team_daily
    if td is None or td.empty or len(td) < 2:
        return None
    teams, total = team_trend_teams(r)
    cols = min(4, len(teams))
    rows = math.ceil(len(teams) / cols)
    fig = _fig(8, 0.7 + 1.7 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols, sharex=True, sharey=True, squeeze=False)).ravel()
    x = np.arange(len(td))
    targets = report_targets(r)
    by_name = {str(c): c for c in td.columns}
    for i, (ax, team) in enumerate(zip(axes, teams)):
        for other in td.columns:
            if str(other) != team:
                ax.plot(x, td[other], color="#d9d9d9", lw=0.8, zorder=1)
        ax.plot(x, td[by_name[team]], color=PALETTE[i % len(PALETTE)], marker="o", ms=2, lw=1.4, label=team, zorder=3, gid=f"team:{team}")
        target_line(ax, "avg_score", targets, "score")
        ax.set_title(team, fontsize=9)
        ax.tick_params(labelsize=7)
    lo = float(np.nanmin(td.values))
    axes[0].set_ylim(max(0.0, min(lo, targets.get("avg_score", (lo, ""))[0]) - 5), 100)
    _days_ticks(axes[0], td.index, 4)
    for ax in axes[len(teams):]:
        ax.set_visible(False)
    more = f";共 {total} 个团队,显示平均分最低的 {len(teams)} 个" if total > len(teams) else ""
    fig.suptitle(f"各团队每日平均分(每格一个团队,灰线为其他团队{more})", fontsize=10)
    return _png(fig, dpi)


def bad_by_day(r: Report, dpi: int | None) -> bytes | Figure | None:
    b = r.bad_reviews
    d = b.get("by_day")
    if d is None or len(d) < 2:
        return None
    fig = _fig(8, 2.8)
    ax = fig.subplots()
    base = np.zeros(len(d))
    x = np.arange(len(d))
    for c in [c for c in b["classes"] if c in d.columns]:
        ax.bar(x, d[c].values, bottom=base, color=REASON_COLORS.get(c, "#8c8c8c"), label=c)
        base += d[c].values
    _days_ticks(ax, d.index)
    ax.set_title("每日差评数(按原因)")
    _legend_below(fig, *ax.get_legend_handles_labels())
    return _png(fig, dpi)
