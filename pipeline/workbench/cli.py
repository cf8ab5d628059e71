"""The workbench commands: ``zhijian db|users|tokens|load|export-labels|agreement|serve``.

Only argparse at import time: SQLAlchemy, Alembic, argon2 and the web app load inside the commands.
Every command takes ``--config FILE`` and ``--database-url URL`` (else env ``ZHIJIAN_DATABASE_URL``,
else ``workbench.database_url``) and brings the database to the current schema first.
"""

from __future__ import annotations

import functools
import sys

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def _err(message: str) -> int:
    print(f"zhijian: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _usage_errors(fn):
    """Errors that are the user's to fix (bad input, bad request) → exit 2 with the message."""

    @functools.wraps(fn)
    def wrapper(args) -> int:
        from .load import LoadError
        from .review_checks import WorkflowError
        from .users import UserError

        try:
            return fn(args)
        except (LoadError, UserError, WorkflowError) as e:
            return _err(str(e))

    return wrapper


def _config(args) -> dict:
    from ..config import load_config

    return load_config(getattr(args, "config", None))


def _url(args, config: dict) -> str:
    from .database import database_url

    return database_url(config, getattr(args, "database_url", None))


def _open(args, config: dict):
    from .database import open_database

    return open_database(_url(args, config))


# --------------------------------------------------------------------------- db


@_usage_errors
def cmd_db(args) -> int:
    from .database import current_revision, downgrade, head_revision, safe_url, upgrade

    config = _config(args)
    url = _url(args, config)
    if args.db_command == "upgrade":
        upgrade(url, args.revision, sql=args.sql)
        if not args.sql:
            print(f"zhijian: database {safe_url(url)} at revision {current_revision(url)}", file=sys.stderr)
    elif args.db_command == "downgrade":
        if not args.yes:
            # a downgrade drops tables — below 0001 the audit log and every review with it
            return _err(f"`db downgrade {args.revision}` drops tables and the data in them (to 'base': every table, the audit "
                        f"log too) in {safe_url(url)}; back the database up, then run it again with --yes")
        downgrade(url, args.revision)
        print(f"zhijian: database {safe_url(url)} at revision {current_revision(url) or '(empty)'}", file=sys.stderr)
    else:
        have, head = current_revision(url), head_revision()
        print(f"{safe_url(url)}: revision {have or '(empty)'}; code head {head}{'' if have == head else ' — run `zhijian db upgrade`'}")
    return EXIT_OK


# --------------------------------------------------------------------------- users, tokens


def read_password(args) -> str:
    """The password from stdin (``--password-stdin``: the first line) or, on a terminal, asked twice."""
    import getpass

    if args.password_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise SystemExit(_err("no terminal to ask the password on: pipe it in with --password-stdin "
                              "(e.g. `printf '%s\\n' \"$PW\" | zhijian users create NAME --role admin --password-stdin`)"))
    first = getpass.getpass(f"{args.username} 的密码: ")
    if getpass.getpass("再输入一次: ") != first:
        raise SystemExit(_err("the two passwords differ; nothing was created"))
    return first


@_usage_errors
def cmd_users(args) -> int:
    from sqlalchemy import func, select

    from .database import session_scope
    from .db import User
    from .users import UserError, create_user, set_active, set_password, sign_out_everywhere, unlock_user

    config = _config(args)
    _, factory = _open(args, config)
    if args.users_command == "list":
        with session_scope(factory) as s:
            rows = list(s.scalars(select(User).order_by(User.id)))
            print(f"{'id':>4}  {'username':<20} {'role':<10} {'agent_id':<10} {'team':<16} active  display name")
            for u in rows:
                print(f"{u.id:>4}  {u.username:<20} {u.role:<10} {u.agent_id or '':<10} {u.team or '':<16} {'yes' if u.active else 'no ':<6}  {u.display_name}")
        return EXIT_OK
    if args.users_command == "create":
        password = read_password(args)
        with session_scope(factory) as s:
            user = create_user(s, args.username, password, args.role, display_name=args.display_name or "",
                               agent_id=args.agent_id, team=args.team, config=config)
            print(f"zhijian: created {user.role} {user.username} (id {user.id})", file=sys.stderr)
        return EXIT_OK
    with session_scope(factory) as s:
        user = s.scalar(select(User).where(func.lower(User.username) == args.username.lower()))
        if user is None:
            raise UserError(f"no user {args.username!r}; `zhijian users list` shows who exists")
        if args.users_command == "set-password":
            set_password(s, user, read_password(args), config=config)
            print(f"zhijian: password of {user.username} changed", file=sys.stderr)
        elif args.users_command == "sign-out":
            ended = sign_out_everywhere(s, user)
            print(f"zhijian: ended {ended} login(s) of {user.username}", file=sys.stderr)
        elif args.users_command == "unlock":
            unlock_user(s, user.username)
            print(f"zhijian: {user.username} may log in again (failed logins forgiven)", file=sys.stderr)
        else:
            set_active(s, user, args.users_command == "activate")
            print(f"zhijian: {user.username} {'activated' if user.active else 'deactivated'}", file=sys.stderr)
    return EXIT_OK


@_usage_errors
def cmd_tokens(args) -> int:
    from sqlalchemy import select

    from .database import session_scope
    from .db import ApiToken, User
    from .users import UserError, create_api_token, revoke_api_token

    config = _config(args)
    _, factory = _open(args, config)
    with session_scope(factory) as s:
        if args.tokens_command == "create":
            user = None
            if args.user:
                user = s.scalar(select(User).where(User.username == args.user))
                if user is None:
                    raise UserError(f"--user {args.user}: no such user")
            token = create_api_token(s, args.name, user)
            print(token)
            print("zhijian: the token is shown only this once; store it now (the database keeps its sha256)", file=sys.stderr)
        elif args.tokens_command == "list":
            for t in s.scalars(select(ApiToken).order_by(ApiToken.id)):
                used = t.last_used_at.isoformat(timespec="seconds") if t.last_used_at else "never"
                print(f"{t.id:>4}  {t.name:<24} {'revoked' if t.revoked else 'active ':<8} last used {used}")
        else:
            row = s.get(ApiToken, args.id)
            if row is None:
                raise UserError(f"no token with id {args.id}; `zhijian tokens list` shows them")
            revoke_api_token(s, row)
            print(f"zhijian: token {row.id} ({row.name}) revoked", file=sys.stderr)
    return EXIT_OK


# --------------------------------------------------------------------------- load, labels, agreement, serve


@_usage_errors
def cmd_load(args) -> int:
    from .load import LoadError, load_run

    if args.inputs and len(args.run_dirs) > 1:
        raise LoadError("--inputs goes with one RUN_DIR at a time (it names that run's input files)")
    import time

    from ..progress import LOG_EVERY_S

    config = _config(args)
    _, factory = _open(args, config)
    last = [time.monotonic()]

    def progress(s) -> None:  # a log line every LOG_EVERY_S: a 100k load takes minutes
        if time.monotonic() - last[0] >= LOG_EVERY_S:
            last[0] = time.monotonic()
            print(f"zhijian: load: {s.conversations} conversations ({s.inserted} new, {s.updated} updated) in "
                  f"{s.elapsed_s:.0f} s", file=sys.stderr, flush=True)

    for run_dir in args.run_dirs:
        with factory() as session:
            s = load_run(session, run_dir, args.inputs, config=config, progress=progress)
            if s.cases_opened:
                from ..cases.notify import deliver_pending  # the webhook, after the cases are committed

                deliver_pending(session, config)
        older = f", {s.skipped_older} left to a newer run" if s.skipped_older else ""
        older += f"; {s.cases_opened} 差评 cases opened" if s.cases_opened else ""
        kept = f", {s.findings_kept} reviewed findings kept" if s.findings_kept else ""
        print(f"zhijian: {run_dir}: {s.conversations} conversations — {s.inserted} new, {s.updated} updated, "
              f"{s.unchanged} unchanged{older}; {s.findings_inserted} findings written{kept}; "
              f"{s.elapsed_s:.1f} s ({s.per_s:.0f} conversations/s)", file=sys.stderr)
    return EXIT_OK


@_usage_errors
def cmd_export_labels(args) -> int:
    from .database import session_scope
    from .labels import export_labels

    config = _config(args)
    _, factory = _open(args, config)
    with session_scope(factory) as s:
        out = export_labels(s, args.out, config=config, into_runs=args.into_runs, calibration_gold=args.calibration_gold)
    for name, n in out["files"].items():
        print(f"zhijian: {name}: {n} rows", file=sys.stderr)
    for run_dir in out["runs"]:
        print(f"zhijian: {run_dir}/verdicts.jsonl written (zhijian report {run_dir} shows the agreement)", file=sys.stderr)
    print(f"zhijian: {out['conversations']} reviewed conversations exported → {args.out}", file=sys.stderr)
    return EXIT_OK


@_usage_errors
def cmd_agreement(args) -> int:
    import json

    from .database import session_scope
    from .labels import format_agreement, score_agreement
    from .trust import format_trust, rule_trust, trust_summary

    config = _config(args)
    _, factory = _open(args, config)
    from .question_stats import format_question_agreement, question_agreement, question_agreement_rows

    with session_scope(factory) as s:
        table = rule_trust(s, config)
        scores = score_agreement(s, config=config)
        trust = trust_summary(s, table, config)
        questions = question_agreement_rows(question_agreement(s, config))
    if args.json:
        rules = table.astype(object).where(table.notna(), None).to_dict(orient="records")  # NaN is not JSON
        print(json.dumps({"rules": rules, "scores": scores, "trust": trust, "questions": questions}, ensure_ascii=False, indent=2))
    else:
        print(format_agreement(table, scores))
        print(format_trust(table, trust))
        print(format_question_agreement(questions))
    return EXIT_OK


def cmd_serve(args) -> int:
    from .app import serve

    config = _config(args)
    host = args.host or config["workbench"]["host"]
    port = args.port or config["workbench"]["port"]
    serve(config, host, port, _url(args, config), forwarded_allow_ips=args.forwarded_allow_ips)
    return EXIT_OK


def add_subcommands(sub) -> None:
    """Add the workbench commands to the ``zhijian`` parser (pipeline/cli.py)."""

    def common(sp):
        sp.add_argument("--config", help="YAML file overriding pipeline/defaults.yaml")
        sp.add_argument("--database-url", help="SQLAlchemy URL (default: env ZHIJIAN_DATABASE_URL, else workbench.database_url)")

    sp = sub.add_parser("db", help="the workbench database: upgrade (create / migrate), downgrade, current revision")
    dbsub = sp.add_subparsers(dest="db_command", required=True)
    p = dbsub.add_parser("upgrade", help="migrate to the newest schema (creates the tables on an empty database)")
    p.add_argument("--revision", default="head")
    p.add_argument("--sql", action="store_true", help="print the SQL instead of running it")
    common(p)
    p = dbsub.add_parser("downgrade", help="migrate back to REVISION ('base' drops every table); needs --yes")
    p.add_argument("revision")
    p.add_argument("--yes", action="store_true", help="really drop what the downgrade drops (there is no undo)")
    common(p)
    p = dbsub.add_parser("current", help="the revision the database is at")
    common(p)
    sp.set_defaults(func=cmd_db)

    sp = sub.add_parser("users", help="workbench users: create (the first admin too), list, set-password, (de)activate, sign-out, unlock")
    usub = sp.add_subparsers(dest="users_command", required=True)
    p = usub.add_parser("create", help="add a user; the password is asked (or read with --password-stdin)")
    p.add_argument("username")
    p.add_argument("--role", required=True, help="admin | supervisor (质检主管) | inspector (质检员) | agent (坐席)")
    p.add_argument("--agent-id", help="role agent: the agent.id of their conversations, e.g. A017")
    p.add_argument("--team", help="team name, e.g. 售后一组")
    p.add_argument("--display-name", help="the name pages show (default: the username)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    common(p)
    p = usub.add_parser("list", help="every user with role, agent id, team and whether active")
    common(p)
    p = usub.add_parser("set-password", help="set a new password (asked, or --password-stdin)")
    p.add_argument("username")
    p.add_argument("--password-stdin", action="store_true")
    common(p)
    for name, what in (("deactivate", "block a user from logging in and end their logins (history stays)"),
                       ("activate", "allow a deactivated user again"),
                       ("sign-out", "end every login of a user now (a lost laptop, a shared screen)"),
                       ("unlock", "lift the lock after too many failed logins, before its window has passed")):
        p = usub.add_parser(name, help=what)
        p.add_argument("username")
        common(p)
    sp.set_defaults(func=cmd_users)

    sp = sub.add_parser("tokens", help="bearer tokens for POST /api/v1/inspect: create (printed once), list, revoke")
    tsub = sp.add_subparsers(dest="tokens_command", required=True)
    p = tsub.add_parser("create", help="a new token, printed once on stdout")
    p.add_argument("name", help="what uses it, e.g. crm-prod")
    p.add_argument("--user", help="the user the token acts for (optional)")
    common(p)
    p = tsub.add_parser("list")
    common(p)
    p = tsub.add_parser("revoke")
    p.add_argument("id", type=int)
    common(p)
    sp.set_defaults(func=cmd_tokens)

    sp = sub.add_parser("load", help="import run directories (results + transcripts) into the workbench; idempotent")
    sp.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="--out directory of zhijian inspect / nightly")
    sp.add_argument("--inputs", nargs="+", metavar="FILE", help="the run's input files at a new location (matched by sha256)")
    common(sp)
    sp.set_defaults(func=cmd_load)

    sp = sub.add_parser("export-labels", help="reviewers' verdicts and corrected labels as training data")
    sp.add_argument("--out", required=True, help="output directory")
    sp.add_argument("--into-runs", action="store_true", help="also write each run's verdicts.jsonl into its RUN_DIR (for zhijian report)")
    sp.add_argument("--calibration-gold", action="store_true",
                    help="also write calibration_gold.jsonl: calibration sessions' consensus answers a supervisor accepted as gold")
    common(sp)
    sp.set_defaults(func=cmd_export_labels)

    sp = sub.add_parser("agreement", help="per-rule precision and trust status from the verdicts, the rewrite list; machine vs human scores")
    sp.add_argument("--json", action="store_true", help="JSON instead of a table")
    common(sp)
    sp.set_defaults(func=cmd_agreement)

    sp = sub.add_parser("serve", help="start the review workbench web app")
    sp.add_argument("--host", help="default: workbench.host")
    sp.add_argument("--port", type=int, help="default: workbench.port")
    sp.add_argument("--forwarded-allow-ips", metavar="IPS",
                    help="reverse proxies whose X-Forwarded-For is believed, e.g. 127.0.0.1 (default: workbench.forwarded_allow_ips; "
                         "none: the connecting address is the client)")
    common(sp)
    sp.set_defaults(func=cmd_serve)
