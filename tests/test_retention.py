"""``zhijian purge`` (issue 12, retention): real runs of the bundled samples, one back-dated past the
period, loaded into an SQLite workbench with reviews, verdicts and disputes; the purge must remove
exactly the old personal data — in run folders and the database — and nothing else."""

from __future__ import annotations

import hashlib
import os
import shutil
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest
from sqlalchemy import func, select

from conftest import inspect_into
from pipeline.cli import main
from pipeline.config import ConfigError, load_config
from pipeline.retention import AGGREGATES, RetentionError, parse_age

TODAY = date.today()
OLD_DAY = TODAY - timedelta(days=400)
RECENT_DAY = TODAY - timedelta(days=3)
PER_RUN = 15  # conversations per run (from data/samples/conversations.jsonl)


def _write_inputs(src: Path, dst: Path, prefix: str, day: date, skip: int) -> None:
    """PER_RUN sample conversations with new ids and their start moved to ``day`` (time of day kept)."""
    lines = src.read_bytes().splitlines()[skip:skip + PER_RUN]
    out = []
    for line in lines:
        rec = orjson.loads(line)
        rec["id"] = f"{prefix}-{rec['id']}"
        rec["started_at"] = day.isoformat() + rec["started_at"][10:]
        out.append(orjson.dumps(rec))
    dst.write_bytes(b"\n".join(out) + b"\n")


def _backdate(run_dir: Path, day: date) -> None:
    path = run_dir / "manifest.json"
    m = orjson.loads(path.read_bytes())
    m["started_at"] = day.isoformat() + m["started_at"][10:]
    m["finished_at"] = day.isoformat() + m["finished_at"][10:]
    path.write_bytes(orjson.dumps(m, option=orjson.OPT_INDENT_2))


def tree_hash(path: Path) -> dict[str, str]:
    """Every entry under ``path`` (symlinks as their target text, not followed) → content hash."""
    out = {}
    for dirpath, dirs, files in os.walk(path, followlinks=False):
        for name in dirs + files:
            p = Path(dirpath) / name
            rel = str(p.relative_to(path))
            if p.is_symlink():
                out[rel] = "link:" + os.readlink(p)
            elif p.is_file():
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
            else:
                out[rel] = "dir"
    return out


def load_and_review(url: str, work: Path) -> None:
    """``zhijian load`` both runs into ``url``, then on the first old and the first recent conversation
    with a finding: a submitted review with a verdict, and a dispute; an old and a new login attempt."""
    from pipeline.workbench.database import make_engine, make_session_factory
    from pipeline.workbench.db import Conversation, Dispute, LoginAttempt, Review, User, Verdict

    assert main(["load", str(work / "runs" / "old"), str(work / "runs" / "recent"), "--database-url", url]) == 0
    engine = make_engine(url)
    with make_session_factory(engine)() as s:
        user = User(username="insp", role="inspector", password_hash="x")
        s.add(user)
        s.flush()
        for prefix in ("old", "new"):
            conv = s.scalars(select(Conversation).where(Conversation.ext_id.like(f"{prefix}-%"), Conversation.findings.any())
                             .order_by(Conversation.id)).first()
            review = Review(conversation_id=conv.id, round=1, reviewer_id=user.id, human_score=70.0,
                            comment=f"{prefix} 复核意见", submitted_at=datetime.now(timezone.utc))
            s.add(review)
            s.flush()
            s.add(Verdict(review_id=review.id, finding_id=conv.findings[0].id, verdict="rejected", comment="误报"))
            s.add(Dispute(conversation_id=conv.id, kind="dispute", raised_by=user.id, reason=f"{prefix} 申诉理由"))
        now = datetime.now(timezone.utc)
        s.add(LoginAttempt(username="insp", client="10.0.0.1", ok=False, at=now - timedelta(days=400)))
        s.add(LoginAttempt(username="insp", client="10.0.0.2", ok=True, at=now - timedelta(days=1)))
        s.commit()
    engine.dispose()


