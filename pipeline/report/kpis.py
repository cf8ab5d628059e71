"""The seed KPIs (种子指标) and the executive summary: :func:`seed_kpis`, :func:`executive_summary`.

Every KPI a seed asks for that the data can give — FCR, CSAT, NPS, the complaint rate and cases,
handling time, 超时工单, peak-hour waits (seed 001), 差错率 (seed 002), disputes / appeals, inspector
workload and consistency, the human sampling rate (seed 003) and the same period a year earlier
(seed 001 同期) — each with its formula, its seed, where its data comes from and its target. A KPI
the data can't give is ``None`` with the reason (无数据:…) — never a zero, never an estimate.

Pure like :mod:`.metrics`: the runs' tables, the configuration and, when the report is pointed at
the workbench, a :class:`~.workbench.WorkbenchData` read beforehand. Definitions: docs/REPORTS.md,
*Seed KPIs*.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from .change import judge_change
from .keys import KEY, inner_join
from .keys import arrow_text, string_codes
from .mask import mask_pii
from .measures import KPI_DEFS, KPI_LABELS, judge, targets_of

NO_DATA = "无数据"


@dataclass
class SeedKpi:
    key: str
    label: str
    kind: str  # pct | seconds | score | count | ratio
    value: float | None
    n: int  # the denominator (conversations, contacts, reviews …)
    target: float | None
    direction: str | None  # "min" | "max"
    met: bool | None
    seed: str  # which seed asks for it, and its figure
    formula: str  # the definition, in words a QA director reads
    source: str  # where the numbers come from (files, columns, the workbench)
    note: str = ""  # 无数据:why — or what was assumed

    @property
    def available(self) -> bool:
        return self.value is not None


def _kpi(key: str, label: str, kind: str, value: float | None, n: int, config: dict, seed: str, formula: str,
         source: str, note: str = "") -> SeedKpi:
    t = targets_of(config).get(key)
    if value is not None and (isinstance(value, float) and math.isnan(value)):
        value = None
    if value is None and not note.startswith(NO_DATA):
        note = f"{NO_DATA}:{note}" if note else NO_DATA
    return SeedKpi(key, label, kind, None if value is None else float(value), int(n), t[0] if t else None, t[1] if t else None,
                   judge(value, t), seed, formula, source, note)


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
        return _kpi("fcr", "首次解决率 FCR", "pct", None, 0, config, seed, formula, source, why), detail
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
        return _kpi("fcr", "首次解决率 FCR", "pct", None, 0, config, seed, formula, source, why), detail
    value = 1.0 - float(eligible["repeat"].mean())
    return _kpi("fcr", "首次解决率 FCR", "pct", value, len(eligible), config, seed, formula, source, ";".join(notes)), detail


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
        return [_kpi("csat", "客户满意度 CSAT", "pct", None, 0, config, csat_seed, "满意评分的会话 ÷ 有评分的会话", src, "这些运行没有客户评分"),
                _kpi("nps", "净推荐值 NPS", "score", None, 0, config, nps_seed, "推荐者占比 − 贬损者占比(0–10 分制)", src, "这些运行没有客户评分")]
    at_least = float(rep["csat_satisfied_at_least"] if scale == "1-5" else k["csat_satisfied_at_least_0_10"])
    csat = float((rated >= at_least).mean())
    out = [_kpi("csat", "客户满意度 CSAT", "pct", csat, len(rated), config, csat_seed,
                f"评分 ≥ {at_least:g} 的会话 ÷ 有评分的会话({scale} 分制)", src)]
    nps_formula = (f"推荐者(评分 ≥ {k['nps_promoter_at_least']})占比 − 贬损者(评分 ≤ {k['nps_detractor_at_most']})占比,"
                   "以百分点计(−100 到 100);只在 0–10 分的推荐意愿评分上计算")
    if scale != "0-10":
        out.append(_kpi("nps", "净推荐值 NPS", "score", None, 0, config, nps_seed, nps_formula, src,
                        f"评分是 {scale} 分制的满意度评分(zhijian inspect 只接受 1–5 分);NPS 需要 0–10 分的推荐意愿评分,不换算"))
    else:
        nps = 100.0 * (float((rated >= k["nps_promoter_at_least"]).mean()) - float((rated <= k["nps_detractor_at_most"]).mean()))
        out.append(_kpi("nps", "净推荐值 NPS", "score", nps, len(rated), config, nps_seed, nps_formula, src))
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
    rate = _kpi("complaint_rate", "投诉率", "pct", float(any_.mean()) if n else None, n, config, seed,
                "客户在会话中表达投诉(complaint.risk:投诉、12315、找领导、曝光 …)或在评语中写了投诉的会话 ÷ 全部会话"
                "(评语里只说「差评」的不算:那是评分本身)", src, "" if n else "没有会话")
    count = _kpi("complaints", "投诉案例数", "count", float(any_.sum()) if n else None, n, config, seed,
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
        aht = _kpi("aht_s", "平均处理时长 AHT", "seconds", None, 0, config, seed, aht_formula, aht_src, why)
    else:
        note = f"{len(conv) - len(timed):,} 个会话没有时长,不计入" if len(timed) < len(conv) else ""
        aht = _kpi("aht_s", "平均处理时长 AHT", "seconds", float(timed.mean()), len(timed), config, seed, aht_formula, aht_src, note)
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
    over_n = _kpi("over_sla", "超时工单数", "count", float(over.sum()) if n_t else None, n_t, config,
                  "seed 001:超时工单数", over_formula, sla_src,
                  why or f"其中首响超时 {int(first_over.sum()):,}、回复超时 {int(reply_over.sum()):,}(可重叠)")
    over_rate = _kpi("over_sla_rate", "超时工单占比", "pct", float(over[has_timing].mean()) if n_t else None, n_t, config,
                     "seed 001:超时工单数", over_formula + " ÷ 有计时的会话", sla_src, why)
    # peak hours
    hour = hour_of_day(results["started_at"], results["day"].notna())
    table = hour_table(conv.assign(over=over.astype(float).where(has_timing)), hour)
    peak_seed = "seed 001:高峰时段平均等待时间 > 5 分钟为资源不足的例子;分析峰值时段分布,优化排班"
    peak_formula = (f"会话最多的 {int(k['peak_hours'])} 个小时(按 started_at 写明的当地时间)里,首次响应时间(客户第一句到坐席第一句)的平均")
    peak_src = "results.parquet 的 started_at(小时)与 first_response_s"
    if table.empty or table["first_response_n"].sum() == 0:
        peak = _kpi("peak_wait_s", "高峰时段平均等待", "seconds", None, 0, config, peak_seed, peak_formula, peak_src,
                    "没有带开始时间和首响计时的会话")
    else:
        peak_hours = table.sort_values(["conversations", "hour"], ascending=[False, True]).head(int(k["peak_hours"]))["hour"].tolist()
        table["peak"] = table["hour"].isin(peak_hours)
        in_peak = hour.isin(peak_hours) & fr.notna()
        value = float(fr[in_peak].mean()) if in_peak.any() else None
        label = "、".join(f"{int(h):02d}时" for h in sorted(peak_hours))
        peak = _kpi("peak_wait_s", "高峰时段平均等待", "seconds", value, int(in_peak.sum()), config, peak_seed, peak_formula,
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
            return _kpi("error_rate", "差错率", "pct", None, 0, config, seed, ERROR_FORMULA, f"工作台数据库({wb.url})",
                        "工作台里这些会话还没有计入的人工复核(已复核或已签核)")
        v = wb.verdicts[wb.verdicts["review_id"].isin(set(counted.values()))]
        deduction = (v["points"].fillna(0) < 0) | (v["severity"] == "fatal")
        err = v[v["verdict"].isin(["confirmed", "missed"]) & deduction & ~v["rule"].isin(bonus_rules(config) | NOT_ERRORS)]
        k = int(err["review_id"].nunique())
        return _kpi("error_rate", "差错率", "pct", k / len(counted), len(counted), config, seed, ERROR_FORMULA,
                    f"工作台数据库的计入复核(已复核;签核后按结论取第一轮或第二轮;{wb.url})")
    if verdicts is None:
        return _kpi("error_rate", "差错率", "pct", None, 0, config, seed, ERROR_FORMULA, "RUN_DIR/verdicts.* 或工作台数据库",
                    "没有人工复核结果(运行里没有 verdicts 文件,也没有连接工作台数据库 --database-url)")
    v = inner_join(verdicts, conv[[KEY]])
    reviewed = set(zip(v["run"], v["conversation_id"]))
    if not reviewed:
        return _kpi("error_rate", "差错率", "pct", None, 0, config, seed, ERROR_FORMULA, "RUN_DIR/verdicts.*",
                    "复核结果对应不到这些会话")
    err = v[v["verdict"].isin(["confirmed", "missed"]) & v["rule"].notna() & ~v["rule"].isin(bonus_rules(config) | NOT_ERRORS)]
    k = len(set(zip(err["run"], err["conversation_id"])))
    return _kpi("error_rate", "差错率", "pct", k / len(reviewed), len(reviewed), config, seed, ERROR_FORMULA, "RUN_DIR/verdicts.*(复核导出)")


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
            _kpi("sampling_rate", "人工抽检率", "pct", None, 0, config, seed_s, "有人工首轮复核的会话 ÷ 质检会话", "工作台数据库", why),
            _kpi("disputes", "申诉与争议", "count", None, 0, config, seed_d, "对这些会话提出的坐席申诉与质检争议", "工作台数据库", why),
            _kpi("dispute_overturn_rate", "申诉改判率", "pct", None, 0, config, seed_d, "改判 ÷ 已签核的申诉与争议", "工作台数据库", why),
            _kpi("inspector_kappa", "质检员间一致性 κ", "ratio", None, 0, config, seed_c,
                 "争议会话上第一轮与第二轮复核对同一条发现的判定的 Cohen κ", "工作台数据库", why),
            _kpi("grade_agreement", "机器与人工等级一致率", "pct", None, 0, config, seed_c,
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
    sampling = _kpi("sampling_rate", "人工抽检率", "pct", float(teams["reviewed"].mean()) if len(teams) else None, len(teams), config,
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
    d_kpi = _kpi("disputes", "申诉与争议", "count", float(tot["raised"]), len(in_report), config, seed_d,
                 "对本报告会话提出的坐席申诉(appeal)与质检争议(dispute)数;待处理 = 待第二轮复核 + 待主管签核", src,
                 f"待处理 {tot['open'] + tot['awaiting_sign_off']:,}(最久 {tot['pending_age_max_days']:.1f} 天)"
                 if tot["pending_age_max_days"] is not None else "")
    o_kpi = _kpi("dispute_overturn_rate", "申诉改判率", "pct", tot["overturn_rate"], decided, config, seed_d,
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
    k_kpi = _kpi("inspector_kappa", "质检员间一致性 κ", "ratio", kappa, len(a), config, seed_c,
                 "争议会话上,第一轮与第二轮(另一位质检员独立复核)对同一条发现的判定(确认 / 驳回 / 补充 / 未判)的 Cohen κ", src,
                 "" if a else "还没有两轮都已提交的争议复核")
    s = wb.score_agreement or {}
    g_kpi = _kpi("grade_agreement", "机器与人工等级一致率", "pct", s.get("grade_agreement"), int(s.get("n") or 0), config, seed_c,
                 "计入的人工复核中,人工分与机器分落在同一等级的比例;与 zhijian agreement / 工作台「一致性」页同一口径", src + ",全库",
                 "" if s.get("n") else "工作台还没有计入的人工改分")
    return [sampling, d_kpi, o_kpi, k_kpi, g_kpi], {
        "sampling_by_team": by_team, "disputes": disputes, "inspectors": inspectors, "consistency": consistency,
        "rule_precision": wb.rule_precision, "score_agreement": s, "url": wb.url,
        "in_workbench": len(in_report), "inspected": len(conv),
    }


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
