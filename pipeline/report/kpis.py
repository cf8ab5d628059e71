"""The seed KPIs (种子指标) and the executive summary: :func:`seed_kpis`, :func:`executive_summary`.

Every KPI a seed asks for that the data can give — FCR, CSAT, NPS, the complaint rate and cases,
handling time, 超时工单, peak-hour waits (seed 001), 差错率 (seed 002), disputes / appeals, inspector
workload and consistency, the human sampling rate (seed 003) and the same period a year earlier
(seed 001 同期) — each with its formula, its seed, where its data comes from and its target. A KPI
the data can't give is ``None`` with the reason (无数据:…) — never a zero, never an estimate.

The KPIs themselves are built in customer_kpis.py (FCR, ratings, complaints, timing, peak hours)
and review_kpis.py (差错率, the workbench's sampling, disputes and consistency); this module assembles
them, adds the same period a year earlier and writes the executive summary. Pure like :mod:`.metrics`: the runs' tables, the configuration and, when the report is pointed at
the workbench, a :class:`~.workbench.WorkbenchData` read beforehand. Definitions: docs/REPORTS.md,
*Seed KPIs*.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from .change import judge_change
from .customer_kpis import complaint_kpis, fcr_kpi, rating_kpis, timing_kpis
from .measures import KPI_DEFS, KPI_LABELS, judge, targets_of
from .review_kpis import error_rate_kpi, workbench_section
from .seed_kpi import NO_DATA


# ------------------------------------------------------------------------------------------------ same period
SAME_PERIOD_KEYS = ["conversations", "avg_score", "fatal_rate", "review_rate", "first_response_mean", "first_response_sla_compliance",
                    "avg_response_s", "complaint_risk_rate", "rating_rate", "csat", "bad_rating_rate"]
_DENOM = {k: d for k, _, _, d in KPI_DEFS}
_KIND = {k: kind for k, _, kind, _ in KPI_DEFS}


def _year_before(d: date) -> date:
    try:
        return d.replace(year=d.year - 1)
    except ValueError:  # 29 February
        return d.replace(year=d.year - 1, day=28)


def combine_days(rows: pd.DataFrame) -> dict[str, float | None]:
    """The KPIs over several days from their daily rows: counts summed, each mean weighted by its
    denominator (exact for means and rates; quantiles can't be combined and are left out)."""
    out: dict[str, float | None] = {}
    for key in SAME_PERIOD_KEYS:
        if key == "conversations":
            out[key] = float(pd.to_numeric(rows["conversations"], errors="coerce").sum())
            continue
        denom = _DENOM[key]
        if key not in rows.columns or denom not in rows.columns:
            out[key] = None
            continue
        v = pd.to_numeric(rows[key], errors="coerce")
        n = pd.to_numeric(rows[denom], errors="coerce").fillna(0)
        ok = v.notna() & (n > 0)
        out[key] = float((v[ok] * n[ok]).sum() / n[ok].sum()) if ok.any() else None
    return out


def same_period(daily: pd.DataFrame, history: list[dict[str, Any]], periods: dict, config: dict) -> dict[str, Any]:
    """This period vs the same dates a year earlier (seed 001「与去年同期相比」), from the runs' days
    and purged runs' aggregates.json; absent (with why) when the history doesn't hold that period."""
    if not periods.get("period_days"):
        return {"available": False, "note": "没有写明日期的会话,无法做同期对比"}
    lo, hi = periods["current"]
    ly_lo, ly_hi = _year_before(lo), _year_before(hi)
    live = daily.copy() if daily is not None and len(daily) else pd.DataFrame(columns=["day"])
    hist = pd.DataFrame(history) if history else pd.DataFrame(columns=["day"])
    if len(hist):
        hist = hist[~hist["day"].isin(set(live["day"]))].drop_duplicates("day", keep="last")
    days = pd.concat([live, hist], ignore_index=True) if len(hist) else live
    base = {"current": (lo, hi), "last_year": (ly_lo, ly_hi)}
    cur = days[(days["day"] >= lo.isoformat()) & (days["day"] <= hi.isoformat())]
    prev = days[(days["day"] >= ly_lo.isoformat()) & (days["day"] <= ly_hi.isoformat())]
    first = min(days["day"]) if len(days) else None
    if prev.empty:
        return {**base, "available": False,
                "note": (f"历史中没有去年同期({ly_lo} – {ly_hi})的数据:报告的数据从 {first} 开始。"
                         "把去年同期的运行(或其清除后留下的 aggregates.json 所在目录)一并给出即可对比。")}
    c, p = combine_days(cur), combine_days(prev)
    targets = targets_of(config)
    rows = []
    for key in SAME_PERIOD_KEYS:
        cv, pv = c.get(key), p.get(key)
        t = targets.get(key)
        change = (cv - pv) if cv is not None and pv is not None else None
        rows.append({"key": key, "label": KPI_LABELS.get(key, key), "kind": _KIND[key], "current": cv, "last_year": pv,
                     "change": change, "change_rel": (change / abs(pv)) if change is not None and pv else None,
                     "target": t[0] if t else None, "direction": t[1] if t else None, "met": judge(cv, t)})
    n_prev_days = int(prev["day"].nunique())
    span = (hi - lo).days + 1
    note = f"去年同期有 {n_prev_days} / {span} 天的数据" + ("(部分来自已清除运行的 aggregates.json)" if len(hist) and prev["day"].isin(set(hist["day"])).any() else "")
    return {**base, "available": True, "rows": rows, "note": note, "days_last_year": n_prev_days}


# ------------------------------------------------------------------------------------------------ all together
def seed_kpis(conv: pd.DataFrame, rs, daily: pd.DataFrame, periods: dict, config: dict, answers: pd.DataFrame,
              wb=None) -> dict[str, Any]:
    """The seed KPI table (``rows``) and its detail tables (``answers``: the questions' answers, questions.answers_frame)."""
    r = rs.results
    fcr, fcr_detail = fcr_kpi(conv, r, wb, config)
    from .questions import resolution_kpi

    resolved = resolution_kpi(answers, config)
    ratings = rating_kpis(conv, config)
    complaints, cases = complaint_kpis(conv, rs.findings, config)
    timing, hours = timing_kpis(conv, r, wb, config)
    error = error_rate_kpi(conv, rs.verdicts, wb, config)
    wb_kpis, wb_detail = workbench_section(conv, wb, config)
    rows = [fcr, resolved, *ratings, *complaints, *timing, error, *wb_kpis]
    return {"rows": rows, "fcr": fcr_detail, "peak_hours": hours, "complaint_cases": cases,
            "cases_shown": int(config["report"]["kpis"]["complaint_cases_shown"]),
            "workbench": wb_detail or None, "same_period": same_period(daily, rs.history, periods, config)}


# ------------------------------------------------------------------------------------------------ executive summary
SUMMARY_KPIS = ["coverage", "avg_score", "fatal_rate", "first_response_sla_compliance", "csat", "fcr", "complaint_rate", "nps",
                "peak_wait_s", "error_rate"]


def executive_summary(report, config: dict) -> dict[str, Any]:
    """What the director reads first: the summary KPIs against their targets, the KPIs that got
    most worse this period, and the agents / items / KPIs that need action."""
    k = config["report"]["kpis"]
    by_key: dict[str, dict[str, Any]] = {}
    cov = report.meta["coverage"]
    by_key["coverage"] = {"key": "coverage", "label": "覆盖率", "kind": "pct", "value": cov.get("coverage"), "target": None,
                          "direction": None, "met": None, "note": "" if cov.get("coverage") is not None else f"{NO_DATA}:没有 manifest 的读入数"}
    for m in report.kpis:
        by_key[m.key] = {"key": m.key, "label": m.label, "kind": m.kind, "value": m.value, "target": m.target,
                         "direction": m.direction, "met": m.met, "note": f"{NO_DATA}:{m.note}" if m.value is None and m.note else m.note}
    for s in (report.seed or {}).get("rows", []):
        by_key[s.key] = {"key": s.key, "label": s.label, "kind": s.kind, "value": s.value, "target": s.target,
                         "direction": s.direction, "met": s.met, "note": s.note}
    by_key["first_response_sla_compliance"] = {**by_key["first_response_sla_compliance"], "label": "首响达标率 SLA"}
    tiles = [by_key[key] for key in SUMMARY_KPIS if key in by_key]
    # the KPIs that got most worse (this period vs the previous one), judged as shown
    worse = []
    for c in report.periods.get("comparison") or []:
        ch = judge_change(c["key"], c["kind"], c["change"])
        if ch is not None and ch.verdict == "bad" and c["key"] not in ("first_response_p50", "first_response_p90"):
            worse.append({**c, "shown": ch.text, "size": abs(c["change_rel"]) if c.get("change_rel") is not None else abs(ch.shown)})
    worse.sort(key=lambda c: c["size"], reverse=True)
    n_changes = int(k["summary_changes"])
    # what needs action
    actions: list[str] = []
    missed = [t for t in tiles if t["met"] is False]
    for t in missed:
        actions.append(f"{t['label']}未达标")
    tr = report.training
    n_actions = int(k["summary_actions"])
    coach = []
    if tr is not None and len(tr):
        flagged = tr[tr["need"].astype(bool)].sort_values(["q_value", "rate"], ascending=[True, False]).head(n_actions)
        for row in flagged.itertuples(index=False):
            coach.append({"agent_id": row.agent_id, "agent_name": row.agent_name, "agent_team": row.agent_team, "item": row.item,
                          "rate": row.rate, "reference_rate": row.reference_rate, "q_value": row.q_value, "hits": row.hits,
                          "conversations": row.conversations})
    items = report.training_items
    top_items = []
    if items is not None and len(items):
        for row in items.sort_values(["rate", "item"], ascending=[False, True]).head(n_actions).itertuples(index=False):
            top_items.append({"item": row.item, "rate": row.rate, "conversations_with": row.conversations_with,
                              "agents_needing": row.agents_needing})
    seed = report.seed or {}
    cases = seed.get("complaint_cases")
    caused = int((cases["caused"] == "是").sum()) if cases is not None and len(cases) else 0
    wbd = seed.get("workbench") or {}
    pending = None
    if wbd:
        tot = wbd["disputes"].iloc[-1]
        pending = {"count": int(tot["open"] + tot["awaiting_sign_off"]), "max_age_days": tot["pending_age_max_days"]}
    return {"tiles": tiles, "worse": worse[:n_changes], "coach": coach, "items": top_items, "missed": [t["label"] for t in missed],
            "caused_complaints": caused, "pending_disputes": pending, "period": report.periods.get("current"),
            "previous": report.periods.get("previous"), "actions": actions}
