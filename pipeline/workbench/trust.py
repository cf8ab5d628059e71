"""Rules that earn trust, from the workbench's counted verdicts (pipeline/trust.py says what the
statuses mean): each rule's status next to its precision, which rules may be listed in
``review.skip_review_for_trusted_rules``, and the rewrite list — every ``rewrite`` rule's confirmed
false alarms (findings the reviewers rejected) with masked evidence, turn and conversation, so a QA
lead sees what to change in the lexicon. Shared by ``zhijian agreement`` and the 一致性 page."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ..privacy import mask_free_text
from ..trust import STATUS_LABELS, skip_rules, trust_settings, trust_status
from . import labels


def rule_trust(session: Session, config: dict):
    """``labels.rule_precision`` with a ``status`` column (trusted / watch / rewrite)."""
    settings = trust_settings(config)
    table = labels.rule_precision(session, config)
    table["status"] = [trust_status(int(k), int(n), settings)[0] for k, n in zip(table["confirmed"], table["n"])]
    return table


def false_alarms(session: Session, rules: list[str], config: dict) -> dict[str, dict[str, Any]]:
    """Rule → {"count": rejected findings, "rows": the newest ``trust.false_alarms_shown`` of them}, each
    row: conversation id, lexicon entry, turn, masked evidence, the reviewer's masked comment."""
    shown = int(trust_settings(config)["false_alarms_shown"])
    found: dict[str, list[tuple[Any, dict[str, Any]]]] = {rule: [] for rule in rules}
    for conv, rev, v, f in labels._verdict_rows(session, labels.counted_reviews(session)):
        if v.verdict == "rejected" and f.rule in found:
            found[f.rule].append((rev.submitted_at, {
                "conversation_id": conv.ext_id, "entry": f.entry, "turn": f.turn,
                "evidence": labels.masked_evidence(conv, f), "comment": mask_free_text(v.comment)}))
    out = {}
    for rule, rows in found.items():
        rows.sort(key=lambda r: r[0], reverse=True)  # newest first; stable within one review
        out[rule] = {"count": len(rows), "rows": [row for _, row in rows[:shown]]}
    return out


def trust_summary(session: Session, table, config: dict) -> dict[str, Any]:
    """What to do with the statuses: rules eligible for the skip list, listed ones no longer
    trusted, and the rewrite list."""
    status = dict(zip(table["rule"], table["status"]))
    listed = sorted(skip_rules(config))
    rewrite = [rule for rule in table["rule"] if status[rule] == "rewrite"]
    return {
        "settings": dict(trust_settings(config)),
        "eligible_to_skip_review": sorted(r for r, s in status.items() if s == "trusted"),
        "skip_review_listed": listed,
        "listed_not_trusted": [r for r in listed if status.get(r) != "trusted"],
        "rewrite": false_alarms(session, rewrite, config),
    }


def format_trust(table, summary: dict[str, Any]) -> str:
    """The terminal section of ``zhijian agreement``."""
    t = summary["settings"]
    lines = ["", "规则信任状态 (trust: pipeline/trust.py)", ""]
    lines += [f"{r.rule:<24} {r.status:<8} {STATUS_LABELS[r.status]}" for r in table.itertuples()]
    lines += ["",
             f"可信 = 已判定 ≥ {t['min_reviews']} 且精确率 {t['interval'] * 100:g}% 下限 ≥ {t['trusted_lower_bound'] * 100:g}%;"
             f"需改写 = 已判定 ≥ {t['rewrite_min_reviews']} 且精确率 < {t['rewrite_below'] * 100:g}%",
             f"可列入 review.skip_review_for_trusted_rules: {', '.join(summary['eligible_to_skip_review']) or '(无)'}"]
    if summary["listed_not_trusted"]:
        lines.append(f"注意:已列入但目前不可信的规则: {', '.join(summary['listed_not_trusted'])} — 请从配置中移除")
    lines += ["", f"需改写的规则 ({STATUS_LABELS['rewrite']}):已确认的误报", ""]
    if not summary["rewrite"]:
        lines.append("(无)")
    for rule, alarms in summary["rewrite"].items():
        lines.append(f"{rule}  误报 {alarms['count']} 条" + (f"(列出最新 {len(alarms['rows'])} 条)" if len(alarms["rows"]) < alarms["count"] else ""))
        for row in alarms["rows"]:
            lines.append(f"  {row['conversation_id']}  第 {row['turn'] if row['turn'] is not None else '—'} 轮  "
                         f"{row['entry'] or '—'}  「{row['evidence'] or '—'}」" + (f"  复核意见: {row['comment']}" if row["comment"] else ""))
    return "\n".join(lines)
