"""``zhijian load``: a real run of the bundled samples into SQLite and PostgreSQL — transcripts aligned
with the findings, PII spans, idempotence, newer runs, moved and changed inputs."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import orjson
import pytest
from sqlalchemy import func, select

from conftest import inspect_into
from pipeline.privacy import mask_span_text
from pipeline.schema import Span
from pipeline.workbench import review, users
from pipeline.workbench.db import AuditEntry, Base, Conversation, Finding, Review, Run, Verdict
from pipeline.workbench.load import LoadError, load_run, risk_of


def results_of(run_dir: Path) -> dict[str, dict]:
    return {r["id"]: r for r in map(orjson.loads, (run_dir / "results.jsonl").read_bytes().splitlines())}


def table_hash(session) -> dict[str, tuple[int, str]]:
    """Row count and a content hash of every table."""
    out = {}
    for table in Base.metadata.sorted_tables:
        rows = session.execute(select(table).order_by(*table.primary_key.columns)).all()
        out[table.name] = (len(rows), hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest())
    return out


def test_load_brings_every_result_with_its_transcript_and_pii(factory, sample_run, cfg):
    results = results_of(sample_run)
    manifest = orjson.loads((sample_run / "manifest.json").read_bytes())
    with factory() as s:
        summary = load_run(s, sample_run, config=cfg)
        assert (summary.conversations, summary.inserted, summary.unchanged) == (manifest["counts"]["inspected"], len(results), 0)
        assert summary.findings_inserted == manifest["counts"]["findings"]
        convs = {c.ext_id: c for c in s.scalars(select(Conversation))}
        assert set(convs) == set(results)
        masked_checked = spans_checked = 0
        for rid, res in results.items():
            c = convs[rid]
            assert (c.machine_score, c.machine_grade, c.review_needed, c.review_reasons) == (
                res["score"], res["grade"], res["review"]["needed"], res["review"]["reasons"])
            assert c.agent_id == (res.get("agent") or {}).get("id") and c.status == "pending"
            assert c.metrics["turns"] == len(c.turns) == len(c.pii)
            assert c.risk == risk_of(res, cfg["workbench"]["risk"], 100.0)
            confs = [p["confidence"] for p in (res["issue_type"], res["sentiment"]) if p]
            assert c.min_model_confidence == (min(confs) if confs else None)
            assert [f.rule for f in c.findings] == [f["rule"] for f in res["findings"]]
            for f in c.findings:
                if f.start is None:
                    continue
                text = c.turns[f.turn]["text"]
                spans = [Span(a, b, label) for a, b, label in c.pii[f.turn]]
                # the stored transcript and PII reproduce exactly the evidence the run wrote (masked or not)
                assert mask_span_text(text, f.start, f.end, spans) == f.evidence, (rid, f.rule)
                spans_checked += 1
                masked_checked += "*" in f.evidence
        assert masked_checked >= 10 and spans_checked >= 100
        table_rows = [c for c in convs.values() if c.ext_id.startswith("t-")]
        assert table_rows and all(c.turns for c in table_rows)  # the CSV long table came back too
        run = s.scalars(select(Run)).one()
        assert run.masked is True and run.counts["inspected"] == len(results)
        fatal = [c for c in convs.values() if "fatal" in c.review_reasons]
        assert fatal and min(c.risk for c in fatal) > max(c.risk for c in convs.values() if not c.review_reasons)


def test_a_run_with_rejects_and_odd_encodings_loads_aligned(factory, repo, tmp_path, cfg):
    """The hostile sample: GB18030 lines, role aliases, empty turns, rejects between the good records."""
    (tmp_path / "in").mkdir()
    shutil.copy(repo / "data" / "samples" / "hostile.jsonl", tmp_path / "in" / "hostile.jsonl")
    run = inspect_into(tmp_path, ["in/hostile.jsonl"])
    results = results_of(run)
    manifest = orjson.loads((run / "manifest.json").read_bytes())
    assert manifest["counts"]["rejected"] > 0 and results
    with factory() as s:
        assert load_run(s, run, config=cfg).inserted == len(results)
        for c in s.scalars(select(Conversation)):
            assert len(c.turns) == results[c.ext_id]["metrics"]["turns"]
            for f in c.findings:
                if f.start is not None:
                    spans = [Span(a, b, label) for a, b, label in c.pii[f.turn]]
                    assert mask_span_text(c.turns[f.turn]["text"], f.start, f.end, spans) == f.evidence


def test_loading_the_same_run_twice_changes_nothing(factory, sample_run, cfg):
    with factory() as s:
        load_run(s, sample_run, config=cfg)
        first = table_hash(s)
        again = load_run(s, sample_run, config=cfg)
        assert (again.inserted, again.updated, again.unchanged) == (0, 0, again.conversations)
        assert table_hash(s) == first
        # one run.load, from the first load only (plus a case.open per 差评 case it opened: tests/test_cases.py)
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action != "case.open")) == 1


def test_a_run_written_without_merged_jsonl_loads_the_same(factory, sample_run, tmp_path, cfg):
    work = tmp_path / "w"
    shutil.copytree(sample_run.parent / "samples", work / "samples")
    run = inspect_into(work, ["samples/conversations.jsonl", "samples/turns.csv"], "run", "--no-merge-jsonl")
    assert not (run / "results.jsonl").exists()
    with factory() as s:
        summary = load_run(s, run, config=cfg)
        got = {c.ext_id: (c.machine_score, len(c.findings), len(c.turns)) for c in s.scalars(select(Conversation))}
    results = results_of(sample_run)
    assert summary.inserted == len(results)
    assert got == {rid: (r["score"], len(r["findings"]), r["metrics"]["turns"]) for rid, r in results.items()}


def test_moved_changed_and_missing_inputs(factory, sample_run, tmp_path, cfg):
    moved = tmp_path / "elsewhere" / "run"
    shutil.copytree(sample_run, moved)  # the inputs stay behind: relative paths no longer resolve
    with factory() as s:
        with pytest.raises(LoadError, match="samples/conversations.jsonl.*not found.*--inputs"):
            load_run(s, moved, config=cfg)
        s.rollback()
        # --inputs: the files at a new place, matched by content
        new_home = tmp_path / "archive"
        new_home.mkdir()
        for name in ("conversations.jsonl", "turns.csv"):
            shutil.copy(sample_run.parent / "samples" / name, new_home / f"copy-{name}")
        wrong = tmp_path / "other.jsonl"
        wrong.write_text('{"id": "x", "turns": [{"role": "agent", "text": "您好"}]}\n', encoding="utf-8")
        with pytest.raises(LoadError, match="other.jsonl: not one of the run's inputs"):
            load_run(s, moved, [str(wrong)], config=cfg)
        s.rollback()
        summary = load_run(s, moved, [str(new_home / "copy-conversations.jsonl"), str(new_home / "copy-turns.csv")], config=cfg)
        assert summary.inserted == len(results_of(sample_run))
    # an input edited after the run: the turns might not match the findings any more
    changed = tmp_path / "changed"
    shutil.copytree(sample_run.parent, changed)
    path = changed / "samples" / "conversations.jsonl"
    path.write_bytes(path.read_bytes().replace("您好".encode(), "你好".encode(), 1))
    with factory() as s:
        with pytest.raises(LoadError, match="has changed since the run"):
            load_run(s, changed / "run", config=cfg)


def test_incomplete_run_is_refused(factory, sample_run, tmp_path, cfg):
    run = tmp_path / "run"
    shutil.copytree(sample_run, run)
    manifest = orjson.loads((run / "manifest.json").read_bytes())
    (run / "manifest.json").write_bytes(orjson.dumps({**manifest, "status": "running"}))
    with factory() as s:
        with pytest.raises(LoadError, match="not complete.*same `zhijian inspect` command"):
            load_run(s, run, config=cfg)
        with pytest.raises(LoadError, match="not a zhijian run directory"):
            load_run(s, sample_run.parent / "samples", config=cfg)


def test_newer_run_updates_machine_fields_and_keeps_every_review(factory, sample_run, tmp_path, cfg):
    """A second run with a stricter reply SLA gives other findings and scores for the same ids."""
    work = tmp_path / "w"
    shutil.copytree(sample_run.parent / "samples", work / "samples")
    (work / "strict.yaml").write_text("timing:\n  reply_sla_s: {chat: 3, phone: 3, default: 3}\n", encoding="utf-8")
    newer = inspect_into(work, ["samples/conversations.jsonl", "samples/turns.csv"], "run", "--config", "strict.yaml")
    old_results, new_results = results_of(sample_run), results_of(newer)
    with factory() as s:
        load_run(s, sample_run, config=cfg)
        insp = users.create_user(s, "insp", "inspector-pw-1", "inspector", config=cfg)
        # a conversation whose findings change in the newer run: review it, judge its first finding
        rid = next(r for r in old_results if old_results[r]["findings"]
                   and [f["rule"] for f in new_results[r]["findings"]] != [f["rule"] for f in old_results[r]["findings"]])
        conv = s.scalar(select(Conversation).where(Conversation.ext_id == rid))
        judged = conv.findings[0]
        r = review.start_review(s, conv, insp)
        review.set_verdict(s, r, judged, "rejected", "误报", insp)
        review.submit_review(s, r, human_score=77, actor=insp, config=cfg)
        s.commit()
        s.expire_all()  # compare values as read back from the database
        judged_state = (judged.id, judged.rule, judged.turn, judged.start, judged.evidence)
        reviews_before = [(x.id, x.human_score, x.submitted_at) for x in s.scalars(select(Review))]
        verdicts_before = [(v.id, v.finding_id, v.verdict) for v in s.scalars(select(Verdict))]
        audit_before = [(a.id, a.action, a.after) for a in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]

        summary = load_run(s, newer, config=cfg)
        assert summary.updated >= 1 and summary.updated + summary.unchanged == len(new_results) and summary.inserted == 0
        assert summary.findings_kept == 1
        s.expire_all()
        conv = s.scalar(select(Conversation).where(Conversation.ext_id == rid))
        res = new_results[rid]
        # machine fields follow the newer run; the human side is untouched
        assert (conv.machine_score, conv.review_reasons) == (res["score"], res["review"]["reasons"])
        assert (conv.status, conv.human_score, conv.assignee_id) == ("reviewed", 77.0, insp.id)
        kept = s.get(Finding, judged_state[0])
        assert (kept.id, kept.rule, kept.turn, kept.start, kept.evidence) == judged_state
        machine_rules = sorted(f.rule for f in conv.findings if f.id != kept.id)
        expected = list(f["rule"] for f in res["findings"])
        same_as_kept = [f for f in res["findings"] if (f["rule"], f["turn"], f["start"], f["end"], f["entry"])
                        == (kept.rule, kept.turn, kept.start, kept.end, kept.entry)]
        for f in same_as_kept:
            expected.remove(f["rule"])
        assert machine_rules == sorted(expected)
        assert len({f.position for f in conv.findings}) == len(conv.findings)
        assert [(x.id, x.human_score, x.submitted_at) for x in s.scalars(select(Review))] == reviews_before
        assert [(v.id, v.finding_id, v.verdict) for v in s.scalars(select(Verdict))] == verdicts_before
        audit_after = [(a.id, a.action, a.after) for a in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert audit_after[: len(audit_before)] == audit_before
        assert {a[1] for a in audit_after[len(audit_before):]} == {"run.load", "conversation.machine_update"}
        # every other conversation now holds the newer run's machine result
        for c in s.scalars(select(Conversation).where(Conversation.ext_id != rid)):
            assert (c.machine_score, [f.rule for f in c.findings]) == (
                new_results[c.ext_id]["score"], [f["rule"] for f in new_results[c.ext_id]["findings"]])
        # loading the older run again never overwrites the newer one
        after_newer = table_hash(s)
        older = load_run(s, sample_run, config=cfg)
        assert older.skipped_older == len(old_results) and older.updated == 0
        assert table_hash(s) == after_newer


def test_load_command_exit_codes(db_url, sample_run, tmp_path, capsys):
    from pipeline.cli import main

    n = len(results_of(sample_run))
    assert main(["load", str(sample_run), "--database-url", db_url]) == 0
    assert f"{n} conversations — {n} new" in capsys.readouterr().err
    assert main(["load", str(sample_run), "--database-url", db_url]) == 0
    assert f"0 new, 0 updated, {n} unchanged" in capsys.readouterr().err
    assert main(["load", str(tmp_path / "nope"), "--database-url", db_url]) == 2
    assert "nope: no such directory" in capsys.readouterr().err
