"""The customers' side of the seed KPIs: first-contact resolution (FCR), CSAT / NPS / bad ratings,
the complaint rate and complaint cases, handling time, 超时工单 and the peak hours' waits (seed 001).
Pure functions of the runs' tables and the configuration (and the workbench's data for FCR / timing
when the report is pointed at it); assembled by :func:`.kpis.seed_kpis`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from .keys import KEY, arrow_text, string_codes
from .mask import mask_pii
from .seed_kpi import SeedKpi, make_kpi


# ------------------------------------------------------------------------------------------------ FCR
NAT_I8 = np.iinfo(np.int64).min  # NaT as an integer time


def parse_times(started_at: pd.Series) -> pd.Series:
    """ISO-8601 ``started_at`` → UTC timestamps (NaT when missing or unparseable)."""
    return pd.to_datetime(started_at, utc=True, errors="coerce", format="ISO8601")


def fcr_flags(customer: pd.Series, ts: pd.Series, issue: pd.Series, window_days: float, same_issue_type: bool,
              data_end=None) -> pd.DataFrame:
    """Per contact with a customer id and a time: ``repeat`` — the same customer comes back within
    ``window_days`` (about the same issue type when ``same_issue_type``: equal types, or either
    contact untyped), and ``complete`` — the window has ended within the data (by ``data_end``, the
    data's last contact; default the last of these contacts), so whether it repeats is known.
    Index: the contacts' index, in the order of (customer, time).

    In numpy on integer codes and integer times: grouped pandas shifts over 3 M contacts cost ~9 s of
    a 30-day report (issue 13, item 5). Each contact's next return is the next contact of the same
    customer (sorted by time, ties in input order), or — when typed and ``same_issue_type`` — the
    earlier of the next contact with the same type and the next untyped one."""
    # customers and issue types as integer codes (−1: missing); which integer a customer gets doesn't matter
    customer_code, issue_code = string_codes([customer]), string_codes([issue])
    ts = pd.to_datetime(ts, utc=True) if len(ts) else ts
    unit = ts.dt.unit if len(ts) else "ns"  # integers in the series' own unit: no conversion can overflow
    t_all = np.asarray(ts.array.asi8) if len(ts) else np.zeros(0, "i8")
    keep = (customer_code >= 0) & (t_all != NAT_I8)
    if not keep.any():
        return pd.DataFrame(columns=["repeat", "complete"])
    c, t, iss, index = customer_code[keep], t_all[keep], issue_code[keep], customer.index[keep]
    by_time = np.argsort(t, kind="stable")
    order = by_time[np.argsort(c[by_time], kind="stable")]  # by customer, then time, ties in input order
    c, t, iss, index = c[order], t[order], iss[order], index[order]
    n = len(t)
    next_return = np.full(n, NAT_I8)
    same_customer = c[1:] == c[:-1]
    next_return[:-1] = np.where(same_customer, t[1:], NAT_I8)  # the next contact of the same customer
    typed = iss >= 0
    if same_issue_type and typed.any():
        pos = np.flatnonzero(typed)
        pos = pos[np.argsort(iss[pos], kind="stable")]
        pos = pos[np.argsort(c[pos], kind="stable")]  # typed contacts by (customer, type), time order kept
        next_same = np.full(n, NAT_I8)
        same_group = (c[pos[1:]] == c[pos[:-1]]) & (iss[pos[1:]] == iss[pos[:-1]])
        next_same[pos[:-1]] = np.where(same_group, t[pos[1:]], NAT_I8)
        next_untyped = np.full(n, NAT_I8)
        untyped = np.flatnonzero(~typed)
        if len(untyped):
            after = np.searchsorted(untyped, np.arange(n), side="right")  # the first untyped contact after each one
            j = untyped[np.minimum(after, len(untyped) - 1)]
            next_untyped = np.where((after < len(untyped)) & (c[j] == c), t[j], NAT_I8)
        never = np.iinfo(np.int64).max  # NaT as "no return" for the minimum
        both = np.minimum(np.where(next_same == NAT_I8, never, next_same), np.where(next_untyped == NAT_I8, never, next_untyped))
        next_return = np.where(typed, np.where(both == never, NAT_I8, both), next_return)
    window = pd.Timedelta(days=float(window_days)) // pd.Timedelta(1, unit=unit)
    end = int(t.max()) if data_end is None or pd.isna(data_end) else max(
        int(pd.Timestamp(data_end).as_unit(unit).asm8.astype(np.int64)), int(t.max()))
    repeat = (next_return != NAT_I8) & (next_return - t <= window)
    return pd.DataFrame({"repeat": repeat, "complete": t + window <= end}, index=index)


def fcr_kpi(conv: pd.DataFrame, results: pd.DataFrame, wb, config: dict) -> tuple[SeedKpi, dict[str, Any]]:
    k = config["report"]["kpis"]
    window, same = float(k["fcr_window_days"]), bool(k["fcr_same_issue_type"])
    customer = results["customer_id"]  # Arrow strings as loaded (or Python objects): codes and the masked check in Arrow
    source = "results.parquet 的 customer_id 列"
    if wb is not None:
        wb_map = wb.conversations.dropna(subset=["customer_id"]).drop_duplicates("ext_id").set_index("ext_id")["customer_id"]
        from_wb = results["id"].map(wb_map)
        if customer.isna().any() and from_wb.notna().any():
            customer = customer.where(customer.notna(), from_wb)
            source = (source + " + " if results["customer_id"].notna().any() else "") + f"工作台数据库的 conversations.customer_id({wb.url})"
    formula = (f"同一客户(customer_id)在 {window:g} 天内没有再次联系" + ("(同一问题类型;任一方没有类型时视为同一问题)" if same else "")
               + f"的联系 ÷ 窗口已结束的联系。窗口未结束(开始时间 + {window:g} 天晚于数据中最后一个会话)的联系不计入。")
    seed = "seed 001:首次解决率 ≥ 80%;seed 002 首解率(FCR)"
    detail: dict[str, Any] = {"window_days": window, "same_issue_type": same, "contacts": len(conv)}
    with_customer = int(customer.notna().sum())
    detail["with_customer"] = with_customer
    if with_customer == 0:
        why = ("需要字段 customer.id:这些会话没有客户标识(results.parquet 的 customer_id 为空 —— 输入 JSONL 的 customer.id,"
               "表格输入的 customer_id 列;issue 13 之前的运行没有这一列,重新运行 zhijian inspect 即可)"
               + ("" if wb is not None else ",也没有连接工作台数据库(--database-url / --workbench,其中有 customer_id)")
               + ";不计算")
        return make_kpi("fcr", "首次解决率 FCR", "pct", None, 0, config, seed, formula, source, why), detail
    rows = customer.notna()
    ts = pd.Series(pd.NaT, index=results.index, dtype="datetime64[ns, UTC]")
    ts[rows] = parse_times(results.loc[rows, "started_at"])
    last_day = conv["day"].dropna().max() if conv["day"].notna().any() else None
    data_end = parse_times(results.loc[conv["day"] == last_day, "started_at"]).max() if last_day else None
    flags = fcr_flags(customer, ts, conv["issue_type"], window, same, data_end)
    eligible = flags[flags["complete"]]
    detail.update(timed=len(flags), eligible=len(eligible), repeats=int(eligible["repeat"].sum()),
                  typed=int(conv.loc[flags.index, "issue_type"].notna().sum()) if len(flags) else 0)
    notes = []
    if same and detail["typed"] == 0:
        notes.append("没有问题类型(issue_type),按同一客户的任意再次联系计")
    notes.append("流水线没有会话内的「已解决」信号(customer_end 是情绪,不是解决),FCR 只看是否再次联系")
    if len(conv) > with_customer:
        notes.append(f"{len(conv) - with_customer:,} / {len(conv):,} 个会话没有客户标识,不计入")
    masked_run = str(config["privacy"]["mask_char"]) * 3  # zhijian inspect masked a phone / e-mail / ID number in the id
    masked = int(customer.str.contains(masked_run, regex=False, na=False).sum()) if with_customer else 0
    if masked:
        # a masked phone keeps 3 + 4 digits: different customers can share one masked id and look like repeat contacts
        notes.append(f"{masked:,} 个联系的客户标识是已遮盖的电话 / 邮箱等(如 138****5678),不同客户可能遮盖成同一标识,"
                     "FCR 可能偏低;请在输入中用不含个人信息的客户编号作 customer.id")
    if eligible.empty:
        why = (f"{len(flags):,} 个有客户标识的联系中,没有一个的 {window:g} 天窗口已在数据内结束(数据跨度不足);"
               "需要更长的历史(report.kpis.fcr_window_days)")
        return make_kpi("fcr", "首次解决率 FCR", "pct", None, 0, config, seed, formula, source, why), detail
    value = 1.0 - float(eligible["repeat"].mean())
    return make_kpi("fcr", "首次解决率 FCR", "pct", value, len(eligible), config, seed, formula, source, ";".join(notes)), detail


# ------------------------------------------------------------------------------------------------ ratings
def rating_scale(ratings: pd.Series, setting: str | None) -> str | None:
    """"1-5" or "0-10" (``setting``; auto: 0–10 when some rating is 0 or above 5); None without ratings."""
    r = ratings.dropna()
    if r.empty:
        return None
    if setting in ("1-5", "0-10"):
        return setting
    return "0-10" if bool(((r == 0) | (r > 5)).any()) else "1-5"


def rating_kpis(conv: pd.DataFrame, config: dict) -> list[SeedKpi]:
    rep, k = config["report"], config["report"]["kpis"]
    ratings = conv["rating_score"]
    scale = rating_scale(ratings, str(k.get("rating_scale") or "auto"))
    rated = ratings.dropna()
    csat_seed = "seed 001:CSAT 达到 85% 以上"
    nps_seed = "seed 001:NPS 达到 50 以上"
    src = "results.parquet 的 rating_score(客户评分)"
    if scale is None:
        return [make_kpi("csat", "客户满意度 CSAT", "pct", None, 0, config, csat_seed, "满意评分的会话 ÷ 有评分的会话", src, "这些运行没有客户评分"),
                make_kpi("nps", "净推荐值 NPS", "score", None, 0, config, nps_seed, "推荐者占比 − 贬损者占比(0–10 分制)", src, "这些运行没有客户评分")]
    at_least = float(rep["csat_satisfied_at_least"] if scale == "1-5" else k["csat_satisfied_at_least_0_10"])
    csat = float((rated >= at_least).mean())
    out = [make_kpi("csat", "客户满意度 CSAT", "pct", csat, len(rated), config, csat_seed,
                f"评分 ≥ {at_least:g} 的会话 ÷ 有评分的会话({scale} 分制)", src)]
    nps_formula = (f"推荐者(评分 ≥ {k['nps_promoter_at_least']})占比 − 贬损者(评分 ≤ {k['nps_detractor_at_most']})占比,"
                   "以百分点计(−100 到 100);只在 0–10 分的推荐意愿评分上计算")
    if scale != "0-10":
        out.append(make_kpi("nps", "净推荐值 NPS", "score", None, 0, config, nps_seed, nps_formula, src,
                        f"评分是 {scale} 分制的满意度评分(zhijian inspect 只接受 1–5 分);NPS 需要 0–10 分的推荐意愿评分,不换算"))
    else:
        nps = 100.0 * (float((rated >= k["nps_promoter_at_least"]).mean()) - float((rated <= k["nps_detractor_at_most"]).mean()))
        out.append(make_kpi("nps", "净推荐值 NPS", "score", nps, len(rated), config, nps_seed, nps_formula, src))
    return out


# ------------------------------------------------------------------------------------------------ complaints
@lru_cache(maxsize=4)
def _complaint_matcher(path: str, variants: str):
    from ..lexicons import LexiconSet, parse_lexicon
    from ..normalize import Normalizer

    normalizer = Normalizer(variants)
    return LexiconSet([parse_lexicon(__import__("pathlib").Path(path), normalizer)], normalizer)


def comment_complaints(comments: pd.Series, config: dict) -> pd.Series:
    """Rating comment → the complaint phrases it holds (complaint.risk's own lexicon, less
    ``report.kpis.complaint_comment_except``), joined by 、; "" when none."""
    from ..config import resolve_path

    k = config["report"]["kpis"]
    path = resolve_path(k["complaint_comment_lexicon"])
    matcher = _complaint_matcher(str(path), str(resolve_path(config["paths"]["lexicons"]) / "char_variants.txt"))
    skip = set(k.get("complaint_comment_except") or [])
    unique = [c for c in comments.dropna().unique() if isinstance(c, str) and c.strip()]
    if not unique:
        return pd.Series("", index=comments.index, dtype=object)
    hits = matcher.match_texts([matcher.normalizer.text(c) for c in unique])
    found = {c: "、".join(mask_pii(w) for w in sorted({h.text for h in hs if h.entry.id not in skip})) for c, hs in zip(unique, hits)}
    return comments.map({c: w for c, w in found.items() if w}).fillna("").astype(object)


def complaint_kpis(conv: pd.DataFrame, findings: pd.DataFrame, config: dict) -> tuple[list[SeedKpi], pd.DataFrame]:
    f = findings
    risk = f[f["rule"] == "complaint.risk"]
    evidence = risk.dropna(subset=["evidence"]).groupby(KEY)["evidence"].first().to_dict()
    caused = set(f.loc[f["rule"] == "complaint.caused", KEY])
    words = comment_complaints(conv["rating_comment"], config)
    in_comment = words != ""
    any_ = conv["complaint"] | in_comment
    n = len(conv)
    src = "findings.parquet 的 complaint.risk 命中 + results.parquet 的 rating_comment(用 lexicons/complaint_risk.yaml 匹配)"
    seed = "seed 004:客户投诉视同差评;seed 003 投诉电话分析报告;seed 001 投诉率"
    rate = make_kpi("complaint_rate", "投诉率", "pct", float(any_.mean()) if n else None, n, config, seed,
                "客户在会话中表达投诉(complaint.risk:投诉、12315、找领导、曝光 …)或在评语中写了投诉的会话 ÷ 全部会话"
                "(评语里只说「差评」的不算:那是评分本身)", src, "" if n else "没有会话")
    count = make_kpi("complaints", "投诉案例数", "count", float(any_.sum()) if n else None, n, config, seed,
                 "有投诉信号的会话数(会话中或评语中);其中坐席引发的另见 complaint.caused", src, "" if n else "没有会话")
    rows = conv[any_]
    keys = rows[KEY].tolist()
    cases = pd.DataFrame({
        "id": rows["id"].to_numpy(), "day": rows["day"].to_numpy(), "agent_id": rows["agent_id"].to_numpy(),
        "agent_name": rows["agent_name"].to_numpy(), "agent_team": rows["agent_team"].to_numpy(), "channel": rows["channel"].to_numpy(),
        "rating_score": rows["rating_score"].to_numpy(),
        "source": np.where(rows["complaint"] & in_comment[any_], "会话+评语", np.where(rows["complaint"], "会话", "评语")),
        "evidence": [mask_pii(evidence.get(k)) if evidence.get(k) is not None else None for k in keys],
        "comment_keywords": words[any_].to_numpy(),
        "caused": ["是" if k in caused else "否" for k in keys],
        "score": rows["score"].to_numpy(),
    })
    cases = cases.sort_values(["day", "id"], ascending=[False, True], na_position="last").reset_index(drop=True)
    return [rate, count], cases


# ------------------------------------------------------------------------------------------------ time
def timing_kpis(conv: pd.DataFrame, results: pd.DataFrame, wb, config: dict) -> tuple[list[SeedKpi], pd.DataFrame]:
    k = config["report"]["kpis"]
    # AHT
    dur = results["duration_s"]
    aht_src = "results.parquet 的 duration_s"
    if dur.notna().sum() == 0 and wb is not None and wb.durations is not None and len(wb.durations):
        dur = results["id"].map(wb.durations)
        aht_src = f"工作台数据库中会话文本的时间戳(最后一句结束 − 第一句开始;{wb.url})"
    aht_formula = "每个会话的处理时长(最后一句的结束时间 − 第一句的开始时间)的平均;不含话后处理(运行里没有)"
    seed = "seed 001:工单处理时长、识别处理时长异常延长的工单;seed 002 通话时长"
    timed = dur.dropna()
    if timed.empty:
        why = ("需要字段 turns[].ts:这些会话没有会话时长(results.parquet 的 duration_s 为空 —— 输入的 turns 至少要有两个时间戳;"
               "issue 13 之前的运行没有这一列,重新运行 zhijian inspect 即可;"
               + ("工作台数据库中这些会话也没有带时间戳的文本)" if wb is not None else "或用 --database-url 从工作台的会话文本计算)"))
        aht = make_kpi("aht_s", "平均处理时长 AHT", "seconds", None, 0, config, seed, aht_formula, aht_src, why)
    else:
        note = f"{len(conv) - len(timed):,} 个会话没有时长,不计入" if len(timed) < len(conv) else ""
        aht = make_kpi("aht_s", "平均处理时长 AHT", "seconds", float(timed.mean()), len(timed), config, seed, aht_formula, aht_src, note)
    # 超时工单
    reply = config["timing"]["reply_sla_s"]
    reply_sla = conv["channel"].map({k: v for k, v in reply.items() if k != "default"}).astype(float).fillna(float(reply["default"]))
    fr, mx = conv["first_response_s"], results["max_response_s"]
    first_over = (fr > conv["sla_s"]).fillna(False)
    reply_over = (mx > reply_sla).fillna(False)
    over = first_over | reply_over
    has_timing = fr.notna() | mx.notna()
    n_t = int(has_timing.sum())
    sla_src = "results.parquet 的 first_response_s 与 max_response_s(metrics 阶段由时间戳测得)"
    over_formula = ("首次响应超过渠道首响 SLA(timing.first_response_sla_s),或任一次回复超过回复 SLA(timing.reply_sla_s)的会话")
    why = "" if n_t else "没有时间戳,无法计时"
    over_n = make_kpi("over_sla", "超时工单数", "count", float(over.sum()) if n_t else None, n_t, config,
                  "seed 001:超时工单数", over_formula, sla_src,
                  why or f"其中首响超时 {int(first_over.sum()):,}、回复超时 {int(reply_over.sum()):,}(可重叠)")
    over_rate = make_kpi("over_sla_rate", "超时工单占比", "pct", float(over[has_timing].mean()) if n_t else None, n_t, config,
                     "seed 001:超时工单数", over_formula + " ÷ 有计时的会话", sla_src, why)
    # peak hours
    hour = hour_of_day(results["started_at"], results["day"].notna())
    table = hour_table(conv.assign(over=over.astype(float).where(has_timing)), hour)
    peak_seed = "seed 001:高峰时段平均等待时间 > 5 分钟为资源不足的例子;分析峰值时段分布,优化排班"
    peak_formula = (f"会话最多的 {int(k['peak_hours'])} 个小时(按 started_at 写明的当地时间)里,首次响应时间(客户第一句到坐席第一句)的平均")
    peak_src = "results.parquet 的 started_at(小时)与 first_response_s"
    if table.empty or table["first_response_n"].sum() == 0:
        peak = make_kpi("peak_wait_s", "高峰时段平均等待", "seconds", None, 0, config, peak_seed, peak_formula, peak_src,
                    "没有带开始时间和首响计时的会话")
    else:
        peak_hours = table.sort_values(["conversations", "hour"], ascending=[False, True]).head(int(k["peak_hours"]))["hour"].tolist()
        table["peak"] = table["hour"].isin(peak_hours)
        in_peak = hour.isin(peak_hours) & fr.notna()
        value = float(fr[in_peak].mean()) if in_peak.any() else None
        label = "、".join(f"{int(h):02d}时" for h in sorted(peak_hours))
        peak = make_kpi("peak_wait_s", "高峰时段平均等待", "seconds", value, int(in_peak.sum()), config, peak_seed, peak_formula,
                    peak_src, f"高峰时段:{label}" if value is not None else "高峰时段没有首响计时")
    return [aht, over_n, over_rate, peak], table


def hour_of_day(started_at: pd.Series, dated: pd.Series) -> pd.Series:
    """The hour written in a dated ``started_at`` ("2026-11-23T20:09:34+08:00" → 20; NaN when the string has
    no ``T`` / space after the date or no hour 0–23): ``to_numeric`` of characters 11–13. The slices are cut in
    Arrow and each distinct one becomes one Python string (3 M ``str.slice`` calls were seconds; issue 13, item 5)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        arr = pc.if_else(pa.array(dated.to_numpy(dtype=bool)), arrow_text(started_at), pa.scalar(None, type=pa.large_string()))
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # not all strings: per row
        started = started_at.astype(object).where(dated, None)
        sep = started.str.slice(10, 11)
        hour = pd.to_numeric(started.str.slice(11, 13).where(sep.isin(["T", " "])), errors="coerce")
        return hour.where((hour >= 0) & (hour <= 23))
    with_sep = pc.fill_null(pc.is_in(pc.utf8_slice_codeunits(arr, 10, 11), value_set=pa.array(["T", " "], type=pa.large_string())), False)
    two = pc.if_else(with_sep, pc.utf8_slice_codeunits(arr, 11, 13), pa.scalar(None, type=pa.large_string())).dictionary_encode()
    lookup = np.append(two.dictionary.to_numpy(zero_copy_only=False), None)
    text = pd.Series(lookup[two.indices.fill_null(-1).to_numpy(zero_copy_only=False)], index=started_at.index, dtype=object)
    hour = pd.to_numeric(text, errors="coerce")
    return hour.where((hour >= 0) & (hour <= 23))


def hour_table(conv: pd.DataFrame, hour: pd.Series) -> pd.DataFrame:
    """Per hour of day (0–23, from started_at): conversations, first-response n / mean / P90,
    SLA compliance and 超时工单 share."""
    c = conv.assign(hour=hour).dropna(subset=["hour"])
    if c.empty:
        return pd.DataFrame(columns=["hour", "conversations", "first_response_n", "first_response_mean", "first_response_p90",
                                     "first_response_sla_compliance", "over_sla_rate", "peak"])
    g = c.groupby("hour")
    fr = g["first_response_s"]
    t = pd.DataFrame({"conversations": g.size(), "first_response_n": fr.count(), "first_response_mean": fr.mean(),
                      "first_response_p90": fr.quantile(0.9), "first_response_sla_compliance": g["sla_ok"].mean(),
                      "over_sla_rate": g["over"].mean()})
    t.index = t.index.astype(int)
    t.index.name = "hour"
    t = t.reset_index()
    t["peak"] = False
    return t
