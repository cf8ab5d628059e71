"""Charts of a :class:`~.measures.Report`: matplotlib (Agg, no display, no network) → PNG bytes.

Chinese labels need a CJK font: :func:`setup_fonts` takes the first installed family of
``report.charts.fonts`` (Debian: ``fonts-noto-cjk`` → "Noto Sans CJK SC"), looking in the system
font folders itself when matplotlib's font cache predates the font's installation. Without one the
charts still render, with a warning that Chinese labels will show as boxes; :func:`render_all`
says so too (``Charts.cjk_font_missing``), and the HTML page shows a notice.

Every chart function takes ``dpi`` and returns PNG bytes — or, with ``dpi=None``, the matplotlib
:class:`~matplotlib.figure.Figure` it built (what the tests inspect: target lines, legends outside the
axes). Conventions (issue 13): a KPI with a target in ``report.targets`` gets a dashed line at the
target, labelled 「目标 ≥ / ≤ value」 (:func:`target_line`); a legend never sits on the data — it goes
below the figure or to the right of the axes; many series are small multiples, not one tangle.
"""

from __future__ import annotations

import io
import math
import sys
from glob import glob
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from .measures import KPI_LABELS, Report, report_targets  # noqa: E402

PALETTE = ["#3b6fb6", "#e07b39", "#4a9d5b", "#c44e52", "#8172b2", "#937860", "#da8bc3", "#8c8c8c", "#ccb974", "#64b5cd"]
GRADE_COLORS = {"优": "#4a9d5b", "良": "#3b6fb6", "中": "#e0a639", "差": "#c44e52"}
REASON_COLORS = {"服务态度": "#c44e52", "专业能力": "#8172b2", "响应速度": "#e07b39", "问题解决效果": "#3b6fb6", "其他": "#8c8c8c"}
_FONT_GLOBS = ["/usr/share/fonts/**/*CJK*.tt[cf]", "/usr/share/fonts/**/*CJK*.otf", "/usr/share/fonts/**/wqy*.tt[cf]",
               "/usr/share/fonts/**/*SourceHan*.otf", "/usr/local/share/fonts/**/*.tt[cf]", "C:/Windows/Fonts/msyh.tt[cf]"]
_font_used: list[str | None] = []
TARGET_COLOR = "#c44e52"


class Charts(dict):
    """Chart name → PNG bytes, and whether the charts were drawn without a CJK font (their Chinese
    labels are boxes then: the HTML page says so at the top)."""

    cjk_font: str | None = None
    cjk_font_missing: bool = False


def setup_fonts(families: list[str]) -> str | None:
    """Make the first installed CJK family the charts' font; returns its name (None: none found)."""
    if _font_used:
        return _font_used[0]
    installed = {f.name for f in font_manager.fontManager.ttflist}
    chosen = next((f for f in families if f in installed), None)
    if chosen is None:  # a font installed after matplotlib cached its font list
        for pattern in _FONT_GLOBS:
            for path in glob(pattern, recursive=True):
                try:
                    font_manager.fontManager.addfont(path)
                except Exception:  # noqa: BLE001 — an unreadable font file is skipped
                    continue
        installed = {f.name for f in font_manager.fontManager.ttflist}
        chosen = next((f for f in families if f in installed), None)
    if chosen is None:
        print("zhijian report: warning: no CJK font found (tried report.charts.fonts); Chinese chart labels will show as boxes. "
              "Install one, e.g. `apt-get install fonts-noto-cjk`.", file=sys.stderr)
    matplotlib.rcParams["font.family"] = "sans-serif"
    matplotlib.rcParams["font.sans-serif"] = ([chosen] if chosen else []) + ["DejaVu Sans"]
    matplotlib.rcParams["axes.unicode_minus"] = False
    matplotlib.rcParams["axes.spines.top"] = False
    matplotlib.rcParams["axes.spines.right"] = False
    matplotlib.rcParams["font.size"] = 9
    _font_used.append(chosen)
    return chosen


