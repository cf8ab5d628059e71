"""HTML renderer: one self-contained file (inline CSS, charts as base64 PNG, no script, no CDN).

:func:`render_html` turns a :class:`~.measures.Report` into the page; :func:`section_html` renders
one section, so the review workbench can show the same views inside its own pages.
"""

from __future__ import annotations

import base64
import html
import math
from typing import Any, Callable

import pandas as pd

from .cases import section_html as sec_cases  # 差评处理 (issue 19)
from .change import judge_change
from .measures import KPI_KINDS, KPI_LABELS, Report, report_targets

SECTIONS = [
    ("summary", "摘要"),
    ("kpi", "概览"),
    ("seed", "种子指标"),
    ("trends", "趋势与预测"),
    ("agents", "坐席与团队"),
    ("issues", "问题类型"),
    ("questions", "评分表问题"),
    ("bad-reviews", "差评分析"),
    ("cases", "差评处理"),
    ("verdicts", "机器与人工一致性"),
    ("estimates", "缺陷率估计"),
    ("method", "口径说明"),
]
CSS = """
:root{--fg:#1f2933;--muted:#6b7785;--line:#e3e7ec;--bg:#f6f8fa;--good:#2f8a4a;--bad:#c0392b;--accent:#3b6fb6}
*{box-sizing:border-box}
body{margin:0;font-family:"Noto Sans CJK SC","Source Han Sans SC","WenQuanYi Micro Hei","Microsoft YaHei","PingFang SC","Noto Sans",sans-serif;
color:var(--fg);background:#fff;font-size:14px;line-height:1.5}
header{background:#1f3a5f;color:#fff;padding:18px 28px}
header h1{margin:0 0 4px;font-size:22px}
header .sub{opacity:.85;font-size:13px}
nav{position:sticky;top:0;background:#fff;border-bottom:1px solid var(--line);padding:8px 28px;z-index:2}
nav a{margin-right:18px;color:var(--accent);text-decoration:none;font-weight:600}
main{padding:8px 28px 40px;max-width:1280px}
section{margin-top:26px}
h2{font-size:19px;border-left:4px solid var(--accent);padding-left:10px;margin:0 0 12px}
h3{font-size:15px;margin:18px 0 8px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(180px,1fr));gap:10px}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 12px;background:var(--bg)}
.card .label{color:var(--muted);font-size:12px}
.card .value{font-size:22px;font-weight:700}
.card .meta{font-size:11px;color:var(--muted)}
.ok{color:var(--good);font-weight:600}.miss{color:var(--bad);font-weight:600}
.up-good,.down-good{color:var(--good)}.up-bad,.down-bad{color:var(--bad)}
.na{color:var(--muted)}
table{border-collapse:collapse;margin:6px 0 14px;font-size:13px}
th,td{border-bottom:1px solid var(--line);padding:4px 9px;text-align:right;white-space:nowrap}
th{background:var(--bg);font-weight:600}
td.t,th.t{text-align:left}
td.t{white-space:normal;max-width:460px}
svg.spark{vertical-align:middle}
tr:nth-child(even) td{background:#fbfcfd}
img.chart{display:block;max-width:100%;height:auto;margin:8px 0 14px;border:1px solid var(--line);border-radius:6px}
.row{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}
.note{background:#fff8e6;border:1px solid #f0d9a0;border-radius:6px;padding:8px 12px;margin:8px 0;font-size:13px}
.nodata{background:var(--bg);border:1px dashed #c5ccd4;border-radius:6px;padding:14px;color:var(--muted)}
.small{font-size:12px;color:var(--muted)}
details summary{cursor:pointer;color:var(--accent);margin:6px 0}
footer{color:var(--muted);font-size:12px;padding:16px 28px;border-top:1px solid var(--line)}
#summary .cards{grid-template-columns:repeat(5,minmax(150px,1fr))}
#summary .card .value{font-size:20px}
#summary .card .meta{min-height:16px}
#summary .cols{display:grid;grid-template-columns:1fr 1fr;gap:18px;margin-top:10px}
#summary ul{margin:4px 0;padding-left:20px}
#summary li{margin:2px 0}
#summary h3{margin:6px 0 4px}
.card.missed{border-color:#e5b4ae;background:#fdf3f2}.card.met{border-color:#b9dcc3}
"""


def esc(v: Any) -> str:
    return html.escape("" if v is None else str(v))


def _isnum(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v)


