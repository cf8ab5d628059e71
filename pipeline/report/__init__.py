"""Reports over inspection runs: ``zhijian report RUN_DIR... --out report.html [--format xlsx]``.

Three layers, each replaceable on its own:

* :mod:`.load` — RUN_DIRs (``results.parquet``, ``findings.parquet``, ``manifest.json``, optional
  ``verdicts.parquet`` / ``verdicts.jsonl``) → one :class:`~.load.RunSet` of pandas tables;
* :mod:`.metrics` — :func:`~.metrics.compute`: a pure function from a ``RunSet`` and the
  configuration to a :class:`~.measures.Report` of numbers (no I/O, no rendering), from the
  definitions and group KPIs of :mod:`.measures` and the tables of :mod:`.tables`;
* renderers — :mod:`.html` (self-contained HTML, charts from :mod:`.charts` inlined as base64 PNG)
  and :mod:`.xlsx` (Excel via openpyxl, native Excel charts).

What each number means and how it is computed: ``docs/REPORTS.md``.
"""
