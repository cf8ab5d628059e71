"""The review side of the seed KPIs: 差错率 from people's verdicts (seed 002), and from the workbench
the human sampling rate, disputes / appeals, inspectors' workload and consistency (seed 003).
Assembled by :func:`.kpis.seed_kpis`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from .keys import KEY, inner_join
from .seed_kpi import SeedKpi, make_kpi


# ------------------------------------------------------------------------------------------------ reviews
def bonus_rules(config: dict) -> frozenset[str]:
    return _bonus_rules(str(config["paths"]["rules"]))


@lru_cache(maxsize=4)
def _bonus_rules(path: str) -> frozenset[str]:
    from ..config import load_yaml, resolve_path

    try:
        raw = load_yaml(resolve_path(path), "rules") or {}
    except Exception:  # noqa: BLE001 — without the file, only the known bonus rule
        return frozenset({"praise"})
    return frozenset(r["id"] for r in raw.get("rules") or [] if isinstance(r, dict) and r.get("severity") == "bonus") or frozenset({"praise"})


ERROR_FORMULA = ("人工复核过的会话中,至少有一条被复核人确认(confirmed)或补充(missed)的坐席差错(扣分或红线的发现;加分项和客户的投诉倾向"
                 " complaint.risk 不算)的会话 ÷ 复核过的会话。复核样本偏向机器标出的高风险会话,差错率高于全体的真实水平")
NOT_ERRORS = {"complaint.risk"}  # the customer's threat, not the agent's error (the agent's part is complaint.caused)


def error_rate_kpi(conv: pd.DataFrame, verdicts: pd.DataFrame | None, wb, config: dict) -> SeedKpi:
    seed = "seed 002:差错率(服务过程中的错误数量,如信息记录错误、解决方案不准确)"
    if wb is not None:
        ids = set(conv["id"])
        cmap = wb.conversations.set_index("id")["ext_id"]
        counted = {cid: rid for cid, rid in wb.counted.items() if cmap.get(cid) in ids}
        if not counted:
            return make_kpi("error_rate", "差错率", "pct", None, 0, config, seed, ERROR_FORMULA, f"工作台数据库({wb.url})",
                        "工作台里这些会话还没有计入的人工复核(已复核或已签核)")
        v = wb.verdicts[wb.verdicts["review_id"].isin(set(counted.values()))]
        deduction = (v["points"].fillna(0) < 0) | (v["severity"] == "fatal")
        err = v[v["verdict"].isin(["confirmed", "missed"]) & deduction & ~v["rule"].isin(bonus_rules(config) | NOT_ERRORS)]
        k = int(err["review_id"].nunique())
        return make_kpi("error_rate", "差错率", "pct", k / len(counted), len(counted), config, seed, ERROR_FORMULA,
                    f"工作台数据库的计入复核(已复核;签核后按结论取第一轮或第二轮;{wb.url})")
    if verdicts is None:
        return make_kpi("error_rate", "差错率", "pct", None, 0, config, seed, ERROR_FORMULA, "RUN_DIR/verdicts.* 或工作台数据库",
                    "没有人工复核结果(运行里没有 verdicts 文件,也没有连接工作台数据库 --database-url)")
    v = inner_join(verdicts, conv[[KEY]])
    reviewed = set(zip(v["run"], v["conversation_id"]))
    if not reviewed:
        return make_kpi("error_rate", "差错率", "pct", None, 0, config, seed, ERROR_FORMULA, "RUN_DIR/verdicts.*",
                    "复核结果对应不到这些会话")
    err = v[v["verdict"].isin(["confirmed", "missed"]) & v["rule"].notna() & ~v["rule"].isin(bonus_rules(config) | NOT_ERRORS)]
    k = len(set(zip(err["run"], err["conversation_id"])))
    return make_kpi("error_rate", "差错率", "pct", k / len(reviewed), len(reviewed), config, seed, ERROR_FORMULA, "RUN_DIR/verdicts.*(复核导出)")


def _days_between(a, b) -> float | None:
    if a is None or b is None or a is pd.NaT or b is pd.NaT:
        return None
    return (b - a).total_seconds() / 86400.0


def workbench_section(conv: pd.DataFrame, wb, config: dict) -> tuple[list[SeedKpi], dict[str, Any]]:
    """Sampling rate, disputes / appeals, inspectors' workload and consistency (seed 003), over the
    report's conversations; machine-vs-human agreement as the workbench computes it (whole database)."""
    from ..stats import cohen_kappa

    seed_s = "seed 003:按规定完成抽样监听及评分;质检员工作量"
    seed_d = "seed 003:有争议的录音双人复核,质检主管签字核准后计入"
    seed_c = "seed 003:以公正、公平、公开的方式评分,不带个人感情色彩(质检员之间的一致性)"
    if wb is None:
        why = "没有连接工作台数据库(--database-url URL 或 --workbench)"
        return [
            make_kpi("sampling_rate", "人工抽检率", "pct", None, 0, config, seed_s, "有人工首轮复核的会话 ÷ 质检会话", "工作台数据库", why),
            make_kpi("disputes", "申诉与争议", "count", None, 0, config, seed_d, "对这些会话提出的坐席申诉与质检争议", "工作台数据库", why),
            make_kpi("dispute_overturn_rate", "申诉改判率", "pct", None, 0, config, seed_d, "改判 ÷ 已签核的申诉与争议", "工作台数据库", why),
            make_kpi("inspector_kappa", "质检员间一致性 κ", "ratio", None, 0, config, seed_c,
                 "争议会话上第一轮与第二轮复核对同一条发现的判定的 Cohen κ", "工作台数据库", why),
            make_kpi("grade_agreement", "机器与人工等级一致率", "pct", None, 0, config, seed_c,
                 "计入的人工复核中,人工分与机器分落在同一等级的比例(工作台「一致性」页的数字)", "工作台数据库", why),
        ], {}
    src = f"工作台数据库({wb.url})"
    convs = wb.conversations
    in_report = convs[convs["ext_id"].isin(set(conv["id"]))]
    cid_ext = dict(zip(in_report["id"], in_report["ext_id"]))
    reviews = wb.reviews[wb.reviews["conversation_id"].isin(cid_ext.keys())]
    first = reviews[reviews["round"] == 1]
    reviewed_ext = {cid_ext[c] for c in first["conversation_id"]}
    # sampling rate by team: the report's conversations are the denominator
    teams = conv.assign(team=conv["agent_team"].fillna("(无团队)"), reviewed=conv["id"].isin(reviewed_ext))
    by_team = teams.groupby("team").agg(inspected=("id", "size"), reviewed=("reviewed", "sum")).reset_index()
    by_team["rate"] = by_team["reviewed"] / by_team["inspected"]
    total_row = pd.DataFrame([{"team": "合计", "inspected": len(teams), "reviewed": int(teams["reviewed"].sum()),
                               "rate": float(teams["reviewed"].mean()) if len(teams) else None}])
    by_team = pd.concat([by_team.sort_values("rate", ascending=False), total_row], ignore_index=True)
    sampling = make_kpi("sampling_rate", "人工抽检率", "pct", float(teams["reviewed"].mean()) if len(teams) else None, len(teams), config,
                    seed_s, "有人工首轮复核(已提交)的会话 ÷ 质检会话(本报告的会话)", src,
                    "" if len(in_report) else "工作台里没有本报告的会话(zhijian load 未导入这些运行?)")
    # disputes and appeals
    d = wb.disputes[wb.disputes["conversation_id"].isin(cid_ext.keys())].copy()
    now = wb.read_at
    d["pending"] = d["state"].isin(["open", "second_reviewed"])
    d["age_days"] = [_days_between(c, now) if p else None for c, p in zip(d["created_at"], d["pending"])]
    d["days_to_sign_off"] = [_days_between(c, s) for c, s in zip(d["created_at"], d["signed_off_at"])]
    rows = []
    for kind, label in (("appeal", "坐席申诉"), ("dispute", "质检争议"), (None, "合计")):
        g = d if kind is None else d[d["kind"] == kind]
        decided = int(g["state"].isin(["upheld", "overturned"]).sum())
        over = int((g["state"] == "overturned").sum())
        ages = pd.Series(g["age_days"], dtype="float64").dropna()
        signs = pd.Series(g["days_to_sign_off"], dtype="float64").dropna()
        rows.append({"kind": label, "raised": len(g), "open": int((g["state"] == "open").sum()),
                     "awaiting_sign_off": int((g["state"] == "second_reviewed").sum()), "upheld": int((g["state"] == "upheld").sum()),
                     "overturned": over, "overturn_rate": over / decided if decided else None,
                     "pending_age_median_days": float(ages.median()) if len(ages) else None,
                     "pending_age_max_days": float(ages.max()) if len(ages) else None,
                     "sign_off_median_days": float(signs.median()) if len(signs) else None})
    disputes = pd.DataFrame(rows)
    tot = rows[-1]
    decided = tot["upheld"] + tot["overturned"]
    d_kpi = make_kpi("disputes", "申诉与争议", "count", float(tot["raised"]), len(in_report), config, seed_d,
                 "对本报告会话提出的坐席申诉(appeal)与质检争议(dispute)数;待处理 = 待第二轮复核 + 待主管签核", src,
                 f"待处理 {tot['open'] + tot['awaiting_sign_off']:,}(最久 {tot['pending_age_max_days']:.1f} 天)"
                 if tot["pending_age_max_days"] is not None else "")
    o_kpi = make_kpi("dispute_overturn_rate", "申诉改判率", "pct", tot["overturn_rate"], decided, config, seed_d,
                 "主管签核为改判(overturned)÷ 已签核(维持 + 改判)", src, "" if decided else "还没有签核的申诉或争议")
    # inspectors: workload and consistency
    names = wb.users.set_index("id")
    tol = float(config["workbench"]["agreement"]["score_tolerance"])
    machine = in_report.set_index("id")["machine_score"]
    first = first.assign(score=first["human_score"].where(first["human_score"].notna(), first["conversation_id"].map(machine)))
    first = first.assign(diff=(first["score"] - first["conversation_id"].map(machine)).abs())
    last_first = first.sort_values("submitted_at").drop_duplicates("conversation_id", keep="last")
    by_conv_reviewer = dict(zip(last_first["conversation_id"], last_first["reviewer_id"]))
    d["first_reviewer"] = d["conversation_id"].map(by_conv_reviewer)
    open_items = convs[convs["status"].isin(["assigned", "disputed"]) & convs["assignee_id"].notna()].groupby("assignee_id").size()
    insp = []
    reviewer_ids = sorted(set(reviews["reviewer_id"]) | set(int(i) for i in open_items.index))
    for uid in reviewer_ids:
        mine1 = first[first["reviewer_id"] == uid]
        mine2 = reviews[(reviews["reviewer_id"] == uid) & (reviews["round"] == 2)]
        against = d[d["first_reviewer"] == uid]
        decided_u = against[against["state"].isin(["upheld", "overturned"])]
        insp.append({
            "reviewer": names["username"].get(uid, str(uid)), "name": names["display_name"].get(uid, ""), "role": names["role"].get(uid, ""),
            "first_reviews": len(mine1), "second_reviews": len(mine2), "open_items": int(open_items.get(uid, 0)),
            "mean_abs_diff": float(mine1["diff"].mean()) if len(mine1) else None,
            "within_tolerance": float((mine1["diff"] <= tol).mean()) if len(mine1) else None,
            "disputed": len(against), "overturned": int((decided_u["state"] == "overturned").sum()),
            "overturn_rate": float((decided_u["state"] == "overturned").mean()) if len(decided_u) else None,
        })
    inspectors = pd.DataFrame(insp, columns=["reviewer", "name", "role", "first_reviews", "second_reviews", "open_items",
                                             "mean_abs_diff", "within_tolerance", "disputed", "overturned", "overturn_rate"])
    # inspector vs inspector: round 1 and round 2 of the same disputed conversation, finding by finding
    both = reviews.sort_values("submitted_at").drop_duplicates(["conversation_id", "round"], keep="last")
    r1 = both[both["round"] == 1].set_index("conversation_id")
    r2 = both[both["round"] == 2].set_index("conversation_id")
    pairs = r1.index.intersection(r2.index)
    a, b, score_diffs = [], [], []
    v = wb.verdicts
    for cid in pairs:
        v1 = dict(zip(v.loc[v["review_id"] == r1.loc[cid, "id"], "finding_id"], v.loc[v["review_id"] == r1.loc[cid, "id"], "verdict"]))
        v2 = dict(zip(v.loc[v["review_id"] == r2.loc[cid, "id"], "finding_id"], v.loc[v["review_id"] == r2.loc[cid, "id"], "verdict"]))
        for fid in sorted(set(v1) | set(v2)):
            a.append(v1.get(fid, "未判"))
            b.append(v2.get(fid, "未判"))
        m = machine.get(cid)
        s1 = r1.loc[cid, "human_score"] if pd.notna(r1.loc[cid, "human_score"]) else m
        s2 = r2.loc[cid, "human_score"] if pd.notna(r2.loc[cid, "human_score"]) else m
        if s1 is not None and s2 is not None:
            score_diffs.append(abs(float(s1) - float(s2)))
    kappa = cohen_kappa(a, b) if a else None
    consistency = {"conversations": len(pairs), "findings": len(a),
                   "agreement": (sum(x == y for x, y in zip(a, b)) / len(a)) if a else None, "kappa": kappa,
                   "score_mean_abs_diff": float(np.mean(score_diffs)) if score_diffs else None,
                   "score_within_tolerance": float(np.mean([x <= tol for x in score_diffs])) if score_diffs else None, "tolerance": tol}
    k_kpi = make_kpi("inspector_kappa", "质检员间一致性 κ", "ratio", kappa, len(a), config, seed_c,
                 "争议会话上,第一轮与第二轮(另一位质检员独立复核)对同一条发现的判定(确认 / 驳回 / 补充 / 未判)的 Cohen κ", src,
                 "" if a else "还没有两轮都已提交的争议复核")
    s = wb.score_agreement or {}
    g_kpi = make_kpi("grade_agreement", "机器与人工等级一致率", "pct", s.get("grade_agreement"), int(s.get("n") or 0), config, seed_c,
                 "计入的人工复核中,人工分与机器分落在同一等级的比例;与 zhijian agreement / 工作台「一致性」页同一口径", src + ",全库",
                 "" if s.get("n") else "工作台还没有计入的人工改分")
    return [sampling, d_kpi, o_kpi, k_kpi, g_kpi], {
        "sampling_by_team": by_team, "disputes": disputes, "inspectors": inspectors, "consistency": consistency,
        "rule_precision": wb.rule_precision, "score_agreement": s, "url": wb.url,
        "in_workbench": len(in_report), "inspected": len(conv),
    }