def fmt(v: Any, kind: str = "num", note: str = "") -> str:
    """A number for people; a missing one is "—" (with why, on hover)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return f'<span class="na" title="{esc(note or "无数据")}">—</span>'
    if kind == "pct":
        return f"{v * 100:.1f}%"
    if kind == "seconds":
        return f"{v:.1f} s"
    if kind == "score":
        return f"{v:.1f}"
    if kind in ("count", "int"):
        return f"{int(round(v)):,}"
    if kind == "ratio":
        return f"{v:.2f}"
    if kind == "p":
        return "< 0.0001" if v < 0.0001 else f"{v:.4f}"
    if _isnum(v):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return esc(v)


def _change(key: str, kind: str, change: float | None) -> str:
    c = judge_change(key, kind, change)
    if c is None:
        return '<span class="na">—</span>'
    if not c.arrow:
        return f'<span class="flat">{c.text}</span>'
    cls = f' class="{"up" if c.shown > 0 else "down"}-{c.verdict}"' if c.verdict else ""
    return f"<span{cls}>{c.arrow} {c.text}</span>"


def _status(met: bool | None, target: float | None, direction: str | None, kind: str) -> str:
    if target is None:
        return '<span class="na">—</span>'
    sign = "≥" if direction == "min" else "≤"
    t = fmt(target, kind)
    if met is None:
        return f'<span class="na">{sign} {t}</span>'
    return f'<span class="{"ok" if met else "miss"}">{sign} {t} {"达标" if met else "未达标"}</span>'


def img(charts: dict[str, bytes], name: str, alt: str) -> str:
    png = charts.get(name)
    if not png:
        return ""
    return f'<img class="chart" alt="{esc(alt)}" data-chart="{esc(name)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def table(df: pd.DataFrame | None, cols: list[tuple[str, str, str | Callable]], limit: int | None = None) -> str:
    """cols: (column, header, kind or a function(row) → html)."""
    if df is None or len(df) == 0:
        return '<div class="nodata">无数据</div>'
    head = "".join(f'<th class="{"t" if (k == "text" or callable(k)) else ""}">{esc(h)}</th>' for _, h, k in cols)
    body = []
    rows = df.itertuples(index=False) if limit is None else df.head(limit).itertuples(index=False)
    names = list(df.columns)
    for tup in rows:
        row = dict(zip(names, tup))
        cells = []
        for c, _, k in cols:
            if callable(k):
                cells.append(f'<td class="t">{k(row)}</td>')
            elif k == "text":
                cells.append(f'<td class="t">{esc(row.get(c))}</td>')
            else:
                cells.append(f"<td>{fmt(row.get(c), k)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = f'<div class="small">显示 {limit} / 共 {len(df)} 行</div>' if limit is not None and len(df) > limit else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}"


# ------------------------------------------------------------------------------------------------
def sec_kpi(r: Report, charts: dict[str, bytes]) -> str:
    cov = r.meta["coverage"]
    cards = []
    if cov.get("coverage") is not None:
        cards.append(
            f'<div class="card"><div class="label">覆盖率 coverage</div><div class="value">{fmt(cov["coverage"], "pct")}</div>'
            f'<div class="meta">{cov["inspected"]:,} 质检 / {cov["read"]:,} 读入;拒收 {cov["rejected"]:,}</div></div>'
        )
    for m in r.kpis:
        denom = f"n = {m.n:,}" if m.kind != "count" else f"{r.meta['days']} 天 · {len(r.meta['runs'])} 个运行"
        status = f"{_status(m.met, m.target, m.direction, m.kind)} · " if m.target is not None else ""
        why = f" · {esc(m.note)}" if m.value is None and m.note else ""
        cards.append(
            f'<div class="card" data-kpi="{esc(m.key)}"><div class="label">{esc(m.label)}</div>'
            f'<div class="value">{fmt(m.value, m.kind, m.note)}</div>'
            f'<div class="meta">{status}{denom}{why}</div></div>'
        )
    rejects = cov.get("rejects_by_reason") or {}
    rej = ("<p class='small'>拒收原因: " + ", ".join(f"{esc(k)} {v}" for k, v in rejects.items()) + "</p>") if rejects else ""
    fr = r.first_response_by_channel
    return (
        f'<div class="cards">{"".join(cards)}</div>{rej}'
        f'<div class="row">{img(charts, "grade_mix", "等级分布")}</div>'
        f'{img(charts, "rule_hits", "各规则命中率")}'
        "<h3>规则命中</h3>"
        + table(r.rule_hits, [("label", "类别", "text"), ("rule", "规则", "text"), ("conversations", "命中会话", "count"),
                              ("rate", "命中率", "pct"), ("findings", "命中次数", "count"), ("points", "分值合计", "score")])
        + "<h3>响应时效</h3>"
        + table(fr, [("channel", "渠道", "text"), ("sla_s", "首响 SLA", "seconds"), ("conversations", "会话", "count"),
                     ("first_response_n", "有计时", "count"), ("first_response_mean", "首响均值", "seconds"),
                     ("first_response_p50", "P50", "seconds"), ("first_response_p90", "P90", "seconds"),
                     ("first_response_sla_compliance", "达标率", "pct"), ("avg_response_s", "平均响应", "seconds")])
        + img(charts, "first_response", "首次响应时间分布")
    )


def sec_trends(r: Report, charts: dict[str, bytes]) -> str:
    p = r.periods
    if not p.get("period_days"):
        return f'<div class="nodata">{esc(p.get("note", "没有写明日期的会话"))}</div>'
    cur, prev = p["current"], p["previous"]
    pd_ = p["period_days"]
    head = (f'<p>本期 {cur[0]} – {cur[1]} 对比上期 {prev[0]} – {prev[1]}(周期 {pd_} 天;数据共 {p["days"]} 天,'
            f'{p["first"]} – {p["last"]})。</p>')
    rows = []
    for c in p["comparison"]:
        rows.append(
            f'<tr><td class="t">{esc(c["label"])}</td><td>{fmt(c["current"], c["kind"])}</td><td>{fmt(c["previous"], c["kind"])}</td>'
            f'<td>{_change(c["key"], c["kind"], c["change"])}</td><td>{_status(c["met"], c["target"], c["direction"], c["kind"])}</td>'
            f'<td>{c["n_current"]:,} / {c["n_previous"]:,}</td></tr>'
        )
    comp = ("<table><thead><tr><th class='t'>指标</th><th>本期</th><th>上期</th><th>变化</th><th>目标</th><th>n 本期 / 上期</th>"
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table>")
    fc = ""
    if r.forecasts:
        frows = []
        targets = report_targets(r)
        for key, f in r.forecasts.items():
            kind = KPI_KINDS.get(key, "num")
            if f is None:
                frows.append(f'<tr><td class="t">{esc(KPI_LABELS.get(key, key))}</td><td colspan="5" class="na">数据点不足,无法预测</td></tr>')
                continue
            label = next((c["label"] for c in p["comparison"] if c["key"] == key), key)
            unit = "(合计)" if key == "conversations" else "(日均)"
            slope = (f"{f.slope_per_day * 100:+.2f} 个百分点/天" if kind == "pct" else f"{f.slope_per_day:+.2f}/天")
            t = targets.get(key)
            target = f"{'≥' if t[1] == 'min' else '≤'} {fmt(t[0], kind)}" if t else '<span class="na">—</span>'
            frows.append(
                f'<tr><td class="t">{esc(label)} {unit}</td><td>{fmt(f.period_value, kind)}</td>'
                f"<td>{fmt(f.period_lo, kind)} – {fmt(f.period_hi, kind)}</td><td>{target}</td><td>{slope}</td><td>{f.n_days}</td></tr>"
            )
        h = r.forecasts and next(iter(v for v in r.forecasts.values() if v), None)
        horizon = f"{h.days[0]} – {h.days[-1]}" if h else ""
        fc = (f"<h3>下期预测 {esc(horizon)}</h3>"
              f"<p class='small'>{esc(r.forecast_note)}口径见 docs/REPORTS.md;区间越宽,说明每天的波动越大。</p>"
              "<table><thead><tr><th class='t'>指标</th><th>预测</th><th>预测区间</th><th>目标</th><th>每日趋势</th><th>历史天数</th></tr></thead>"
              f"<tbody>{''.join(frows)}</tbody></table>" + img(charts, "forecasts", "预测"))
    else:
        fc = f'<h3>下期预测</h3><div class="nodata">{esc(r.forecast_note)}</div>'
    daily = table(r.daily, [("day", "日期", "text"), ("conversations", "会话", "count"), ("avg_score", "平均分", "score"),
                            ("fatal_rate", "红线率", "pct"), ("first_response_sla_compliance", "首响达标率", "pct"),
                            ("avg_response_s", "平均响应", "seconds"), ("complaint_risk_rate", "投诉风险率", "pct"),
                            ("bad_rating_rate", "差评率", "pct"), ("customer_negative_rate", "负面率", "pct")])
    return (head + comp + img(charts, "daily_volume_score", "每日会话数与平均分") + img(charts, "daily_rates", "每日比率")
            + f"<details><summary>每日明细</summary>{daily}</details>" + fc)


def sparkline(values: list[float | None], w: int = 110, h: int = 20) -> str:
    """An inline SVG line of ``values`` (None = a gap); the last point is marked."""
    pts = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(pts) < 2:
        return '<span class="na">—</span>'
    lo, hi = min(v for _, v in pts), max(v for _, v in pts)
    span = (hi - lo) or 1.0
    n = max(len(values) - 1, 1)

    def xy(i, v):
        return f"{1 + i * (w - 4) / n:.1f},{h - 2 - (v - lo) / span * (h - 4):.1f}"

    segs, cur = [], []
    for i, v in enumerate(values):
        if v is None:
            if cur:
                segs.append(cur)
            cur = []
        else:
            cur.append(xy(i, v))
    if cur:
        segs.append(cur)
    lines = "".join(f'<polyline points="{" ".join(sg)}" fill="none" stroke="#3b6fb6" stroke-width="1.3"/>' for sg in segs if len(sg) > 1)
    dots = "".join(f'<circle cx="{sg[0].split(",")[0]}" cy="{sg[0].split(",")[1]}" r="1.3" fill="#3b6fb6"/>' for sg in segs if len(sg) == 1)
    lx, ly = xy(*pts[-1]).split(",")
    title = f"{lo:.1f} – {hi:.1f}"
    return (f'<svg class="spark" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img"><title>{title}</title>{lines}{dots}'
            f'<circle cx="{lx}" cy="{ly}" r="2" fill="#e07b39"/></svg>')


def _agent_label(row) -> str:
    return f"{esc(row.get('agent_name') or '')} <span class='small'>{esc(row.get('agent_id'))}</span>"


def _score_interval(row) -> str:
    return f"{fmt(row.get('score_lo'), 'score')} – {fmt(row.get('score_hi'), 'score')}"


def _rate_interval(row) -> str:
    return f"{fmt(row.get('rate'), 'pct')} [{fmt(row.get('rate_lo'), 'pct')}, {fmt(row.get('rate_hi'), 'pct')}]"


def _reference(row) -> str:
    return f"{esc(row.get('reference') or '')} {fmt(row.get('reference_rate'), 'pct')}"


TRAINING_COLS = [("agent_id", "坐席", _agent_label), ("agent_team", "团队", "text"), ("item", "扣分项", "text"),
                 ("hits", "命中会话", "count"), ("conversations", "会话", "count"), ("rate", "坐席命中率 [95% Wilson 区间]", _rate_interval),
                 ("reference_rate", "参照命中率(不含该坐席)", _reference), ("q_value", "q 值(BH)", "p"), ("p_value", "p 值", "p")]


def sec_agents(r: Report, charts: dict[str, bytes]) -> str:
    tr = r.training
    top_items: dict[str, str] = {}
    if tr is not None and len(tr):
        for agent, g in tr.groupby("agent_id", sort=False):
            parts = []
            for row in g.head(3).itertuples(index=False):
                flag = " ⚑" if row.need else ""
                parts.append(f"{esc(row.item)} ×{row.count}{flag}")
            top_items[agent] = "; ".join(parts)
    agents = r.agents.assign(top=r.agents["agent_id"].map(lambda a: top_items.get(a, "")))
    agent_cols = [
        ("rank", "排名", "int"), ("agent_id", "坐席", _agent_label), ("agent_team", "团队", "text"), ("conversations", "会话", "count"),
        ("avg_score", "平均分", "score"), ("score_lo", "95% 区间", _score_interval), ("trend", "走势", lambda row: sparkline(row.get("trend") or [])),
        ("score_change", "本期较上期", lambda row: _change("avg_score", "score", row.get("score_change"))),
        ("fatal", "红线", "count"), ("first_response_sla_compliance", "首响达标率", "pct"), ("bad_rating_rate", "差评率", "pct"),
        ("complaint_risk_rate", "投诉风险率", "pct"), ("top", "最常见扣分项(⚑ 培训需求)", lambda row: row.get("top") or ""),
    ]
    team_cols = [
        ("agent_team", "团队", "text"), ("agents", "坐席数", "count"), ("conversations", "会话", "count"), ("avg_score", "平均分", "score"),
        ("score_lo", "95% 区间", _score_interval), ("fatal_rate", "红线率", "pct"), ("first_response_sla_compliance", "首响达标率", "pct"), ("bad_rating_rate", "差评率", "pct"),
        ("complaint_risk_rate", "投诉风险率", "pct"), ("customer_negative_rate", "负面率", "pct"),
    ]
    items = r.training_items
    names = dict(zip(r.agents["agent_id"], r.agents["agent_name"]))

    def who(row) -> str:
        ids = row.get("agents") or []
        return esc("、".join(f"{names.get(a) or ''}({a})" for a in ids)) or '<span class="na">—</span>'

    def examples(row) -> str:
        ex = row.get("examples") or []
        return esc("; ".join(f"「{e}」×{n}" for e, n in ex))

    flagged = tr[tr["need"].astype(bool)].sort_values("q_value") if tr is not None and len(tr) else None
    unranked = int((~r.agents["ranked"]).sum()) if len(r.agents) else 0
    note = (f"<p class='small'>{unranked} 名坐席会话少于 report.min_agent_conversations,列出但不排名。</p>" if unranked else "")
    return (
        "<h3>团队</h3>" + table(r.teams, team_cols) + img(charts, "team_trend", "各团队每日平均分")
        + "<h3>坐席排名</h3>" + img(charts, "agent_ranking", "坐席平均分排名") + note + table(agents, agent_cols)
        + "<div id='training'><h3>培训需求</h3>"
        "<p class='small'>扣分项 = 扣分或红线的命中。⚑ = 该坐席该项的命中率显著高于参照(同团队其他坐席;无团队或团队仅一人时为全体其他坐席):"
        "单侧二项检验,对所有受检的「坐席 × 扣分项」做 Benjamini–Hochberg 校正,q ≤ report.training.fdr_q;"
        "只检验会话 ≥ report.training.min_conversations 且命中会话 ≥ report.training.min_hits 的组合。"
        "这样标出的组合中,预期误报不超过 q 的比例。证据已脱敏。</p>"
        + table(flagged, TRAINING_COLS, limit=50)
        + img(charts, "team_items", "团队 × 扣分项热力图")
        + table(items, [("item", "扣分项", "text"), ("deductions", "次数", "count"), ("conversations_with", "涉及会话", "count"),
                        ("rate", "会话占比", "pct"), ("agents_needing", "需培训坐席数", "count"), ("agents", "需培训坐席", who),
                        ("examples", "常见证据(脱敏)", examples)]) + "</div>"
        + call_section(r)
    )


CALL_COLUMNS = [  # (column, header, kind): the HTML table and the Excel sheet
    ("agent_id", "坐席", "text"), ("agent_name", "姓名", "text"), ("agent_team", "团队", "text"), ("calls", "有计时的通话", "count"),
    ("interruptions_per_call", "抢话/通", "score"), ("call_interruption_rate", "抢话超标通话占比", "pct"),
    ("silence_max_s", "最长静音(s)", "seconds"), ("silence_total_s_mean", "静音合计/通(s)", "seconds"),
    ("call_silence_rate", "冷场通话占比", "pct"), ("agent_talk_share", "坐席说话占比", "pct"),
    ("call_talk_share_rate", "占比/独白超标通话占比", "pct"), ("agent_chars_per_s", "语速(字/秒)", "score"),
    ("call_speech_rate_rate", "语速超标通话占比", "pct"),
]


def call_section(r: Report) -> str:
    """Call timing per agent (issue 18): nothing for chats, so only when some call carries timestamps."""
    if r.calls is None:
        return ""
    return ("<div id='calls'><h3>通话节奏(电话,按坐席)</h3>"
            "<p class='small'>由每句话的起止时间计算(pipeline/call_timing.py):抢话 = 客户未说完坐席即开口;静音 = 双方都不说话"
            "(坐席说明过的等待除外);说话占比 = 坐席说话时长 ÷ 双方说话时长;语速 = 坐席每秒字数。阈值见 calls: 配置,"
            "超标即产生 call.* 发现。</p>" + table(r.calls, CALL_COLUMNS)
            + "<h4>按团队</h4>" + table(r.calls_by_team, CALL_COLUMNS[2:]) + "</div>")


def sec_issues(r: Report, charts: dict[str, bytes]) -> str:
    if r.issue_types is None:
        return f'<div class="nodata">{esc(r.issue_note)}</div>'
    note = f"<p class='small'>{esc(r.issue_note)}</p>" if r.issue_note else ""
    if r.issue_warning:
        note = f'<div class="note" id="issue-confidence">{esc(r.issue_warning)}</div>' + note
    return (note + img(charts, "issue_pareto", "问题类型帕累托图") + img(charts, "issue_quality", "各问题类型平均分与负面率")
            + table(r.issue_types, [("issue_type", "问题类型", "text"), ("conversations", "会话", "count"), ("share", "占比", "pct"),
                                    ("cumulative_share", "累计占比", "pct"), ("avg_score", "平均分", "score"),
                                    ("customer_negative_rate", "客户负面率", "pct"), ("bad_rating_rate", "差评率", "pct"),
                                    ("complaint_risk_rate", "投诉风险率", "pct"), ("confidence", "平均置信度", "ratio"),
                                    ("low_confidence", "置信度偏低", lambda row: "⚠ 是" if row.get("low_confidence") else "")]))


QUESTION_COLUMNS = [("text", "问题", "text"), ("conversations", "会话", "count"), ("answered", "有回答", "count"),
                    ("yes_share", "答「是」", "pct"), ("no_share", "答「否」", "pct"), ("other_share", "其他答案", "pct"),
                    ("needs_review_share", "置信度不足", "pct"), ("status", "状态", "text"),
                    ("held_out_macro_f1", "保留集 macro-F1", "ratio"), ("baseline_macro_f1", "总答多数的 macro-F1", "ratio"),
                    ("held_out_kappa", "与人的 κ", "ratio")]


def sec_questions(r: Report, charts: dict[str, bytes]) -> str:
    q = r.questions
    note = f'<div class="note">{esc(q["note"])}</div>' if q["note"] else ""
    team = ""
    if q["by_team"] is not None:
        team = ("<h3>各团队「问题未解决」的比例(模型判断)</h3>"
                + table(q["by_team"], [("team", "团队", "text"), ("answered", "有回答", "count"), ("unresolved_share", "未解决", "pct")]))
    return note + table(q["table"], QUESTION_COLUMNS) + team


def _interval(low: str, high: str):
    return lambda row: ("—" if row.get(low) is None or row.get(low) != row.get(low)
                        else f"[{fmt(row.get(low), 'pct')}, {fmt(row.get(high), 'pct')}]")


ESTIMATE_COLUMNS = [("rule", "规则", "text"), ("N", "会话数 N", "count"), ("n", "已复核 n", "count"),
                    ("machine_rate", "机器检出率", "pct"), ("classical", "人工估计", "pct"),
                    ("classical_low", "Wilson 区间", _interval("classical_low", "classical_high")),
                    ("ppi", "PPI 估计", "pct"), ("ppi_low", "PPI 区间", _interval("ppi_low", "ppi_high")),
                    ("n_effective", "等效样本量", "count")]


def sec_estimates(r: Report, charts: dict[str, bytes]) -> str:
    e = r.estimates
    notes = "".join(f'<div class="note">{esc(n)}</div>' for n in e["notes"])
    expl = ("<p class='small'>缺陷率 = 人工复核后仍成立的扣分项所在会话的占比。人工估计只用复核过的样本(Wilson 区间);"
            "PPI(prediction-powered)= 机器在全部会话上的检出率 + 样本上人工与机器之差,区间更窄时等效样本量更大。"
            "与 zhijian estimate RUN_DIR… --by rule 相同(docs/SAMPLING.md)。</p>")
    return notes + expl + table(e["table"], ESTIMATE_COLUMNS)


def sec_bad(r: Report, charts: dict[str, bytes]) -> str:
    b = r.bad_reviews
    if not b.get("count"):
        return f'<div class="nodata">{esc(b.get("note", "没有差评"))}</div>'
    extra = "(含投诉风险会话)" if b["include_complaint_risk"] else ""
    head = (f"<p>差评 {b['count']:,} 条{extra}:评分 ≤ {b['threshold']},占有评价会话 {fmt(b['rate'], 'pct')}"
            f"(有评价 {b['rated']:,} / 全部 {b['conversations']:,});其中 {b['comments']:,} 条有评语。"
            "原因先看评语关键词,评语说不出原因时看会话的质检发现(lexicons/reports/bad_review_reasons.yaml)。"
            "评语提及 = 客户评语点名的原因;质检发现指向 = 会话的质检发现所指的原因(缺开场问候 / 结束语、泄露隐私按 seed 004 "
            "「未按服务流程操作」归入 其他);无从判断的差评不算任何原因的提及。"
            "评语原文不展示,只展示命中的关键词。</p>")

    def kws(row) -> str:
        return esc("、".join(f"{k}×{n}" for k, n in row.get("top_keywords") or []))

    by_class = table(b["by_class"], [("reason", "原因", "text"), ("count", "差评数", "count"), ("share", "占比", "pct"),
                                     ("by_comment", "据评语", "count"), ("by_findings", "据质检发现", "count"),
                                     ("by_fallback", "无从判断", "count"), ("comment_mentions", "评语提及(多选)", "count"),
                                     ("finding_mentions", "质检发现指向(多选)", "count"),
                                     ("backed_by_findings", "评语有质检佐证", "pct"), ("top_keywords", "常见关键词", kws)])
    classes = [c for c in b["classes"] if c in b["by_agent"].columns]
    agent = b["by_agent"].reset_index()
    agent_cols = [("agent_id", "坐席", _agent_label), ("conversations", "会话", "count"), ("total", "差评", "count")] + [
        (c, c, "count") for c in classes]
    team = b["by_team"].reset_index()
    team_cols = [("agent_team", "团队", "text"), ("total", "差评", "count")] + [(c, c, "count") for c in classes if c in team.columns]
    ch = b["by_channel"].reset_index()
    ch_cols = [("channel", "渠道", "text"), ("total", "差评", "count")] + [(c, c, "count") for c in classes if c in ch.columns]
    return (head + img(charts, "bad_reasons", "差评原因分类") + by_class + img(charts, "bad_by_day", "每日差评数")
            + "<div class='row'><div><h3>按团队</h3>" + table(team, team_cols) + "</div><div><h3>按渠道</h3>" + table(ch, ch_cols)
            + "</div></div><h3>按坐席</h3>" + img(charts, "bad_by_agent", "差评最多的坐席") + table(agent, agent_cols, limit=30))


def sec_verdicts(r: Report, charts: dict[str, bytes]) -> str:
    v = r.verdicts
    head = (f"<p>复核结论 {v['rows']:,} 条,涉及 {v['conversations']:,} 个会话"
            + (f";{v['unmatched']} 条找不到对应会话,未计入" if v.get("unmatched") else "") + "。</p>")
    s = v.get("scores")
    scores = ""
    if s:
        scores = (f"<p>人工改分 {s['n']:,} 个会话:机器与人工平均绝对差 {fmt(s['mean_abs_diff'], 'score')} 分,"
                  f"相差 ≤ 5 分 {fmt(s['within_5'], 'pct')},机器减人工均值 {fmt(s['mean_machine_minus_human'], 'score')},"
                  f"等级一致 {fmt(s['grade_agreement'], 'pct')}。</p>")
    return head + scores + img(charts, "verdict_precision", "各规则精确率与一致率") + table(v.get("per_rule"), [
        ("label", "类别", "text"), ("rule", "规则", "text"), ("findings_reviewed", "已判命中", "count"), ("confirmed", "确认", "count"),
        ("rejected", "驳回", "count"), ("precision", "精确率", "pct"), ("missed", "漏检(人工补充)", "count"),
        ("conversations", "复核会话", "count"), ("agreement", "一致率", "pct"), ("kappa", "Cohen κ", "ratio")])


def sec_method(r: Report, charts: dict[str, bytes]) -> str:
    m = r.meta
    sla = ", ".join(f"{k} {v} s" for k, v in m["first_response_sla_s"].items())
    items = [
        "每个比率的分母是该指标适用的会话:差评率 = 评分 ≤ "
        f"{m['bad_rating_at_most']} 的会话 / 有评分的会话;首响达标率 = 首次响应 ≤ 渠道 SLA({esc(sla)})的会话 / 有首响计时的会话;"
        "负面率与负面开场→非负面结束只在有情绪结果时计算。",
        f"客户满意度 CSAT = 评分 ≥ {m['csat_satisfied_at_least']} 的会话 / 有评分的会话(seed 001:CSAT 达到 85% 以上);差评率单独计算。",
        "本期较上期的变化按显示精度取整,取整为 0 的显示为“持平”,不着色。",
        "红线率 = 命中红线项(分数归零)的会话占比;投诉风险率 = 有 complaint.risk 命中的会话占比;规则命中率 = 含该规则命中的会话占比。",
        "P50 / P90 为线性插值分位数;平均响应 = 各会话平均回复时长的平均。",
        "日期取 started_at 写明的日历日(来源时区);没有 started_at 的会话计入总数,不进入趋势。",
        "没有数据的指标显示 “—”,不会以 0 或估计值代替。完整口径:docs/REPORTS.md。",
    ]
    return "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def _short(note: str, limit: int = 60) -> str:
    return note if len(note) <= limit else note[: limit - 1] + "…"


def _q(v) -> str:
    shown = fmt(v, "p")
    return shown if shown.startswith(("<", "&lt;")) else f"= {shown}"


def sec_summary(r: Report, charts: dict[str, bytes]) -> str:
    """The executive summary (kpis.executive_summary): one screen — KPIs vs targets, what got worse, what needs action."""
    s = r.summary or {}
    tiles = []
    for t in s.get("tiles", []):
        state = "" if t["met"] is None else (" met" if t["met"] else " missed")
        if t["value"] is None:
            meta = f'<span class="na" title="{esc(t["note"])}">{esc(_short(t["note"] or "无数据"))}</span>'
        elif t["target"] is not None:
            meta = _status(t["met"], t["target"], t["direction"], t["kind"])
        else:
            meta = '<span class="na">无目标</span>'
        value = "无数据" if t["value"] is None else fmt(t["value"], t["kind"])
        tiles.append(f'<div class="card{state}" data-summary="{esc(t["key"])}"><div class="label">{esc(t["label"])}</div>'
                     f'<div class="value">{value}</div><div class="meta">{meta}</div></div>')
    cur, prev = s.get("period"), s.get("previous")
    span = f"本期 {cur[0]} – {cur[1]},对比上期 {prev[0]} – {prev[1]}" if cur and prev else "没有写明日期的会话,无期间对比"
    worse = [f'<li>{esc(c["label"])}:{fmt(c["previous"], c["kind"])} → {fmt(c["current"], c["kind"])} '
             f'<span class="up-bad">{esc(c["shown"])}</span></li>' for c in s.get("worse", [])]
    worse_html = "<ul>" + "".join(worse) + "</ul>" if worse else '<p class="small">本期没有变差的指标(或没有上期可比)。</p>'
    act = []
    if s.get("missed"):
        act.append(f"<li>未达标:{esc('、'.join(s['missed']))}</li>")
    for c in s.get("coach", []):
        act.append(f"<li>辅导 {esc(c['agent_name'] or '')}({esc(c['agent_id'])},{esc(c['agent_team'] or '无团队')}):{esc(c['item'])} "
                   f"命中率 {fmt(c['rate'], 'pct')},参照 {fmt(c['reference_rate'], 'pct')}(q {_q(c['q_value'])})</li>")
    if not s.get("coach"):
        act.append('<li class="na">没有显著高于参照的坐席 × 扣分项(培训需求)</li>')
    if s.get("items"):
        act.append("<li>最常见的扣分项:" + esc("、".join(f"{i['item']} {i['rate'] * 100:.1f}%" for i in s["items"])) + "</li>")
    if s.get("caused_complaints"):
        act.append(f"<li>坐席引发的投诉 {s['caused_complaints']:,} 起(见 种子指标 · 投诉案例)</li>")
    pend = s.get("pending_disputes")
    if pend and pend["count"]:
        age = f",最久 {pend['max_age_days']:.1f} 天" if pend.get("max_age_days") is not None else ""
        act.append(f"<li>待处理的申诉 / 争议 {pend['count']:,} 起{age}</li>")
    return (f'<p class="small">{esc(span)}。目标来自 report.targets;「无数据」注明原因,从不以 0 或估计值代替。</p>'
            f'<div class="cards">{"".join(tiles)}</div>'
            f'<div class="cols"><div><h3>变差最多</h3>{worse_html}</div>'
            f'<div><h3>需要行动</h3><ul>{"".join(act)}</ul></div></div>')


def _seed_value(k) -> str:
    return fmt(k.value, k.kind, k.note) if k.value is not None else '<span class="na">无数据</span>'


def sec_seed(r: Report, charts: dict[str, bytes]) -> str:
    """Every KPI the seeds ask for (kpis.seed_kpis): value, target, formula, seed and source; then the details."""
    seed = r.seed or {}
    rows = []
    for k in seed.get("rows", []):
        status = _status(k.met, k.target, k.direction, k.kind) if k.target is not None else '<span class="na">—</span>'
        rows.append(f'<tr data-kpi="{esc(k.key)}"><td class="t">{esc(k.label)}</td><td>{_seed_value(k)}</td><td>{status}</td>'
                    f'<td>{k.n:,}</td><td class="t">{esc(k.formula)}</td><td class="t">{esc(k.seed)}</td>'
                    f'<td class="t">{esc(k.source)}</td><td class="t">{esc(k.note)}</td></tr>')
    table_html = ("<table><thead><tr><th class='t'>指标</th><th>值</th><th>目标</th><th>n</th><th class='t'>口径</th>"
                  "<th class='t'>依据</th><th class='t'>数据来源</th><th class='t'>说明</th></tr></thead>"
                  f"<tbody>{''.join(rows)}</tbody></table>")
    out = [table_html]
    # peak hours
    hours = seed.get("peak_hours")
    out.append("<h3>各时段首次响应(高峰时段)</h3>")
    if hours is not None and len(hours):
        h = hours.assign(hour_label=hours["hour"].map(lambda x: f"{int(x):02d}:00–{int(x):02d}:59"),
                         peak_label=hours["peak"].map(lambda v: "高峰" if v else ""))
        out.append(table(h, [("hour_label", "时段", "text"), ("peak_label", "", "text"), ("conversations", "会话", "count"),
                             ("first_response_n", "有首响计时", "count"), ("first_response_mean", "首响均值", "seconds"),
                             ("first_response_p90", "首响 P90", "seconds"), ("first_response_sla_compliance", "首响达标率", "pct"),
                             ("over_sla_rate", "超时工单占比", "pct")]))
    else:
        out.append('<div class="nodata">无数据:没有写明开始时间的会话</div>')
    # complaint cases
    cases = seed.get("complaint_cases")
    shown = int(seed.get("cases_shown", 50))
    out.append("<h3>投诉案例</h3><p class='small'>会话中的投诉证据已脱敏;评语原文不展示,只展示命中的投诉关键词。"
               "坐席引发 = 同一会话有 complaint.caused(投诉且坐席有服务忌语或未安抚)。</p>")
    out.append(table(cases, [("id", "会话", "text"), ("day", "日期", "text"), ("agent_id", "坐席", _agent_label),
                             ("agent_team", "团队", "text"), ("channel", "渠道", "text"), ("source", "投诉见于", "text"),
                             ("evidence", "会话证据(脱敏)", "text"), ("comment_keywords", "评语关键词", "text"),
                             ("rating_score", "评分", "int"), ("caused", "坐席引发", "text"), ("score", "得分", "score")], limit=shown)
               if cases is not None and len(cases) else '<div class="nodata">没有投诉信号的会话</div>')
    # same period
    sp = seed.get("same_period") or {}
    out.append("<h3>同期对比(去年同期)</h3>")
    if sp.get("available"):
        srows = "".join(
            f'<tr><td class="t">{esc(c["label"])}</td><td>{fmt(c["current"], c["kind"])}</td><td>{fmt(c["last_year"], c["kind"])}</td>'
            f'<td>{_change(c["key"], c["kind"], c["change"])}</td><td>{_status(c["met"], c["target"], c["direction"], c["kind"])}</td></tr>'
            for c in sp["rows"])
        out.append(f"<p class='small'>本期 {sp['current'][0]} – {sp['current'][1]} 对比去年同期 {sp['last_year'][0]} – {sp['last_year'][1]};"
                   f"{esc(sp['note'])}。按日汇总合并(分位数无法合并,不列)。</p>"
                   "<table><thead><tr><th class='t'>指标</th><th>本期</th><th>去年同期</th><th>变化</th><th>目标</th></tr></thead>"
                   f"<tbody>{srows}</tbody></table>")
    else:
        out.append(f'<div class="nodata">{esc(sp.get("note", "无数据"))}</div>')
    # workbench
    wb = seed.get("workbench")
    out.append("<h3>人工复核(工作台)</h3>")
    if not wb:
        out.append('<div class="nodata">没有连接工作台数据库:用 --database-url 或 --workbench 给出,即可显示抽检率、申诉与争议、'
                   '质检员工作量与一致性(只读)。</div>')
    else:
        out.append(f"<p class='small'>工作台中有本报告会话 {wb['in_workbench']:,} / {wb['inspected']:,} 个。</p>")
        out.append("<h4>人工抽检率(按团队)</h4>" + table(wb["sampling_by_team"], [
            ("team", "团队", "text"), ("inspected", "质检会话", "count"), ("reviewed", "人工复核", "count"), ("rate", "抽检率", "pct")]))
        out.append("<h4>申诉与争议(双人复核、主管签核)</h4>" + table(wb["disputes"], [
            ("kind", "类型", "text"), ("raised", "提出", "count"), ("open", "待第二轮复核", "count"), ("awaiting_sign_off", "待签核", "count"),
            ("upheld", "维持", "count"), ("overturned", "改判", "count"), ("overturn_rate", "改判率", "pct"),
            ("pending_age_median_days", "待处理天数中位", "score"), ("pending_age_max_days", "待处理最久(天)", "score"),
            ("sign_off_median_days", "签核用时中位(天)", "score")]))
        out.append("<h4>质检员工作量与一致性</h4>" + table(wb["inspectors"], [
            ("reviewer", "账号", "text"), ("name", "姓名", "text"), ("first_reviews", "首轮复核", "count"),
            ("second_reviews", "第二轮复核", "count"), ("open_items", "手上待复核", "count"),
            ("mean_abs_diff", "与机器分平均差", "score"), ("within_tolerance", "差距在容差内", "pct"),
            ("disputed", "被申诉/争议", "count"), ("overturned", "被改判", "count"), ("overturn_rate", "被改判率", "pct")]))
        c = wb["consistency"]
        out.append(f"<p>质检员之间:{c['conversations']:,} 个争议会话、{c['findings']:,} 条发现的两轮判定一致 {fmt(c['agreement'], 'pct')},"
                   f"Cohen κ {fmt(c['kappa'], 'ratio')};两轮评分平均差 {fmt(c['score_mean_abs_diff'], 'score')} 分,"
                   f"相差 ≤ {c['tolerance']:g} 分 {fmt(c['score_within_tolerance'], 'pct')}。</p>")
        sa = wb.get("score_agreement") or {}
        out.append(f"<p>机器与人工(工作台全库的计入复核,与「一致性」页相同):{int(sa.get('n') or 0):,} 个会话,平均绝对差 "
                   f"{fmt(sa.get('mean_abs_diff'), 'score')} 分,相差 ≤ {sa.get('tolerance', 5):g} 分 {fmt(sa.get('within_tolerance'), 'pct')},"
                   f"等级一致 {fmt(sa.get('grade_agreement'), 'pct')}。</p>")
        out.append(table(wb["rule_precision"], [("rule", "规则", "text"), ("n", "已判定", "count"), ("confirmed", "确认", "count"),
                                                ("rejected", "驳回", "count"), ("precision", "精确率", "pct"),
                                                ("ci_low", "下限", "pct"), ("ci_high", "上限", "pct"), ("missed", "补充", "count")]))
    return "".join(out)


RENDERERS: dict[str, Callable[[Report, dict[str, bytes]], str]] = {
    "summary": sec_summary, "seed": sec_seed,
    "kpi": sec_kpi, "trends": sec_trends, "agents": sec_agents, "issues": sec_issues, "bad-reviews": sec_bad,
    "verdicts": sec_verdicts, "method": sec_method, "questions": sec_questions, "estimates": sec_estimates,
    "cases": sec_cases,
}


def visible_sections(r: Report) -> list[tuple[str, str]]:
    optional = {"verdicts": r.verdicts, "questions": r.questions, "estimates": r.estimates, "cases": r.cases}
    return [(k, t) for k, t in SECTIONS if k not in optional or optional[k] is not None]


def section_html(key: str, r: Report, charts: dict[str, bytes]) -> str:
    title = dict(SECTIONS)[key]
    return f'<section id="{key}"><h2>{esc(title)}</h2>{RENDERERS[key](r, charts)}</section>'


CJK_FONT_NOTICE = ("注意:生成本报告的机器上没有找到中文字体,图表中的中文标签可能显示为方框(□)。表格和数字不受影响。"
                   "解决办法:安装中文字体(Debian / Ubuntu:sudo apt-get install fonts-noto-cjk),"
                   "或在配置文件的 report.charts.fonts 中写上本机已安装的中文字体名称,然后重新生成报告。")


def cjk_font_notice(charts: dict[str, bytes]) -> str:
    """The notice at the top of the page when the charts were drawn without a CJK font
    (``charts.render_all`` found none of ``report.charts.fonts``); empty otherwise."""
    if not charts or not getattr(charts, "cjk_font_missing", False):
        return ""
    return f'<div class="note" id="cjk-font-missing" role="alert">{esc(CJK_FONT_NOTICE)}</div>'


def render_html(r: Report, charts: dict[str, bytes], title: str = "质检报告") -> str:
    m = r.meta
    span = f"{m['first_day']} – {m['last_day']}" if m.get("first_day") else "没有写明日期的会话"
    sub = (f"{span} · {m['coverage']['inspected']:,} 个会话 · {m['agents']} 名坐席 · {m['teams']} 个团队 · "
           f"{len(m['runs'])} 个运行 · 生成于 {esc(m['generated_at'])}")
    notes = cjk_font_notice(charts) + "".join(f'<div class="note">{esc(n)}</div>' for n in r.notes)
    secs = visible_sections(r)
    nav = "".join(f'<a href="#{k}">{esc(t)}</a>' for k, t in secs)
    body = "".join(section_html(k, r, charts) for k, _ in secs)
    runs = "<br>".join(esc(p) for p in m["runs"][:50]) + (f"<br>… 另有 {len(m['runs']) - 50} 个" if len(m["runs"]) > 50 else "")
    return (
        "<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{esc(title)} {esc(span)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{esc(title)}</h1><div class='sub'>{sub}</div></header>"
        f"<nav>{nav}</nav><main>{notes}{body}</main>"
        f"<footer>zhijian report · 运行:<br>{runs}<br>个人信息(电话、证件号、银行卡、邮箱)已脱敏;评语原文不展示。</footer>"
        "</body></html>"
    )