@pytest.fixture(scope="module")
def template(tmp_path_factory, repo):
    """A work folder: runs/old (400 days ago), runs/recent (3 days ago), runs/notes (no manifest),
    runs/elsewhere → ../outside/run (a symlink to an old run outside the root), and workbench.db
    with both runs loaded, a review, verdicts and a dispute on an old and a recent conversation,
    and an old and a new login attempt."""
    from pipeline.workbench.database import make_engine

    work = tmp_path_factory.mktemp("retention")
    (work / "in").mkdir()
    src = repo / "data" / "samples" / "conversations.jsonl"
    _write_inputs(src, work / "in" / "old.jsonl", "old", OLD_DAY, 0)
    _write_inputs(src, work / "in" / "recent.jsonl", "new", RECENT_DAY, PER_RUN)
    old = inspect_into(work, ["in/old.jsonl"], "runs/old")
    inspect_into(work, ["in/recent.jsonl"], "runs/recent")
    _backdate(old, OLD_DAY)
    (work / "runs" / "notes").mkdir()
    (work / "runs" / "notes" / "results.jsonl").write_text("not a run: no manifest\n", encoding="utf-8")
    (work / "outside").mkdir()
    shutil.copytree(old, work / "outside" / "run")
    (work / "runs" / "elsewhere").symlink_to(Path("..") / "outside" / "run")

    url = f"sqlite:///{work / 'workbench.db'}"
    load_and_review(url, work)
    engine = make_engine(url)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return work


@pytest.fixture()
def world(template, tmp_path, monkeypatch):
    """A private copy of the template; the current directory is its root."""
    work = tmp_path / "w"
    shutil.copytree(template, work, symlinks=True)
    monkeypatch.chdir(work)
    monkeypatch.delenv("ZHIJIAN_DATABASE_URL", raising=False)
    return work


def purge(work: Path, *extra: str) -> int:
    return main(["purge", "--older-than", "180d", "--runs", "runs", "--database-url", f"sqlite:///{work / 'workbench.db'}", *extra])


def db_state(work_or_url: Path | str) -> dict:
    """Per table: the rows' conversation ids or key columns, to compare before and after."""
    from pipeline.workbench.database import make_engine, make_session_factory
    from pipeline.workbench.db import AuditEntry, Case, Conversation, Dispute, Finding, LoginAttempt, Review, Run, Verdict

    url = work_or_url if isinstance(work_or_url, str) else f"sqlite:///{work_or_url / 'workbench.db'}"
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as s:
            ext = dict(s.execute(select(Conversation.id, Conversation.ext_id)).all())

            def of(model, col):
                return sorted(ext.get(c, c) for c in s.scalars(select(col)))

            return {
                "conversations": sorted(ext.values()),
                "findings": of(Finding, Finding.conversation_id),
                "reviews": of(Review, Review.conversation_id),
                "disputes": of(Dispute, Dispute.conversation_id),
                "verdicts": s.scalar(select(func.count()).select_from(Verdict)),
                "runs": sorted(s.scalars(select(Run.path))),
                "login_clients": sorted(s.scalars(select(LoginAttempt.client))),
                "cases": sorted(s.scalars(select(Case.key))),
                "audit": [(a.id, a.action, a.entity, a.entity_id, a.after) for a in s.scalars(select(AuditEntry).order_by(AuditEntry.id))],
            }
    finally:
        engine.dispose()


