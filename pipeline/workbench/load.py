"""``zhijian load RUN_DIR``: import a run's results and transcripts into the workbench database.

What is read: ``manifest.json`` (the inputs the run recorded, with their sha256, and the run's own
configuration), the results (``results.jsonl``, or ``parts/results-NNNNNN.jsonl`` in partition order
when the run was written with ``--no-merge-jsonl``), and the transcripts, read back from the run's
inputs with the pipeline's own reader (``pipeline.ingest.read_inputs``, the run's limits and table
columns) so that every result's ``turn`` indexes the same turns. An input that changed since the
run (sha256) or can't be found stops the load with the fix. PII spans are found per turn with
``pipeline.privacy.PiiDetector`` and stored as ``[start, end, label]`` in ``Conversation.pii``.

Idempotent: a conversation whose machine fields are already what the run says is not written, so
loading a run twice changes nothing. A *newer* run (``started_at``) with the same conversation ids
updates the machine fields and replaces the machine findings — except findings a reviewer gave a
verdict on, which are kept as they were; reviews, verdicts, disputes and the audit log are never
touched. An older run never overwrites a newer one. Work is done in batches
(``workbench.load_batch_size``), one commit per batch: an interrupted load is completed by running
it again.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator

import orjson
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from . import audit
from .db import Conversation, Finding, Run, Verdict, utcnow
from .question_store import sync_machine_answers
from .sampling import keep_queue_reasons

DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}")
# Conversation columns the machine (the run + its inputs) owns; everything else belongs to reviewers.
MACHINE_FIELDS = (
    "run_id", "channel", "started_at", "day", "agent_id", "agent_name", "team", "customer_id", "rating_score",
    "rating_comment", "machine_score", "machine_grade", "review_needed", "review_reasons", "risk",
    "min_model_confidence", "issue_type", "sentiment", "turn_sentiment", "metrics", "score_detail", "versions",
    "labels", "turns", "pii", "questions",
)
FINDING_FIELDS = ("rule", "category", "severity", "points", "turn", "role", "start", "end", "evidence", "message",
                  "entry", "item", "value")


class LoadError(ValueError):
    """The run directory or its inputs can't be loaded; the message names the file and the fix."""


@dataclass
class LoadSummary:
    run_dir: str
    run_id: int
    run_key: str
    run_new: bool
    conversations: int = 0       # results read
    inserted: int = 0            # new conversations
    updated: int = 0             # machine fields changed (a newer run)
    unchanged: int = 0           # already as the run says
    skipped_older: int = 0       # held by a newer run already: left alone
    findings_inserted: int = 0
    findings_removed: int = 0    # machine findings of updated conversations, without verdicts
    findings_kept: int = 0       # machine findings of updated conversations kept for their verdicts
    cases_opened: int = 0        # 差评 cases opened (pipeline/cases/service.py: bad rating or complaint)
    elapsed_s: float = 0.0

    @property
    def per_s(self) -> float:
        return round(self.conversations / self.elapsed_s, 1) if self.elapsed_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "per_s": self.per_s}


# --------------------------------------------------------------------------- run directory


