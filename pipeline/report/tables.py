"""The report's tables, each from the per-conversation flags (:mod:`.measures`) and the findings:
periods and their comparison, teams and agents, training needs, rule hits, call timing, first
response, issue types, bad reviews, reviewers' verdicts, forecasts. Pure, like :func:`.metrics.compute`
which assembles them."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from .forecast import Forecast, linear_forecast, seasonal_forecast
from .keys import KEY, inner_join, key_isin, key_positions
from .mask import mask_pii
from .measures import DEDUCTION, FORECAST_KEYS, GROUP_KPI_INPUTS, KPI_DEFS, _num, grade_of, group_kpis, judge, kpi_list, targets_of


def _days(conv: pd.DataFrame) -> list[date]:
    return sorted(date.fromisoformat(d) for d in conv["day"].dropna().unique())


def report_periods(conv: pd.DataFrame, config: dict) -> dict[str, Any]:
    days = _days(conv)
    if not days:
        return {"days": 0, "period_days": None, "note": "没有会话写明 started_at(开始时间):无法做趋势"}
    span = (days[-1] - days[0]).days + 1
    p = config["report"]["period_days"] or (7 if span >= 14 else 1)
    cur_hi = days[-1]
    cur_lo = cur_hi - timedelta(days=p - 1)
    prev_hi = cur_lo - timedelta(days=1)
    prev_lo = prev_hi - timedelta(days=p - 1)
    return {"days": len(days), "span_days": span, "first": days[0], "last": days[-1], "period_days": p,
            "current": (cur_lo, cur_hi), "previous": (prev_lo, prev_hi)}


def _in_range(conv: pd.DataFrame, lo: date, hi: date) -> pd.DataFrame:
    d = conv["day"]
    return conv[d.notna() & (d >= lo.isoformat()) & (d <= hi.isoformat())]


def period_comparison(conv: pd.DataFrame, periods: dict, config: dict) -> list[dict[str, Any]]:
    """Each KPI in the current period, the previous one, the change and the target."""
    if not periods.get("period_days"):
        return []
    cur = _in_range(conv, *periods["current"])
    prev = _in_range(conv, *periods["previous"])
    cur_k = {m.key: m for m in kpi_list(group_kpis(cur).iloc[0], config)} if len(cur) else {}
    prev_k = {m.key: m for m in kpi_list(group_kpis(prev).iloc[0], config)} if len(prev) else {}
    rows = []
    for key, label, kind, _ in KPI_DEFS:
        c, p = cur_k.get(key), prev_k.get(key)
        cv, pv = (c.value if c else None), (p.value if p else None)
        t = targets_of(config).get(key)
        rows.append({
            "key": key, "label": label, "kind": kind, "current": cv, "previous": pv,
            "change": (cv - pv) if cv is not None and pv is not None else None,
            "change_rel": ((cv - pv) / abs(pv)) if cv is not None and pv not in (None, 0) else None,
            "target": t[0] if t else None, "direction": t[1] if t else None, "met": judge(cv, t),
            "n_current": c.n if c else 0, "n_previous": p.n if p else 0,
        })
    return rows


def _trend_buckets(conv: pd.DataFrame, periods: dict) -> pd.Series:
    """Daily buckets for ≤ 31 days of data, else weekly (Monday of the week)."""
    if periods.get("span_days", 0) <= 31:
        return conv["day"]
    d = pd.to_datetime(conv["day"], errors="coerce")
    return (d - pd.to_timedelta(d.dt.weekday, unit="D")).dt.strftime("%Y-%m-%d").where(d.notna(), None)


def add_score_interval(table: pd.DataFrame, conv: pd.DataFrame, by: str, coverage: float) -> None:
    """``score_lo`` / ``score_hi``: the average score ± t · s / √n over the group's scored conversations."""
    from .stats import t_half_width

    g = conv.groupby(by)["score"]
    half = pd.Series(t_half_width(g.std(ddof=1), g.count(), coverage), index=g.count().index).reindex(table.index)
    table["score_lo"] = table["avg_score"] - half
    table["score_hi"] = table["avg_score"] + half


