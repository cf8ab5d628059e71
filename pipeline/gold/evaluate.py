"""evaluate: run the pipeline on a gold split and measure it against people's labels.

Per rule: TP / FP / FN, precision and recall with Wilson intervals, F1. Conversation-level rules
compare "the rule fired in this conversation" with the gold label; ``forbidden.phrase`` compares
agent turns (a turn with a finding vs the gold ``forbidden_turns``). A gold ``null`` (mid-session
start, cut-off end, no emotion shown) means the rule should *not* fire: a finding there is a
false alarm for the agent.

Also: the review queue against gold "needs review", the customer's end sentiment (macro-F1), and
whether scores separate conversations with a gold violation from those without (means, AUC).
The disagreements are rows a QA lead can read: id, rule, FP / FN, turn, evidence, gold, predicted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import ConfigError
from ..stats import roc_auc, wilson_interval
from .labels import has_violation, label_errors, needs_review, read_jsonl, write_jsonl

#: rule id → (gold label, unit compared)
RULE_LABELS: dict[str, tuple[str, str]] = {
    "greeting.missing": ("greeting_missing", "conversation"),
    "closing.missing": ("closing_missing", "conversation"),
    "forbidden.phrase": ("forbidden_turns", "turn"),
    "empathy.missing": ("empathy_missing", "conversation"),
    "complaint.risk": ("complaint_risk", "conversation"),
    "praise": ("praise", "conversation"),
}
SENTIMENTS = ("negative", "neutral", "positive")
SPLITS = ("dev", "test")


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def figures(self, coverage: float) -> dict[str, Any]:
        p_lo, p_hi = wilson_interval(self.tp, self.tp + self.fp, coverage)
        r_lo, r_hi = wilson_interval(self.tp, self.tp + self.fn, coverage)
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else None
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else None
        f1 = 2 * precision * recall / (precision + recall) if precision and recall else (0.0 if self.tp + self.fn else None)
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "gold_positives": self.tp + self.fn,
                "precision": _r(precision), "precision_ci": [_r(p_lo), _r(p_hi)],
                "recall": _r(recall), "recall_ci": [_r(r_lo), _r(r_hi)], "f1": _r(f1)}


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def gold_files(gold: str | Path, split: str) -> list[Path]:
    """The split files of a gold folder (``dev.jsonl`` / ``test.jsonl``), or the one file given."""
    gold = Path(gold)
    if gold.is_file():
        return [gold]
    if not gold.is_dir():
        raise ConfigError(f"gold set not found: {gold} — pass the folder (data/gold) or a split file (data/gold/dev.jsonl)")
    names = SPLITS if split == "all" else (split,)
    files = [gold / f"{n}.jsonl" for n in names]
    for f in files:
        if not f.exists():
            raise ConfigError(f"{f} not found — a gold folder holds dev.jsonl and test.jsonl (data/gold/README.md)")
    return files


def load_gold(files: list[Path]) -> list[dict[str, Any]]:
    """Gold records (a conversation in the input contract plus ``gold`` labels), checked."""
    records = []
    for f in files:
        for n, r in enumerate(read_jsonl(f), 1):
            if "gold" not in r:
                raise ConfigError(f"{f}:{n}: no 'gold' labels — is this a gold split file?")
            errors = label_errors({"id": r.get("id"), **r["gold"]}, [{"role": t.get("role")} for t in r.get("turns", [])])
            if errors:
                raise ConfigError(f"{f}:{n} ({r.get('id')}): {'; '.join(errors)}")
            records.append(r)
    return records


@dataclass
class Inspected:
    result: Any  # ConversationResult
    turns: list[str]  # the turn texts as a person may see them (masked unless masking is off)


def inspect_gold(records: list[dict[str, Any]], config: dict, inspector=None) -> dict[str, Inspected]:
    """Run the pipeline on the gold conversations. A gold record the pipeline rejects is an error
    (the gold set is real data the product must take)."""
    from ..ingest import Validator
    from ..privacy import mask_span_text
    from ..run import Inspector
    from ..schema import Reject

    inspector = inspector or Inspector(config)
    validator = Validator(config)
    results = {}
    for r in records:
        conv = validator.validate({k: v for k, v in r.items() if k not in ("gold", "annotations")})
        if isinstance(conv, Reject):
            raise ConfigError(f"gold conversation {r.get('id')} was rejected: {conv.reason} {conv.detail}")
        result = inspector.inspect(conv)
        shown = [mask_span_text(t.text, 0, len(t.text), t.pii, inspector.mask_char) if inspector.mask and t.pii else t.text
                 for t in conv.turns]
        results[r["id"]] = Inspected(result, shown)
    return results


def _turn_text(inspected: Inspected, turn: int | None) -> str | None:
    return inspected.turns[turn] if turn is not None else None


def evaluate(records: list[dict[str, Any]], results: dict[str, Inspected], coverage: float = 0.95) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The figures (a JSON-able dict) and the disagreement rows."""
    counts = {rule: Counts() for rule in RULE_LABELS}
    rows: list[dict[str, Any]] = []
    queue = Counts()
    queue_reasons: dict[str, int] = {}
    queue_reasons_true: dict[str, int] = {}
    sent_pairs: list[tuple[str, str | None]] = []
    scores, violations = [], []
    grades: dict[str, int] = {}
    for rec in records:
        gold, cid = rec["gold"], rec["id"]
        inspected = results[cid]
        res = inspected.result
        by_rule: dict[str, list] = {}
        for f in res.findings:
            by_rule.setdefault(f.rule, []).append(f)
        for rule, (label, unit) in RULE_LABELS.items():
            found = by_rule.get(rule, [])
            c = counts[rule]
            if unit == "turn":
                pred_turns = {f.turn for f in found}
                gold_turns = set(gold[label])
                for t in sorted(pred_turns | gold_turns):
                    f = next((f for f in found if f.turn == t), None)
                    if t in pred_turns and t in gold_turns:
                        c.tp += 1
                        continue
                    kind = "FP" if t in pred_turns else "FN"
                    c.fp += kind == "FP"
                    c.fn += kind == "FN"
                    rows.append({"id": cid, "rule": rule, "kind": kind, "turn": t, "text": _turn_text(inspected, t),
                                 "evidence": f.evidence if f else None, "entry": f.entry if f else None,
                                 "gold": t in gold_turns, "predicted": t in pred_turns, "note": gold.get("note", "")})
            else:
                predicted, truth = bool(found), gold[label] is True
                if predicted and truth:
                    c.tp += 1
                elif predicted or truth:
                    kind = "FP" if predicted else "FN"
                    c.fp += kind == "FP"
                    c.fn += kind == "FN"
                    f = found[0] if found else None
                    rows.append({"id": cid, "rule": rule, "kind": kind, "turn": f.turn if f else None,
                                 "text": _turn_text(inspected, f.turn if f else None), "evidence": f.evidence if f else None,
                                 "entry": f.entry if f else None, "gold": gold[label], "predicted": predicted,
                                 "note": gold.get("note", "")})
        flagged, truth = bool(res.review["needed"]), needs_review(gold)
        queue.tp += flagged and truth
        queue.fp += flagged and not truth
        queue.fn += truth and not flagged
        for reason in res.review["reasons"]:
            queue_reasons[reason] = queue_reasons.get(reason, 0) + 1
            queue_reasons_true[reason] = queue_reasons_true.get(reason, 0) + truth
        end = (res.sentiment or {}).get("customer_end")
        sent_pairs.append((gold["end_sentiment"], end))
        scores.append(res.score)
        violations.append(has_violation(gold))
        grades[res.grade] = grades.get(res.grade, 0) + 1

    rules = {rule: c.figures(coverage) for rule, c in counts.items()}
    measured = [r["f1"] for r in rules.values() if r["gold_positives"]]
    n = len(records)
    with_v = [s for s, v in zip(scores, violations) if v]
    without_v = [s for s, v in zip(scores, violations) if not v]
    report = {
        "conversations": n,
        "coverage": coverage,
        "rules": rules,
        "macro_f1": _r(sum(measured) / len(measured)) if measured else None,
        "queue": {
            **queue.figures(coverage),
            "flagged": queue.tp + queue.fp,
            "share": _r((queue.tp + queue.fp) / n) if n else None,
            "gold_needs_review": queue.tp + queue.fn,
            "reasons": {k: {"conversations": v, "share_of_all": _r(v / n), "precision": _r(queue_reasons_true[k] / v)}
                        for k, v in sorted(queue_reasons.items(), key=lambda kv: -kv[1])},
        },
        "end_sentiment": _sentiment_figures(sent_pairs),
        "scores": {
            "mean_with_violation": _r(sum(with_v) / len(with_v)) if with_v else None,
            "mean_without_violation": _r(sum(without_v) / len(without_v)) if without_v else None,
            "with_violation": len(with_v),
            "auc_lower_score_means_violation": _r(roc_auc([-s for s in scores], violations)),
            "grades": dict(sorted(grades.items())),
        },
    }
    return report, rows


