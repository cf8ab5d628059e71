"""``zhijian cases list | export | import | deliver | evaluate-reasons`` (issue 19, docs/CASES.md).

Only argparse at import time. The database commands take ``--config`` and ``--database-url`` like the
other workbench commands and migrate first.
"""

from __future__ import annotations

import sys

from ..textwidth import pad

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def _err(message: str) -> int:
    print(f"zhijian: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _open(args):
    from ..config import load_config
    from ..workbench.database import database_url, open_database

    config = load_config(getattr(args, "config", None))
    _, factory = open_database(database_url(config, getattr(args, "database_url", None)))
    return config, factory


def cmd_cases(args) -> int:
    from ..workbench.review_checks import WorkflowError
    from .evaluate import EvaluationError

    try:
        return {"list": _list, "export": _export, "import": _import, "deliver": _deliver,
                "evaluate-reasons": _evaluate}[args.cases_command](args)
    except (WorkflowError, EvaluationError) as e:
        return _err(str(e))


def _rows(args, session):
    from . import service

    return service.list_cases(session, overdue_only=getattr(args, "overdue", False), agent=getattr(args, "agent", None),
                              state=getattr(args, "state", None))


def _list(args) -> int:
    from . import service

    config, factory = _open(args)
    with factory() as session:
        rows = _rows(args, session)
        if not rows:
            print("no cases" + (" overdue" if args.overdue else ""))
            return EXIT_OK
        print(f"{'id':>5}  {pad('state', 12)} {pad('agent', 8)} {pad('suggested', 12)} {pad('received (UTC)', 16)} "
              f"{pad('close due (UTC)', 16)} overdue")
        for c, late in rows:
            print(f"{c.id:>5}  {pad(service.STATE_LABELS[c.state], 12)} {pad(c.agent_id or '—', 8)} "
                  f"{pad(c.suggested_reason or '', 12)} {service.aware(c.received_at):%Y-%m-%d %H:%M} "
                  f"{service.aware(c.close_due):%Y-%m-%d %H:%M} {'逾期:' + '、'.join(late) if late else ''}")
        print(f"{len(rows)} cases, {sum(1 for _, late in rows if late)} overdue")
    return EXIT_OK


def _export(args) -> int:
    import csv
    import json

    from . import export

    config, factory = _open(args)
    with factory() as session:
        rows = export.export_rows(_rows(args, session))
    out = open(args.out, "w", encoding="utf-8-sig" if args.format == "csv" else "utf-8", newline="") if args.out else sys.stdout
    try:
        if args.format == "jsonl":
            for r in rows:
                out.write(json.dumps(r, ensure_ascii=False) + "\n")
        else:
            w = csv.DictWriter(out, fieldnames=list(export.EXPORT_COLUMNS))
            w.writeheader()
            w.writerows(rows)
    finally:
        if args.out:
            out.close()
    if args.out:
        print(f"zhijian: {len(rows)} cases → {args.out}", file=sys.stderr)
    return EXIT_OK


def _import(args) -> int:
    from . import importing, notify

    config, factory = _open(args)
    with factory() as session:
        s = importing.import_reviews(session, args.file, config)
        session.commit()
        sent = notify.deliver_pending(session, config)
    for e in s.errors:
        print(f"zhijian: {args.file}: {e}", file=sys.stderr)
    print(f"zhijian: {args.file}: {s.rows} rows — {s.opened} cases opened, {s.existing} already there; matched "
          f"{s.matched_by_id} by conversation id, {s.matched_by_customer} by customer and time, {s.unmatched} without a "
          f"conversation" + (f"; webhook: {sent['delivered']} delivered, {sent['failed']} failed" if any(sent.values()) else ""),
          file=sys.stderr)
    return EXIT_FAILURE if s.errors and not s.opened and not s.existing else EXIT_OK


def _deliver(args) -> int:
    from . import notify

    config, factory = _open(args)
    with factory() as session:
        sent = notify.deliver_pending(session, config)
    print(f"zhijian: webhook: {sent['delivered']} delivered, {sent['failed']} failed", file=sys.stderr)
    return EXIT_FAILURE if sent["failed"] else EXIT_OK


def _evaluate(args) -> int:
    import json

    from ..config import load_config
    from .evaluate import evaluate_reasons, format_figures

    config = load_config(args.config)
    figures = evaluate_reasons(args.set, args.gold, config)
    if args.json:
        print(json.dumps({k: v for k, v in figures.items() if k != "rows" or args.rows}, ensure_ascii=False, indent=2))
    else:
        print(format_figures(figures))
    return EXIT_OK


def add_subcommands(sub) -> None:
    def common(sp):
        sp.add_argument("--config", help="YAML file overriding pipeline/defaults.yaml")
        sp.add_argument("--database-url", help="SQLAlchemy URL (default: env ZHIJIAN_DATABASE_URL, else workbench.database_url)")

    sp = sub.add_parser("cases", help="差评 cases (seed 004): list, export, import third-party reviews / complaints, "
                                      "deliver webhooks, evaluate the suggested reason class")
    csub = sp.add_subparsers(dest="cases_command", required=True)
    for name, what in (("list", "cases, overdue first"), ("export", "cases as CSV (Excel-ready) or JSONL; review text masked")):
        p = csub.add_parser(name, help=what)
        p.add_argument("--overdue", action="store_true", help="only cases with a deadline passed")
        p.add_argument("--agent", metavar="A", help="only this agent id")
        p.add_argument("--state", help="one state (open, accounted, investigating, responsibility, measures, followed_up, "
                                       "closed) or 'active' (not closed)")
        if name == "export":
            p.add_argument("--format", choices=("csv", "jsonl"), default="csv")
            p.add_argument("--out", help="file (default: stdout)")
        common(p)
    p = csub.add_parser("import", help="open cases from a CSV / JSONL of third-party reviews and complaints "
                                       "(columns ref, source, conversation_id, customer_id, agent_id, at, rating, text)")
    p.add_argument("file")
    common(p)
    p = csub.add_parser("deliver", help="send webhook notices still pending (after a failure or a crash)")
    common(p)
    p = csub.add_parser("evaluate-reasons", help="inspect SET, suggest a reason class, compare with GOLD: accuracy, κ, confusion")
    p.add_argument("set", help="conversations (JSONL), e.g. data/cases/reason_set.jsonl")
    p.add_argument("gold", help="{id, reason, also, agent_at_fault, note} per line, e.g. data/cases/reason_gold.jsonl")
    p.add_argument("--json", action="store_true")
    p.add_argument("--rows", action="store_true", help="with --json: every conversation's suggestion and evidence too")
    p.add_argument("--config", help="YAML file overriding pipeline/defaults.yaml")
    sp.set_defaults(func=cmd_cases)
