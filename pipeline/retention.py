"""Retention: find what is past the retention period and delete its personal data (``zhijian purge``).

Personal data lives in two places, and this module is the only one that deletes it:

* **Run folders** (what ``zhijian inspect --out`` and ``zhijian nightly`` write). A folder is past
  the period when its ``manifest.json`` ``started_at`` day is before the cutoff. Deleted:
  ``PERSONAL_ENTRIES`` (results, findings, rejects, per-partition files, verdicts) and their
  ``.NAME.partial`` leftovers. Kept: ``manifest.json`` (inputs' paths, sizes and hashes, the
  configuration, counts — no conversation content) and ``aggregates.json``, written before
  anything is deleted: the report's KPIs per day and in total, grade, rule, team, channel and
  issue-type counts, reviewers' verdict counts — no conversation, customer or agent appears in it.
  A folder without a manifest, a symbolic link, and anything zhijian does not write are left alone.
* **The workbench database**: conversations whose ``day`` is before the cutoff (a conversation
  without a day: by its run's ``started_at``) with their findings, reviews, verdicts and disputes
  (ON DELETE CASCADE), ``runs`` rows left without conversations, ``login_attempts`` older than
  the cutoff, and bad-review ``cases`` received before it (the review text, the agent's account, the
  contact log; with their measures and notices) and ``webhook_deliveries`` created before it. ``audit_log`` is append-only and is never touched: each purge adds one
  ``retention.purge`` entry with the cutoff and the counts.

``plan`` only looks; ``execute`` deletes what a plan found. The command (confirmation, printing)
is in ``pipeline/cli.py``.
"""

from __future__ import annotations

import glob
import itertools
import os
import re
import shutil
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

from .config import ConfigError, working_path

MANIFEST = "manifest.json"
AGGREGATES = "aggregates.json"
AGGREGATES_FORMAT = "zhijian-aggregates/1"
# what a run folder holds about single conversations (pipeline/io/writers.py RunLayout, verdicts: workbench/labels.py)
PERSONAL_ENTRIES = ("results.jsonl", "rejects.jsonl", "results.parquet", "findings.parquet", "parts",
                    "verdicts.jsonl", "verdicts.parquet")
KEPT_ENTRIES = (MANIFEST, AGGREGATES)
_AGE = re.compile(r"^\s*(\d+)\s*([dw])\s*$", re.IGNORECASE)
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}")
_UNIT_DAYS = {"d": 1, "w": 7}


class RetentionError(ConfigError):
    """A retention setting or argument that can't be used; the message names it and shows a valid one."""


def parse_age(value: Any, what: str) -> int:
    """``180d`` / ``26w`` → days (at least 1). ``what`` names the flag or key in the error."""
    m = _AGE.match(str(value)) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    if not m or int(m.group(1)) < 1:
        raise RetentionError(f"{what} expects a number of days or weeks, e.g. 180d or 26w; got {value!r}")
    return int(m.group(1)) * _UNIT_DAYS[m.group(2).lower()]


def _day_of(value: Any) -> date | None:
    if not isinstance(value, str) or not _DAY.match(value):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


# ------------------------------------------------------------------------------------------------ run folders
@dataclass
class RunFolder:
    path: Path
    state: str  # past (personal data to delete) | recent (kept) | purged (nothing left to delete) | skipped
    reason: str = ""  # why skipped
    day: date | None = None  # the manifest's started_at day
    personal: list[Path] = field(default_factory=list)  # what a purge deletes
    bytes: int = 0
    inputs: list[str] = field(default_factory=list)  # the manifest's input paths (not deleted: outside the roots)


def run_patterns(config: dict, runs: list[str] | None) -> list[str]:
    """Where to look: ``--runs`` as given (relative to the current directory), else
    ``retention.runs``, else ``nightly.runs`` (those two relative to the repository root, as nightly
    writes them). ``{date}`` stands for any day."""
    if runs:
        return [r.replace("{date}", "*") for r in runs]
    configured = config["retention"]["runs"] or config["nightly"]["runs"]
    return [str(working_path(configured.replace("{date}", "*")))]


def _is_glob(part: str) -> bool:
    return any(ch in part for ch in "*?[")


def _root_of(pattern: str) -> Path:
    """The folder a glob can't leave: its parts before the first wildcard."""
    fixed = list(itertools.takewhile(lambda part: not _is_glob(part), Path(pattern).parts))
    return Path(*fixed) if fixed else Path(".")