def _fig(w: float = 8.0, h: float = 3.2) -> Figure:
    return Figure(figsize=(w, h), layout="constrained")


def _png(fig: Figure, dpi: int | None) -> bytes | Figure:
    if dpi is None:  # the Figure itself, for tests and callers that want to inspect or restyle it
        return fig
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _pct_axis(ax, axis: str = "y") -> None:
    from matplotlib.ticker import PercentFormatter

    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(PercentFormatter(1.0, decimals=None))


def _fmt_target(value: float, kind: str) -> str:
    if kind == "pct":
        return f"{value:.1%}".replace(".0%", "%")
    if kind == "seconds":
        return f"{value:g} 秒"
    return f"{value:g}"


def target_line(ax, key: str, targets: dict[str, tuple[float, str]], kind: str = "pct", color: str = TARGET_COLOR):
    """The target of ``key`` (from ``report.targets``) as a dashed horizontal line across ``ax``, labelled
    「目标 ≤ 1%」 at its right end; the y-range is widened to show it. Nothing without a target."""
    if key not in targets:
        return None
    value, direction = targets[key]
    label = f"目标 {'≥' if direction == 'min' else '≤'} {_fmt_target(value, kind)}"
    line = ax.axhline(value, color=color, ls="--", lw=1, label="目标", gid=f"target:{key}")
    ax.annotate(label, (1.0, value), xycoords=("axes fraction", "data"), ha="right", va="bottom", fontsize=7, color=color,
                bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.85}, zorder=5, gid=f"target-label:{key}")
    lo, hi = ax.get_ylim()
    ax.set_ylim(min(lo, value), max(hi, value * 1.15 if value > 0 else hi))
    return line


def _legend_below(fig: Figure, handles, labels, ncols: int = 5) -> None:
    """One figure legend under the axes (constrained layout keeps it off the data)."""
    fig.legend(handles, labels, frameon=False, fontsize=8, loc="outside lower center", ncols=min(ncols, max(1, len(labels))))


def _short_days(days) -> list[str]:
    return [str(d)[5:] for d in days]


def _ok(v) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


# ------------------------------------------------------------------------------------------------
def grade_mix(r: Report, dpi: int | None) -> bytes | Figure | None:
    g = r.grade_mix
    if g["conversations"].sum() == 0:
        return None
    fig = _fig(5.2, 2.8)
    ax = fig.subplots()
    colors = [GRADE_COLORS.get(x, "#8c8c8c") for x in g["grade"]]
    bars = ax.bar(g["grade"], g["conversations"], color=colors)
    for b, n, s in zip(bars, g["conversations"], g["share"]):
        ax.annotate(f"{n}\n{s:.1%}", (b.get_x() + b.get_width() / 2, b.get_height()), ha="center", va="bottom", fontsize=8)
    ax.set_title("等级分布")
    ax.set_ylabel("会话数")
    ax.margins(y=0.3)
    return _png(fig, dpi)


def rule_hits(r: Report, dpi: int | None) -> bytes | Figure | None:
    t = r.rule_hits
    if t.empty:
        return None
    t = t.iloc[::-1]
    fig = _fig(8, 0.9 + 0.32 * len(t))
    ax = fig.subplots()
    colors = ["#4a9d5b" if k == "bonus" else "#c44e52" for k in t["kind"]]
    bars = ax.barh([f"{lab}  {rule}" for lab, rule in zip(t["label"], t["rule"])], t["rate"], color=colors)
    for b, rate, n in zip(bars, t["rate"], t["conversations"]):
        ax.annotate(f" {rate:.1%} ({n})", (b.get_width(), b.get_y() + b.get_height() / 2), va="center", fontsize=8)
    _pct_axis(ax, "x")
    ax.set_title("各规则命中率(含该规则的会话占比;绿色为加分项)")
    ax.margins(x=0.18)
    return _png(fig, dpi)