def test_purge_deletes_old_run_data_and_keeps_manifest_and_aggregates(world, capsys):
    from pipeline.report.load import load_runs
    from pipeline.report.metrics import compute

    old, recent = world / "runs" / "old", world / "runs" / "recent"
    kpis = {m.key: m.value for m in compute(load_runs([old]), load_config()).kpis}
    manifest_before = (old / "manifest.json").read_bytes()
    untouched = {p: tree_hash(world / p) for p in ("runs/recent", "runs/notes", "outside", "in")}
    assert (old / "results.jsonl").exists() and (old / "parts").is_dir()

    assert purge(world, "--yes") == 0
    out = capsys.readouterr().out
    assert sorted(p.name for p in old.iterdir()) == ["aggregates.json", "manifest.json"]
    assert (old / "manifest.json").read_bytes() == manifest_before
    for p, before in untouched.items():
        assert tree_hash(world / p) == before, f"{p} changed"
    assert os.readlink(world / "runs" / "elsewhere") == str(Path("..") / "outside" / "run")
    assert "runs/notes: no manifest.json" in out and "runs/elsewhere: a symbolic link" in out
    assert "1 past the period, 0 purged before, 1 within the period" in out

    agg = orjson.loads((old / AGGREGATES).read_bytes())
    text = (old / AGGREGATES).read_text(encoding="utf-8")
    assert "old-s-" not in text and "A0" not in text  # no conversation id, no agent id
    assert [d["day"] for d in agg["daily"]] == [OLD_DAY.isoformat()]
    total = agg["total"]
    assert total["conversations"] == PER_RUN == agg["daily"][0]["conversations"]
    for key in ("avg_score", "fatal_rate", "review_rate", "bad_rating_rate", "first_response_sla_compliance"):
        assert total[key] == pytest.approx(kpis[key]), key
    assert sum(agg["daily"][0]["grades"].values()) == PER_RUN
    assert agg["purge"]["cutoff"] == (TODAY - timedelta(days=180)).isoformat()
    assert set(agg["purge"]["deleted"]) >= {"results.jsonl", "results.parquet", "findings.parquet", "rejects.jsonl", "parts"}
    # a report over the purged run says what happened instead of "not a finished run"
    from pipeline.cli import main

    assert main(["report", str(old), "--out", str(world / "r.html")]) == 2
    assert "zhijian purge" in capsys.readouterr().err


def test_purge_deletes_old_workbench_rows_and_writes_one_audit_entry(template, db_url, tmp_path, capsys):
    """On SQLite and PostgreSQL (``db_url``); the run folders here are an empty root."""
    load_and_review(db_url, template)
    before = db_state(db_url)
    assert {c[:4] for c in before["conversations"]} == {"old-", "new-"}
    assert main(["purge", "--older-than", "180d", "--runs", str(tmp_path), "--database-url", db_url, "--yes"]) == 0
    capsys.readouterr()
    after = db_state(db_url)
    assert after["conversations"] == [c for c in before["conversations"] if c.startswith("new-")]
    for table in ("findings", "reviews", "disputes"):
        assert after[table] and after[table] == [c for c in before[table] if c.startswith("new-")], table
    assert (before["verdicts"], after["verdicts"]) == (2, 1)
    assert after["runs"] == [r for r in before["runs"] if r.endswith("recent")]
    assert after["login_clients"] == ["10.0.0.2"]
    # bad-review cases (issue 19) opened by the load: the old run's go with the period, the recent run's stay
    assert any(k.startswith("conv:old-") for k in before["cases"]) and any(k.startswith("conv:new-") for k in before["cases"])
    assert after["cases"] == [k for k in before["cases"] if k.startswith("conv:new-")]
    assert after["audit"][:len(before["audit"])] == before["audit"]  # never changed
    (entry,) = after["audit"][len(before["audit"]):]
    assert entry[1:4] == ("retention.purge", "retention", (TODAY - timedelta(days=180)).isoformat())
    wb = entry[4]["workbench"]
    n_old = len(before["conversations"]) - len(after["conversations"])
    assert (wb["conversations"], wb["reviews"], wb["verdicts"], wb["disputes"], wb["runs"], wb["login_attempts"]) == (n_old, 1, 1, 1, 1, 1)
    assert wb["findings"] == len(before["findings"]) - len(after["findings"])
    assert wb["cases"] == len(before["cases"]) - len(after["cases"])
    assert entry[4]["run_folders"]["purged"] == 0
    assert "old-s-" not in orjson.dumps(entry[4]).decode() and "复核" not in orjson.dumps(entry[4]).decode()


