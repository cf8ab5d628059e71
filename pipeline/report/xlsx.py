"""Excel renderer (openpyxl): the report's tables, one sheet each, with native Excel charts.

Numbers stay numbers (percentages are fractions with a % format), so Excel users can sort,
filter and chart them; a missing value is an empty cell with the reason in the 说明 column. A
column that mixes KPIs (概览, 期间对比, 预测) takes each row's number format from the row's KPI kind.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from ..textwidth import display_width
from .change import judge_change
from .measures import KPI_KINDS, KPI_LABELS, Report

FORMATS = {"pct": "0.0%", "score": "0.0", "seconds": "0.0", "count": "#,##0", "int": "0", "ratio": "0.00", "p": "0.0000",
           # a change between periods: always signed, zero unsigned
           "pct_change": "+0.0%;-0.0%;0.0%", "score_change": "+0.0;-0.0;0.0", "seconds_change": "+0.0;-0.0;0.0",
           "count_change": "+#,##0;-#,##0;0"}
DIRECTION = {"min": "至少", "max": "至多"}
VERDICT_COLOUR = {"good": "2F8A4A", "bad": "C0392B"}  # the HTML report's --good / --bad


COLUMN_WIDTH_MAX = 60


def _met(met: bool | None) -> str | None:
    return None if met is None else ("是" if met else "否")


def _cell(v: Any) -> Any:
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, (list, tuple)):
        return "; ".join(_text(x) for x in v)
    if hasattr(v, "item"):  # numpy scalars
        v = v.item()
    if isinstance(v, (int, float, str, bool)):
        return v
    return str(v)


def _text(x: Any) -> str:
    if isinstance(x, (list, tuple)) and len(x) == 2 and isinstance(x[1], int):
        return f"{x[0]}×{x[1]}"
    return str(x)


def write_table(wb, title: str, df: pd.DataFrame | None, cols: list[tuple[str, str, str]], note: str = "", start_row: int = 1):
    """One sheet: a header row and one row per ``df`` row. A column's kind names its number format
    (``FORMATS``); ``"@col"`` takes each row's kind from that row's ``col``."""
    from openpyxl.styles import Font

    ws = wb.create_sheet(title[:31])
    row0 = start_row
    if note:
        ws.cell(row=row0, column=1, value=note).font = Font(italic=True, color="666666")
        row0 += 2
    if df is None or len(df) == 0:
        ws.cell(row=row0, column=1, value="无数据")
        return ws, row0
    widths: dict[int, float] = {}
    write_rows(ws, row0, df, cols, widths)
    set_widths(ws, widths)
    ws.freeze_panes = ws.cell(row=row0 + 1, column=1)
    return ws, row0


def write_rows(ws, row0: int, df: pd.DataFrame, cols: list[tuple[str, str, str]], widths: dict[int, float]) -> int:
    """A header row at ``row0`` and one row per ``df`` row below it, each cell in its kind's number format;
    each column's display width goes into ``widths`` (the widest so far: a sheet may hold several tables).
    Returns the first row after the table."""
    from openpyxl.styles import Alignment, Font, PatternFill

    bold, fill = Font(bold=True), PatternFill("solid", fgColor="E8EEF6")
    for j, (_, header, _) in enumerate(cols, 1):
        c = ws.cell(row=row0, column=j, value=header)
        c.font, c.fill = bold, fill
        c.alignment = Alignment(horizontal="center")
    data = {c: df[c].tolist() if c in df.columns else [None] * len(df) for c, _, _ in cols}
    row_kinds = {k[1:]: df[k[1:]].tolist() for _, _, k in cols if k.startswith("@")}
    for i in range(len(df)):
        for j, (c, _, kind) in enumerate(cols, 1):
            cell = ws.cell(row=row0 + 1 + i, column=j, value=_cell(data[c][i]))
            number_kind = row_kinds[kind[1:]][i] if kind.startswith("@") else kind
            if number_kind in FORMATS:
                cell.number_format = FORMATS[number_kind]
    for j, (c, header, kind) in enumerate(cols, 1):  # Excel's width is in columns of "0": a CJK character takes two
        head = display_width(header) + 2
        width = max([head] + [display_width(str(_cell(v) or "")) + 2 for v in data[c][:200]]) if kind == "text" else max(10, head)
        widths[j] = max(widths.get(j, 0), width)
    return row0 + 1 + len(df)


def set_widths(ws, widths: dict[int, float]) -> None:
    from openpyxl.utils import get_column_letter

    for j, width in widths.items():
        ws.column_dimensions[get_column_letter(j)].width = min(COLUMN_WIDTH_MAX, width)


def _line_chart(ws, title: str, header_row: int, n: int, cols: list[int], anchor: str, y_title: str = "", pct: bool = False):
    from openpyxl.chart import LineChart, Reference

    ch = LineChart()
    ch.title, ch.height, ch.width = title, 8, 18
    ch.y_axis.title = y_title
    if pct:
        ch.y_axis.number_format = "0%"
    for col in cols:
        ch.add_data(Reference(ws, min_col=col, min_row=header_row, max_row=header_row + n), titles_from_data=True)
    ch.set_categories(Reference(ws, min_col=1, min_row=header_row + 1, max_row=header_row + n))
    ws.add_chart(ch, anchor)


def _bar_chart(ws, title: str, header_row: int, n: int, cols: list[int], anchor: str, stacked: bool = False):
    from openpyxl.chart import BarChart, Reference

    ch = BarChart()
    ch.title, ch.height, ch.width = title, 8, 16
    if stacked:
        ch.grouping, ch.overlap = "stacked", 100
    for col in cols:
        ch.add_data(Reference(ws, min_col=col, min_row=header_row, max_row=header_row + n), titles_from_data=True)
    ch.set_categories(Reference(ws, min_col=1, min_row=header_row + 1, max_row=header_row + n))
    ws.add_chart(ch, anchor)


def comparison_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The period comparison as the sheet shows it: the change rounded as displayed (a change that
    rounds to zero is 0 and 持平, uncoloured), 方向 至少 / 至多, 达标 是 / 否."""
    out = []
    for c in rows:
        ch = judge_change(c["key"], c["kind"], c["change"])
        out.append({**c, "change": ch.value if ch else None, "change_kind": f"{c['kind']}_change",
                    "trend": f"{ch.arrow} {ch.word}".strip() if ch else None,
                    "verdict": ch.verdict if ch else None, "direction": DIRECTION.get(c["direction"] or ""), "met": _met(c["met"])})
    return pd.DataFrame(out)