def first_response(r: Report, dpi: int | None) -> bytes | Figure | None:
    d = r.first_response_dist
    if d is None or d.empty:
        return None
    fig = _fig(8, 2.9)
    ax = fig.subplots()
    x = np.arange(len(d.index))
    bottom = np.zeros(len(d.index))
    for i, ch in enumerate(d.columns):
        ax.bar(x, d[ch].values, bottom=bottom, label=str(ch), color=PALETTE[i % len(PALETTE)])
        bottom += d[ch].values
    labels = [f"{int(lo)}–" if i == len(d.index) - 1 else f"{int(lo)}–{int(d.index[i + 1])}" for i, lo in enumerate(d.index)]
    ax.set_xticks(x, labels)
    ax.set_xlabel("首次响应(秒)")
    ax.set_ylabel("会话数")
    sla = r.meta["first_response_sla_s"]
    ax.set_title("首次响应时间分布(SLA: " + ", ".join(f"{k} {v}s" for k, v in sla.items() if k != "default") + ")")
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), title="渠道", title_fontsize=8)
    return _png(fig, dpi)


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


def _days_ticks(ax, days, max_ticks: int = 15) -> None:
    n = len(days)
    step = max(1, math.ceil(n / max_ticks))
    ax.set_xticks(np.arange(0, n, step), _short_days(list(days)[::step]))


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


RANKING_AXIS = (0.0, 100.0)  # score axis of the ranking: zero-based, so bar length is the score (issue 13)
RANKING_CAPTION = "横轴从 0 开始;误差线 = 平均分的 95% 区间(均值 ± t·s/√n),区间重叠的坐席之间差异不显著"


def agent_ranking_data(r: Report, top: int) -> dict[str, Any] | None:
    """What the ranking chart draws: bars (best first, the top and bottom ``top`` when there are more),
    their 95 % intervals, the x-axis limits and the caption (tested instead of pixels)."""
    ranked = r.agents[r.agents["ranked"]]
    if ranked.empty:
        return None
    a = ranked.sort_values("avg_score", ascending=False)
    if len(a) > 2 * top:
        a = a.iloc[list(range(top)) + list(range(len(a) - top, len(a)))]
    more = f"(前 {top} 名与后 {top} 名)" if len(ranked) > 2 * top else ""
    return {
        "labels": [f"{n or ''} {i}" for n, i in zip(a["agent_name"], a["agent_id"])],
        "score": [float(v) for v in a["avg_score"]], "lo": [float(v) for v in a["score_lo"]], "hi": [float(v) for v in a["score_hi"]],
        "n": [int(v) for v in a["conversations"]], "team": list(a["agent_team"]),
        "xlim": RANKING_AXIS, "title": f"坐席平均分排名{more}", "caption": RANKING_CAPTION,
    }


def agent_ranking(r: Report, dpi: int | None, top: int) -> bytes | Figure | None:
    d = agent_ranking_data(r, top)
    if d is None:
        return None
    teams = sorted(r.agents["agent_team"].dropna().unique())
    color = {t: PALETTE[i % len(PALETTE)] for i, t in enumerate(teams)}
    rev = slice(None, None, -1)  # best at the top
    fig = _fig(8, 1.1 + 0.26 * len(d["labels"]))
    ax = fig.subplots()
    score = np.array(d["score"][rev])
    err = np.array([score - np.array(d["lo"][rev]), np.array(d["hi"][rev]) - score])
    bars = ax.barh(d["labels"][rev], score, color=[color.get(t, "#8c8c8c") for t in d["team"][rev]],
                   xerr=np.nan_to_num(err), error_kw={"elinewidth": 0.8, "capsize": 2, "ecolor": "#333333"})
    for b, s_, n in zip(bars, score, d["n"][rev]):  # inside the bar, at its base: the axis ends at 100
        ax.annotate(f" {s_:.1f} (n={n})", (d["xlim"][0], b.get_y() + b.get_height() / 2), va="center", fontsize=7, color="white")
    ax.set_xlim(*d["xlim"])
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color=color[t], label=t) for t in teams], frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(d["title"])
    ax.set_xlabel(d["caption"], fontsize=7, color="#555555")
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


