"""``zhijian report RUN_DIR... --out report.html [--format html|xlsx]``.

Imported by ``pipeline/cli.py``'s ``build_parser``; this module imports nothing heavy at import
time (pandas, matplotlib and openpyxl load only when the command runs).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def add_subcommands(subparsers) -> None:
    sp = subparsers.add_parser(
        "report",
        help="KPIs, agents and teams, issue types, bad reviews, trends and forecast over one or more runs (HTML or Excel)",
        description="Report over the outputs of `zhijian inspect` (one RUN_DIR per day, or any set of runs). "
        "What each number means: docs/REPORTS.md.",
    )
    sp.add_argument("runs", nargs="+", metavar="RUN_DIR", help="output folders of `zhijian inspect` (globs allowed)")
    sp.add_argument("--out", required=True, help="report file to write (report.html, report.xlsx)")
    sp.add_argument("--format", choices=["html", "xlsx"], help="default: from the --out suffix (.xlsx → xlsx), else html")
    sp.add_argument("--config", help="YAML file overriding pipeline/defaults.yaml (report targets, SLAs …)")
    wb = sp.add_mutually_exclusive_group()
    wb.add_argument("--database-url", metavar="URL",
                    help="also read the review workbench's database (read-only): reviews, disputes and appeals, inspectors, customer ids")
    wb.add_argument("--workbench", action="store_true",
                    help="the same with the configured database (env ZHIJIAN_DATABASE_URL, else workbench.database_url)")
    sp.add_argument("--title", default="质检报告", help="report title")
    sp.add_argument("--quiet", action="store_true")
    sp.set_defaults(func=cmd_report)


def _expand(patterns: list[str]) -> list[str]:
    from glob import glob

    out: list[str] = []
    for p in patterns:
        matches = sorted(glob(p)) if any(ch in p for ch in "*?[") else [p]
        out.extend(matches or [p])
    return out


def cmd_report(args) -> int:
    from ..config import ConfigError, load_config
    from .load import ReportInputError, load_runs

    t0 = time.perf_counter()
    fmt = args.format or ("xlsx" if args.out.lower().endswith(".xlsx") else "html")
    try:
        config = load_config(args.config)
        runs = load_runs(_expand(args.runs))
        workbench = None
        if getattr(args, "database_url", None) or getattr(args, "workbench", False):
            from ..workbench.database import database_url
            from .workbench import read_workbench

            workbench = read_workbench(database_url(config, getattr(args, "database_url", None)), config, set(runs.results["id"]),
                                       run_dirs=[r["path"] for r in runs.runs])
    except (ConfigError, ReportInputError) as e:
        print(f"zhijian: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    from .metrics import compute

    report = compute(runs, config, workbench=workbench)
    t1 = time.perf_counter()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "xlsx":
        from .xlsx import render_xlsx

        render_xlsx(report, out, int(config["report"]["max_detail_rows"]))
    else:
        from .charts import render_all
        from .html import render_html

        charts = render_all(report, config)
        tmp = out.with_name(f".{out.name}.partial")
        tmp.write_text(render_html(report, charts, title=args.title), encoding="utf-8")
        tmp.replace(out)
    t2 = time.perf_counter()
    if not args.quiet:
        m = report.meta
        print(
            f"zhijian: report over {len(m['runs'])} run(s), {m['coverage']['inspected']:,} conversations, {m['days']} day(s) "
            f"→ {out} ({fmt}; numbers {t1 - t0:.1f} s, rendering {t2 - t1:.1f} s)",
            file=sys.stderr,
        )
        for n in report.notes:
            print(f"zhijian: note: {n}", file=sys.stderr)
        print(headline(report, out))
    return EXIT_OK


def headline(report, out: Path) -> str:
    """What stdout says after a report: where it is, and the targets met or missed at a glance."""
    lines = [f"report: {out.resolve()}" + ("  (open it in a browser)" if out.suffix == ".html" else "")]
    seen: set[str] = set()
    for m in [*report.kpis, *((report.seed or {}).get("rows") or [])]:  # the seed KPIs with a target too (FCR, NPS, peak wait …)
        if m.target is None or m.value is None or m.key in seen:
            continue
        seen.add(m.key)
        unit = " s" if m.kind == "seconds" else ""
        shown = f"{100 * m.value:.1f} %" if m.kind == "pct" else f"{m.value:.1f}{unit}"
        goal = f"{100 * m.target:.0f} %" if m.kind == "pct" else f"{m.target:g}{unit}"
        lines.append(f"  {'✓' if m.met else '✗'} {m.label} {shown} (目标 {'≥' if m.direction == 'min' else '≤'} {goal})")
    return "\n".join(lines)