def _sentiment_figures(pairs: list[tuple[str, str | None]]) -> dict[str, Any]:
    judged = [(g, p) for g, p in pairs if p is not None]
    if not judged:
        return {"n": 0, "macro_f1": None, "note": "no sentiment model loaded"}
    per = {}
    for label in SENTIMENTS:
        tp = sum(g == label and p == label for g, p in judged)
        fp = sum(g != label and p == label for g, p in judged)
        fn = sum(g == label and p != label for g, p in judged)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        per[label] = {"gold": tp + fn, "predicted": tp + fp, "precision": _r(prec), "recall": _r(rec),
                      "f1": _r(2 * prec * rec / (prec + rec) if prec + rec else 0.0)}
    present = [v["f1"] for v in per.values() if v["gold"]]
    return {"n": len(judged), "accuracy": _r(sum(g == p for g, p in judged) / len(judged)),
            "macro_f1": _r(sum(present) / len(present)) if present else None, "per_label": per}


def format_report(report: dict[str, Any], title: str = "") -> str:
    """The figures as a plain-text table for the terminal."""

    def pct(x):
        return "  —  " if x is None else f"{x:5.2f}"

    def ci(pair):
        return "   —      " if pair[0] is None else f"[{pair[0]:.2f},{pair[1]:.2f}]"

    lines = [f"gold: {title} — {report['conversations']} conversations; intervals: Wilson {report['coverage']:.0%}", ""]
    lines.append(f"{'rule':<18} {'TP':>4} {'FP':>4} {'FN':>4}  {'precision':>9} {'95% CI':<12} {'recall':>6} {'95% CI':<12} {'F1':>5}")
    for rule, r in report["rules"].items():
        few = "  (< 10 gold positives)" if r["gold_positives"] < 10 else ""
        lines.append(f"{rule:<18} {r['tp']:>4} {r['fp']:>4} {r['fn']:>4}  {pct(r['precision']):>9} {ci(r['precision_ci']):<12} "
                     f"{pct(r['recall']):>6} {ci(r['recall_ci']):<12} {pct(r['f1']):>5}{few}")
    lines.append(f"macro-F1 over the rules with gold positives: {pct(report['macro_f1'])}")
    q = report["queue"]
    lines.append("")
    lines.append(f"review queue: {q['flagged']} of {report['conversations']} flagged ({pct(q['share'])}); gold needs review: "
                 f"{q['gold_needs_review']}; precision {pct(q['precision'])} {ci(q['precision_ci'])}, recall {pct(q['recall'])} {ci(q['recall_ci'])}")
    for reason, v in q["reasons"].items():
        lines.append(f"  {reason:<24} {v['conversations']:>4} conversations ({pct(v['share_of_all'])} of all), precision {pct(v['precision'])}")
    s = report["end_sentiment"]
    lines.append(f"customer end sentiment: macro-F1 {pct(s.get('macro_f1'))}, accuracy {pct(s.get('accuracy'))} (n={s['n']})")
    sc = report["scores"]
    lines.append(f"scores: mean {sc['mean_with_violation']} with a gold violation ({sc['with_violation']}) vs "
                 f"{sc['mean_without_violation']} without; AUC {pct(sc['auc_lower_score_means_violation'])}; grades {sc['grades']}")
    return "\n".join(lines)


def gate_failures(report: dict[str, Any], recorded: dict[str, Any], margin: float) -> list[str]:
    """Every rule whose precision or recall fell more than ``margin`` below the recorded figure, and
    the end-sentiment macro-F1 (read from lexicons too since pipeline/end_sentiment.py) likewise."""
    out = []
    was_end = (recorded.get("end_sentiment") or {}).get("macro_f1")
    got_end = (report.get("end_sentiment") or {}).get("macro_f1")
    if was_end is not None and (got_end is None or got_end < was_end - margin):
        out.append(f"end sentiment macro_f1: {got_end} < recorded {was_end} − margin {margin}")
    for rule, rec in recorded["rules"].items():
        now = report["rules"].get(rule)
        for key in ("precision", "recall"):
            was = rec.get(key)
            if was is None:
                continue
            got = now.get(key) if now else None
            if got is None or got < was - margin:
                out.append(f"{rule} {key}: {got} < recorded {was} − margin {margin}")
    return out


def write_outputs(out_dir: str | Path, report: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    write_jsonl(out / "disagreements.jsonl", rows)
