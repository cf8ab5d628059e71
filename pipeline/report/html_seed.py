"""The report's first two sections: the executive summary (one screen: KPIs against targets, what got
worse, what needs action) and the seed KPIs (every KPI a seed asks for, with its formula, seed, source
and target, then the details: FCR, peak hours, complaint cases, the workbench, the same period).
"""

from __future__ import annotations



from .measures import Report
from .html_base import agent_label, change_cell, esc, fmt, status_cell, table


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
            meta = status_cell(t["met"], t["target"], t["direction"], t["kind"])
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
        status = status_cell(k.met, k.target, k.direction, k.kind) if k.target is not None else '<span class="na">—</span>'
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
    out.append(table(cases, [("id", "会话", "text"), ("day", "日期", "text"), ("agent_id", "坐席", agent_label),
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
            f'<td>{change_cell(c["key"], c["kind"], c["change"])}</td><td>{status_cell(c["met"], c["target"], c["direction"], c["kind"])}</td></tr>'
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
