"""The report's 差评处理 section (issue 19, seed 004 五/六): how the bad-review cases of the workbench are
handled — cases by state and by source, overdue ones, the time to the agent's account, the apology and
closure against the ``cases:`` deadlines, the responsibility mix, the measures taken, 回访 results,
agents with repeat cases, the machine's suggested reason vs. the reason the supervisor confirmed
(agreement, Cohen's κ, confusion) and 典型差评案例 for training (review text masked).

Read from the workbench database the report is pointed at (``--database-url`` / ``--workbench``), the
whole database (cases are not tied to the runs given); a database without the case tables (a revision
before 0004) gives no section. ``read_cases`` is called by ``workbench.read_workbench``; ``section_html``
is the renderer ``html.py`` lists.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from statistics import median
from typing import Any

from .html_base import esc

TYPICAL_CASES = 10  # 典型差评案例 listed


def _hours(a: datetime | None, b: datetime | None) -> float | None:
    from ..cases.service import aware

    if a is None or b is None:
        return None
    return (aware(b) - aware(a)).total_seconds() / 3600


def read_cases(session, config: dict, now: datetime | None = None) -> dict[str, Any] | None:
    """The section's numbers, or None when the database has no case tables (or no case)."""
    from sqlalchemy import inspect, select

    from ..cases import service
    from ..cases.reason import CLASSES
    from ..privacy import mask_free_text
    from ..stats import cohen_kappa
    from ..workbench.db import Case

    if not inspect(session.connection()).has_table("cases"):
        return None
    cases = list(session.scalars(select(Case).order_by(Case.id)))
    if not cases:
        return None
    now = now or datetime.now(timezone.utc)
    s = config["cases"]
    late = {c.id: service.overdue_items(c, now) for c in cases}
    late_by = Counter(x for items in late.values() for x in items)

    def step(label: str, done_at: str, due: str, limit: float, unit: str) -> dict[str, Any]:
        spans = [(_hours(c.received_at, getattr(c, done_at)), c) for c in cases if getattr(c, done_at) is not None]
        waits = [h if unit == "小时" else h / 24 for h, _ in spans]
        within = sum(1 for _, c in spans if service.aware(getattr(c, done_at)) <= service.aware(getattr(c, due)))
        pending_late = sum(1 for c in cases if getattr(c, done_at) is None and c.state != "closed"
                           and service.aware(getattr(c, due)) < now)
        return {"step": label, "deadline": f"{limit:g} {unit}", "done": len(spans),
                "median": round(median(waits), 1) if waits else None, "within": within / len(spans) if spans else None,
                "pending_late": pending_late}

    confirmed = [(c.suggested_reason, c.confirmed_reason) for c in cases if c.confirmed_reason and c.suggested_reason]
    confusion = {g: {p: 0 for p in CLASSES} for g in CLASSES}
    for sug, conf in confirmed:
        if conf in confusion and sug in confusion[conf]:
            confusion[conf][sug] += 1
    with_resp = [c for c in cases if c.responsibility]
    measures = [m for c in cases for m in c.measures]
    agents = Counter(c.agent_id for c in cases if c.agent_id)
    typical = [c for c in reversed(cases) if c.state == "closed" and c.confirmed_reason][:TYPICAL_CASES]
    return {
        "n": len(cases),
        "by_state": [(service.STATE_LABELS[k], sum(c.state == k for c in cases)) for k in service.STATE_LABELS],
        "by_source": Counter(f"{service.SOURCE_LABELS.get(c.source, c.source)}" + (f"({c.channel})" if c.channel else "")
                             for c in cases).most_common(),
        "overdue": sum(1 for v in late.values() if v), "overdue_by": late_by.most_common(),
        "timing": [step("情况说明", "account_at", "account_due", float(s["account_within_h"]), "小时"),
                   step("道歉安抚", "apology_at", "apology_due", float(s["apology_within_h"]), "小时"),
                   step("结案", "closed_at", "close_due", float(s["close_within_d"]), "天")],
        "responsibility": [(service.RESPONSIBILITY_LABELS[k], sum(k in c.responsibility for c in with_resp), len(with_resp))
                           for k in service.RESPONSIBILITY_LABELS],
        "measures": [(service.MEASURE_LABELS[k], sum(m.kind == k for m in measures),
                      sum(m.kind == k and m.done_at is not None for m in measures)) for k in service.MEASURE_LABELS],
        "follow_up": [(service.FOLLOW_UP_LABELS[k], sum(c.follow_up_result == k for c in cases)) for k in service.FOLLOW_UP_LABELS],
        "repeat_agents": [(a, n) for a, n in agents.most_common() if n >= 2],
        "suggested": Counter(c.suggested_reason for c in cases if c.suggested_reason).most_common(),
        "agreement": {"n": len(confirmed),
                      "share": sum(a == b for a, b in confirmed) / len(confirmed) if confirmed else None,
                      "kappa": cohen_kappa([b for _, b in confirmed], [a for a, _ in confirmed]) if confirmed else None,
                      "confusion": confusion},
        "typical": [{"id": c.id, "agent_id": c.agent_id or "", "reason": c.confirmed_reason, "suggested": c.suggested_reason,
                     "responsibility": "、".join(service.RESPONSIBILITY_LABELS[r] for r in c.responsibility or []),
                     "measures": "、".join(service.MEASURE_LABELS[m.kind] for m in c.measures),
                     "follow_up": service.FOLLOW_UP_LABELS.get(c.follow_up_result or "", ""),
                     "review": mask_free_text(c.review_text)[:120] if c.review_text else ""} for c in typical],
    }