def summary_sheet(wb, r: Report) -> None:
    """摘要: the executive summary — the KPIs against their targets, what got worse, what needs action."""
    s = r.summary or {}
    tiles = pd.DataFrame([{**t, "direction": DIRECTION.get(t["direction"] or ""), "met": _met(t["met"])} for t in s.get("tiles", [])])
    ws, h = write_table(wb, "摘要", tiles, [("label", "指标", "text"), ("value", "值", "@kind"), ("direction", "方向", "text"),
                                           ("target", "目标", "@kind"), ("met", "达标", "text"), ("note", "说明", "text")],
                        note="摘要:目标来自 report.targets;无数据的指标注明原因")
    row = h + len(tiles) + 2
    ws.cell(row=row, column=1, value="变差最多(本期对比上期)")
    for i, c in enumerate(s.get("worse", []), 1):
        ws.cell(row=row + i, column=1, value=c["label"])
        ws.cell(row=row + i, column=2, value=c["shown"])
    row += len(s.get("worse", [])) + 2
    ws.cell(row=row, column=1, value="需要行动")
    lines = [f"未达标:{'、'.join(s['missed'])}"] if s.get("missed") else []
    lines += [f"辅导 {c['agent_name'] or ''}({c['agent_id']}):{c['item']} 命中率 {c['rate']:.1%},参照 {c['reference_rate']:.1%},q = {c['q_value']:.4f}"
              for c in s.get("coach", [])]
    lines += [f"扣分项 {i['item']}:{i['rate']:.1%} 的会话" for i in s.get("items", [])]
    if s.get("caused_complaints"):
        lines.append(f"坐席引发的投诉 {s['caused_complaints']} 起")
    pend = s.get("pending_disputes")
    if pend and pend["count"]:
        lines.append(f"待处理的申诉 / 争议 {pend['count']} 起")
    for i, line in enumerate(lines, 1):
        ws.cell(row=row + i, column=1, value=line)