def _candidates(pattern: str) -> tuple[Path, list[Path]]:
    """(root, folders that may be runs). A folder with a manifest is itself a run; a folder without
    one is a root whose sub-folders are looked at; a glob's matches are looked at."""
    if _is_glob(pattern):
        return _root_of(pattern), [Path(p) for p in sorted(glob.glob(pattern))]
    p = Path(pattern)
    if not p.is_dir():
        return p, []
    if (p / MANIFEST).exists():
        return p, [p]
    return p, sorted(p.iterdir())


def _size(path: Path) -> int:
    if path.is_symlink() or not path.is_dir():
        return path.lstat().st_size
    total = 0
    for dirpath, _dirs, files in os.walk(path, followlinks=False):
        total += sum(os.lstat(os.path.join(dirpath, f)).st_size for f in files)
    return total


def classify(folder: Path, root: Path, cutoff: date) -> RunFolder:
    """What a purge with ``cutoff`` would do to ``folder`` (found under ``root``)."""
    if folder.is_symlink():
        return RunFolder(folder, "skipped", f"a symbolic link (→ {os.readlink(folder)}): not followed")
    if not folder.resolve().is_relative_to(root.resolve()):
        return RunFolder(folder, "skipped", f"resolves outside {root}: not followed")
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file() or manifest_path.is_symlink():
        return RunFolder(folder, "skipped", "no manifest.json: not a zhijian run folder, left alone")
    try:
        manifest = orjson.loads(manifest_path.read_bytes())
    except (orjson.JSONDecodeError, OSError) as e:
        return RunFolder(folder, "skipped", f"manifest.json unreadable ({e}): left alone")
    day = _day_of(manifest.get("started_at")) if isinstance(manifest, dict) else None
    if day is None:
        return RunFolder(folder, "skipped", "manifest.json has no started_at date: left alone")
    if day >= cutoff:
        return RunFolder(folder, "recent", day=day)
    names = [*PERSONAL_ENTRIES, *(f".{n}.partial" for n in PERSONAL_ENTRIES)]
    personal = [folder / n for n in names if os.path.lexists(folder / n)]
    inputs = [i["path"] for i in manifest.get("inputs") or [] if isinstance(i, dict) and isinstance(i.get("path"), str)]
    return RunFolder(folder, "past" if personal else "purged", day=day, personal=personal,
                     bytes=sum(_size(p) for p in personal), inputs=inputs)


def find_run_folders(patterns: list[str], cutoff: date) -> tuple[list[RunFolder], list[str]]:
    """Every folder the patterns name, classified; and notes (a pattern that matched nothing)."""
    folders: list[RunFolder] = []
    notes: list[str] = []
    seen: set[Path] = set()
    for pattern in patterns:
        root, found = _candidates(pattern)
        dirs = [f for f in found if f.is_dir() or f.is_symlink()]
        if not dirs:
            notes.append(f"no run folders at {pattern}")
        for f in dirs:
            key = f.absolute()
            if key not in seen:
                seen.add(key)
                folders.append(classify(f, root, cutoff))
    return folders, notes


