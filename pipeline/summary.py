"""What a person reads after ``zhijian inspect``: the run in a few lines and what to do next.

The machine-readable summary is ``manifest.json``; this is for the terminal (stdout): counts, the
review queue and why, the most frequent findings, scores and grades, and the next commands —
``explain`` on the conversation most worth reading, ``report``, and the workbench.
"""

from __future__ import annotations

import shlex
from collections import Counter
from pathlib import Path
from typing import Any

from .review_flags import REASON_LABELS

TOP_FINDINGS = 3  # rules listed as "most frequent findings"
GRADE_ORDER = ("优", "良", "中", "差")


def _read(run_dir: Path, name: str, columns: list[str]) -> list[dict[str, Any]]:
    import pyarrow.dataset as ds

    path = run_dir / name
    if not path.exists():
        return []
    return ds.dataset(str(path), format="parquet").to_table(columns=columns).to_pylist()


def _shell_path(path: str | None, run_dir: Path) -> str | None:
    """The input path as the user can type it from where they are (the manifest records it as given)."""
    if not path:
        return None
    p = Path(path)
    return shlex.quote(str(p)) if p.exists() else None


def run_summary(run_dir: str | Path, manifest: dict[str, Any]) -> str:
    """A few lines about the run in ``run_dir`` (its ``manifest`` already read)."""
    run_dir = Path(run_dir)
    c = manifest["counts"]
    results = _read(run_dir, "results.parquet", ["id", "score", "grade", "review_needed", "review_reasons", "fatal",
                                                   "findings", "source_path", "source_row"])
    rules = Counter(r["rule"] for r in _read(run_dir, "findings.parquet", ["rule"]))
    n = len(results) or c["inspected"]
    lines = [f"zhijian: {c['inspected']} conversations inspected, {c['rejected']} rejected → {run_dir}/"]
    if c["rejected"]:
        lines.append(f"  rejected (reason: count): {c['rejects_by_reason']} — the records and why: {run_dir / 'rejects.jsonl'}")
    if results:
        reasons = Counter(r for row in results for r in (row["review_reasons"] or []))
        why = "、".join(f"{REASON_LABELS.get(k, k)} {v}" for k, v in reasons.most_common())
        lines.append(f"  review queue: {c['review_needed']} of {n} ({100 * c['review_needed'] / max(n, 1):.0f} %)" + (f" — {why}" if why else ""))
        grades = Counter(r["grade"] for r in results)
        avg = sum(r["score"] for r in results) / len(results)
        lines.append(f"  scores: average {avg:.1f}; " + " · ".join(f"{g} {grades[g]}" for g in GRADE_ORDER if grades[g]))
    if rules:
        top = ", ".join(f"{rule} {k}" for rule, k in rules.most_common(TOP_FINDINGS))
        lines.append(f"  {sum(rules.values())} findings; most frequent: {top}")
    lines += ["", "Next:"]
    worst = sorted((r for r in results if r["review_needed"]), key=lambda r: (not r["fatal"], r["score"], -r["findings"]))
    source = next(((r, _shell_path(r["source_path"], run_dir)) for r in worst if r["source_row"] is None), (None, None))
    if source[1]:
        lines.append(f"  zhijian explain {source[1]} --id {shlex.quote(source[0]['id'])}   # the conversation most worth reading, worked out")
    out = shlex.quote(str(run_dir))
    lines.append(f"  zhijian report {out} --out {shlex.quote(str(run_dir / 'report.html'))}   # the report a QA lead reads")
    lines.append(f"  zhijian load {out} && zhijian serve          # the review workbench (create a user first: README)")
    lines.append(f"  results: {run_dir / 'results.jsonl'} (one line per conversation), findings: {run_dir / 'findings.parquet'}")
    return "\n".join(lines)