def seed_sheets(wb, r: Report, max_detail_rows: int) -> None:
    """种子指标 and its details: 高峰时段, 投诉案例, 同期对比, and the workbench's 抽检率 / 申诉争议 / 质检员."""
    seed = r.seed or {}
    rows = pd.DataFrame([{"label": k.label, "key": k.key, "kind": k.kind, "value": k.value, "n": k.n, "target": k.target,
                          "direction": DIRECTION.get(k.direction or ""), "met": _met(k.met), "formula": k.formula, "seed": k.seed,
                          "source": k.source, "note": k.note} for k in seed.get("rows", [])])
    write_table(wb, "种子指标", rows, [("label", "指标", "text"), ("key", "英文标识", "text"), ("value", "值", "@kind"), ("n", "n", "count"),
                                   ("direction", "方向", "text"), ("target", "目标", "@kind"), ("met", "达标", "text"),
                                   ("formula", "口径", "text"), ("seed", "依据", "text"), ("source", "数据来源", "text"),
                                   ("note", "说明", "text")], note="每个种子要求的指标:口径、依据、数据来源;无数据的注明原因(docs/REPORTS.md)")
    hours = seed.get("peak_hours")
    if hours is not None and len(hours):
        hours = hours.assign(peak_text=hours["peak"].map(lambda v: "是" if v else ""))
    write_table(wb, "高峰时段", hours, [("hour", "小时", "int"), ("peak_text", "高峰", "text"), ("conversations", "会话", "count"),
                                     ("first_response_n", "有首响计时", "count"), ("first_response_mean", "首响均值(s)", "seconds"),
                                     ("first_response_p90", "首响P90(s)", "seconds"), ("first_response_sla_compliance", "首响达标率", "pct"),
                                     ("over_sla_rate", "超时工单占比", "pct")], note="小时取 started_at 写明的当地时间")
    cases = seed.get("complaint_cases")
    write_table(wb, "投诉案例", cases.head(max_detail_rows) if cases is not None else None, [
        ("id", "会话", "text"), ("day", "日期", "text"), ("agent_id", "工号", "text"), ("agent_name", "姓名", "text"),
        ("agent_team", "团队", "text"), ("channel", "渠道", "text"), ("source", "投诉见于", "text"), ("evidence", "会话证据(脱敏)", "text"),
        ("comment_keywords", "评语关键词", "text"), ("rating_score", "评分", "int"), ("caused", "坐席引发", "text"), ("score", "得分", "score")],
        note="评语原文不导出,只列命中的投诉关键词" + (f";最新 {max_detail_rows} / {len(cases)} 条" if cases is not None and len(cases) > max_detail_rows else ""))
    sp = seed.get("same_period") or {}
    if sp.get("available"):
        t = comparison_table([{**c, "previous": c["last_year"]} for c in sp["rows"]])
        write_table(wb, "同期对比", t, [("label", "指标", "text"), ("current", "本期", "@kind"), ("previous", "去年同期", "@kind"),
                                     ("change", "变化", "@change_kind"), ("trend", "走向", "text"), ("direction", "方向", "text"),
                                     ("target", "目标", "@kind"), ("met", "达标", "text")],
                    note=f"本期 {sp['current'][0]} – {sp['current'][1]} vs 去年同期 {sp['last_year'][0]} – {sp['last_year'][1]};{sp['note']}")
    else:
        write_table(wb, "同期对比", None, [], note=sp.get("note", "无数据"))
    w = seed.get("workbench")
    if w:
        write_table(wb, "抽检率", w["sampling_by_team"], [("team", "团队", "text"), ("inspected", "质检会话", "count"),
                                                       ("reviewed", "人工复核", "count"), ("rate", "抽检率", "pct")], note=f"工作台 {w['url']}")
        write_table(wb, "申诉争议", w["disputes"], [
            ("kind", "类型", "text"), ("raised", "提出", "count"), ("open", "待第二轮复核", "count"), ("awaiting_sign_off", "待签核", "count"),
            ("upheld", "维持", "count"), ("overturned", "改判", "count"), ("overturn_rate", "改判率", "pct"),
            ("pending_age_median_days", "待处理天数中位", "score"), ("pending_age_max_days", "待处理最久(天)", "score"),
            ("sign_off_median_days", "签核用时中位(天)", "score")])
        c = w["consistency"]
        write_table(wb, "质检员", w["inspectors"], [
            ("reviewer", "账号", "text"), ("name", "姓名", "text"), ("role", "角色", "text"), ("first_reviews", "首轮复核", "count"),
            ("second_reviews", "第二轮复核", "count"), ("open_items", "手上待复核", "count"), ("mean_abs_diff", "与机器分平均差", "score"),
            ("within_tolerance", "差距在容差内", "pct"), ("disputed", "被申诉/争议", "count"), ("overturned", "被改判", "count"),
            ("overturn_rate", "被改判率", "pct")],
            note=(f"质检员之间(争议两轮):{c['conversations']} 个会话、{c['findings']} 条发现,一致 "
                  + ("—" if c["agreement"] is None else f"{c['agreement']:.1%}") + ",κ " + ("—" if c["kappa"] is None else f"{c['kappa']:.3f}")))