def run_aggregates(run_dir: Path, config: dict) -> dict[str, Any]:
    """What reports need from a run once its conversations are gone (no conversation, customer or
    agent in it): the report's KPI table per day and in total with its denominators, and counts by
    grade, rule, team, channel and issue type per day, plus reviewers' verdict counts per rule."""
    from .report.load import ReportInputError, load_runs
    from .report.measures import conversation_flags, group_kpis

    manifest = orjson.loads((run_dir / MANIFEST).read_bytes())
    out: dict[str, Any] = {
        "format": AGGREGATES_FORMAT,
        "run": {k: manifest.get(k) for k in ("started_at", "finished_at", "status", "counts", "versions", "mask")},
    }
    try:
        rs = load_runs([run_dir])
    except ReportInputError as e:
        out["note"] = f"no per-day aggregates: {e}"
        return out
    conv = conversation_flags(rs, config)
    conv["day"] = conv["day"].fillna("unknown")
    conv["agent_team"] = conv["agent_team"].fillna("unknown")
    f = rs.findings.merge(conv[["id", "day"]], left_on="conversation_id", right_on="id", how="inner")

    def counts(frame, by: list[str]) -> dict[str, dict[str, int]]:
        table: dict[str, dict[str, int]] = {}
        for key, n in frame.groupby(by, dropna=True).size().items():
            table.setdefault(key[0], {})[str(key[1])] = int(n)
        return table

    daily = group_kpis(conv, "day")
    daily["review_needed"] = conv.groupby("day")["review_needed"].sum().astype(int)
    team_kpis = group_kpis(conv, ["day", "agent_team"])[["conversations", "scored_n", "avg_score", "fatal"]]
    by_day = {
        "grades": counts(conv, ["day", "grade"]),
        "channels": counts(conv, ["day", "channel"]),
        "issue_types": counts(conv, ["day", "issue_type"]),
        "rule_findings": counts(f, ["day", "rule"]),
        "rule_conversations": counts(f.drop_duplicates(["conversation_id", "rule"]), ["day", "rule"]),
    }
    out["daily"] = []
    for day, row in daily.iterrows():
        rec = {"day": day, **_jsonable_row(row)}
        rec.update({k: v.get(day, {}) for k, v in by_day.items()})
        rec["teams"] = {team: _jsonable_row(r) for (d, team), r in team_kpis.iterrows() if d == day}
        out["daily"].append(rec)
    total = group_kpis(conv).iloc[0]
    out["total"] = {**_jsonable_row(total), "review_needed": int(conv["review_needed"].sum())}
    if rs.verdicts is not None:
        out["verdicts"] = counts(rs.verdicts.dropna(subset=["rule"]), ["rule", "verdict"])
    return out


def _jsonable_row(row) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        v = v.item() if hasattr(v, "item") else v
        out[str(k)] = None if isinstance(v, float) and v != v else v  # NaN: no data (as in the report)
    return out