def agents_table(conv: pd.DataFrame, periods: dict, config: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rep = config["report"]
    with_agent = conv[conv["agent_id"].notna()]
    k = group_kpis(with_agent, "agent_id")
    info = with_agent.sort_values("day", na_position="first").groupby("agent_id").agg(
        agent_name=("agent_name", "last"), agent_team=("agent_team", "last"))
    agents = info.join(k)
    add_score_interval(agents, with_agent, "agent_id", rep["score_interval"])
    ranked = agents["conversations"] >= rep["min_agent_conversations"]
    agents["rank"] = agents.loc[ranked, "avg_score"].rank(ascending=False, method="min")
    agents["ranked"] = ranked
    # trend: average score per bucket, and this period vs the previous one
    bucket = _trend_buckets(with_agent, periods)
    pivot = with_agent.assign(_b=bucket).dropna(subset=["_b"]).pivot_table(index="agent_id", columns="_b", values="score", aggfunc="mean")
    pivot = pivot.reindex(columns=sorted(pivot.columns))
    agents["trend"] = [[_num(v) for v in pivot.loc[a]] if a in pivot.index else [] for a in agents.index]
    agents["score_current"] = np.nan
    agents["score_previous"] = np.nan
    if periods.get("period_days"):
        cur = _in_range(with_agent, *periods["current"]).groupby("agent_id")["score"].mean()
        prev = _in_range(with_agent, *periods["previous"]).groupby("agent_id")["score"].mean()
        agents["score_current"] = cur.reindex(agents.index)
        agents["score_previous"] = prev.reindex(agents.index)
    agents["score_change"] = agents["score_current"] - agents["score_previous"]
    agents = agents.sort_values(["ranked", "avg_score", "conversations"], ascending=[False, False, False])
    agents.index.name = "agent_id"
    agents = agents.reset_index()
    # teams
    with_team = conv[conv["agent_team"].notna()]
    teams = group_kpis(with_team, "agent_team")
    teams.insert(0, "agents", with_team.groupby("agent_team")["agent_id"].nunique())
    add_score_interval(teams, with_team, "agent_team", rep["score_interval"])
    teams = teams.sort_values("avg_score", ascending=False)
    teams.index.name = "agent_team"
    teams = teams.reset_index()
    team_daily = with_team.dropna(subset=["day"]).pivot_table(index="day", columns="agent_team", values="score", aggfunc="mean")
    return agents, teams, team_daily


def training_need(per: pd.DataFrame, ref_hits: dict, ref_n: dict, all_hits: pd.Series, n_total: int, tr: dict) -> pd.DataFrame:
    """Adds the test columns to ``per`` (agent × item: ``hits`` of ``conversations``, ``agent_team``,
    ``team_hits`` / ``team_n`` = the agent's own share of its team): the reference rate excludes the
    agent (its team's other agents, or everyone else when it has no team or is alone in it), a
    one-sided binomial test where the agent has the minimum volume, Benjamini–Hochberg q-values over
    those tested pairs, and ``need`` = q ≤ report.training.fdr_q (docs/REPORTS.md, 培训需求)."""
    from .stats import bh_qvalues, binom_greater, wilson_interval

    team_key = list(zip(per["agent_team"], per["item"]))
    rk = np.array([ref_hits.get(k, 0) for k in team_key], dtype=float) - per["team_hits"].to_numpy(float)
    rn = np.array([ref_n.get(t, 0) for t in per["agent_team"]], dtype=float) - per["team_n"].to_numpy(float)
    by_team = per["agent_team"].notna().to_numpy() & (rn > 0)
    rk = np.where(by_team, rk, per["item"].map(all_hits).fillna(0).to_numpy(float) - per["hits"].to_numpy(float))
    rn = np.where(by_team, rn, n_total - per["conversations"].to_numpy(float))
    per["reference"] = np.where(by_team, "团队", "全体")
    with np.errstate(divide="ignore", invalid="ignore"):
        # a reference with no hit at all is floored at half a hit, so one agent's rare item is not "infinitely" above it
        per["reference_rate"] = np.where(rn > 0, np.maximum(rk, 0.5) / rn, np.nan)
    per["tested"] = (per["conversations"] >= tr["min_conversations"]) & (per["hits"] >= tr["min_hits"]) & (rn > 0)
    t = per["tested"].to_numpy()
    per["p_value"] = np.nan
    per["q_value"] = np.nan
    if t.any():
        pv = binom_greater(per.loc[t, "hits"].to_numpy(), per.loc[t, "conversations"].to_numpy(), per.loc[t, "reference_rate"].to_numpy())
        per.loc[t, "p_value"] = pv
        per.loc[t, "q_value"] = bh_qvalues(pv)
    per["need"] = per["tested"] & (per["q_value"] <= tr["fdr_q"]) & (per["rate"] > per["reference_rate"])
    ci = [wilson_interval(k, n, tr["interval"]) for k, n in zip(per["hits"], per["conversations"])]
    per["rate_lo"] = [c[0] for c in ci]
    per["rate_hi"] = [c[1] for c in ci]
    return per


def training_tables(conv: pd.DataFrame, findings: pd.DataFrame, config: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Deductions (points < 0, or a 红线 finding) per agent and scorecard item → 培训需求 (:func:`training_need`)."""
    tr = config["report"]["training"]
    cols_t = ["agent_id", "agent_name", "agent_team", "item", "count", "hits", "conversations", "rate", "rate_lo", "rate_hi",
              "overall_rate", "ratio", "reference", "reference_rate", "p_value", "q_value", "tested", "need"]
    cols_i = ["item", "label", "deductions", "conversations_with", "rate", "agents_needing", "agents", "examples"]
    f = findings
    ded = f[(f["points"] < 0) | (f["severity"] == "fatal")]
    if ded.empty or conv.empty:
        return pd.DataFrame(columns=cols_t), pd.DataFrame(columns=cols_i), pd.DataFrame()
    ded = ded.assign(item=ded["item"].where(ded["item"].notna(), ded["rule"]))
    joined = inner_join(ded, conv[[KEY, "agent_id", "agent_team"]])
    hit_conv = joined.drop_duplicates([KEY, "item"])  # a conversation counts once per item
    n_total = len(conv)
    all_hits = hit_conv.groupby("item").size()
    overall = all_hits / n_total
    with_agent = conv[conv["agent_id"].notna()]
    n_agent = with_agent.groupby("agent_id").size()
    names = with_agent.groupby("agent_id").agg(agent_name=("agent_name", "last"), agent_team=("agent_team", "last"))
    ha = hit_conv[hit_conv["agent_id"].notna()]
    per = ha.groupby(["agent_id", "item"]).size().rename("hits").to_frame()
    per["count"] = joined[joined["agent_id"].notna()].groupby(["agent_id", "item"]).size()
    per = per.reset_index()
    per["conversations"] = per["agent_id"].map(n_agent)
    per["rate"] = per["hits"] / per["conversations"]
    per["overall_rate"] = per["item"].map(overall)
    per["ratio"] = per["rate"] / per["overall_rate"]
    per = per.join(names, on="agent_id")
    # the agent's own part of its (last) team's counts, taken out of the team's reference
    in_team = ha.groupby(["agent_id", "agent_team", "item"]).size()
    n_in_team = with_agent.groupby(["agent_id", "agent_team"]).size()
    per["team_hits"] = [in_team.get((a, t, i), 0) for a, t, i in zip(per["agent_id"], per["agent_team"], per["item"])]
    per["team_n"] = [n_in_team.get((a, t), 0) for a, t in zip(per["agent_id"], per["agent_team"])]
    ref_hits = hit_conv[hit_conv["agent_team"].notna()].groupby(["agent_team", "item"]).size().to_dict()
    ref_n = conv[conv["agent_team"].notna()].groupby("agent_team").size().to_dict()
    per = training_need(per, ref_hits, ref_n, all_hits, n_total, tr)
    per = per.sort_values(["agent_id", "count", "item"], ascending=[True, False, True])
    training = per[cols_t].reset_index(drop=True)
    # per item
    conv_with = all_hits  # conversations with the item: hit_conv is joined without repeats of (run, conversation, item)
    needing = per[per["need"]].groupby("item")["agent_id"].agg(list)
    examples = {}
    for item, ev in joined.dropna(subset=["evidence"]).groupby("item")["evidence"]:
        examples[item] = [(mask_pii(e), c) for e, c in Counter(ev).most_common(3)]
    items = pd.DataFrame({"deductions": joined.groupby("item").size(), "conversations_with": conv_with})
    items["rate"] = items["conversations_with"] / n_total
    items["agents_needing"] = [len(needing.get(i, [])) for i in items.index]
    items["agents"] = [needing.get(i, []) for i in items.index]
    items["examples"] = [examples.get(i, []) for i in items.index]
    items.index.name = "item"
    items = items.reset_index().sort_values(["deductions", "item"], ascending=[False, True])
    items.insert(1, "label", items["item"])
    # team × item rate per conversation
    n_team = conv[conv["agent_team"].notna()].groupby("agent_team").size()
    team_items = joined[joined["agent_team"].notna()].groupby(["agent_team", "item"]).size().unstack(fill_value=0)
    team_items = team_items.div(n_team.reindex(team_items.index), axis=0)
    team_items = team_items[[c for c in items["item"] if c in team_items.columns]]
    return training, items[cols_i].reset_index(drop=True), team_items


def rule_hit_table(conv: pd.DataFrame, findings: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    n = len(conv)
    cols = ["rule", "label", "kind", "conversations", "rate", "findings", "points"]
    if findings.empty or n == 0:
        return pd.DataFrame(columns=cols)
    g = findings.groupby("rule")
    t = pd.DataFrame({
        "conversations": g[KEY].nunique(),  # distinct conversations per rule
        "findings": g.size(),
        "points": g["points"].sum(),
    })
    t["rate"] = t["conversations"] / n
    t["kind"] = np.where(t["points"] > 0, "bonus", DEDUCTION)
    t.index.name = "rule"
    t = t.reset_index()
    t["label"] = t["rule"].map(lambda r: labels.get(r, r))
    return t.sort_values(["kind", "rate"], ascending=[False, False])[cols].reset_index(drop=True)


CALL_RULES = ("call.interruption", "call.silence", "call.speech_rate", "call.talk_share")


CALL_GROUPS = {"agent": ["agent_id", "agent_name", "agent_team"], "team": ["agent_team"]}


def call_timing_table(results: pd.DataFrame, findings: pd.DataFrame, by: str = "agent") -> pd.DataFrame | None:
    """Per agent (or per team: ``by``), over their calls with speech timing: calls, interruptions per
    call, mean and longest silence, talk share, speech rate, and the share of calls with each call
    rule's finding. None when no conversation is a timed call (chats, or runs made before the call checks)."""
    timed = results["agent_talk_share"].notna()
    if not timed.any():  # no call timing at all (chat runs): no copy of a million-row frame to learn it
        return None
    calls = results[timed]
    hit = findings[findings["rule"].isin(CALL_RULES)].drop_duplicates(["run", "conversation_id", "rule"])
    keys = {rule: set(zip(g["run"], g["conversation_id"])) for rule, g in hit.groupby("rule")}
    c = calls.assign(**{rule.replace(".", "_"): [(r, i) in keys.get(rule, set()) for r, i in zip(calls["run"], calls["id"])]
                        for rule in CALL_RULES})
    keys_of = CALL_GROUPS[by]
    g = c.groupby(keys_of, dropna=False)
    t = pd.DataFrame({
        "calls": g.size(),
        "interruptions_per_call": g["interruptions"].mean(),
        "silence_max_s": g["silence_max_s"].max(),
        "silence_total_s_mean": g["silence_total_s"].mean(),
        "agent_talk_share": g["agent_talk_share"].mean(),
        "agent_chars_per_s": g["agent_chars_per_s"].mean(),
        **{f"{rule.replace('.', '_')}_rate": g[rule.replace(".", "_")].mean() for rule in CALL_RULES},
    }).reset_index()
    return t.sort_values(["calls", keys_of[0]], ascending=[False, True]).reset_index(drop=True)


def first_response_table(conv: pd.DataFrame) -> pd.DataFrame:
    if conv.empty:
        return pd.DataFrame()
    c = conv[GROUP_KPI_INPUTS + ["sla_s"]].assign(channel=conv["channel"].fillna("(未知)"))  # only what is used: no copy of every column
    k = group_kpis(c, "channel")
    k["sla_s"] = c.groupby("channel")["sla_s"].first()
    t = k[["sla_s", "conversations", "first_response_n", "first_response_mean", "first_response_p50", "first_response_p90",
           "first_response_sla_compliance", "avg_response_s"]]
    t.index.name = "channel"
    return t.reset_index()


FR_BINS = [0, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300]


def first_response_distribution(conv: pd.DataFrame) -> pd.DataFrame:
    """Conversations per first-response bin (lower edges ``FR_BINS``; the last bin is open) and channel."""
    timed = conv.loc[conv["first_response_s"].notna(), ["first_response_s", "channel"]]
    if timed.empty:
        return pd.DataFrame()
    edges = FR_BINS + [float("inf")]
    b = pd.cut(timed["first_response_s"], edges, right=False, labels=FR_BINS)
    t = pd.crosstab(b, timed["channel"].fillna("(未知)")).reindex(FR_BINS, fill_value=0)
    t.index.name = "bin"
    return t


def low_confidence_warning(types: pd.DataFrame, below: float) -> str:
    """A Chinese warning naming the issue types whose mean classifier confidence is below ``below``."""
    low = types[types["confidence"] < below]
    if low.empty:
        return ""
    names = "、".join(f"{t}({c:.2f})" for t, c in zip(low["issue_type"], low["confidence"]))
    return (f"注意:{len(low)} 个问题类型的平均置信度低于 {below:.2f}(report.issue_types.low_confidence_below):{names}。"
            "分类器对这些会话把握不大,问题类型占比只能作粗略参考。")


def issue_type_table(conv: pd.DataFrame) -> tuple[pd.DataFrame | None, str]:
    typed = conv[conv["issue_type"].notna()]
    if typed.empty:
        return None, f"无数据:全部 {len(conv)} 个会话都没有问题类型(issue_type;这些运行没有跑问题类型模型)"
    k = group_kpis(typed, "issue_type")
    k["confidence"] = typed.groupby("issue_type")["issue_type_confidence"].mean()
    k = k.sort_values(["conversations"], ascending=False)
    k["share"] = k["conversations"] / len(typed)
    k["cumulative_share"] = k["share"].cumsum()
    k.index.name = "issue_type"
    cols = ["conversations", "share", "cumulative_share", "avg_score", "customer_negative_rate", "sentiment_n",
            "bad_rating_rate", "rated_n", "complaint_risk_rate", "fatal_rate", "confidence"]
    untyped = len(conv) - len(typed)
    note = f"{untyped} 个会话没有问题类型,未计入" if untyped else ""
    return k[cols].reset_index(), note


def bad_review_section(conv: pd.DataFrame, findings: pd.DataFrame, config: dict, classifier=None) -> dict[str, Any]:
    """Bad reviews (rating ≤ review.bad_rating_at_most; optionally complaint.risk too) by seed 004 reason class."""
    from .reasons import load_classifier

    rep = config["report"]
    threshold = config["review"]["bad_rating_at_most"]
    bad_mask = conv["bad"] == 1.0
    if rep["bad_review"]["include_complaint_risk"]:
        bad_mask = bad_mask | conv["complaint"]
    bad = conv[bad_mask]
    out: dict[str, Any] = {"threshold": threshold, "rated": int(conv["rated"].sum()), "count": len(bad),
                           "conversations": len(conv), "include_complaint_risk": rep["bad_review"]["include_complaint_risk"]}
    out["rate"] = (int((conv["bad"] == 1.0).sum()) / out["rated"]) if out["rated"] else None
    if bad.empty:
        out["note"] = "无数据:这些运行没有客户评分" if out["rated"] == 0 else f"没有评分 ≤ {threshold} 的差评"
        return out
    clf = classifier or load_classifier(config)
    out["classes"] = clf.classes
    f = findings[key_isin(findings[KEY], bad[KEY])] if len(findings) else findings
    rules_of = _rule_sets(f)
    hits_cache = {c: clf.comment_hits(c) for c in bad["rating_comment"].dropna().unique()}
    rows = []
    classified: dict = {}  # (comment, rules) → classification: bad reviews repeat a few comments and rule sets
    for row in bad.itertuples(index=False):
        comment = row.rating_comment
        rules = rules_of.get(getattr(row, KEY), frozenset())
        cl = classified.get((comment, rules))
        if cl is None:
            cl = classified[(comment, rules)] = clf.classify(comment, rules, comment_hits=hits_cache.get(comment, []))
        rows.append({
            "id": row.id, "day": row.day, "agent_id": row.agent_id, "agent_name": row.agent_name, "agent_team": row.agent_team,
            "channel": row.channel, "rating_score": row.rating_score, "has_comment": isinstance(comment, str) and bool(comment.strip()),
            "reason": cl.primary, "basis": cl.basis, "classes": cl.classes, "comment_classes": cl.comment_classes,
            "finding_classes": cl.finding_classes, "keywords": cl.keywords, "rules": cl.rules,
        })
    detail = pd.DataFrame(rows)
    classes = clf.classes
    by_class = pd.DataFrame(index=pd.Index(classes, name="reason"))
    by_class["count"] = detail["reason"].value_counts().reindex(classes, fill_value=0)
    by_class["share"] = by_class["count"] / len(detail)
    # multi-label counts (a fallback is no mention): what the customer's comment names, and what the findings point at
    for col in ("comment_classes", "finding_classes"):
        named = Counter(c for cs in detail[col] for c in cs)
        by_class[col.replace("_classes", "_mentions")] = [named.get(c, 0) for c in classes]
    for basis in ("comment", "findings", "fallback"):
        by_class[f"by_{basis}"] = detail[detail["basis"] == basis]["reason"].value_counts().reindex(classes, fill_value=0)
    # a comment's reason "backed" when a finding points at the same class
    rule_class = {r: e.category for e in clf.entries for r in e.rules}
    from_comment = detail[detail["basis"] == "comment"]
    backed = pd.Series([any(rule_class.get(r) == reason for r in rules) for reason, rules in zip(from_comment["reason"], from_comment["rules"])],
                       index=from_comment.index, dtype=bool)
    backable = set(rule_class.values())  # classes some finding rule can point at
    by_class["backed_by_findings"] = [
        (float(backed[from_comment["reason"] == c].mean()) if c in backable and (from_comment["reason"] == c).any() else None)
        for c in classes
    ]
    kw = {c: Counter(k for ks in detail.loc[detail["reason"] == c, "keywords"] for k in ks).most_common(5) for c in classes}
    by_class["top_keywords"] = [kw[c] for c in classes]
    out["by_class"] = by_class.reset_index()

    def pivot(col: str) -> pd.DataFrame:
        d = detail.assign(**{col: detail[col].fillna("(未知)")})
        p = d.pivot_table(index=col, columns="reason", values="id", aggfunc="count", fill_value=0)
        p = p.reindex(columns=[c for c in classes if c in p.columns])
        p["total"] = p.sum(axis=1)
        return p.sort_values("total", ascending=False)

    out["by_channel"] = pivot("channel")
    out["by_team"] = pivot("agent_team")
    by_agent = pivot("agent_id")
    names = conv[conv["agent_id"].notna()].groupby("agent_id")["agent_name"].last()
    by_agent.insert(0, "agent_name", [names.get(a) for a in by_agent.index])
    n_agent = conv.assign(agent_id=conv["agent_id"].fillna("(未知)")).groupby("agent_id").size()
    by_agent.insert(1, "conversations", n_agent.reindex(by_agent.index).fillna(0).astype(int))
    out["by_agent"] = by_agent
    dated = detail.dropna(subset=["day"])
    out["by_day"] = dated.pivot_table(index="day", columns="reason", values="id", aggfunc="count", fill_value=0).reindex(
        columns=[c for c in classes if c in set(dated["reason"])]) if len(dated) else pd.DataFrame()
    out["detail"] = detail.sort_values(["day", "id"], ascending=[False, True], na_position="last").reset_index(drop=True)
    out["comments"] = int(detail["has_comment"].sum())
    out["lexicon_version"] = clf.version
    return out


def _rule_sets(findings: pd.DataFrame) -> dict[int, frozenset]:
    """Conversation key → the frozenset of its findings' rules: one sort and a split instead of a Python
    aggregation per group (170 k bad reviews at scale)."""
    if findings.empty:
        return {}
    keys = findings[KEY].to_numpy()
    order = np.argsort(keys, kind="stable")
    keys, rules = keys[order], findings["rule"].to_numpy(dtype=object)[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return {int(k): frozenset(r) for k, r in zip(keys[starts], np.split(rules, starts[1:]))}


def verdict_section(conv: pd.DataFrame, findings: pd.DataFrame, verdicts: pd.DataFrame | None, labels: dict[str, str],
                    bands: list[tuple[str, float]]) -> dict[str, Any] | None:
    """Per-rule precision and machine–human agreement from reviewers' verdicts (docs/REPORTS.md)."""
    if verdicts is None:
        return None
    v = verdicts[key_isin(verdicts[KEY], conv[KEY])]
    out: dict[str, Any] = {"rows": len(verdicts), "unmatched": int(len(verdicts) - len(v))}
    reviewed = sorted(set(zip(v["run"], v["conversation_id"])))
    out["conversations"] = len(reviewed)
    if not reviewed:
        out["per_rule"] = pd.DataFrame()
        return out
    v_all, v = v, v[v["rule"].notna()]  # rows with only a human_score count the conversation as reviewed
    fr = findings[key_isin(findings[KEY], v_all[KEY])].reset_index(drop=True)
    machine = fr.groupby(["run", "conversation_id", "rule"]).size().rename("machine")
    counts = v.groupby(["run", "conversation_id", "rule", "verdict"]).size().unstack(fill_value=0)
    for c in ("confirmed", "rejected", "missed"):
        if c not in counts.columns:
            counts[c] = 0
    rules = sorted(set(fr["rule"]) | set(v["rule"]))
    idx = pd.MultiIndex.from_tuples([(r, c, rule) for (r, c) in reviewed for rule in rules], names=["run", "conversation_id", "rule"])
    grid = pd.DataFrame(index=idx).join(machine).join(counts[["confirmed", "rejected", "missed"]]).fillna(0)
    grid["machine_pos"] = grid["machine"] > 0
    # unjudged findings of a reviewed conversation count as accepted: the reviewer saw and kept them
    grid["human_pos"] = (grid["confirmed"] > 0) | (grid["missed"] > 0) | ((grid["machine"] - grid["rejected"]) > 0)
    rows = []
    for rule, g in grid.groupby(level="rule"):
        conf, rej, miss = int(g["confirmed"].sum()), int(g["rejected"].sum()), int(g["missed"].sum())
        m, h = g["machine_pos"], g["human_pos"]
        po = float((m == h).mean())
        pm, ph = float(m.mean()), float(h.mean())
        pe = pm * ph + (1 - pm) * (1 - ph)
        rows.append({
            "rule": rule, "label": labels.get(rule, rule), "findings_reviewed": conf + rej, "confirmed": conf, "rejected": rej,
            "precision": conf / (conf + rej) if conf + rej else None, "missed": miss,
            "conversations": len(g), "machine_positive": int(m.sum()), "human_positive": int(h.sum()),
            "agreement": po, "kappa": (po - pe) / (1 - pe) if pe < 1 else None,
        })
    out["per_rule"] = pd.DataFrame(rows).sort_values("findings_reviewed", ascending=False).reset_index(drop=True)
    # scores: the machine's and the reviewer's, kept apart
    hs = v_all.dropna(subset=["human_score"]).groupby(KEY)["human_score"].last()
    if len(hs):
        pos = key_positions(hs.index, conv[KEY])  # a conversation is one row of conv (load deduplicates)
        machine_score = conv["score"].to_numpy(dtype=float)
        both = pd.DataFrame({"human": hs.to_numpy(), "machine": np.where(pos >= 0, machine_score[pos], np.nan)}).dropna()
        diff = (both["machine"] - both["human"]).abs()
        out["scores"] = {
            "n": len(both),
            "mean_abs_diff": float(diff.mean()) if len(both) else None,
            "within_5": float((diff <= 5).mean()) if len(both) else None,
            "mean_machine_minus_human": float((both["machine"] - both["human"]).mean()) if len(both) else None,
            "grade_agreement": float((both["machine"].map(lambda s: grade_of(s, bands)) == both["human"].map(lambda s: grade_of(s, bands))).mean()) if len(both) else None,
        }
    return out


def forecast_all(daily: pd.DataFrame, periods: dict, fc_cfg: dict) -> tuple[dict[str, Forecast | None], str]:
    """FORECAST_KEYS: trend + day-of-week effects from report.forecast.seasonal_min_days of history, the
    linear trend alone from min_history_days, nothing before; the note says which and why (Chinese)."""
    n_days = periods.get("days", 0)
    if n_days < fc_cfg["min_history_days"]:
        return {}, (f"无预测:仅有 {n_days} 天数据,至少需要 {fc_cfg['min_history_days']} 天"
                    f"(report.forecast.min_history_days)。")
    seasonal = n_days >= fc_cfg["seasonal_min_days"]
    method = seasonal_forecast if seasonal else linear_forecast
    note = ("线性趋势 + 星期效应(每个星期几各自的高低),预测区间来自残差。" if seasonal else
            f"仅有 {n_days} 天数据,不足 {fc_cfg['seasonal_min_days']} 天(report.forecast.seasonal_min_days),"
            "无法可靠估计星期效应:只用线性趋势,周末/周一的高峰不在预测中。")
    ds = [date.fromisoformat(d) for d in daily["day"]]
    bounds = {"conversations": (0, None), "avg_score": (0, 100)}
    forecasts = {key: method(key, ds, [_num(v) for v in daily[key]], fc_cfg["horizon_days"], interval=fc_cfg["interval"],
                             bounds=bounds.get(key, (0, 1)), total=key == "conversations") for key in FORECAST_KEYS}
    return forecasts, note
