"""Charts of a :class:`~.measures.Report` → PNG bytes (``dpi=None``: the matplotlib Figure, what the tests
inspect): grades, rules, first response, the agents' ranking, teams, issues, bad reviews, reviewers'
verdicts, and :func:`render_all`, every chart that has data. The charts over time are in
charts_trends.py; fonts, colours, the target line and the legend conventions in chart_style.py. This
module names them all, so ``charts.daily_rates`` reads as ``charts.grade_mix``."""

from __future__ import annotations

from typing import Any

import matplotlib.ticker
import numpy as np
from matplotlib.figure import Figure

from .chart_style import (GRADE_COLORS, PALETTE, REASON_COLORS, Charts, _fig, _pct_axis, _png, _stacked, setup_fonts,
                          target_line)
from .charts_trends import (DAILY_RATE_KEYS, TEAM_PANELS_MAX, bad_by_day, daily_rates, daily_volume_score, forecast_panels,
                            forecasts, team_trend, team_trend_teams)
from .measures import Report, report_targets

__all__ = [
    "DAILY_RATE_KEYS", "RANKING_AXIS", "RANKING_CAPTION", "TEAM_PANELS_MAX", "Charts", "agent_ranking", "agent_ranking_data",
    "bad_by_agent", "bad_by_day", "bad_reasons", "daily_rates", "daily_volume_score", "first_response", "forecast_panels",
    "forecasts", "grade_mix", "issue_pareto", "issue_quality", "render_all", "rule_hits", "setup_fonts", "team_items",
    "team_trend", "team_trend_teams", "verdict_precision",
]


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