def purge_run_folder(folder: RunFolder, cutoff: date, older_than_days: int, config: dict) -> list[str]:
    """Write ``aggregates.json`` (unless an earlier purge did), then delete the folder's personal
    data. A symbolic link among them is removed, never followed. Returns the names deleted."""
    from .io.writers import write_atomic

    target = folder.path / AGGREGATES
    if not target.exists():
        aggregates = run_aggregates(folder.path, config)
        aggregates["purge"] = {
            "purged_at": datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds"),
            "cutoff": cutoff.isoformat(), "older_than_days": older_than_days,
            "deleted": [p.name for p in folder.personal], "kept": list(KEPT_ENTRIES),
        }
        write_atomic(target, orjson.dumps(aggregates, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
    for p in folder.personal:
        if p.is_symlink() or not p.is_dir():
            p.unlink()
        else:
            shutil.rmtree(p)
    return [p.name for p in folder.personal]


# ------------------------------------------------------------------------------------------------ workbench
WORKBENCH_COUNTS = ("conversations", "findings", "reviews", "verdicts", "disputes", "runs", "login_attempts", "web_sessions",
                    "cases", "webhook_deliveries")


def _old_conversations(session, cutoff: date):
    """The WHERE clause of the conversations past ``cutoff``."""
    from sqlalchemy import and_, or_, select

    from .workbench.db import Conversation, Run

    old_runs = [rid for rid, started, loaded in session.execute(select(Run.id, Run.started_at, Run.loaded_at))
                if (_day_of(started) or (loaded.date() if loaded else cutoff)) < cutoff]
    return or_(Conversation.day < cutoff.isoformat(),
               and_(Conversation.day.is_(None), Conversation.run_id.in_(old_runs))), old_runs


def workbench_counts(session, cutoff: date) -> dict[str, Any]:
    """What a purge with ``cutoff`` deletes from the workbench database (counts only)."""
    from sqlalchemy import exists, func, select

    from .workbench.db import Case, Conversation, Dispute, Finding, LoginAttempt, Review, Run, Verdict, WebhookDelivery, WebSession

    old, old_runs = _old_conversations(session, cutoff)
    ids = select(Conversation.id).where(old)

    def n(model, *where) -> int:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    remaining = exists().where(Conversation.run_id == Run.id, ~Conversation.id.in_(ids))
    touched = Run.id.in_(select(Conversation.run_id).where(old)) | Run.id.in_(old_runs)
    emptied = [rid for (rid,) in session.execute(select(Run.id).where(touched, ~remaining))]
    by_status = {s: int(c) for s, c in session.execute(select(Conversation.status, func.count()).where(old).group_by(Conversation.status))}
    return {
        "conversations": n(Conversation, old),
        "findings": n(Finding, Finding.conversation_id.in_(ids)),
        "reviews": n(Review, Review.conversation_id.in_(ids)),
        "verdicts": n(Verdict, Verdict.review_id.in_(select(Review.id).where(Review.conversation_id.in_(ids)))
                      | Verdict.finding_id.in_(select(Finding.id).where(Finding.conversation_id.in_(ids)))),
        "disputes": n(Dispute, Dispute.conversation_id.in_(ids)),
        "runs": len(emptied),
        "login_attempts": n(LoginAttempt, LoginAttempt.at < _cutoff_instant(cutoff)),
        "web_sessions": n(WebSession, WebSession.last_seen_at < _cutoff_instant(cutoff)),  # long dead logins (client address)
        # bad-review cases (issue 19) hold the review text, the agent's account and the customer contact log: received
        # before the cutoff → deleted with their contacts, measures and notices (CASCADE), whatever their state
        "cases": n(Case, Case.received_at < _cutoff_instant(cutoff)),
        "webhook_deliveries": n(WebhookDelivery, WebhookDelivery.created_at < _cutoff_instant(cutoff)),
        "conversations_by_status": by_status,
        "_run_ids": emptied,
    }


def _cutoff_instant(cutoff: date) -> datetime:
    return datetime.combine(cutoff, time.min).astimezone().astimezone(timezone.utc)


def purge_workbench(session, cutoff: date) -> dict[str, Any]:
    """Delete what :func:`workbench_counts` counts, in the caller's transaction; return the counts.
    Findings, reviews, verdicts and disputes go with their conversation (ON DELETE CASCADE)."""
    from sqlalchemy import delete

    from .workbench.db import Case, Conversation, LoginAttempt, Run, WebhookDelivery, WebSession

    counts = workbench_counts(session, cutoff)
    old, _ = _old_conversations(session, cutoff)
    session.execute(delete(Conversation).where(old).execution_options(synchronize_session=False))
    if counts["_run_ids"]:
        session.execute(delete(Run).where(Run.id.in_(counts["_run_ids"])).execution_options(synchronize_session=False))
    for model, column in ((LoginAttempt, LoginAttempt.at), (WebSession, WebSession.last_seen_at), (Case, Case.received_at),
                          (WebhookDelivery, WebhookDelivery.created_at)):
        session.execute(delete(model).where(column < _cutoff_instant(cutoff)).execution_options(synchronize_session=False))
    return counts


def _database_present(url: str) -> bool:
    """False for an SQLite file that doesn't exist (a purge must not create an empty workbench)."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:" or Path(u.database).exists()


# ------------------------------------------------------------------------------------------------ plan, execute
@dataclass
class PurgePlan:
    cutoff: date
    older_than_days: int
    patterns: list[str]
    folders: list[RunFolder]
    notes: list[str]
    database_url: str | None  # None: the workbench is not purged (see database_note)
    database_note: str = ""
    workbench: dict[str, Any] | None = None

    @property
    def past(self) -> list[RunFolder]:
        return [f for f in self.folders if f.state == "past"]

    @property
    def nothing_to_do(self) -> bool:
        wb = self.workbench or {}
        return not self.past and not any(wb.get(k) for k in WORKBENCH_COUNTS)


def plan(config: dict, older_than: str | None = None, runs: list[str] | None = None,
         database_url: str | None = None, workbench: bool = True, today: date | None = None) -> PurgePlan:
    """Find what is past the period; delete nothing. ``older_than`` (``--older-than``) overrides
    ``retention.older_than``; ``database_url`` (``--database-url``) the workbench's URL."""
    days = parse_age(older_than, "--older-than") if older_than else parse_age(config["retention"]["older_than"], "retention.older_than")
    cutoff = (today or date.today()) - timedelta(days=days)
    patterns = run_patterns(config, runs)
    folders, notes = find_run_folders(patterns, cutoff)
    result = PurgePlan(cutoff, days, patterns, folders, notes, None)
    if not (workbench and config["retention"]["workbench"]):
        result.database_note = "workbench database not purged (--no-database or retention.workbench: false)"
        return result
    from .workbench.database import database_url as url_of, open_database, safe_url, session_scope

    url = url_of(config, database_url)
    if not _database_present(url):
        result.database_note = f"no workbench database at {safe_url(url)}: nothing to purge there"
        return result
    engine, factory = open_database(url)
    try:
        with session_scope(factory) as s:
            result.workbench = workbench_counts(s, cutoff)
    finally:
        engine.dispose()
    result.database_url = url
    return result


def execute(p: PurgePlan, config: dict) -> dict[str, Any]:
    """Delete what ``p`` found: the run folders' personal data, then the workbench rows with one
    ``retention.purge`` audit entry in the same transaction. Returns what was deleted (counts)."""
    deleted = {str(f.path): purge_run_folder(f, p.cutoff, p.older_than_days, config) for f in p.past}
    summary: dict[str, Any] = {
        "cutoff": p.cutoff.isoformat(), "older_than_days": p.older_than_days,
        "run_folders": {"purged": len(deleted), "bytes": sum(f.bytes for f in p.past),
                        "deleted": sorted({n for names in deleted.values() for n in names}), "kept": list(KEPT_ENTRIES)},
        "workbench": None,
    }
    if p.database_url is None:
        return summary
    from .workbench import audit
    from .workbench.database import open_database, session_scope

    engine, factory = open_database(p.database_url)
    try:
        with session_scope(factory) as s:
            counts = purge_workbench(s, p.cutoff)
            summary["workbench"] = {k: v for k, v in counts.items() if not k.startswith("_")}
            audit.record(s, None, "retention.purge", "retention", p.cutoff.isoformat(), None, summary)
    finally:
        engine.dispose()
    return summary


def describe(p: PurgePlan, dry_run: bool) -> list[str]:
    """The plan as lines for a person: what goes, what stays, and why a folder was left alone."""
    verb = "would delete" if dry_run else "deletes"
    lines = [f"zhijian purge: older than {p.older_than_days} days = before {p.cutoff.isoformat()}"
             + (" (dry run: nothing is deleted)" if dry_run else "")]
    lines.append(f"run folders in {', '.join(p.patterns)}:")
    for f in p.folders:
        if f.state == "past":
            names = ", ".join(x.name + ("/" if x.is_dir() and not x.is_symlink() else "") for x in f.personal)
            lines.append(f"  past     {f.path}  (started {f.day}): {verb} {names} ({f.bytes:,} bytes); "
                         f"keeps {MANIFEST}, writes {AGGREGATES}")
        elif f.state == "skipped":
            lines.append(f"  skipped  {f.path}: {f.reason}")
    purged = [f for f in p.folders if f.state == "purged"]
    recent = [f for f in p.folders if f.state == "recent"]
    lines.append(f"  {len(p.past)} past the period, {len(purged)} purged before, {len(recent)} within the period (kept)")
    lines.extend(f"  note: {n}" for n in p.notes)
    inputs = sorted({i for f in p.past for i in f.inputs if Path(i).exists()})
    if inputs:
        lines.append(f"  still on disk, outside the run roots (not deleted): {len(inputs)} input file(s) of these runs, "
                     f"e.g. {', '.join(inputs[:3])} — delete them where they arrive")
    if p.workbench is None:
        lines.append(f"workbench: {p.database_note}")
    else:
        from .workbench.database import safe_url

        wb = p.workbench
        lines.append(f"workbench {safe_url(p.database_url)}: {verb} {wb['conversations']} conversation(s) "
                     f"with {wb['findings']} finding(s), {wb['reviews']} review(s), {wb['verdicts']} verdict(s), "
                     f"{wb['disputes']} dispute(s); {wb['runs']} run(s) left empty; {wb['login_attempts']} login attempt(s), "
                     f"{wb['web_sessions']} ended login session(s)")
        lines.append("  audit_log kept in full (free text in it was masked when written)"
                     + ("" if dry_run else "; one retention.purge entry added (counts only)"))
    return lines


def describe_done(done: dict[str, Any]) -> str:
    """One line for a person: what :func:`execute` deleted and kept."""
    rf, wb = done["run_folders"], done["workbench"]
    line = (f"zhijian purge: {rf['purged']} run folder(s) purged ({rf['bytes']:,} bytes: {', '.join(rf['deleted']) or '-'}; "
            f"kept {', '.join(rf['kept'])})")
    if wb is not None:
        line += "; workbench: " + ", ".join(f"{wb[k]} {k}" for k in WORKBENCH_COUNTS) + "; audit_log kept, one retention.purge entry added"
    return line
