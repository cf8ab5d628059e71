"""The numbers of a report: :func:`compute` (a :class:`~.load.RunSet` + configuration → :class:`Report`).

Pure: no file is read or written here apart from the small rule-data files named in the
configuration (rule labels, grade bands, bad-review reasons), and nothing is rendered. Every
definition is in docs/REPORTS.md; the short version is in each function's docstring. A number
that can't be computed (no rating, no sentiment yet, no timestamps) is ``None`` with a note —
never a zero and never an estimate.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import pandas as pd

from .load import RunSet
from .measures import (
    FORECAST_KEYS, KPI_LABELS, Report, conversation_flags, grade_bands, group_kpis, kpi_list, report_targets, rule_labels,
)
from .tables import (
    agents_table, bad_review_section, call_timing_table, first_response_distribution, first_response_table,
    forecast_all, issue_type_table, low_confidence_warning, period_comparison, report_periods, rule_hit_table,
    training_tables, verdict_section,
)

__all__ = ["FORECAST_KEYS", "KPI_LABELS", "Report", "compute", "forecast_all", "report_targets", "training_tables"]  # used from here elsewhere


def _seed_and_questions(conv: pd.DataFrame, rs: RunSet, daily: pd.DataFrame, periods: dict, config: dict, workbench) -> dict:
    """The seed KPIs and the questions' section: the answers parsed once serve both."""
    from .kpis import seed_kpis
    from .questions import answers_frame, question_section

    answers = answers_frame(rs.results)
    return {"seed": seed_kpis(conv, rs, daily, periods, config, answers, workbench), "questions": question_section(answers, config)}


def compute(rs: RunSet, config: dict, now: datetime | None = None, classifier=None, workbench=None) -> Report:
    """All the report's numbers from the runs' tables (see docs/REPORTS.md for each definition);
    ``workbench``: a :class:`~.workbench.WorkbenchData` read beforehand (reviews, disputes, customer ids)."""
    from .fork import ForkedCall
    from .kpis import executive_summary

    rep = config["report"]
    conv = conversation_flags(rs, config)
    labels = rule_labels(config)
    bands = grade_bands(config)
    notes = list(rs.notes)
    overall = group_kpis(conv).iloc[0] if len(conv) else pd.Series({"conversations": 0}, dtype=float)
    kpis = kpi_list(overall, config)

    # coverage from the manifests
    read = [r["read"] for r in rs.runs]
    cov: dict[str, Any] = {"runs": len(rs.runs), "inspected": len(conv)}
    if all(x is not None for x in read):
        cov["read"] = sum(read)
        cov["rejected"] = sum(r["rejected"] or 0 for r in rs.runs)
        cov["coverage"] = sum(r["inspected"] or 0 for r in rs.runs) / cov["read"] if cov["read"] else None
    else:
        cov["read"] = cov["rejected"] = cov["coverage"] = None
    rejects: Counter = Counter()
    for r in rs.runs:
        rejects.update(r["rejects_by_reason"])
    cov["rejects_by_reason"] = dict(rejects.most_common())
    masked = all(r["mask"] is True for r in rs.runs)
    if not masked:
        notes.append("有的运行用了 --no-mask 或没有 manifest:报告对证据重新脱敏(电话、证件号、银行卡号、邮箱)")

    grades = conv["grade"].value_counts()
    order = [g for g, _ in bands] + [g for g in grades.index if g not in {b for b, _ in bands}]
    grade_mix = pd.DataFrame({"grade": order, "conversations": [int(grades.get(g, 0)) for g in order]})
    grade_mix["share"] = grade_mix["conversations"] / max(len(conv), 1)

    periods = report_periods(conv, config)
    daily = group_kpis(conv[conv["day"].notna()], "day") if periods.get("days") else pd.DataFrame()
    if len(daily):
        daily.index.name = "day"
        daily = daily.reset_index()
    undated = int(conv["day"].isna().sum())
    if undated:
        notes.append(f"{undated} 个会话没有可用的 started_at(开始时间):计入总数,不进入趋势")
    periods["comparison"] = period_comparison(conv, periods, config)
    # the seed KPIs and the questions' answers in a forked child meanwhile, on a large report (report/fork.py)
    side = ForkedCall(_seed_and_questions, conv, rs, daily, periods, config, workbench,
                      fork=len(conv) >= int(rep["fork_from_conversations"]))

    forecasts, forecast_note = forecast_all(daily, periods, rep["forecast"])

    agents, teams, team_daily = agents_table(conv, periods, config)
    training, training_items, team_items = training_tables(conv, rs.findings, config)
    issue_types, issue_note = issue_type_table(conv)
    below = rep["issue_types"]["low_confidence_below"]
    issue_warning = ""
    if issue_types is not None:
        issue_types["low_confidence"] = issue_types["confidence"] < below
        issue_warning = low_confidence_warning(issue_types, below)
    sentiment_n = int(conv["negative"].notna().sum())
    if sentiment_n == 0:
        notes.append(f"全部 {len(conv)} 个会话都没有情绪结果(sentiment;情绪模型未运行):情绪相关指标显示 —")

    meta = {
        "generated_at": (now or datetime.now()).isoformat(timespec="seconds"),
        "runs": [r["path"] for r in rs.runs],
        "coverage": cov,
        "first_day": periods.get("first"), "last_day": periods.get("last"), "days": periods.get("days", 0),
        "masked": masked,
        "bad_rating_at_most": config["review"]["bad_rating_at_most"],
        "csat_satisfied_at_least": rep["csat_satisfied_at_least"],
        "first_response_sla_s": dict(config["timing"]["first_response_sla_s"]),
        "targets": {k: v for k, v in (rep.get("targets") or {}).items()},
        "versions": sorted({str(r["versions"].get("scorecard")) for r in rs.runs if r["versions"].get("scorecard")}),
        "agents": int(conv["agent_id"].nunique()), "teams": int(conv["agent_team"].nunique()),
    }
    if workbench is not None:
        meta["workbench"] = workbench.url
    report = Report(
        meta=meta, kpis=kpis, grade_mix=grade_mix,
        rule_hits=rule_hit_table(conv, rs.findings, labels),
        first_response_by_channel=first_response_table(conv),
        first_response_dist=first_response_distribution(conv),
        daily=daily, periods=periods, forecasts=forecasts, forecast_note=forecast_note,
        teams=teams, team_daily=team_daily, agents=agents,
        training=training, training_items=training_items, team_items=team_items,
        issue_types=issue_types, issue_note=issue_note, issue_warning=issue_warning,
        bad_reviews=bad_review_section(conv, rs.findings, config, classifier),
        verdicts=verdict_section(conv, rs.findings, rs.verdicts, labels, bands),
        notes=notes,
        calls=call_timing_table(rs.results, rs.findings),
        calls_by_team=call_timing_table(rs.results, rs.findings, by="team"),
        **side.result(),
        estimates=workbench.estimates if workbench is not None else None,
        cases=workbench.cases if workbench is not None else None,
    )
    report.summary = executive_summary(report, config)
    return report
