"""The ``zhijian`` command.

Exit codes: 0 success · 1 failure (an unexpected error; a re-run resumes where it stopped) ·
2 usage (bad arguments, a missing or malformed input, configuration or rule file, an output
directory holding another run) · 3 finished, but some records were rejected (see rejects.jsonl).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_REJECTS = 0, 1, 2, 3


def _columns(pairs: list[str] | None) -> dict[str, str] | None:
    if not pairs:
        return None
    mapping = {}
    for pair in pairs:
        if "=" not in pair:
            raise SystemExit(_usage(f"--column expects OURS=THEIRS (e.g. conversation_id=会话ID), got {pair!r}"))
        ours, theirs = pair.split("=", 1)
        mapping[ours.strip()] = theirs.strip()
    return mapping


def _usage(message: str) -> int:
    print(f"zhijian: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _config(args, **overrides):
    from .config import load_config

    extra: dict = {}
    if getattr(args, "segmenter", None):
        extra["segmenter"] = {"backend": args.segmenter}
    for k, v in overrides.items():
        extra.setdefault(k, {}).update(v)
    return load_config(args.config, extra or None)


def cmd_inspect(args) -> int:
    config = _config(args)
    mask = config["privacy"]["mask"] and not args.no_mask
    return _inspect(args.inputs, args.out, config, mask, args)


def _inspect(inputs: list[str], out: str, config: dict, mask: bool, args) -> int:
    from .ingest import expand_inputs
    from .progress import Progress, count_records_upfront
    from .runner import run_inspection

    progress = Progress(count_records_upfront(expand_inputs(inputs)), quiet=args.quiet)
    try:
        manifest = run_inspection(
            inputs, out, config, mask=mask, table_columns=_columns(getattr(args, "column", None)), progress=progress,
            workers=args.workers, engine=args.engine, scheduler=args.scheduler, restart=args.restart,
            merge_jsonl=False if args.no_merge_jsonl else None,
        )
    finally:
        progress.close()
    c = manifest["counts"]
    if not args.quiet:
        from .summary import run_summary

        resumed = f" ({manifest['resumed_partitions']} partitions resumed)" if manifest["resumed_partitions"] else ""
        # the log line (stderr: cron logs it) and what a person reads next (stdout)
        print(
            f"zhijian: {c['read']} read = {c['inspected']} inspected + {c['rejected']} rejected; "
            f"{c['review_needed']} need review; {c['findings']} findings; {manifest['elapsed_s']:.1f} s "
            f"({manifest['startup_s']:.1f} s start-up, then {manifest['work_conversations_per_s']} conversations/s; "
            f"{manifest['workers']} worker{'s' if manifest['workers'] != 1 else ''}){resumed} → {out}",
            file=sys.stderr,
        )
        if manifest.get("workers_note"):
            print(f"zhijian: {manifest['workers_note']}", file=sys.stderr)
        print(run_summary(out, manifest))
    return EXIT_REJECTS if c["rejected"] else EXIT_OK


def cmd_nightly(args) -> int:
    """Inspect one day's conversations from the configured layout into that day's run folder."""
    import datetime as dt
    import glob

    from .config import working_path

    try:
        day = dt.date.fromisoformat(args.date).isoformat() if args.date else (dt.date.today() - dt.timedelta(days=1)).isoformat()
    except ValueError:
        return _usage(f"--date expects YYYY-MM-DD, got {args.date!r}")
    config = _config(args)
    incoming = str(working_path(config["nightly"]["incoming"].format(date=day))) if not args.incoming else args.incoming.format(date=day)
    runs = str(working_path(config["nightly"]["runs"].format(date=day))) if not args.runs else args.runs.format(date=day)
    if not glob.glob(incoming):
        return _usage(f"nothing to inspect for {day}: no file matches {incoming} (nightly.incoming in the configuration)")
    mask = config["privacy"]["mask"] and not args.no_mask
    if not args.quiet:
        print(f"zhijian nightly {day}: {incoming} → {runs}", file=sys.stderr)
    code = _inspect([incoming], runs, config, mask, args)
    if code in (EXIT_OK, EXIT_REJECTS) and (args.purge or config["retention"]["purge_after_nightly"]):
        # unattended: retention.purge_after_nightly / --purge is the consent; the runs are the ones nightly writes
        return _purge(config, runs=[args.runs] if args.runs else None, yes=True) or code
    return code


def cmd_purge(args) -> int:
    """Delete personal data past the retention period (pipeline/retention.py)."""
    return _purge(_config(args), args.older_than, args.runs, args.database_url, not args.no_database,
                  dry_run=args.dry_run, yes=args.yes)


def _purge(config: dict, older_than: str | None = None, runs: list[str] | None = None, database_url: str | None = None,
           workbench: bool = True, dry_run: bool = False, yes: bool = False) -> int:
    from . import retention

    plan = retention.plan(config, older_than, runs, database_url, workbench)
    print("\n".join(retention.describe(plan, dry_run)))
    if dry_run:
        return EXIT_OK
    if plan.nothing_to_do:
        print("zhijian purge: nothing past the retention period; nothing deleted")
        return EXIT_OK
    if not yes:
        if not sys.stdin.isatty():
            return _usage("purge deletes the data listed above and needs confirmation: add --yes "
                          "(or --dry-run to only list it); nothing was deleted")
        if input("删除以上数据? 不可恢复。输入 yes 确认: ").strip().lower() != "yes":
            print("zhijian purge: not confirmed; nothing deleted")
            return EXIT_USAGE
    print(retention.describe_done(retention.execute(plan, config)))
    return EXIT_OK


def cmd_check_lexicons(args) -> int:
    from .config import resolve_path
    from .run import Inspector

    config = _config(args)
    inspector = Inspector(config)  # loading validates every file (fails loudly with file:line)
    failures = inspector.lexicons.check_examples()
    n_entries = len(inspector.lexicons.entries)
    examples = sum(len(e.examples.get("hit", [])) + len(e.examples.get("miss", [])) for e in inspector.lexicons.entries.values())
    for name, lx in sorted(inspector.lexicons.lexicons.items()):
        print(f"  {name:<20} v{lx.version:<3} {len(lx.entries):>4} entries  {lx.path.relative_to(resolve_path('.')) if lx.path.is_relative_to(resolve_path('.')) else lx.path}")
    print(f"  rules: {len(inspector.rules.rules)} ({', '.join(r.id for r in inspector.rules.rules)})")
    unpriced = inspector.scorecard.unpriced_rules({r.id for r in inspector.rules.rules})
    print(f"  scorecard: {inspector.scorecard.version}; {len(inspector.scorecard.items)} items" + (f"; rules with no price: {sorted(unpriced)}" if unpriced else ""))
    for line in failures:
        print(f"FAIL {line}")
    print(f"{n_entries} entries, {examples} examples checked, {len(failures)} failed")
    return EXIT_FAILURE if failures else EXIT_OK


def cmd_explain(args) -> int:
    from .explain import explain

    config = _config(args)
    mask = config["privacy"]["mask"] and not args.no_mask
    return explain(args.input, args.id, config, mask=mask, table_columns=_columns(args.column))


def cmd_convert(args) -> int:
    from .convert import convert_csds

    if args.format != "csds":
        return _usage(f"unknown format {args.format!r}; supported: csds")
    counts = convert_csds(Path(args.src), Path(args.out))
    print(f"zhijian: converted {counts} → {args.out}", file=sys.stderr)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="zhijian", description="智能质检: inspect Chinese customer-service conversations")
    sub = p.add_subparsers(dest="command", required=True)

    def run_options(sp):
        sp.add_argument("--workers", type=int, help="worker processes (default: run.workers, 0 = all cores)")
        sp.add_argument("--engine", choices=["local", "dask"], help="local processes (default) or a Dask cluster")
        sp.add_argument("--scheduler", help="Dask scheduler address tcp://HOST:PORT (default: a LocalCluster)")
        sp.add_argument("--restart", action="store_true", help="start over: discard what the output folder holds (otherwise the same run resumes, a different one is refused)")
        sp.add_argument("--no-merge-jsonl", action="store_true", help="keep results as per-partition files in parts/ only")
        sp.add_argument("--quiet", action="store_true")

    def common(sp):
        sp.add_argument("--config", help="YAML file overriding pipeline/defaults.yaml")
        sp.add_argument("--segmenter", choices=["rjieba", "jieba"], help="tokenizer backend (default from config: rjieba)")

    sp = sub.add_parser("inspect", help="inspect conversations and write results, findings, rejects and a manifest")
    sp.add_argument("inputs", nargs="+", metavar="INPUT", help="JSONL (.jsonl, .jsonl.gz), CSV or Parquet long tables; globs allowed")
    sp.add_argument("--out", required=True, help="output directory")
    sp.add_argument("--no-mask", action="store_true", help="keep phone / ID / bank-card numbers and e-mail unmasked in the evidence")
    sp.add_argument("--column", action="append", metavar="OURS=THEIRS", help="map a long-table column, e.g. text=内容 (repeatable)")
    run_options(sp)
    common(sp)
    sp.set_defaults(func=cmd_inspect)

    sp = sub.add_parser("nightly", help="inspect one day's conversations (nightly.incoming) into its run folder (nightly.runs)",
                        description="Inspect one day's conversations: the files nightly.incoming names for the date "
                                    "(default incoming/DATE/*.jsonl, from the current directory) into the run folder "
                                    "nightly.runs names (default runs/DATE/). Run it again and it resumes; cron: "
                                    "15 2 * * * cd /srv/zhijian && zhijian nightly")
    sp.add_argument("--date", help="YYYY-MM-DD (default: yesterday)")
    sp.add_argument("--incoming", help="override nightly.incoming, e.g. 'incoming/{date}/*.jsonl'")
    sp.add_argument("--runs", help="override nightly.runs, e.g. 'runs/{date}'")
    sp.add_argument("--no-mask", action="store_true", help="keep personal data unmasked in the evidence and rating comments")
    sp.add_argument("--purge", action="store_true", help="then `zhijian purge --yes` (as retention.purge_after_nightly: true)")
    run_options(sp)
    common(sp)
    sp.set_defaults(func=cmd_nightly)

    sp = sub.add_parser("purge", help="delete personal data past the retention period (run folders, workbench); keep aggregates",
                        description="Delete what is older than the retention period: the personal data in run folders "
                        "(results, findings, rejects, parts, verdicts; manifest.json and a written aggregates.json stay) "
                        "and the workbench's conversations with their findings, reviews, verdicts and disputes, emptied "
                        "runs and old login attempts. The audit log is kept and gets one retention.purge entry.")
    sp.add_argument("--older-than", metavar="AGE", help="e.g. 180d or 26w (default: retention.older_than)")
    sp.add_argument("--runs", nargs="+", metavar="GLOB_OR_DIR",
                    help="run folders, folders of runs or globs, e.g. 'runs/*' (default: retention.runs, else nightly.runs)")
    sp.add_argument("--database-url", help="workbench database (default: env ZHIJIAN_DATABASE_URL, else workbench.database_url)")
    sp.add_argument("--no-database", action="store_true", help="leave the workbench database alone")
    sp.add_argument("--dry-run", action="store_true", help="list what would be deleted; delete nothing")
    sp.add_argument("--yes", action="store_true", help="do not ask for confirmation (needed when not on a terminal)")
    sp.add_argument("--config", help="YAML file overriding pipeline/defaults.yaml")
    sp.set_defaults(func=cmd_purge)

    sp = sub.add_parser("check-lexicons", help="validate lexicons, rules and scorecard and run every entry's examples")
    common(sp)
    sp.set_defaults(func=cmd_check_lexicons)

    sp = sub.add_parser("explain", help="print one conversation with its findings highlighted and the score worked out")
    sp.add_argument("input")
    sp.add_argument("--id", required=True)
    sp.add_argument("--no-mask", action="store_true")
    sp.add_argument("--column", action="append", metavar="OURS=THEIRS")
    common(sp)
    sp.set_defaults(func=cmd_explain)

    sp = sub.add_parser("convert", help="convert a public dataset to the SPEC input JSONL")
    sp.add_argument("format", help="csds")
    sp.add_argument("src", help="e.g. ../shared/data/raw/csds_topic/val.json")
    sp.add_argument("--out", required=True)
    sp.set_defaults(func=cmd_convert)
    from .report.cli import add_subcommands as add_report_subcommands  # light: pandas/matplotlib load only when `report` runs
    add_report_subcommands(sub)
    __import__("pipeline.models.cli", fromlist=["add_subcommands"]).add_subcommands(sub)  # train, models (issue 3)
    __import__("pipeline.workbench.cli", fromlist=["add_subcommands"]).add_subcommands(sub)
    __import__("pipeline.gold.cli", fromlist=["add_subcommands"]).add_subcommands(sub)  # evaluate (issue 10)  # db, users, tokens, load, export-labels, agreement, serve (issue 5)
    __import__("pipeline.sampling.cli", fromlist=["add_subcommands"]).add_subcommands(sub)  # sample, estimate (issue 14)
    __import__("pipeline.cases.cli", fromlist=["add_subcommands"]).add_subcommands(sub)  # cases (issue 19)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .config import ConfigError

    try:
        from .ingest import InputError
    except ImportError:  # pragma: no cover — ingest is part of the package
        InputError = ConfigError  # type: ignore[misc,assignment]
    from .runner import RunDirError

    try:
        return args.func(args)
    except (ConfigError, InputError, RunDirError) as e:
        return _usage(str(e))
    except KeyboardInterrupt:
        print("zhijian: interrupted", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as e:  # noqa: BLE001
        import traceback

        traceback.print_exc()
        print(f"zhijian: failed: {type(e).__name__}: {e}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