def read_manifest(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "manifest.json"
    if not run_dir.is_dir():
        raise LoadError(f"{run_dir}: no such directory; give the --out directory of a `zhijian inspect` run")
    try:
        manifest = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise LoadError(f"{path}: not found — {run_dir} is not a zhijian run directory "
                        "(`zhijian inspect INPUT... --out RUN_DIR` writes one)") from None
    except orjson.JSONDecodeError as e:
        raise LoadError(f"{path}: not valid JSON ({e}); the run directory is damaged — re-run zhijian inspect") from None
    if manifest.get("status") != "complete":
        raise LoadError(f"{path}: the run is not complete (status {manifest.get('status')!r}); finish it first by running "
                        "the same `zhijian inspect` command again (it resumes)")
    if not manifest.get("inputs"):
        raise LoadError(f"{path}: lists no inputs; the transcripts can't be read back")
    return manifest


def result_files(run_dir: Path, manifest: dict[str, Any]) -> list[Path]:
    merged = run_dir / "results.jsonl"
    if merged.exists():
        return [merged]
    names = [p["partition"] for p in manifest.get("partitions") or []]
    files = [run_dir / "parts" / f"results-{n}.jsonl" for n in names]
    missing = [f for f in files if not f.exists()]
    if not files or missing:
        raise LoadError(f"{merged}: not found, and the per-partition results are incomplete "
                        f"({', '.join(str(m) for m in missing[:3]) or 'no partitions listed'}); re-run zhijian inspect")
    return files


def iter_results(files: list[Path]) -> Iterator[dict[str, Any]]:
    for f in files:
        with open(f, "rb") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    yield orjson.loads(line)
                except orjson.JSONDecodeError as e:
                    raise LoadError(f"{f} line {n}: not valid JSON ({e}); the results file is damaged — re-run zhijian inspect") from None


def run_key(manifest: dict[str, Any]) -> str:
    import hashlib

    ident = {"inputs": manifest.get("inputs"), "started_at": manifest.get("started_at")}
    return hashlib.sha256(orjson.dumps(ident, option=orjson.OPT_SORT_KEYS)).hexdigest()


def resolve_inputs(run_dir: Path, manifest: dict[str, Any], overrides: list[str] | None = None) -> dict[str, Path]:
    """Each recorded input path → the file to read now, checked against the recorded sha256.

    ``overrides`` (``--inputs``): files at their new location, matched to the recorded inputs by
    content (sha256). Without one, a relative recorded path is looked for from the current
    directory, then from the run directory and each of its parents."""
    from ..io.hashing import sha256_file

    recorded = manifest["inputs"]
    found: dict[str, Path] = {}
    if overrides:
        from ..ingest import expand_inputs

        wanted = {rec["sha256"]: rec["path"] for rec in recorded}
        for f in expand_inputs(overrides):
            sha = sha256_file(f)
            if sha not in wanted:
                listing = "; ".join(f"{r['path']} (sha256 {r['sha256'][:12]}…)" for r in recorded)
                raise LoadError(f"--inputs {f}: not one of the run's inputs (its sha256 {sha[:12]}… matches none of: {listing}); "
                                "give the files the run read, unchanged")
            found[wanted[sha]] = f
    for rec in recorded:
        if rec["path"] in found:
            continue
        p = Path(rec["path"])
        if p.is_absolute():
            candidates = [p]
        else:
            base = run_dir.resolve()
            candidates = list(dict.fromkeys([Path.cwd() / p, base / p, *(anc / p for anc in base.parents)]))
        existing = [c for c in candidates if c.is_file()]
        if not existing:
            raise LoadError(f"input {rec['path']} of the run in {run_dir} not found (looked from the current directory and from "
                            f"{run_dir} upwards); if it moved, give its location: zhijian load {run_dir} --inputs NEW_PATH")
        for c in existing:
            if c.stat().st_size == rec.get("bytes", c.stat().st_size) and sha256_file(c) == rec["sha256"]:
                found[rec["path"]] = c
                break
        else:
            raise LoadError(f"input {existing[0]} has changed since the run (its sha256 is {sha256_file(existing[0])[:12]}…, the run "
                            f"read {rec['sha256'][:12]}…): the transcripts would not match the results. Restore the original file "
                            f"and pass it with --inputs, or re-run zhijian inspect on the current file")
    return found


# --------------------------------------------------------------------------- rows


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def risk_of(result: dict[str, Any], weights: dict[str, Any], max_score: float) -> float:
    """Queue order: the weights of the result's review reasons + score_weight × points lost."""
    reasons = (result.get("review") or {}).get("reasons") or []
    by_reason = weights.get("reasons") or {}
    score = _num(result.get("score"))
    lost = max(0.0, max_score - score) if score is not None else 0.0
    return round(sum(float(by_reason.get(r, 0)) for r in reasons) + float(weights.get("score_weight", 0)) * lost, 3)


def min_confidence(result: dict[str, Any]) -> float | None:
    values = [_num((result.get(k) or {}).get("confidence")) for k in ("issue_type", "sentiment")]
    values = [v for v in values if v is not None]
    return min(values) if values else None


def _normal(value: Any) -> Any:
    """JSON as the database gives it back (tuples → lists, …), so comparisons see only real changes."""
    return orjson.loads(orjson.dumps(value)) if value is not None else None


def conversation_row(result: dict[str, Any], conv: Any, pii: list[list[list[Any]]], run_id: int, risk: float) -> dict[str, Any]:
    agent = result.get("agent") or {}
    rating = result.get("rating") or {}
    review = result.get("review") or {}
    started = result.get("started_at")
    # the comment as the customer wrote it (from the input, like the transcript): the run's copy is masked,
    # pages mask it again on display, and a supervisor's audited reveal shows the original
    given = conv.rating if isinstance(getattr(conv, "rating", None), dict) else {}
    comment = given.get("comment", rating.get("comment"))
    return {
        "ext_id": result["id"],
        "run_id": run_id,
        "channel": result.get("channel"),
        "started_at": started,
        "day": started[:10] if isinstance(started, str) and DAY_RE.match(started) else None,
        "agent_id": agent.get("id"),
        "agent_name": agent.get("name"),
        "team": agent.get("team"),
        "customer_id": (conv.customer or {}).get("id") if isinstance(conv.customer, dict) else None,
        "rating_score": _num(rating.get("score")),
        "rating_comment": comment if isinstance(comment, str) else None,
        "machine_score": float(result["score"]),
        "machine_grade": result["grade"],
        "review_needed": bool(review.get("needed")),
        "review_reasons": list(review.get("reasons") or []),
        "risk": risk,
        "min_model_confidence": min_confidence(result),
        "issue_type": _normal(result.get("issue_type")),
        "sentiment": _normal(result.get("sentiment")),
        "turn_sentiment": _normal(result.get("turn_sentiment")),
        "metrics": _normal(result.get("metrics")),
        "score_detail": _normal(result.get("score_detail")),
        "versions": _normal(result.get("versions")),
        "labels": _normal(conv.labels),
        "turns": [{"role": t.role, "text": t.text, "ts": t.ts, "end_ts": t.end_ts} for t in conv.turns],
        "pii": pii,
        "questions": _normal(result.get("questions")),  # the scorecard questions' answers (issue 17)
    }


def finding_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for i, f in enumerate(result.get("findings") or []):
        row = {k: f.get(k) for k in FINDING_FIELDS}
        row["points"] = float(row["points"] or 0.0)
        row["value"] = _num(row["value"])
        out.append({"position": i, "source": "machine", **row})
    return out


class _PiiSpans:
    """PII spans per turn, as the run found them: the same detector, with the run's segmenter
    (built only when a turn may hold an address, the one kind found on tokens)."""

    def __init__(self, config: dict):
        from ..privacy import PiiDetector

        self._config = config
        self._seg = None
        self.detector = PiiDetector(config, tokenize=self._tokenize)

    def _tokenize(self, text: str) -> list[str]:
        if self._seg is None:
            from ..config import resolve_path
            from ..lexicons import LexiconSet
            from ..normalize import Normalizer
            from ..segment import USER_WORD_FREQ, Segmenter, read_domain_words

            lexicon_dir = resolve_path(self._config["paths"]["lexicons"])
            lexicons = LexiconSet.load(lexicon_dir, Normalizer(lexicon_dir / "char_variants.txt"))
            words = read_domain_words(lexicon_dir / "domain_words.txt") + [(p, USER_WORD_FREQ) for p in lexicons.user_words()]
            seg = self._config["segmenter"]
            self._seg = Segmenter(seg["backend"], words, seg["hmm"])
        return self._seg.cut(text)

    def __call__(self, conv: Any) -> list[list[list[Any]]]:
        self.detector.annotate(conv)
        return [[[sp.start, sp.end, sp.label] for sp in t.pii] for t in conv.turns]


# --------------------------------------------------------------------------- load


def _started(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def load_run(
    session: Session,
    run_dir: str | Path,
    inputs: list[str] | None = None,
    *,
    config: dict | None = None,
    progress: Callable[[LoadSummary], None] | None = None,
) -> LoadSummary:
    """Import RUN_DIR (see the module docstring). Commits once per batch. ``inputs``: the run's
    input files at a new location (``--inputs``). Raises LoadError (exit 2) with the fix."""
    from ..config import load_config
    from ..ingest import read_inputs
    from ..schema import Reject
    from .review_checks import scorecard

    t0 = time.perf_counter()
    config = config if config is not None else load_config()
    settings = config["workbench"]
    batch_size = int(settings["load_batch_size"])
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    files = result_files(run_dir, manifest)
    paths = resolve_inputs(run_dir, manifest, inputs)
    run_config = manifest.get("config") or config  # the run's own limits: the same records accepted
    ordered = [paths[rec["path"]] for rec in manifest["inputs"]]

    key = run_key(manifest)
    run = session.scalar(select(Run).where(Run.run_key == key))
    run_new = run is None
    if run is None:
        run = Run(run_key=key, path=str(run_dir.resolve()), started_at=manifest.get("started_at"),
                  counts=manifest.get("counts") or {}, versions=manifest.get("versions") or {}, masked=bool(manifest.get("mask", True)))
        session.add(run)
        session.flush()
    summary = LoadSummary(str(run_dir), run.id, key, run_new)
    this_started = _started(run.started_at)
    run_started = {rid: _started(s) for rid, s in session.execute(select(Run.id, Run.started_at)).all()}

    pii = _PiiSpans(run_config)
    max_score = scorecard(config).max_score
    transcripts = iter(read_inputs([str(p) for p in ordered], run_config, manifest.get("table_columns")))
    waiting: dict[str, Any] = {}

    def transcript(result: dict[str, Any]):
        rid = result["id"]
        while rid not in waiting:
            try:
                record = next(transcripts)
            except StopIteration:
                src = result.get("source") or {}
                where = f"{src.get('path')} {'line ' + str(src.get('line')) if src.get('line') else 'row ' + str(src.get('row'))}"
                raise LoadError(f"conversation {rid!r} of the results ({where}) is not in the inputs read back; "
                                f"the results and inputs of {run_dir} don't belong together — re-run zhijian inspect") from None
            if not isinstance(record, Reject):
                waiting[record.id] = record
        return waiting.pop(rid)

    changed_any = False
    batch: list[dict[str, Any]] = []
    for result in iter_results(files):
        batch.append(result)
        if len(batch) >= batch_size:
            changed_any |= _load_batch(session, batch, transcript, pii, run, summary, settings["risk"], max_score, this_started, run_started)
            session.commit()
            batch = []
            if progress:
                summary.elapsed_s = round(time.perf_counter() - t0, 3)
                progress(summary)
    if batch:
        changed_any |= _load_batch(session, batch, transcript, pii, run, summary, settings["risk"], max_score, this_started, run_started)
    from ..cases.service import open_cases_for_run  # issue 19: a bad rating or a complaint opens a 差评 case

    summary.cases_opened = len(open_cases_for_run(session, run.id, config))
    summary.elapsed_s = round(time.perf_counter() - t0, 3)
    if changed_any:
        after = {k: v for k, v in summary.as_dict().items() if k not in ("run_dir", "elapsed_s", "per_s")}
        audit.record(session, None, "run.load", "runs", run.id, None, after | {"path": str(run_dir.resolve())})
    session.commit()
    return summary


def _load_batch(session, batch, transcript, pii, run, summary, risk_weights, max_score, this_started, run_started) -> bool:
    rows: dict[str, dict[str, Any]] = {}
    findings: dict[str, list[dict[str, Any]]] = {}
    for result in batch:
        conv = transcript(result)
        rid = result["id"]
        rows[rid] = conversation_row(result, conv, pii(conv), run.id, risk_of(result, risk_weights, max_score))
        findings[rid] = finding_rows(result)
    summary.conversations += len(batch)
    cols = [getattr(Conversation, f) for f in MACHINE_FIELDS]
    existing = {r.ext_id: r for r in session.execute(select(Conversation.id, Conversation.ext_id, Conversation.status, *cols)
                                                       .where(Conversation.ext_id.in_(list(rows))))}
    new = [rows[rid] for rid in rows if rid not in existing]
    if new:
        # Core executemany, then one SELECT for the ids: the ORM's INSERT … RETURNING in parameter
        # order runs one statement per row on SQLite (docs/WORKBENCH.md, load speed)
        conn = session.connection()
        conn.execute(insert(Conversation.__table__), new)
        ids = dict(conn.execute(select(Conversation.ext_id, Conversation.id).where(
            Conversation.ext_id.in_([r["ext_id"] for r in new]))).all())
        frows = [{"conversation_id": ids[r["ext_id"]], **f} for r in new for f in findings[r["ext_id"]]]
        if frows:
            conn.execute(insert(Finding.__table__), frows)
        summary.inserted += len(new)
        summary.findings_inserted += len(frows)
        sync_machine_answers(session, {ids[r["ext_id"]]: r["questions"] for r in new})
    changed = bool(new)
    current: dict[int, list[Finding]] = {have.id: [] for have in existing.values()}
    if current:
        for f in session.scalars(select(Finding).where(Finding.conversation_id.in_(list(current))).order_by(Finding.position)):
            current[f.conversation_id].append(f)
    for rid, have in existing.items():
        want = keep_queue_reasons(have.review_reasons, rows[rid], risk_weights)  # a sample's reason outlives a reload
        have_started = run_started.get(have.run_id)
        if have.run_id != run.id and have_started and this_started and have_started > this_started:
            summary.skipped_older += 1
            continue
        diff = {f: want[f] for f in MACHINE_FIELDS if getattr(have, f) != want[f]}
        if _sync_findings(session, have.id, current[have.id], findings[rid], summary) or diff:
            changed = True
            summary.updated += 1
            if diff:
                session.execute(update(Conversation), [{"id": have.id, **diff, "updated_at": utcnow()}])
            if "questions" in diff:
                sync_machine_answers(session, {have.id: diff["questions"]})
            if have.status != "pending":
                shown = ("machine_score", "machine_grade", "review_reasons", "run_id")
                audit.record(session, None, "conversation.machine_update", "conversations", have.id,
                             {f: getattr(have, f) for f in shown}, {f: want[f] for f in shown})
        else:
            summary.unchanged += 1
    return changed


def _sync_findings(session: Session, conv_id: int, have: list[Finding], wanted: list[dict[str, Any]], summary: LoadSummary) -> bool:
    """Make the conversation's machine findings the run's; keep those with a verdict. True if changed."""
    machine = [f for f in have if f.source == "machine"]
    if [{"position": f.position, "source": f.source, **{k: getattr(f, k) for k in FINDING_FIELDS}} for f in machine] == wanted:
        return False
    judged = set(session.scalars(select(Verdict.finding_id).where(Verdict.finding_id.in_([f.id for f in machine])))) if machine else set()
    kept = [f for f in machine if f.id in judged]
    drop = [f.id for f in machine if f.id not in judged]
    if drop:
        session.execute(delete(Finding).where(Finding.id.in_(drop)))
    kept_keys = {(f.rule, f.turn, f.start, f.end, f.entry) for f in kept}
    remaining = [f.position for f in have if f.id not in set(drop)]
    # positions are the result's indexes when nothing else is there; after kept / added ones otherwise
    offset = max(remaining) + 1 if remaining else 0
    rows = [{**w, "conversation_id": conv_id, "position": offset + w["position"]}
            for w in wanted if (w["rule"], w["turn"], w["start"], w["end"], w["entry"]) not in kept_keys]
    if rows:
        session.connection().execute(insert(Finding.__table__), rows)
    summary.findings_removed += len(drop)
    summary.findings_kept += len(kept)
    summary.findings_inserted += len(rows)
    return True
