"""A generated 30-day history (≥ 100 k conversations), and how long `zhijian report` takes over it.

    python bench/report_history.py [--days 30] [--per-day 3400] [--out DIR] [--no-time]
    python bench/report_history.py --scale        # issue 13 item 5: 30 days × 100,000 conversations a day

Writes one RUN_DIR per day (``DIR/runs/YYYY-MM-DD/``: results.parquet, findings.parquet,
manifest.json, and a verdicts.parquet on some days) directly with the writers' Parquet schemas —
the inspection pipeline is not run 100 k times — then times the real command, start-up included:

    zhijian report DIR/runs/* --out DIR/report.html
    zhijian report DIR/runs/* --out DIR/report.xlsx

The data is synthetic but shaped like the real thing: 120 agents in 8 teams with their own
habits, chat and phone with their SLAs, findings from the core rules with the scorecard's points,
ratings and comments that follow the findings, issue types and sentiment as the classifiers will
write them, slow trends (quality improving, SLA compliance slipping) and weekday seasonality so
the trend and forecast sections have something to show. Figures: docs/REPORTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = ["芳", "娜", "伟", "静", "洋", "敏", "丽", "婷", "磊", "强", "悦", "倩", "杰", "军", "勇", "艳", "涛", "明", "超", "霞", "平", "刚", "桂英", "晨", "雪", "欣", "浩", "宇", "佳", "琳"]
TEAMS = ["售前咨询组", "售后服务组", "热线服务组", "物流专线组", "退款专席", "会员服务组", "大客户组", "夜班组"]
ISSUES = ["配送物流", "退换货与退款", "商品咨询", "售后维修与安装", "价格与价保", "订单修改与取消", "发票", "支付", "账户与会员", "客服与投诉", "其他"]
ISSUE_P = np.array([0.26, 0.2, 0.14, 0.1, 0.08, 0.07, 0.05, 0.04, 0.03, 0.02, 0.01])
ISSUE_NEG = np.array([0.30, 0.32, 0.08, 0.25, 0.18, 0.15, 0.10, 0.12, 0.10, 0.55, 0.10])
# rule, base probability per conversation, points, scorecard item, severity
RULES = [
    ("greeting.missing", 0.05, -5, "服务规范.开场问候", "minor"),
    ("closing.missing", 0.07, -5, "服务规范.结束语", "minor"),
    ("forbidden.phrase", 0.05, -10, "服务规范.服务忌语", "major"),
    ("empathy.missing", 0.06, -10, "服务用语规范.安抚情绪", "major"),
    ("hold.no_apology", 0.05, -5, "服务用语规范.等待致歉", "minor"),
    ("privacy.disclosure", 0.015, -5, "服务规范.隐私保护", "major"),
    ("complaint.risk", 0.04, -10, "加减分项.投诉风险", "major"),
    ("praise", 0.10, 5, "加减分项.客户表扬", "bonus"),
]
CATEGORY = {"greeting.missing": "服务用语", "closing.missing": "结束语", "forbidden.phrase": "服务忌语/轻视", "empathy.missing": "安抚",
            "hold.no_apology": "控制通话节奏", "privacy.disclosure": "隐私保护", "complaint.risk": "投诉风险/投诉", "praise": "客户表扬",
            "response.first_slow": "响应时效", "response.slow": "响应时效"}
FORBIDDEN = ["你明白吗", "不归我管", "爱买不买", "我再跟您说一遍", "你听懂了吗", "这是规定", "不知道", "你自己看"]
FATAL = ["你有病", "神经病"]
COMPLAINT = ["我要投诉", "12315", "找你们领导", "曝光你们"]
PII = ["138****5678", "186****0021", "z*******@qq.com", "110*************14"]
COMMENTS = {
    "服务态度": ["客服态度差", "态度恶劣", "说话很冲", "一点都不体谅人", "态度冷冰冰的", "很不耐烦"],
    "响应速度": ["等了半天没人理", "回复太慢", "半天才有人回复", "让我等了好久", "处理太慢"],
    "专业能力": ["答非所问", "什么都不懂", "一问三不知"],
    "问题解决效果": ["问题没解决", "推来推去", "说了半天还是不行"],
    "其他": ["一般", "不满意", "差"],
}
GOOD_COMMENTS = ["满意", "服务很好", "回复及时,态度好", "很专业", "解决得很快,五星好评", "还行"]


def _names(rng, n):
    out = set()
    while len(out) < n:
        out.add(rng.choice(list(SURNAMES)) + rng.choice(GIVEN))
    return sorted(out)


def generate_history(out: Path, days: int = 30, per_day: int = 3400, seed: int = 7, end: date | None = None) -> list[Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline.io.writers import FINDING_COLUMNS, RESULT_COLUMNS, arrow_schema

    rng = np.random.default_rng(seed)
    end = end or date(2026, 11, 27)
    n_agents = 120
    agent_ids = np.array([f"A{i:03d}" for i in range(1, n_agents + 1)])
    agent_names = np.array(_names(rng, n_agents))
    agent_team = np.array([TEAMS[i % len(TEAMS)] for i in range(n_agents)])
    skill = rng.normal(0, 1, n_agents)  # > 0: better than average
    speed = rng.lognormal(0, 0.35, n_agents)  # multiplies response times
    habit = rng.gamma(1.0, 1.0, (n_agents, len(RULES)))  # each agent's own weak spots
    runs = []
    for d in range(days):
        day = end - timedelta(days=days - 1 - d)
        trend = d / max(days - 1, 1)  # 0 → 1 over the history
        weekday = day.weekday()
        n = int(per_day * (1.15 if weekday in (0, 6) else 0.95 if weekday == 5 else 1.0) * rng.uniform(0.96, 1.04))
        a = rng.integers(0, n_agents, n)
        channel = np.where(rng.random(n) < 0.65, "chat", "phone")
        sla = np.where(channel == "chat", 30.0, 60.0)
        busy = 1.0 + 0.35 * trend + (0.15 if weekday in (0, 6) else 0)  # response times creep up
        first = rng.lognormal(np.log(np.where(channel == "chat", 12, 20)), 0.7, n) * speed[a] * busy
        has_ts = rng.random(n) > 0.01
        first = np.where(has_ts, np.round(first, 1), np.nan)
        avg_resp = np.where(has_ts, np.round(first * rng.uniform(0.6, 1.3, n), 2), np.nan)
        max_resp = np.where(has_ts, np.round(avg_resp * rng.uniform(1.5, 3.5, n), 1), np.nan)
        issue = rng.choice(len(ISSUES), n, p=ISSUE_P)
        fatal = rng.random(n) < 0.004 * np.exp(-0.6 * skill[a])
        quality = np.exp(-0.45 * skill[a]) * (1.15 - 0.35 * trend)  # quality improves over the month
        starts = np.array([day.isoformat() + f"T{h:02d}:{m:02d}:{s:02d}+08:00" for h, m, s in
                           zip(rng.integers(8, 23, n), rng.integers(0, 60, n), rng.integers(0, 60, n))])
        ids = np.array([f"h-{day:%Y%m%d}-{i:05d}" for i in range(n)])
        # findings, one vectorized block per rule (no per-row Python: 100 k conversations a day are written in seconds)
        chunks: list[dict] = []
        points = np.zeros(n)
        ded = np.zeros(n)  # Σ negative points
        nfind = np.zeros(n, dtype=np.int32)
        hit = {}  # rule → bool per conversation

        def add(idx, rule, pts, item, sev, evidence=None, value=None):
            k = len(idx)
            ev = None if evidence is None else np.asarray(evidence, dtype=object)
            ev_len = None if ev is None else np.array([len(e) for e in ev], dtype=np.int32)
            chunks.append({
                "conversation_id": ids[idx], "rule": np.full(k, rule, dtype=object), "category": np.full(k, CATEGORY[rule], dtype=object),
                "severity": np.full(k, sev, dtype=object), "points": np.full(k, float(pts)), "item": np.full(k, item, dtype=object),
                "turn": rng.integers(0, 12, k).astype(np.int32),
                "role": np.full(k, "customer" if rule in ("complaint.risk", "praise") else "agent", dtype=object),
                "start": np.zeros(k, dtype=np.int32) if ev is not None else np.full(k, None, dtype=object),
                "end": ev_len if ev is not None else np.full(k, None, dtype=object),
                "evidence": ev if ev is not None else np.full(k, None, dtype=object),
                "message": np.full(k, CATEGORY[rule], dtype=object), "entry": np.full(k, None, dtype=object),
                "value": np.full(k, np.nan) if value is None else np.asarray(value, dtype=float),
                "fatal": np.full(k, item == "服务规范.红线忌语"), "agent_id": agent_ids[a[idx]], "agent_team": agent_team[a[idx]],
                "channel": channel[idx], "started_at": starts[idx]})
            hit.setdefault(rule, np.zeros(n, dtype=bool))[idx] = True
            np.add.at(nfind, idx, 1)

        for j, (rule, p, pts, item, sev) in enumerate(RULES):
            prob = p * habit[a, j] * (1 / quality if rule == "praise" else quality)
            if rule == "complaint.risk":
                prob = prob * (1 + 2 * ISSUE_NEG[issue])
            idx = np.flatnonzero(rng.random(n) < np.clip(prob, 0, 0.9))
            ev = {"forbidden.phrase": FORBIDDEN, "complaint.risk": COMPLAINT, "privacy.disclosure": PII}.get(rule)
            add(idx, rule, pts, item, sev, rng.choice(ev, len(idx)) if ev else None)
            points[idx] += pts
            ded[idx] += min(pts, 0)
        idx = np.flatnonzero(fatal)
        add(idx, "forbidden.phrase", 0, "服务规范.红线忌语", "fatal", rng.choice(FATAL, len(idx)))
        slow1 = has_ts & (first > sla)
        idx = np.flatnonzero(slow1)
        add(idx, "response.first_slow", -5, "业务能力.首次响应", "minor", None, first[idx])
        points[idx] -= 5
        ded[idx] -= 5
        slow = has_ts & (max_resp > np.where(channel == "chat", 60, 90))
        idx = np.flatnonzero(slow)
        add(idx, "response.slow", -3, "业务能力.回复时效", "minor", None, max_resp[idx])
        points[idx] -= 3
        ded[idx] -= 3
        fnd = {k: np.concatenate([c[k] for c in chunks]) for k, _ in FINDING_COLUMNS}
        none = np.zeros(n, dtype=bool)
        complaint = hit.get("complaint.risk", none)
        score = np.clip(100 + points, 0, 100)
        score = np.where(fatal, 0.0, score)
        grade = np.select([score >= 90, score >= 80, score >= 60], ["优", "良", "中"], "差")
        # ratings follow the conversation
        rated = rng.random(n) < 0.7
        bad_p = 0.03 + 0.5 * (score < 80) + 0.25 * complaint + 0.1 * ISSUE_NEG[issue]
        bad = rated & (rng.random(n) < np.clip(bad_p, 0, 0.95))
        rating = np.where(bad, rng.choice([1.0, 2.0], n), rng.choice([3.0, 4.0, 5.0, 5.0], n))
        rating = np.where(rated, rating, np.nan)
        # a bad review's comment names the class its findings point at (one in five another class); a good one praises
        rude = hit.get("forbidden.phrase", none) | hit.get("empathy.missing", none)
        late = hit.get("response.first_slow", none) | hit.get("response.slow", none)
        cls = np.where(rude, "服务态度", np.where(late, "响应速度", rng.choice(["专业能力", "问题解决效果", "其他"], n)))
        cls = np.where(rng.random(n) < 0.2, rng.choice(list(COMMENTS), n), cls)
        comments = np.full(n, None, dtype=object)
        for c, texts in COMMENTS.items():
            m = bad & (cls == c)
            comments[m] = rng.choice(texts, int(m.sum()))
        good = rated & ~bad
        comments[good] = rng.choice(GOOD_COMMENTS, int(good.sum()))
        comments[rng.random(n) < 0.35] = None
        neg_p = np.clip(ISSUE_NEG[issue] + 0.25 * (score < 80), 0, 0.95)
        sentiment = np.where(rng.random(n) < neg_p, "negative", np.where(rng.random(n) < 0.25, "positive", "neutral"))
        start_neg = sentiment == "negative"
        recover = rng.random(n) < np.clip(0.55 + 0.1 * skill[a] + 0.1 * trend, 0, 1)
        customer_end = np.where(start_neg, np.where(recover, "neutral", "negative"), np.where(rng.random(n) < 0.05, "negative", "neutral"))
        review = fatal | (score < 60) | bad | complaint | (rng.random(n) < 0.02)
        res = {
            "id": ids, "score": score, "grade": grade, "review_needed": review, "review_reasons": [[] for _ in range(n)],
            "findings": nfind, "deductions": ded, "fatal": fatal, "channel": channel, "started_at": starts,
            "agent_id": agent_ids[a], "agent_name": agent_names[a], "agent_team": agent_team[a],
            "rating_score": rating, "rating_comment": comments, "turns": rng.integers(6, 40, n).astype(np.int32),
            "first_response_s": first, "avg_response_s": avg_resp, "max_response_s": max_resp,
            "issue_type": np.array(ISSUES)[issue], "issue_type_confidence": np.round(rng.uniform(0.45, 0.99, n), 3),
            "sentiment": sentiment, "sentiment_confidence": np.round(rng.uniform(0.5, 0.99, n), 3), "customer_end": customer_end,
            "warnings": [[] for _ in range(n)], "source_path": [f"incoming/{day}/conversations.jsonl"] * n,
            "source_line": np.arange(1, n + 1), "source_row": [None] * n,
        }
        # who the customer is (FCR: does the same customer come back within N days?) and how long the contact took (AHT),
        # as `zhijian inspect` writes them — drawn from their own generator so every other column stays as before
        side = np.random.default_rng([seed, d])
        pool = int(per_day * days * 1.5)  # ~14 % of contacts come back within 7 days
        customer = np.array([f"U{c:07d}" for c in side.integers(0, pool, n)], dtype=object)
        customer[side.random(n) < 0.01] = None  # an export without customer.id
        res["customer_id"] = customer
        res["duration_s"] = np.where(has_ts, np.round(side.lognormal(np.log(np.where(channel == "chat", 280, 220)), 0.6, n), 1), np.nan)
        # the scorecard question every run answers (issue 17), in the JSON `zhijian inspect` writes: one parse per conversation
        conf = np.round(side.uniform(0.3, 0.99, n), 4)
        answer = np.where(side.random(n) < 0.85, "是", "否")
        res["questions_json"] = [
            f'[{{"id":"question.resolved","question":"客户的问题是否解决?","answer":{"null" if c < 0.4 else json.dumps(ans)},'
            f'"confidence":{c},"needs_review":{"true" if c < 0.4 else "false"},"because":["退款","好的"],"evidence_turns":[{t},{t - 1}],'
            f'"status":"试运行","model":"question_resolved@v6:b85f4a71e4ca"}}]'
            for c, ans, t in zip(conf.tolist(), answer.tolist(), side.integers(3, 30, n).tolist())]
        run = out / "runs" / day.isoformat()
        run.mkdir(parents=True, exist_ok=True)
        # + the customer's first-turn sentiment, the column the report reads once the classifier writes it (docs/REPORTS.md)
        res["customer_start"] = np.where(start_neg, "negative", "neutral")
        rs = arrow_schema(RESULT_COLUMNS + [("customer_start", "string")])
        cols = {}
        for name, _ in RESULT_COLUMNS + [("customer_start", "string")]:
            v = res.get(name, [None] * n)  # a column the generator doesn't fill (calls' speech timing …) is null
            cols[name] = pa.array(v.tolist() if isinstance(v, np.ndarray) else v, type=rs.field(name).type, from_pandas=True)
        pq.write_table(pa.table(cols, schema=rs), run / "results.parquet", compression="zstd")
        fs = arrow_schema(FINDING_COLUMNS)
        pq.write_table(pa.table({k: pa.array(v, type=fs.field(k).type, from_pandas=True) for k, v in fnd.items()}, schema=fs), run / "findings.parquet",
                       compression="zstd")
        rejected = int(rng.poisson(3))
        manifest = {
            "zhijian": "bench", "inputs": [{"path": f"incoming/{day}/conversations.jsonl"}],
            "counts": {"read": n + rejected, "inspected": n, "rejected": rejected, "review_needed": int(review.sum()),
                       "findings": int(nfind.sum()), "rejects_by_reason": {"json.invalid": rejected} if rejected else {}, "warnings_by_kind": {}},
            "versions": {"scorecard": "default@1", "lexicons": "bench"}, "mask": True,
            "started_at": f"{day + timedelta(days=1)}T02:00:00+08:00", "generator": "bench/report_history.py",
        }
        (run / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        # the rejected records, where a real run lists them (the report matches a re-run's rejects on them)
        (run / "rejects.jsonl").write_text("".join(
            json.dumps({"source": manifest["inputs"][0]["path"], "line": 1 + k * (n // rejected), "row": None, "id": None,
                        "reason": "json.invalid", "detail": "not valid JSON"}) + "\n" for k in range(rejected)), encoding="utf-8")
        if d % 3 == 0:  # reviewers judged some flagged conversations (format: docs/REPORTS.md)
            _write_verdicts(run, rng, fnd, ids, score)
        runs.append(run)
    return runs


PRECISION = {"forbidden.phrase": 0.95, "empathy.missing": 0.7, "complaint.risk": 0.85, "greeting.missing": 0.9, "closing.missing": 0.8,
             "hold.no_apology": 0.75, "privacy.disclosure": 0.98, "response.first_slow": 0.99, "response.slow": 0.97, "praise": 0.9}


def _write_verdicts(run: Path, rng, fnd: dict, ids: list[str], score: np.ndarray) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    reviewed = set(rng.choice(ids, size=max(1, len(ids) // 50), replace=False).tolist())
    rows = {k: [] for k in ("conversation_id", "rule", "verdict", "turn", "start", "reviewer", "reviewed_at", "human_score")}
    for cid, rule, turn, start in zip(fnd["conversation_id"], fnd["rule"], fnd["turn"], fnd["start"]):
        if cid in reviewed:
            rows["conversation_id"].append(cid); rows["rule"].append(rule)
            rows["verdict"].append("confirmed" if rng.random() < PRECISION.get(rule, 0.9) else "rejected")
            rows["turn"].append(turn); rows["start"].append(start); rows["reviewer"].append(f"QA{rng.integers(1, 6):02d}")
            rows["reviewed_at"].append(run.name + "T15:00:00+08:00"); rows["human_score"].append(None)
    idx = {c: i for i, c in enumerate(ids)}
    for cid in sorted(reviewed):
        if rng.random() < 0.1:  # a finding the machine missed
            rows["conversation_id"].append(cid); rows["rule"].append(str(rng.choice(["empathy.missing", "forbidden.phrase", "closing.missing"])))
            rows["verdict"].append("missed"); rows["turn"].append(None); rows["start"].append(None)
            rows["reviewer"].append("QA01"); rows["reviewed_at"].append(run.name + "T15:00:00+08:00"); rows["human_score"].append(None)
        if rng.random() < 0.5:  # a re-score: a row with only a human_score
            rows["conversation_id"].append(cid); rows["rule"].append(None); rows["verdict"].append(None)
            rows["turn"].append(None); rows["start"].append(None); rows["reviewer"].append("QA02")
            rows["reviewed_at"].append(run.name + "T16:00:00+08:00")
            rows["human_score"].append(float(np.clip(score[idx[cid]] + rng.normal(0, 4), 0, 100)))
    schema = pa.schema([("conversation_id", pa.string()), ("rule", pa.string()), ("verdict", pa.string()), ("turn", pa.int32()),
                        ("start", pa.int32()), ("reviewer", pa.string()), ("reviewed_at", pa.string()), ("human_score", pa.float64())])
    pq.write_table(pa.table(rows, schema=schema), run / "verdicts.parquet")


def floor_seconds(runs: list[Path]) -> float:
    """The floor the report is measured against, in the same session: reading the Parquet columns the
    report needs (results and findings of every run) into pandas, as :mod:`pipeline.report.load` asks
    pyarrow for them — no dedupe, no numbers, no charts, no start-up."""
    import pyarrow.dataset as ds

    from pipeline.report.load import FINDING_COLUMNS, RESULT_COLUMNS

    t0 = time.perf_counter()
    for run in runs:
        for name, cols in (("results.parquet", RESULT_COLUMNS), ("findings.parquet", FINDING_COLUMNS)):
            dataset = ds.dataset(str(run / name), format="parquet")
            dataset.to_table(columns=[c for c in cols if c in dataset.schema.names]).to_pandas()
    return time.perf_counter() - t0


def time_report(runs: list[Path], out: Path) -> dict[str, float]:
    times = {}
    for fmt in ("html", "xlsx"):
        target = out / f"report.{fmt}"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pipeline.cli", "report", *map(str, runs), "--out", str(target)], check=True,
                       cwd=Path(__file__).resolve().parent.parent)
        times[fmt] = time.perf_counter() - t0
    return times


SECTIONS = ["section#summary", "section#kpi", "section#trends", "section#agents", "div#training", "section#issues", "section#bad-reviews", "section#verdicts"]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def screenshots(html: Path, out_dir: Path, max_height: int = 1500, width: int = 1240) -> list[Path]:
    """One PNG per main section (its top ``max_height`` px), palette-quantized to stay small — docs/img/."""
    from PIL import Image
    from playwright.sync_api import sync_playwright

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(html.resolve().as_uri())
        page.add_style_tag(content="nav{position:static}")  # no sticky bar over the sections
        for selector in SECTIONS:
            box = page.locator(selector).bounding_box()
            if not box:
                continue
            target = out_dir / f"report-{selector.split('#')[1]}.png"
            page.screenshot(path=str(target), full_page=True,
                            clip={"x": 0, "y": box["y"] - 8, "width": width, "height": min(box["height"] + 16, max_height)})
            Image.open(target).convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)
            written.append(target)
        browser.close()
    return written


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--per-day", type=int, default=3400)
    ap.add_argument("--out", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "zhijian-report-history"))
    ap.add_argument("--no-time", action="store_true", help="only generate the runs")
    ap.add_argument("--scale", action="store_true", help="30 days × 100,000 conversations a day (issue 13, item 5); sets --days and --per-day")
    ap.add_argument("--reuse", action="store_true", help="time the runs already in --out (generated before with the same --days)")
    ap.add_argument("--screenshots", metavar="DIR", help="also screenshot each main section of the HTML report into DIR (docs/img)")
    args = ap.parse_args()
    if args.scale:
        args.days, args.per_day = 30, 100_000
    out = Path(args.out)
    t0 = time.perf_counter()
    runs = sorted((out / "runs").iterdir()) if args.reuse else generate_history(out, args.days, args.per_day)
    import pyarrow.parquet as pq

    n = sum(pq.read_metadata(r / "results.parquet").num_rows for r in runs)
    nf = sum(pq.read_metadata(r / "findings.parquet").num_rows for r in runs)
    print(f"generated {len(runs)} runs, {n:,} conversations, {nf:,} findings in {time.perf_counter() - t0:.1f} s → {out / 'runs'}")
    if args.no_time:
        return 0
    floor = floor_seconds(runs)
    print(f"floor (read the report's Parquet columns of {len(runs)} runs into pandas): {floor:.1f} s")
    times = time_report(runs, out)
    for fmt, s in times.items():
        print(f"zhijian report --format {fmt}: {s:.1f} s over {n:,} conversations = {s / floor:.1f} × the floor "
              f"({datetime.now():%Y-%m-%d}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f})")
    if args.screenshots:
        for path in screenshots(out / "report.html", Path(args.screenshots)):
            print(f"screenshot {path} ({path.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