def team_items(r: Report, dpi: int | None) -> bytes | Figure | None:
    m = r.team_items
    if m is None or m.empty:
        return None
    m = m.iloc[:, :12]
    fig = _fig(8, 1.4 + 0.35 * len(m))
    ax = fig.subplots()
    im = ax.imshow(m.values, cmap="Reds", aspect="auto")
    ax.set_xticks(np.arange(m.shape[1]), [str(c) for c in m.columns], rotation=30, ha="right", fontsize=8)
    ax.set_yticks(np.arange(m.shape[0]), [str(i) for i in m.index])
    vmax = float(np.nanmax(m.values)) if m.size else 0
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            v = m.values[i, j]
            ax.text(j, i, f"{v:.0%}" if v >= 0.005 else "", ha="center", va="center", fontsize=7,
                    color="white" if v > vmax * 0.6 else "black")
    fig.colorbar(im, ax=ax, format=matplotlib.ticker.PercentFormatter(1.0, decimals=0), shrink=0.8)
    ax.set_title("团队 × 扣分项:每会话扣分次数(培训需求热点)")
    return _png(fig, dpi)


def issue_pareto(r: Report, dpi: int | None) -> bytes | Figure | None:
    t = r.issue_types
    if t is None or t.empty:
        return None
    fig = _fig(8, 3.2)
    ax = fig.subplots()
    x = np.arange(len(t))
    ax.bar(x, t["conversations"], color="#3b6fb6")
    ax.set_xticks(x, [str(v) for v in t["issue_type"]], rotation=30, ha="right")
    ax.set_ylabel("会话数")
    ax2 = ax.twinx()
    ax2.plot(x, t["cumulative_share"], color="#e07b39", marker="o", ms=3)
    ax2.axhline(0.8, color="#8c8c8c", ls=":", lw=1)
    ax2.set_ylim(0, 1.05)
    _pct_axis(ax2)
    ax2.spines["right"].set_visible(True)
    ax.set_title("问题类型帕累托图(柱:会话数;线:累计占比;虚线 80%)")
    return _png(fig, dpi)


def issue_quality(r: Report, dpi: int | None) -> bytes | Figure | None:
    t = r.issue_types
    if t is None or t.empty:
        return None
    fig = _fig(8, 3.0)
    axes = fig.subplots(1, 2)
    x = np.arange(len(t))
    names = [str(v) for v in t["issue_type"]]
    axes[0].bar(x, t["avg_score"], color="#4a9d5b")
    axes[0].set_xticks(x, names, rotation=40, ha="right", fontsize=7)
    axes[0].set_title("各问题类型平均分")
    lo = float(np.nanmin(t["avg_score"])) if t["avg_score"].notna().any() else 0
    axes[0].set_ylim(max(0, lo - 10), 100)
    if t["customer_negative_rate"].notna().any():
        axes[1].bar(x, t["customer_negative_rate"].fillna(0), color="#c44e52")
        axes[1].set_title("各问题类型客户负面率")
        target_line(axes[1], "customer_negative_rate", report_targets(r), color="#333333")
    else:
        axes[1].bar(x, t["bad_rating_rate"].fillna(0), color="#e07b39")
        axes[1].set_title("各问题类型差评率(暂无情绪数据)")
        target_line(axes[1], "bad_rating_rate", report_targets(r), color="#333333")
    axes[1].set_xticks(x, names, rotation=40, ha="right", fontsize=7)
    _pct_axis(axes[1])
    return _png(fig, dpi)


