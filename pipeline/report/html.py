"""HTML renderer: one self-contained file (inline CSS, charts as base64 PNG, no script, no CDN).

:func:`render_html` turns a :class:`~.measures.Report` into the page; :func:`section_html` renders
one section, so the review workbench can show the same views inside its own pages.
"""

from __future__ import annotations

from typing import Callable

from .cases import section_html as sec_cases  # 差评处理 (issue 19)
from .html_base import CSS, agent_label, change_cell, esc, fmt, img, sparkline, status_cell, table
from .html_seed import sec_seed, sec_summary
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
        status = f"{status_cell(m.met, m.target, m.direction, m.kind)} · " if m.target is not None else ""
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
            f'<td>{change_cell(c["key"], c["kind"], c["change"])}</td><td>{status_cell(c["met"], c["target"], c["direction"], c["kind"])}</td>'
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



def _score_interval(row) -> str:
    return f"{fmt(row.get('score_lo'), 'score')} – {fmt(row.get('score_hi'), 'score')}"


def _rate_interval(row) -> str:
    return f"{fmt(row.get('rate'), 'pct')} [{fmt(row.get('rate_lo'), 'pct')}, {fmt(row.get('rate_hi'), 'pct')}]"


def _reference(row) -> str:
    return f"{esc(row.get('reference') or '')} {fmt(row.get('reference_rate'), 'pct')}"


TRAINING_COLS = [("agent_id", "坐席", agent_label), ("agent_team", "团队", "text"), ("item", "扣分项", "text"),
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
        ("rank", "排名", "int"), ("agent_id", "坐席", agent_label), ("agent_team", "团队", "text"), ("conversations", "会话", "count"),
        ("avg_score", "平均分", "score"), ("score_lo", "95% 区间", _score_interval), ("trend", "走势", lambda row: sparkline(row.get("trend") or [])),
        ("score_change", "本期较上期", lambda row: change_cell("avg_score", "score", row.get("score_change"))),
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
    agent_cols = [("agent_id", "坐席", agent_label), ("conversations", "会话", "count"), ("total", "差评", "count")] + [
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