def cases_sheet(wb, r: Report) -> None:
    """差评处理: the HTML section of the same name (report/cases.py) as tables one below the other — states,
    sources, timing against the deadlines, responsibility, measures, 回访, repeat agents, the suggested vs the
    confirmed reason and 典型差评案例 (review text masked). No sheet when the HTML has no section."""
    from openpyxl.styles import Font

    from ..cases.reason import CLASSES

    c = r.cases
    if not c:
        return
    ws = wb.create_sheet("差评处理")
    late = "(" + "、".join(f"{k} {v}" for k, v in c["overdue_by"]) + ")" if c["overdue_by"] else ""
    ws.cell(row=1, column=1, value=f"工作台中的差评案件共 {c['n']:,} 件(全库,不限本报告的运行),其中逾期 {c['overdue']:,} 件{late}"
            ).font = Font(italic=True, color="666666")
    a = c["agreement"]
    count = ("n", "件数", "count")
    blocks = [
        ("案件状态", pd.DataFrame(c["by_state"], columns=["label", "n"]), [("label", "状态", "text"), count]),
        ("来源", pd.DataFrame(c["by_source"], columns=["label", "n"]), [("label", "来源", "text"), count]),
        ("处理时效", pd.DataFrame([{**t, "unit": t["deadline"].split()[-1]} for t in c["timing"]]), [
            ("step", "环节", "text"), ("deadline", "期限", "text"), ("done", "已完成", "count"), ("median", "中位用时", "score"),
            ("unit", "单位", "text"), ("within", "按期完成率", "pct"), ("pending_late", "未完成且已逾期", "count")]),
        ("责任认定", pd.DataFrame([{"label": k, "n": n, "share": n / tot if tot else None} for k, n, tot in c["responsibility"]]),
         [("label", "责任归属", "text"), count, ("share", "占已认定", "pct")]),
        ("措施", pd.DataFrame(c["measures"], columns=["label", "n", "done"]), [("label", "措施", "text"), count, ("done", "已完成", "count")]),
        ("回访结果", pd.DataFrame(c["follow_up"], columns=["label", "n"]), [("label", "回访结果", "text"), count]),
        ("重复差评坐席", pd.DataFrame(c["repeat_agents"], columns=["agent_id", "n"]), [("agent_id", "坐席", "text"), ("n", "差评件数", "count")]),
        ("系统初判原因与主管认定", pd.DataFrame([a]) if a["n"] else None,
         [("n", "已认定", "count"), ("share", "一致率", "pct"), ("kappa", "Cohen κ", "ratio")]),
        ("混淆表(行:主管认定,列:系统初判)",
         pd.DataFrame([{"truth": g, **a["confusion"][g]} for g in CLASSES]) if a["n"] else None,
         [("truth", "认定 \\ 初判", "text")] + [(p, p, "count") for p in CLASSES]),
        ("典型差评案例(培训用,评价已脱敏)", pd.DataFrame(c["typical"]), [
            ("id", "编号", "int"), ("agent_id", "坐席", "text"), ("reason", "认定原因", "text"), ("suggested", "系统初判", "text"),
            ("responsibility", "责任", "text"), ("measures", "措施", "text"), ("follow_up", "回访", "text"),
            ("review", "评价内容(脱敏)", "text")]),
    ]
    widths: dict[int, float] = {}
    row = 3
    for title, df, cols in blocks:
        ws.cell(row=row, column=1, value=title).font = Font(bold=True)
        if df is None or len(df) == 0:
            ws.cell(row=row + 1, column=1, value="无")
            row += 3
        else:
            row = write_rows(ws, row + 1, df, cols, widths) + 1
    set_widths(ws, widths)