def bad_reasons(r: Report, dpi: int | None) -> bytes | Figure | None:
    b = r.bad_reviews
    if not b.get("count"):
        return None
    bc = b["by_class"]
    fig = _fig(8, 3.0)
    axes = fig.subplots(1, 2)
    ax = axes[0]
    bars = ax.bar(bc["reason"], bc["count"], color=[REASON_COLORS.get(c, "#8c8c8c") for c in bc["reason"]])
    for bar, n, s in zip(bars, bc["count"], bc["share"]):
        ax.annotate(f"{n} ({s:.0%})", (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom", fontsize=8)
    ax.set_title("差评原因分类")
    ax.margins(y=0.2)
    ax.tick_params(axis="x", labelsize=8)
    _stacked(axes[1], b["by_channel"], b["classes"], horizontal=False)
    axes[1].set_title("按渠道")
    return _png(fig, dpi)


def _stacked(ax, table, classes, horizontal: bool) -> None:
    cols = [c for c in classes if c in table.columns]
    base = np.zeros(len(table))
    idx = [str(i) for i in table.index]
    for c in cols:
        vals = table[c].values.astype(float)
        if horizontal:
            ax.barh(idx, vals, left=base, color=REASON_COLORS.get(c, "#8c8c8c"), label=c)
        else:
            ax.bar(idx, vals, bottom=base, color=REASON_COLORS.get(c, "#8c8c8c"), label=c)
        base += vals
    ax.legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # beside the axes, off the bars


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


def bad_by_agent(r: Report, dpi: int | None, top: int) -> bytes | Figure | None:
    b = r.bad_reviews
    a = b.get("by_agent")
    if a is None or a.empty:
        return None
    a = a.head(top).iloc[::-1]
    a = a.set_axis([f"{n or ''} {i}" for n, i in zip(a["agent_name"], a.index)])
    fig = _fig(8, 0.9 + 0.28 * len(a))
    ax = fig.subplots()
    _stacked(ax, a, b["classes"], horizontal=True)
    ax.set_title(f"差评最多的坐席(前 {top})")
    ax.xaxis.get_major_locator().set_params(integer=True)
    return _png(fig, dpi)


def verdict_precision(r: Report, dpi: int | None) -> bytes | Figure | None:
    v = r.verdicts
    if not v or v.get("per_rule") is None or v["per_rule"].empty:
        return None
    t = v["per_rule"].iloc[::-1]
    fig = _fig(8, 0.9 + 0.32 * len(t))
    ax = fig.subplots()
    y = np.arange(len(t))
    ax.barh(y - 0.2, t["precision"].fillna(0), height=0.4, color="#3b6fb6", label="精确率 precision")
    ax.barh(y + 0.2, t["agreement"].fillna(0), height=0.4, color="#4a9d5b", label="一致率 agreement")
    ax.set_yticks(y, [f"{lab}  {rule}" for lab, rule in zip(t["label"], t["rule"])])
    _pct_axis(ax, "x")
    ax.set_xlim(0, 1.05)
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title("各规则:人工确认的精确率与机器—人工一致率")
    return _png(fig, dpi)


def render_all(r: Report, config: dict[str, Any]) -> dict[str, bytes]:
    """Every chart that has data, by name."""
    ch = config["report"]["charts"]
    font = setup_fonts(list(ch["fonts"]))
    dpi = int(ch["dpi"])
    top = int(config["report"]["top_agents"])
    makers = {
        "grade_mix": lambda: grade_mix(r, dpi),
        "rule_hits": lambda: rule_hits(r, dpi),
        "first_response": lambda: first_response(r, dpi),
        "daily_volume_score": lambda: daily_volume_score(r, dpi),
        "daily_rates": lambda: daily_rates(r, dpi),
        "forecasts": lambda: forecasts(r, dpi),
        "agent_ranking": lambda: agent_ranking(r, dpi, top),
        "team_trend": lambda: team_trend(r, dpi),
        "team_items": lambda: team_items(r, dpi),
        "issue_pareto": lambda: issue_pareto(r, dpi),
        "issue_quality": lambda: issue_quality(r, dpi),
        "bad_reasons": lambda: bad_reasons(r, dpi),
        "bad_by_day": lambda: bad_by_day(r, dpi),
        "bad_by_agent": lambda: bad_by_agent(r, dpi, top),
        "verdict_precision": lambda: verdict_precision(r, dpi),
    }
    out = Charts()
    out.cjk_font, out.cjk_font_missing = font, font is None
    for name, make in makers.items():
        png = make()
        if png:
            out[name] = png
    return out
