"""``zhijian cases evaluate-reasons SET GOLD``: the suggested reason class against people's labels.

SET is conversations in the SPEC input format (data/cases/reason_set.jsonl: real dissatisfied JDDC
chats); GOLD is one line per conversation, ``{id, reason, also, agent_at_fault, note}``, given by two
annotators and an adjudicator (data/cases/RUBRIC.md). Each conversation is inspected with the normal
pipeline, the reason is suggested by ``reason.suggest`` from its result and transcript, and the
figures are accuracy, Cohen's κ, the share where the suggestion is the gold reason or one of its
``also`` classes, agent-at-fault agreement and the confusion table (gold rows × suggested columns).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..stats import cohen_kappa
from .reason import CLASSES, suggest


class EvaluationError(ValueError):
    """A file the user must fix or provide; the message says which and how."""


def read_jsonl(path: str | Path, what: str) -> list[dict[str, Any]]:
    p = Path(path)
    if not p.exists():
        hint = (" — the gold labels are being produced (two annotators + an adjudicator, data/cases/RUBRIC.md); "
                "run this again once the file is there") if what == "gold" else ""
        raise EvaluationError(f"{what} file {p} does not exist{hint}")
    from ..config import ConfigError
    from ..gold.labels import read_jsonl as read_lines

    try:
        return read_lines(p)
    except ConfigError as e:
        raise EvaluationError(str(e)) from None


def check_gold(gold: list[dict[str, Any]], path: str | Path) -> dict[str, dict[str, Any]]:
    out = {}
    for n, g in enumerate(gold, 1):
        if not isinstance(g, dict) or "id" not in g:
            raise EvaluationError(f"{path} line {n}: needs an \"id\"")
        if g.get("reason") not in CLASSES:
            raise EvaluationError(f"{path} line {n} ({g['id']}): reason {g.get('reason')!r} is not one of {' / '.join(CLASSES)}")
        out[str(g["id"])] = g
    return out


def evaluate_reasons(set_path: str | Path, gold_path: str | Path, config: dict, inspector=None) -> dict[str, Any]:
    """Inspect SET's conversations that have a gold label, suggest, compare. Raises EvaluationError."""
    from ..ingest import Validator
    from ..run import Inspector
    from ..schema import Reject

    gold = check_gold(read_jsonl(gold_path, "gold"), gold_path)
    records = {str(r.get("id")): r for r in read_jsonl(set_path, "conversation set")}
    missing = sorted(set(gold) - set(records))
    if missing:
        raise EvaluationError(f"{len(missing)} gold ids are not in {set_path}: {', '.join(missing[:5])}")
    inspector = inspector or Inspector(config)
    validator = Validator(config)
    rows = []
    for cid in sorted(gold):
        r = records[cid]
        conv = validator.validate({k: v for k, v in r.items() if k != "source"})
        if isinstance(conv, Reject):
            raise EvaluationError(f"conversation {cid} was rejected by the pipeline: {conv.reason} {conv.detail}")
        result = inspector.inspect(conv).to_dict()
        comment = (r.get("rating") or {}).get("comment") if isinstance(r.get("rating"), dict) else None
        s = suggest(result, r.get("turns") or [], comment)
        g = gold[cid]
        rows.append({"id": cid, "gold": g["reason"], "also": list(g.get("also") or []), "suggested": s.reason,
                     "gold_agent_at_fault": g.get("agent_at_fault"), "suggested_agent_at_fault": s.agent_at_fault,
                     "points": s.points, "evidence": [e.detail for e in s.supporting()][:3]})
    return figures(rows)


def figures(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    gold = [r["gold"] for r in rows]
    sugg = [r["suggested"] for r in rows]
    confusion = {g: {s: 0 for s in CLASSES} for g in CLASSES}
    for g, s in zip(gold, sugg):
        confusion[g][s] += 1
    fault = [(r["gold_agent_at_fault"], r["suggested_agent_at_fault"]) for r in rows if isinstance(r.get("gold_agent_at_fault"), bool)]
    per_class = {}
    for c in CLASSES:
        tp = confusion[c][c]
        predicted = sum(confusion[g][c] for g in CLASSES)
        actual = sum(confusion[c].values())
        per_class[c] = {"gold": actual, "suggested": predicted, "precision": tp / predicted if predicted else None,
                        "recall": tp / actual if actual else None}
    majority = max(CLASSES, key=lambda c: gold.count(c)) if n else None
    return {
        "n": n,
        "accuracy": sum(g == s for g, s in zip(gold, sugg)) / n if n else None,
        "kappa": cohen_kappa(gold, sugg),
        "accuracy_with_also": sum(r["suggested"] == r["gold"] or r["suggested"] in r["also"] for r in rows) / n if n else None,
        "agent_at_fault_agreement": sum(a == b for a, b in fault) / len(fault) if fault else None,
        "agent_at_fault_kappa": cohen_kappa([a for a, _ in fault], [b for _, b in fault]) if fault else None,
        "majority_class": majority,
        "majority_accuracy": gold.count(majority) / n if n else None,
        "per_class": per_class,
        "confusion": confusion,
        "rows": rows,
    }


def format_figures(f: dict[str, Any]) -> str:
    def pct(x):
        return "—" if x is None else f"{100 * x:.1f}%"

    def num(x):
        return "—" if x is None else f"{x:.3f}"

    lines = [f"suggested reason class vs gold: {f['n']} conversations",
             f"  accuracy {pct(f['accuracy'])}   Cohen's κ {num(f['kappa'])}   "
             f"suggestion = gold reason or one of its 'also' {pct(f['accuracy_with_also'])}",
             f"  agent at fault: agreement {pct(f['agent_at_fault_agreement'])}, κ {num(f['agent_at_fault_kappa'])}",
             f"  (always answering the most frequent gold class, {f['majority_class']}: {pct(f['majority_accuracy'])})",
             "", "confusion (rows: gold, columns: suggested)"]
    from ..textwidth import pad

    width = 8
    head = "gold \\ suggested".ljust(14) + "".join(c.rjust(width) for c in CLASSES) + "   recall"
    lines.append(head)
    for g in CLASSES:
        row = f["confusion"][g]
        lines.append(pad(g, 14) + "".join(str(row[s]).rjust(width) for s in CLASSES)
                     + "   " + pct(f["per_class"][g]["recall"]))
    lines.append("precision".ljust(14) + "".join(pct(f["per_class"][s]["precision"]).rjust(width) for s in CLASSES))
    return "\n".join(lines)
