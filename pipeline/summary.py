"""What a person reads after ``zhijian inspect``: the run in a few lines and what to do next.

The machine-readable summary is ``manifest.json``; this is for the terminal (stdout): counts, the
review queue and why, the most frequent findings, scores and grades, and the next commands —
``explain`` on the conversation most worth reading, ``report``, and the workbench.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from .review_flags import REASON_LABELS

TOP_FINDINGS = 3  # rules listed as "most frequent findings"
GRADE_ORDER = ("优", "良", "中", "差")


def _read(run_dir: Path, name: str, columns: list[str]):
    """The run's Parquet table with ``columns`` (None when absent) — columnar: a 1,000,000-chat run
    is summarised without a Python object per row."""
    import pyarrow.dataset as ds

    path = run_dir / name
    return ds.dataset(str(path), format="parquet").to_table(columns=columns) if path.exists() else None


def _counts(column) -> list[tuple[str, int]]:
    """Value → count, most frequent first (nulls left out)."""
    import pyarrow.compute as pc

    vc = pc.value_counts(pc.drop_null(column)).to_pylist()
    return sorted(((d["values"], d["counts"]) for d in vc), key=lambda x: (-x[1], str(x[0])))


def _shell_path(path: str | None) -> str | None:
    """The input path as the user can type it from where they are (the manifest records it as given)."""
    return shlex.quote(path) if path and Path(path).exists() else None


def run_summary(run_dir: str | Path, manifest: dict[str, Any]) -> str:
    """A few lines about the run in ``run_dir`` (its ``manifest`` already read)."""
    import pyarrow.compute as pc

    run_dir = Path(run_dir)
    c = manifest["counts"]
    results = _read(run_dir, "results.parquet", ["id", "score", "grade", "review_needed", "review_reasons", "fatal",
                                                   "findings", "source_path", "source_row"])
    findings = _read(run_dir, "findings.parquet", ["rule"])
    rules = _counts(findings.column("rule")) if findings is not None else []
    n = results.num_rows if results is not None else c["inspected"]
    lines = [f"zhijian: {c['inspected']} conversations inspected, {c['rejected']} rejected → {run_dir}/"]
    if c["rejected"]:
        lines.append(f"  rejected (reason: count): {c['rejects_by_reason']} — the records and why: {run_dir / 'rejects.jsonl'}")
    worst = None
    if results is not None and n:
        why = "、".join(f"{REASON_LABELS.get(k, k)} {v}" for k, v in _counts(pc.list_flatten(results.column("review_reasons"))))
        lines.append(f"  review queue: {c['review_needed']} of {n} ({100 * c['review_needed'] / max(n, 1):.0f} %)" + (f" — {why}" if why else ""))
        grades = dict(_counts(results.column("grade")))
        avg = pc.mean(results.column("score")).as_py()
        lines.append(f"  scores: average {avg:.1f}; " + " · ".join(f"{g} {grades[g]}" for g in GRADE_ORDER if grades.get(g)))
        # the conversation most worth reading: flagged, 红线 first, then the lowest score, then the most findings —
        # from a JSONL input (source_row null), the kind `explain INPUT --id ID` is pointed at here
        flagged = results.filter(pc.and_(pc.equal(results.column("review_needed"), True), pc.is_null(results.column("source_row"))))
        if flagged.num_rows:
            order = pc.sort_indices(flagged, sort_keys=[("fatal", "descending"), ("score", "ascending"), ("findings", "descending")])
            worst = flagged.take(order.slice(0, 1)).to_pylist()[0]
    if rules:
        top = ", ".join(f"{rule} {k}" for rule, k in rules[:TOP_FINDINGS])
        lines.append(f"  {sum(k for _, k in rules)} findings; most frequent: {top}")
    lines += ["", "Next:"]
    source = _shell_path(worst["source_path"]) if worst else None
    if source:
        lines.append(f"  zhijian explain {source} --id {shlex.quote(worst['id'])}   # the conversation most worth reading, worked out")
    out = shlex.quote(str(run_dir))
    lines.append(f"  zhijian report {out} --out {shlex.quote(str(run_dir / 'report.html'))}   # the report a QA lead reads")
    lines.append(f"  zhijian load {out} && zhijian serve          # the review workbench (create a user first: README)")
    lines.append(f"  results: {run_dir / 'results.jsonl'} (one line per conversation), findings: {run_dir / 'findings.parquet'}")
    return "\n".join(lines)