def _rows(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.0f}%"


def section_html(r: Any, charts: dict[str, bytes]) -> str:  # noqa: ARG001 — the renderers' signature
    from ..cases.reason import CLASSES

    c = r.cases
    out = [f"<p class='small'>工作台中的差评案件共 {c['n']:,} 件(全库,不限本报告的运行),其中逾期 <b>{c['overdue']:,}</b> 件"
           + ("(" + "、".join(f"{esc(k)} {v}" for k, v in c["overdue_by"]) + ")" if c["overdue_by"] else "") + "。</p>"]
    out.append(_rows(["状态", "件数"], [list(x) for x in c["by_state"]]))
    out.append(_rows(["来源", "件数"], [list(x) for x in c["by_source"]]))
    out.append("<h3>处理时效</h3>" + _rows(
        ["环节", "期限", "已完成", "中位用时", "按期完成率", "未完成且已逾期"],
        [[t["step"], t["deadline"], t["done"], "—" if t["median"] is None else f"{t['median']:g} {t['deadline'].split()[-1]}",
          _pct(t["within"]), t["pending_late"]] for t in c["timing"]]))
    out.append("<h3>责任认定与措施</h3>" + _rows(["责任归属", "件数", "占已认定"],
                                                  [[k, n, _pct(n / tot if tot else None)] for k, n, tot in c["responsibility"]]))
    out.append(_rows(["措施", "件数", "已完成"], [list(x) for x in c["measures"]]))
    out.append(_rows(["回访结果", "件数"], [list(x) for x in c["follow_up"]]))
    if c["repeat_agents"]:
        out.append("<h3>重复差评坐席</h3>" + _rows(["坐席", "差评件数"], [list(x) for x in c["repeat_agents"][:20]]))
    a = c["agreement"]
    out.append("<h3>系统初判原因与主管认定</h3>")
    if a["n"]:
        out.append(f"<p class='small'>已认定 {a['n']} 件:一致 {_pct(a['share'])},Cohen's κ "
                   f"{'—' if a['kappa'] is None else format(a['kappa'], '.2f')}(行:主管认定,列:系统初判)。</p>")
        out.append(_rows(["认定 \\ 初判", *CLASSES], [[g, *(a["confusion"][g][p] for p in CLASSES)] for g in CLASSES]))
    else:
        out.append("<p class='small'>尚无主管认定的差评原因。</p>")
    if c["typical"]:
        out.append("<h3>典型差评案例(培训用,评价已脱敏)</h3>" + _rows(
            ["编号", "坐席", "认定原因", "系统初判", "责任", "措施", "回访", "评价内容"],
            [[f"#{t['id']}", t["agent_id"], t["reason"], t["suggested"], t["responsibility"], t["measures"], t["follow_up"],
              t["review"]] for t in c["typical"]]))
    return "".join(out)
