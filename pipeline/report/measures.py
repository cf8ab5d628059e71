"""What a report is, and the numbers every table of it is built from: the KPI definitions
(:data:`KPI_DEFS`), :class:`Metric` and :class:`Report`, the small rule-data look-ups (rule labels,
grade bands), one row of flags per conversation (:func:`conversation_flags`) and one group function
for every table (:func:`group_kpis`), targets and their judgement. Definitions: docs/REPORTS.md."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .forecast import Forecast
from .keys import KEY, key_isin
from .load import RunSet

# (key, label, kind, denominator column of the group table); kind: count | score | pct | seconds
KPI_DEFS: list[tuple[str, str, str, str]] = [
    ("conversations", "质检会话数", "count", "conversations"),
    ("avg_score", "平均分", "score", "scored_n"),
    ("fatal_rate", "红线率", "pct", "conversations"),
    ("review_rate", "需人工复核率", "pct", "conversations"),
    ("first_response_mean", "首次响应 均值", "seconds", "first_response_n"),
    ("first_response_p50", "首次响应 P50", "seconds", "first_response_n"),
    ("first_response_p90", "首次响应 P90", "seconds", "first_response_n"),
    ("first_response_sla_compliance", "首响达标率", "pct", "first_response_n"),
    ("avg_response_s", "平均响应时长", "seconds", "avg_response_n"),
    ("complaint_risk_rate", "投诉风险率", "pct", "conversations"),
    ("rating_rate", "评价率", "pct", "conversations"),
    ("csat", "客户满意度 CSAT", "pct", "rated_n"),
    ("bad_rating_rate", "差评率", "pct", "rated_n"),
    ("customer_negative_rate", "客户负面情绪率", "pct", "sentiment_n"),
    ("negative_recovery_rate", "负面开场→非负面结束", "pct", "negative_start_n"),
]
KPI_LABELS = {k: label for k, label, _, _ in KPI_DEFS}
KPI_KINDS = {k: kind for k, _, kind, _ in KPI_DEFS}
# what the group table can't have a value for, and why
NO_DATA = {  # why a KPI shows —, in the reader's words
    "avg_score": "没有得分",
    "first_response_mean": "没有时间戳", "first_response_p50": "没有时间戳", "first_response_p90": "没有时间戳",
    "first_response_sla_compliance": "没有时间戳", "avg_response_s": "没有时间戳",
    "bad_rating_rate": "没有评价", "csat": "没有评价",
    "customer_negative_rate": "没有情绪结果(情绪模型未运行,sentiment)",
    "negative_recovery_rate": "没有以负面开场的会话,或没有情绪结果",
}
TREND_KEYS = ["conversations", "avg_score", "fatal_rate", "first_response_sla_compliance", "avg_response_s",
              "complaint_risk_rate", "csat", "bad_rating_rate", "customer_negative_rate", "negative_recovery_rate"]
FORECAST_KEYS = ["conversations", "avg_score", "first_response_sla_compliance", "bad_rating_rate", "complaint_risk_rate"]
DEDUCTION = "deduction"


@dataclass
class Metric:
    key: str
    label: str
    kind: str  # count | score | pct | seconds
    value: float | None
    n: int  # conversations in the denominator
    target: float | None = None
    direction: str | None = None  # "min" (at least) | "max" (at most)
    met: bool | None = None
    note: str = ""


@dataclass
class Report:
    meta: dict[str, Any]
    kpis: list[Metric]
    grade_mix: pd.DataFrame  # grade, conversations, share
    rule_hits: pd.DataFrame  # rule, label, kind, conversations, rate, findings, points
    first_response_by_channel: pd.DataFrame  # channel, sla_s, conversations, timed, mean, p50, p90, compliance
    first_response_dist: pd.DataFrame  # bin (lower edge, s) × channel: conversations (for the histogram)
    daily: pd.DataFrame  # day + TREND_KEYS (+ denominators)
    periods: dict[str, Any]  # days, current / previous ranges, comparison rows
    forecasts: dict[str, Forecast | None]
    forecast_note: str
    teams: pd.DataFrame
    team_daily: pd.DataFrame  # day × team average score
    agents: pd.DataFrame
    training: pd.DataFrame  # agent × item deductions: count, rate, overall rate, ratio, need
    training_items: pd.DataFrame  # item: deductions, conversations with it, rate, agents needing coaching, evidence examples
    team_items: pd.DataFrame  # team × item rate per conversation (heatmap)
    issue_types: pd.DataFrame | None  # None: no issue_type in the data
    issue_note: str
    bad_reviews: dict[str, Any]
    verdicts: dict[str, Any] | None  # None: no verdicts file
    notes: list[str] = field(default_factory=list)
    issue_warning: str = ""  # Chinese: the issue types whose mean confidence is below report.issue_types.low_confidence_below
    calls: pd.DataFrame | None = None  # per agent: call timing (issue 18); None: no call with timestamps
    calls_by_team: pd.DataFrame | None = None  # the same per team
    seed: dict[str, Any] | None = None  # seed KPIs (kpis.seed_kpis): rows (SeedKpi), peak hours, complaint cases, workbench, same period
    summary: dict[str, Any] | None = None  # the executive summary (kpis.executive_summary)
    questions: dict[str, Any] | None = None  # scorecard questions' answers (report/questions.py); None: no run carries any
    estimates: dict[str, Any] | None = None  # defect rates from the reviewed sample (workbench.estimates); None: no workbench or no review
    cases: dict[str, Any] | None = None  # 差评处理 (report/cases.py); None: no workbench or no case


# ------------------------------------------------------------------------------------------------
# small rule-data lookups
def rule_labels(config: dict) -> dict[str, str]:
    """rule id → its category in lexicons/rules.yaml (服务忌语, 结束语 …)."""
    from ..config import load_yaml, resolve_path

    try:
        raw = load_yaml(resolve_path(config["paths"]["rules"]), "rules") or {}
    except Exception:  # noqa: BLE001 — labels are cosmetic; the ids still show
        return {}
    return {r["id"]: r.get("category") or r["id"] for r in raw.get("rules") or [] if isinstance(r, dict) and "id" in r}


def grade_bands(config: dict) -> list[tuple[str, float]]:
    from ..config import load_yaml, resolve_path

    try:
        raw = load_yaml(resolve_path(config["paths"]["scorecard"]), "scorecard") or {}
        return [(g["grade"], float(g["min"])) for g in raw.get("grades") or []]
    except Exception:  # noqa: BLE001
        return [("优", 90.0), ("良", 80.0), ("中", 60.0), ("差", 0.0)]


def grade_of(score: float, bands: list[tuple[str, float]]) -> str | None:
    for g, lo in bands:
        if score >= lo:
            return g
    return bands[-1][0] if bands else None


# ------------------------------------------------------------------------------------------------
# per-conversation flags, then one group function for every table
def conversation_flags(rs: RunSet, config: dict) -> pd.DataFrame:
    """One row per conversation with the flags every rate is the mean of (NaN = not applicable)."""
    r = rs.results
    rep = config["report"]
    sla = config["timing"]["first_response_sla_s"]
    codes, channels = pd.factorize(r["channel"])  # one lookup per channel, not per row; a missing channel (−1) → default
    per_channel = [sla.get(c, sla["default"]) if isinstance(c, str) else sla["default"] for c in channels] + [sla["default"]]
    sla_s = pd.Series(np.asarray(per_channel, dtype=float)[codes], index=r.index)
    fr = r["first_response_s"]
    bad_at_most = config["review"]["bad_rating_at_most"]
    satisfied_at_least = rep["csat_satisfied_at_least"]
    neg = rep["negative_label"]
    f = rs.findings
    cr = f[f["rule"] == "complaint.risk"]
    conv = pd.DataFrame({
        "run": r["run"], "id": r["id"], KEY: r[KEY], "day": r["day"], "channel": r["channel"],
        "agent_id": r["agent_id"], "agent_name": r["agent_name"], "agent_team": r["agent_team"],
        "score": r["score"], "grade": r["grade"], "fatal": r["fatal"].astype(bool), "review_needed": r["review_needed"].astype(bool),
        "first_response_s": fr, "sla_s": sla_s,
        "sla_ok": np.where(fr.notna(), (fr <= sla_s).astype(float), np.nan),
        "avg_response_s": r["avg_response_s"],
        "complaint": key_isin(r[KEY], cr[KEY]),
        "rating_score": r["rating_score"], "rating_comment": r["rating_comment"],
        "rated": r["rating_score"].notna(),
        "bad": np.where(r["rating_score"].notna(), (r["rating_score"] <= bad_at_most).astype(float), np.nan),
        "satisfied": np.where(r["rating_score"].notna(), (r["rating_score"] >= satisfied_at_least).astype(float), np.nan),
        "issue_type": r["issue_type"], "issue_type_confidence": r["issue_type_confidence"],
        "sentiment": r["sentiment"],
        "negative": np.where(r["sentiment"].notna(), (r["sentiment"] == neg).astype(float), np.nan),
    })
    starts_negative = (r["customer_start"] == neg) & r["customer_end"].notna()
    conv["recovered"] = np.where(starts_negative, (r["customer_end"] != neg).astype(float), np.nan)
    return conv


GROUP_KPI_INPUTS = ["score", "fatal", "review_needed", "first_response_s", "sla_ok", "avg_response_s", "complaint", "rated", "bad",
                    "satisfied", "negative", "recovered"]  # the columns group_kpis reads (besides ``by``)


def group_kpis(conv: pd.DataFrame, by: str | list[str] | None = None) -> pd.DataFrame:
    """The KPI table of ``conv`` grouped by ``by`` (None: one row, index 0). Rates are means of
    the flags over the rows where the flag applies; the ``*_n`` columns are those denominators."""
    if by is None:
        g = conv[GROUP_KPI_INPUTS].assign(_all=0).groupby("_all")  # only the inputs: no copy of every column
    else:
        g = conv.groupby(by, dropna=True, sort=True)
    fr = g["first_response_s"]
    out = pd.DataFrame({
        "conversations": g.size(),
        "scored_n": g["score"].count(),
        "avg_score": g["score"].mean(),
        "fatal_rate": g["fatal"].mean(),
        "fatal": g["fatal"].sum(),
        "review_rate": g["review_needed"].mean(),
        "first_response_n": fr.count(),
        "first_response_mean": fr.mean(),
        "first_response_p50": fr.quantile(0.5),
        "first_response_p90": fr.quantile(0.9),
        "first_response_sla_compliance": g["sla_ok"].mean(),
        "avg_response_n": g["avg_response_s"].count(),
        "avg_response_s": g["avg_response_s"].mean(),
        "complaint_risk_rate": g["complaint"].mean(),
        "complaints": g["complaint"].sum(),
        "rating_rate": g["rated"].mean(),
        "rated_n": g["bad"].count(),
        "bad_ratings": g["bad"].sum(),
        "bad_rating_rate": g["bad"].mean(),
        "satisfied": g["satisfied"].sum(),
        "csat": g["satisfied"].mean(),
        "sentiment_n": g["negative"].count(),
        "customer_negative_rate": g["negative"].mean(),
        "negative_start_n": g["recovered"].count(),
        "negative_recovery_rate": g["recovered"].mean(),
    })
    for c in ("conversations", "scored_n", "fatal", "first_response_n", "avg_response_n", "complaints", "rated_n",
              "bad_ratings", "satisfied", "sentiment_n", "negative_start_n"):
        out[c] = out[c].astype(int)
    return out


def _num(v) -> float | None:
    if v is None:
        return None
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def targets_of(config: dict) -> dict[str, tuple[float, str]]:
    """KPI key → (target, "min" | "max") from report.targets (null = no target)."""
    out = {}
    for k, v in (config["report"].get("targets") or {}).items():
        if v is None:
            continue
        key, _, direction = k.rpartition("_")
        if direction in ("min", "max"):
            out[key] = (float(v), direction)
    return out


def report_targets(r: "Report") -> dict[str, tuple[float, str]]:
    """The targets a computed report was judged against (its meta), as :func:`targets_of` gives them."""
    return targets_of({"report": {"targets": r.meta.get("targets") or {}}})


def judge(value: float | None, target: tuple[float, str] | None) -> bool | None:
    if value is None or target is None:
        return None
    t, direction = target
    return value >= t if direction == "min" else value <= t


def kpi_list(row: pd.Series, config: dict) -> list[Metric]:
    targets = targets_of(config)
    out = []
    for key, label, kind, denom in KPI_DEFS:
        value = _num(row.get(key))
        n = int(row.get(denom) or 0)
        t = targets.get(key)
        note = ""
        if value is None:
            note = NO_DATA.get(key, "无数据")
        out.append(Metric(key, label, kind, value, n, t[0] if t else None, t[1] if t else None, judge(value, t), note))
    return out