HEADERS = {"agent_id": "工号", "agent_name": "姓名", "agent_team": "团队", "channel": "渠道", "total": "合计",
           "conversations": "会话", "bad": "差评数"}


def render_xlsx(r: Report, out: Path, max_detail_rows: int = 5000) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    m = r.meta
    cov = m["coverage"]
    kpi = pd.DataFrame([{"label": k.label, "key": k.key, "kind": k.kind, "value": k.value, "n": k.n, "target": k.target,
                         "direction": DIRECTION.get(k.direction or ""), "met": _met(k.met), "note": k.note} for k in r.kpis])
    if cov.get("coverage") is not None:
        kpi = pd.concat([pd.DataFrame([{"label": "覆盖率 coverage", "key": "coverage", "kind": "pct", "value": cov["coverage"], "n": cov["read"],
                                        "note": f"{cov['inspected']:,} 质检 / {cov['read']:,} 读入;拒收 {cov['rejected']:,}"}]), kpi],
                        ignore_index=True)
    span = f"{m['first_day']} – {m['last_day']}" if m.get("first_day") else "no dated conversations"
    note = f"质检报告 {span} · {len(m['runs'])} run(s) · generated {m['generated_at']}" + ("".join(" | " + n for n in r.notes))
    summary_sheet(wb, r)
    write_table(wb, "概览", kpi, [("label", "指标", "text"), ("key", "英文标识", "text"), ("value", "值", "@kind"),
                                ("n", "n", "count"), ("direction", "方向", "text"), ("target", "目标", "@kind"),
                                ("met", "达标", "text"), ("note", "说明", "text")], note=note)
    seed_sheets(wb, r, max_detail_rows)
    if r.questions is not None:
        from .html import QUESTION_COLUMNS

        write_table(wb, "评分表问题", r.questions["table"], QUESTION_COLUMNS, note=r.questions["note"])
    if r.estimates is not None:
        write_table(wb, "缺陷率估计", r.estimates["table"], [
            ("rule", "规则", "text"), ("N", "会话数 N", "count"), ("n", "已复核 n", "count"), ("machine_rate", "机器检出率", "pct"),
            ("classical", "人工估计", "pct"), ("classical_low", "Wilson 下限", "pct"), ("classical_high", "Wilson 上限", "pct"),
            ("ppi", "PPI 估计", "pct"), ("ppi_low", "PPI 下限", "pct"), ("ppi_high", "PPI 上限", "pct"),
            ("n_effective", "等效样本量", "count")], note=";".join(r.estimates["notes"]))
    ws2, h = write_table(wb, "等级分布", r.grade_mix, [("grade", "等级", "text"), ("conversations", "会话", "count"), ("share", "占比", "pct")])
    _bar_chart(ws2, "等级分布", h, len(r.grade_mix), [2], "E2")
    write_table(wb, "规则命中", r.rule_hits, [("label", "类别", "text"), ("rule", "规则", "text"), ("kind", "类型", "text"),
                                          ("conversations", "命中会话", "count"), ("rate", "命中率", "pct"),
                                          ("findings", "命中次数", "count"), ("points", "分值合计", "score")])
    write_table(wb, "响应时效", r.first_response_by_channel, [
        ("channel", "渠道", "text"), ("sla_s", "首响SLA(s)", "seconds"), ("conversations", "会话", "count"),
        ("first_response_n", "有计时", "count"), ("first_response_mean", "首响均值(s)", "seconds"), ("first_response_p50", "P50", "seconds"),
        ("first_response_p90", "P90", "seconds"), ("first_response_sla_compliance", "达标率", "pct"), ("avg_response_s", "平均响应(s)", "seconds")])
    if r.calls is not None:  # call timing per agent (issue 18)
        from .html import CALL_COLUMNS

        write_table(wb, "通话节奏", r.calls, CALL_COLUMNS)
        write_table(wb, "通话节奏(团队)", r.calls_by_team, CALL_COLUMNS[2:])
    # trends
    daily_cols = [("day", "日期", "text"), ("conversations", "会话", "count"), ("avg_score", "平均分", "score"), ("fatal_rate", "红线率", "pct"),
                  ("first_response_sla_compliance", "首响达标率", "pct"), ("avg_response_s", "平均响应(s)", "seconds"),
                  ("complaint_risk_rate", "投诉风险率", "pct"), ("bad_rating_rate", "差评率", "pct"),
                  ("customer_negative_rate", "负面率", "pct"), ("negative_recovery_rate", "负面开场→非负面结束", "pct"), ("csat", "CSAT", "pct")]
    ws3, h = write_table(wb, "每日趋势", r.daily, daily_cols)
    if r.daily is not None and len(r.daily) >= 2:
        _line_chart(ws3, "平均分", h, len(r.daily), [3], "L2", "分")
        _line_chart(ws3, "首响达标率 / 差评率 / 投诉风险率", h, len(r.daily), [5, 7, 8], "L20", pct=True)
    comp = comparison_table(r.periods.get("comparison") or [])
    pnote = (f"本期 {r.periods['current'][0]} – {r.periods['current'][1]} vs 上期 {r.periods['previous'][0]} – {r.periods['previous'][1]}"
             if r.periods.get("period_days") else r.periods.get("note", ""))
    comp_cols = [("label", "指标", "text"), ("current", "本期", "@kind"), ("previous", "上期", "@kind"), ("change", "变化", "@change_kind"),
                 ("trend", "走向", "text"), ("direction", "方向", "text"), ("target", "目标", "@kind"), ("met", "达标", "text"),
                 ("n_current", "n 本期", "count"), ("n_previous", "n 上期", "count")]
    ws6, h = write_table(wb, "期间对比", comp, comp_cols, note=pnote)
    if len(comp):
        from openpyxl.styles import Font

        trend_col = [c for c, _, _ in comp_cols].index("trend") + 1
        for i, verdict in enumerate(comp["verdict"]):
            if verdict in VERDICT_COLOUR:  # 持平 and KPIs without a better direction stay uncoloured
                ws6.cell(row=h + 1 + i, column=trend_col).font = Font(color=VERDICT_COLOUR[verdict], bold=True)
    fc_rows = []
    for key, f in r.forecasts.items():
        if f is None:
            continue
        for d, y, lo, hi in zip(f.days, f.yhat, f.lo, f.hi):
            fc_rows.append({"metric": KPI_LABELS.get(key, key), "kind": KPI_KINDS.get(key, "ratio"), "day": d.isoformat(),
                            "yhat": y, "lo": lo, "hi": hi})
        fc_rows.append({"metric": KPI_LABELS.get(key, key), "kind": KPI_KINDS.get(key, "ratio"),
                        "day": "下期" + ("合计" if key == "conversations" else "日均"), "yhat": f.period_value, "lo": f.period_lo, "hi": f.period_hi})
    write_table(wb, "预测", pd.DataFrame(fc_rows), [("metric", "指标", "text"), ("day", "日期", "text"), ("yhat", "预测", "@kind"),
                                                 ("lo", "下限", "@kind"), ("hi", "上限", "@kind")], note=r.forecast_note or "线性趋势 + 预测区间 (docs/REPORTS.md)")
    # agents and teams
    write_table(wb, "团队", r.teams, [("agent_team", "团队", "text"), ("agents", "坐席数", "count"), ("conversations", "会话", "count"),
                                   ("avg_score", "平均分", "score"), ("score_lo", "95% 区间下限", "score"),
                                   ("score_hi", "95% 区间上限", "score"), ("fatal_rate", "红线率", "pct"),
                                   ("first_response_sla_compliance", "首响达标率", "pct"), ("bad_rating_rate", "差评率", "pct"),
                                   ("complaint_risk_rate", "投诉风险率", "pct"), ("customer_negative_rate", "负面率", "pct")])
    write_table(wb, "坐席", r.agents, [("rank", "排名", "int"), ("agent_id", "工号", "text"), ("agent_name", "姓名", "text"),
                                    ("agent_team", "团队", "text"), ("conversations", "会话", "count"), ("avg_score", "平均分", "score"),
                                    ("score_lo", "95% 区间下限", "score"), ("score_hi", "95% 区间上限", "score"),
                                    ("score_current", "本期平均分", "score"), ("score_previous", "上期平均分", "score"),
                                    ("score_change", "变化", "score"), ("fatal", "红线", "count"),
                                    ("first_response_sla_compliance", "首响达标率", "pct"), ("bad_rating_rate", "差评率", "pct"),
                                    ("complaint_risk_rate", "投诉风险率", "pct"), ("review_rate", "需复核率", "pct")])
    training = r.training.assign(need_text=r.training["need"].map(lambda v: "是" if v else "否"),
                                 tested_text=r.training["tested"].map(lambda v: "是" if v else "否(量不足)"))
    write_table(wb, "培训需求", training, [("agent_id", "工号", "text"), ("agent_name", "姓名", "text"), ("agent_team", "团队", "text"),
                                        ("item", "扣分项", "text"), ("count", "次数", "count"), ("hits", "命中会话", "count"),
                                        ("conversations", "会话", "count"), ("rate", "坐席命中率", "pct"), ("rate_lo", "95% 下限", "pct"),
                                        ("rate_hi", "95% 上限", "pct"), ("reference", "参照", "text"), ("reference_rate", "参照命中率", "pct"),
                                        ("overall_rate", "全体命中率", "pct"), ("ratio", "倍数(对全体)", "ratio"), ("p_value", "p 值", "p"),
                                        ("q_value", "q 值(BH)", "p"), ("tested_text", "已检验", "text"), ("need_text", "需培训", "text")],
                note="需培训 = 单侧二项检验(对参照:同团队其他坐席,否则全体其他坐席)经 BH 校正后 q ≤ report.training.fdr_q (docs/REPORTS.md)")
    write_table(wb, "扣分项", r.training_items, [("item", "扣分项", "text"), ("deductions", "次数", "count"),
                                              ("conversations_with", "涉及会话", "count"), ("rate", "会话占比", "pct"),
                                              ("agents_needing", "需培训坐席数", "count"), ("agents", "需培训坐席", "text"),
                                              ("examples", "常见证据(脱敏)", "text")])
    issue_types = r.issue_types
    if issue_types is not None:
        issue_types = issue_types.assign(low_confidence_text=issue_types["low_confidence"].map(lambda v: "是" if v else ""))
    write_table(wb, "问题类型", issue_types, [("issue_type", "问题类型", "text"), ("conversations", "会话", "count"),
                                             ("share", "占比", "pct"), ("cumulative_share", "累计占比", "pct"), ("avg_score", "平均分", "score"),
                                             ("customer_negative_rate", "客户负面率", "pct"), ("bad_rating_rate", "差评率", "pct"),
                                             ("complaint_risk_rate", "投诉风险率", "pct"), ("confidence", "平均置信度", "ratio"),
                                             ("low_confidence_text", "置信度偏低", "text")],
                note=" ".join(n for n in (r.issue_warning, r.issue_note) if n))
    # bad reviews
    b = r.bad_reviews
    if b.get("count"):
        ws4, h = write_table(wb, "差评原因", b["by_class"], [
            ("reason", "原因", "text"), ("count", "差评数", "count"), ("share", "占比", "pct"), ("by_comment", "据评语", "count"),
            ("by_findings", "据质检发现", "count"), ("by_fallback", "无从判断", "count"), ("comment_mentions", "评语提及(多选)", "count"),
            ("finding_mentions", "质检发现指向(多选)", "count"),
            ("backed_by_findings", "评语有质检佐证", "pct"), ("top_keywords", "常见关键词", "text")],
            note=f"差评 = 评分 ≤ {b['threshold']}; {b['count']} 条, 差评率 {b['rate']:.1%}" if b.get("rate") is not None else "")
        _bar_chart(ws4, "差评原因", h, len(b["by_class"]), [2], "K2")
        for name, key, idx in (("差评-坐席", "by_agent", "agent_id"), ("差评-团队", "by_team", "agent_team"), ("差评-渠道", "by_channel", "channel")):
            t = b[key].reset_index()
            # reason classes are Chinese already; the id columns and totals get Chinese headers too
            cols = [(idx, HEADERS.get(idx, idx), "text")] + [(c, HEADERS.get(c, c), "text" if c == "agent_name" else "count")
                                                            for c in t.columns if c != idx]
            write_table(wb, name, t, cols)
        if len(b["by_day"]):
            t = b["by_day"].reset_index()
            ws5, h = write_table(wb, "差评-每日", t, [("day", "日期", "text")] + [(c, c, "count") for c in t.columns if c != "day"])
            _bar_chart(ws5, "每日差评(按原因)", h, len(t), list(range(2, len(t.columns) + 1)), "H2", stacked=True)
        det = b["detail"].head(max_detail_rows)
        write_table(wb, "差评明细", det, [("id", "会话", "text"), ("day", "日期", "text"), ("agent_id", "工号", "text"),
                                        ("agent_name", "姓名", "text"), ("agent_team", "团队", "text"), ("channel", "渠道", "text"),
                                        ("rating_score", "评分", "int"), ("reason", "原因", "text"), ("basis", "依据", "text"),
                                        ("keywords", "评语关键词", "text"), ("rules", "质检发现", "text")],
                    note=(f"newest {max_detail_rows} of {len(b['detail'])}" if len(b["detail"]) > max_detail_rows else "")
                    + " 评语原文不导出 (PII)")
    else:
        write_table(wb, "差评原因", None, [], note=b.get("note", ""))
    cases_sheet(wb, r)
    if r.verdicts is not None:
        v = r.verdicts
        s = v.get("scores") or {}
        note = f"{v['rows']} verdicts, {v['conversations']} conversations" + (
            f"; scores: n={s['n']}, mean |machine-human| = {s['mean_abs_diff']:.2f}, grade agreement {s['grade_agreement']:.1%}" if s else "")
        write_table(wb, "复核一致性", v.get("per_rule"), [
            ("label", "类别", "text"), ("rule", "规则", "text"), ("findings_reviewed", "已判命中", "count"), ("confirmed", "确认", "count"),
            ("rejected", "驳回", "count"), ("precision", "精确率", "pct"), ("missed", "漏检", "count"), ("conversations", "复核会话", "count"),
            ("agreement", "一致率", "pct"), ("kappa", "Cohen κ", "ratio")], note=note)
    out = Path(out)
    tmp = out.with_name(f".{out.name}.partial")
    wb.save(tmp)
    tmp.replace(out)