def test_second_purge_has_nothing_to_do(world, capsys):
    assert purge(world, "--yes") == 0
    agg = (world / "runs" / "old" / AGGREGATES).read_bytes()
    state = db_state(world)
    assert purge(world) == 0  # nothing to delete: no confirmation needed
    out = capsys.readouterr().out
    assert "0 past the period, 1 purged before" in out and "nothing deleted" in out
    assert (world / "runs" / "old" / AGGREGATES).read_bytes() == agg
    assert db_state(world) == state


def test_dry_run_deletes_nothing(world, capsys):
    files, state = tree_hash(world / "runs"), db_state(world)
    assert purge(world, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "dry run" in out and "would delete results.jsonl" in out and f"would delete {PER_RUN} conversation(s)" in out
    assert tree_hash(world / "runs") == files
    assert db_state(world) == state


def test_refuses_without_yes_when_not_a_terminal(world, capsys):
    files, state = tree_hash(world / "runs"), db_state(world)
    assert purge(world) == 2
    assert "add --yes" in capsys.readouterr().err
    assert tree_hash(world / "runs") == files and db_state(world) == state


@pytest.mark.parametrize("answer, deleted", [("no", False), ("yes", True)])
def test_asks_on_a_terminal(world, monkeypatch, capsys, answer, deleted):
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: answer)
    assert purge(world) == (0 if deleted else 2)
    capsys.readouterr()
    assert (world / "runs" / "old" / "results.jsonl").exists() is not deleted
    assert any(c.startswith("old-") for c in db_state(world)["conversations"]) is not deleted


def test_no_database_and_missing_database_leave_the_workbench_alone(world, capsys):
    state = db_state(world)
    assert main(["purge", "--runs", "runs", "--no-database", "--yes"]) == 0
    assert "workbench database not purged" in capsys.readouterr().out
    assert db_state(world) == state
    assert not (world / "runs" / "old" / "results.jsonl").exists()
    assert main(["purge", "--runs", "runs", "--database-url", f"sqlite:///{world / 'none.db'}", "--dry-run"]) == 0
    assert "no workbench database" in capsys.readouterr().out and not (world / "none.db").exists()


def test_a_run_folder_given_directly_or_by_glob(world, capsys):
    assert main(["purge", "--runs", "runs/rec*", "--no-database", "--yes"]) == 0  # only the recent run: nothing to do
    assert (world / "runs" / "old" / "results.jsonl").exists()
    assert main(["purge", "--runs", "runs/old", "--no-database", "--yes"]) == 0
    assert not (world / "runs" / "old" / "results.jsonl").exists()
    assert (world / "outside" / "run" / "results.jsonl").exists()
    capsys.readouterr()


def test_nightly_purges_after_its_run_when_asked(world, monkeypatch, capsys):
    monkeypatch.setenv("ZHIJIAN_DATABASE_URL", f"sqlite:///{world / 'workbench.db'}")
    code = main(["nightly", "--date", TODAY.isoformat(), "--incoming", "in/recent.jsonl", "--runs", "runs/{date}",
                 "--purge", "--workers", "1", "--quiet"])
    assert code in (0, 3)
    assert (world / "runs" / TODAY.isoformat() / "results.jsonl").exists()
    assert not (world / "runs" / "old" / "results.jsonl").exists()
    assert not any(c.startswith("old-") for c in db_state(world)["conversations"])
    assert "zhijian purge: 1 run folder(s) purged" in capsys.readouterr().out


@pytest.mark.parametrize("value, days", [("180d", 180), ("26w", 182), ("1d", 1), (" 7 D ", 7)])
def test_parse_age(value, days):
    assert parse_age(value, "--older-than") == days


@pytest.mark.parametrize("value", ["6m", "0d", "", "d", "-3d", "180", True, None, 1.5])
def test_parse_age_refuses(value):
    with pytest.raises(RetentionError, match=r"--older-than expects .* e\.g\. 180d"):
        parse_age(value, "--older-than")


def test_bad_retention_config_fails_at_load_time():
    with pytest.raises(ConfigError, match="retention.older_than"):
        load_config(overrides={"retention": {"older_than": "half a year"}})
    assert main(["purge", "--older-than", "6m", "--dry-run"]) == 2
