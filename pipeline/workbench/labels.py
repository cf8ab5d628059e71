"""The loop back to the machine: reviewers' verdicts as training data, per-rule precision, and
agreement between machine and human scores.

Only *counted* reviews are used: a conversation ``reviewed`` (round 1) or ``signed_off`` (round 1
if the dispute was upheld, round 2 if overturned — review.counted_review). Disputed items wait.

``export_labels`` writes to ``out_dir``:

* ``finding_verdicts.jsonl`` — one row per explicit verdict (confirmed / rejected / missed): the
  conversation, rule, lexicon entry, evidence (masked), turn and span, verdict, comment, round,
  reviewer and time. What a lexicon author needs to fix false alarms and gaps.
* ``conversations.jsonl`` — the SPEC input format (masked transcript) with ``labels.issue_type`` /
  ``labels.sentiment`` where a reviewer set them; ``zhijian inspect`` and ``pipeline.ingest`` read it.
* ``issue_type.csds.json`` — the same dialogues with a corrected issue type, in the CSDS topic-file
  shape ``zhijian train issue-type --csds FILE`` reads (``Topic``: a topic of that type in
  data/issue_taxonomy.yaml, so ``Taxonomy.dialogue_label`` gives the type back).
* ``sentiment.stc3.json`` — those with a corrected sentiment, in the STC-3 shape ``zhijian train
  sentiment --stc3 FILE`` reads (annotator score S = −2 / 0 / 2 → negative / neutral / positive).
* ``verdicts.jsonl`` — the docs/REPORTS.md verdicts format; with ``into_runs`` also each run's own
  rows as ``RUN_DIR/verdicts.jsonl``, so ``zhijian report RUN_DIR`` shows machine–human agreement.
* ``question_answers.jsonl`` — people's one-click answers to scorecard questions, with the masked
  transcript: ``zhijian train question ID --extra-labels FILE`` trains on them (question_labels.py).
* ``calibration_gold.jsonl`` — only with ``calibration_gold``: the consensus answers of calibration
  sessions a supervisor accepted as gold labels (calibration.gold_rows). Calibration answers never
  enter the files above: they are not reviews and don't count toward agents' results.

Transcripts and evidence leave the app masked (phone, ID-card, bank-card numbers, e-mail, addresses).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterator

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..privacy import mask_free_text
from ..stats import wilson_interval  # noqa: F401 — re-exported: labels.wilson_interval
from .db import Conversation, Dispute, Finding, Review, Run, User, Verdict

COUNTED_STATUSES = ("reviewed", "signed_off")
STC3_SCORE = {"negative": -2, "neutral": 0, "positive": 2}  # pipeline.models.datasets.stc3_label buckets at ±0.5
PRECISION_COLUMNS = ["rule", "confirmed", "rejected", "n", "precision", "ci_low", "ci_high", "missed"]


def _config(config: dict | None) -> dict:
    if config is None:
        from ..config import load_config

        config = load_config()
    return config


def counted_reviews(session: Session) -> dict[int, Review]:
    """Conversation id → the review that counts (review.counted_review, in three queries for all)."""
    convs = dict(session.execute(select(Conversation.id, Conversation.status).where(Conversation.status.in_(COUNTED_STATUSES))).all())
    if not convs:
        return {}
    decision: dict[int, str] = {}
    for cid, state in session.execute(select(Dispute.conversation_id, Dispute.state).order_by(Dispute.id)):
        decision[cid] = state  # the newest dispute wins
    by_conv: dict[int, dict[int, Review]] = {}
    for r in session.scalars(select(Review).where(Review.submitted_at.is_not(None)).order_by(Review.submitted_at, Review.id)):
        if r.conversation_id in convs:
            by_conv.setdefault(r.conversation_id, {})[r.round] = r  # the latest submitted per round
    out = {}
    for cid, status in convs.items():
        rounds = by_conv.get(cid, {})
        want = 2 if status == "signed_off" and decision.get(cid) == "overturned" and 2 in rounds else 1
        if want in rounds:
            out[cid] = rounds[want]
    return out


def _spans(conv: Conversation, turn: int):
    from ..schema import Span

    spans = conv.pii[turn] if conv.pii and 0 <= turn < len(conv.pii) else []
    return [Span(int(s), int(e), str(label)) for s, e, label in spans]


def masked_evidence(conv: Conversation, f: Finding) -> str | None:
    """The finding's evidence masked from the stored transcript (also when the run was --no-mask)."""
    from ..privacy import mask_span_text

    if f.turn is None or f.start is None or f.end is None or not 0 <= f.turn < len(conv.turns or []):
        return f.evidence
    return mask_span_text(conv.turns[f.turn].get("text") or "", f.start, f.end, _spans(conv, f.turn))


def masked_turns(conv: Conversation) -> list[dict[str, Any]]:
    from ..privacy import mask_text

    out = []
    for i, t in enumerate(conv.turns or []):
        turn = {"role": t.get("role"), "text": mask_text(t.get("text") or "", _spans(conv, i))}
        for k in ("ts", "end_ts"):
            if t.get(k) is not None:
                turn[k] = t[k]
        out.append(turn)
    return out


def _iso(dt) -> str | None:
    return dt.isoformat() if dt is not None else None


def _verdict_rows(session: Session, counted: dict[int, Review]) -> Iterator[tuple[Conversation, Review, Verdict, Finding]]:
    ids = list(counted)
    for chunk in range(0, len(ids), 1000):
        part = ids[chunk:chunk + 1000]
        convs = {c.id: c for c in session.scalars(select(Conversation).where(Conversation.id.in_(part)))}
        review_ids = {counted[c].id: counted[c] for c in part}
        q = (select(Verdict, Finding).join(Finding, Finding.id == Verdict.finding_id)
             .where(Verdict.review_id.in_(list(review_ids))).order_by(Finding.conversation_id, Finding.position))
        for v, f in session.execute(q):
            yield convs[f.conversation_id], review_ids[v.review_id], v, f


def export_labels(session: Session, out_dir: str | Path, *, config: dict | None = None, into_runs: bool = False,
                  calibration_gold: bool = False) -> dict[str, Any]:
    """Write the training data and verdict files (module docstring); returns what was written."""
    from ..convert import CSDS_ROLES, CSDS_SEPARATOR
    from .review_checks import issue_type_labels

    speaker = {}
    for name, role in CSDS_ROLES.items():
        speaker.setdefault(role, name)  # the first CSDS speaker of each role: 客服, 用户
    config = _config(config)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    counted = counted_reviews(session)
    names = dict(session.execute(select(User.id, User.username)).all())
    convs = {c.id: c for c in session.scalars(select(Conversation).where(Conversation.id.in_(list(counted))))} if counted else {}
    topics = _first_topics()
    known_types = set(issue_type_labels())

    files = {name: 0 for name in ("finding_verdicts.jsonl", "verdicts.jsonl", "conversations.jsonl",
                                  "issue_type.csds.json", "sentiment.stc3.json")}
    per_run: dict[int, list[bytes]] = {}
    judged_convs: set[int] = set()
    with open(out / "finding_verdicts.jsonl", "wb") as fv, open(out / "verdicts.jsonl", "wb") as vj:
        for conv, rev, v, f in _verdict_rows(session, counted):
            reviewer = names.get(rev.reviewer_id)
            fv.write(orjson.dumps({
                "conversation_id": conv.ext_id, "rule": f.rule, "entry": f.entry, "category": mask_free_text(f.category),
                "severity": f.severity, "points": f.points, "source": f.source, "evidence": masked_evidence(conv, f),
                "turn": f.turn, "start": f.start, "end": f.end, "role": f.role, "message": mask_free_text(f.message),
                "verdict": v.verdict, "comment": mask_free_text(v.comment), "round": rev.round, "reviewer": reviewer,
                "reviewed_at": _iso(rev.submitted_at), "status": conv.status,
            }) + b"\n")
            files["finding_verdicts.jsonl"] += 1
            line = orjson.dumps({"conversation_id": conv.ext_id, "rule": f.rule, "verdict": v.verdict, "turn": f.turn,
                                 "start": f.start, "reviewer": reviewer, "reviewed_at": _iso(rev.submitted_at),
                                 "human_score": conv.human_score}) + b"\n"
            vj.write(line)
            per_run.setdefault(conv.run_id, []).append(line)
            files["verdicts.jsonl"] += 1
            judged_convs.add(conv.id)
        for cid, conv in convs.items():
            if cid not in judged_convs and conv.human_score is not None:  # a score without any verdict
                rev = counted[cid]
                line = orjson.dumps({"conversation_id": conv.ext_id, "rule": None, "verdict": None, "turn": None, "start": None,
                                     "reviewer": names.get(rev.reviewer_id), "reviewed_at": _iso(rev.submitted_at),
                                     "human_score": conv.human_score}) + b"\n"
                vj.write(line)
                per_run.setdefault(conv.run_id, []).append(line)
                files["verdicts.jsonl"] += 1

    csds, stc3 = [], []
    with open(out / "conversations.jsonl", "wb") as cj:
        for cid, conv in sorted(convs.items()):
            labels = {}
            if conv.corrected_issue_type in known_types:
                labels["issue_type"] = conv.corrected_issue_type
            if conv.corrected_sentiment in STC3_SCORE:
                labels["sentiment"] = conv.corrected_sentiment
            if not labels:
                continue
            turns = masked_turns(conv)
            record = {"id": conv.ext_id, "channel": conv.channel, "started_at": conv.started_at,
                      "agent": {"id": conv.agent_id, "name": conv.agent_name, "team": conv.team}, "turns": turns, "labels": labels}
            cj.write(orjson.dumps({k: v for k, v in record.items() if v is not None}) + b"\n")
            files["conversations.jsonl"] += 1
            spoken = [t for t in turns if t["role"] in speaker and t["text"].strip()]
            if "issue_type" in labels and spoken and topics.get(labels["issue_type"]):
                dialogue = CSDS_SEPARATOR.join(f"{speaker[t['role']]}:{t['text']}" for t in spoken)
                csds.append({"Dialogue": dialogue, "Topic": topics[labels["issue_type"]], "id": conv.ext_id})
            if "sentiment" in labels and spoken:
                stc3.append({"id": conv.ext_id, "turns": [{"sender": "customer" if t["role"] == "customer" else "helpdesk",
                                                           "utterances": [t["text"]]} for t in spoken],
                             "annotations": [{"quality": {"S": STC3_SCORE[labels["sentiment"]]}}]})
    (out / "issue_type.csds.json").write_bytes(orjson.dumps(csds, option=orjson.OPT_INDENT_2))
    (out / "sentiment.stc3.json").write_bytes(orjson.dumps(stc3, option=orjson.OPT_INDENT_2))
    files["issue_type.csds.json"], files["sentiment.stc3.json"] = len(csds), len(stc3)

    if calibration_gold:
        from .calibration import gold_rows

        with open(out / "calibration_gold.jsonl", "wb") as gj:
            files["calibration_gold.jsonl"] = 0
            for row in gold_rows(session):
                gj.write(orjson.dumps(row) + b"\n")
                files["calibration_gold.jsonl"] += 1

    from .question_labels import FILE as QUESTION_FILE, export_answers

    files[QUESTION_FILE] = export_answers(session, out)  # people's answers to scorecard questions (issue 17)

    written_runs = []
    if into_runs:
        for run in session.scalars(select(Run).where(Run.id.in_(list(per_run)))):
            run_dir = Path(run.path)
            if (run_dir / "manifest.json").exists():
                (run_dir / "verdicts.jsonl").write_bytes(b"".join(per_run[run.id]))
                written_runs.append(str(run_dir))
    return {"files": files, "conversations": len(counted), "runs": written_runs, "out": str(out)}


def _first_topics() -> dict[str, str]:
    """Issue type → one fine topic of it (CSDS rows carry topics; the loader maps them back)."""
    from ..config import load_yaml, resolve_path

    raw = load_yaml(resolve_path("data/issue_taxonomy.yaml"), "issue taxonomy") or {}
    return {k: (v.get("topics") or [None])[0] for k, v in (raw.get("types") or {}).items() if v.get("topics")}


# --------------------------------------------------------------------------- agreement


def rule_precision(session: Session, config: dict | None = None):
    """Per rule, from the counted reviews: confirmed, rejected, n = both, precision = confirmed / n
    with a Wilson interval (``workbench.agreement.interval``), and reviewers' added (missed) findings.
    A pandas DataFrame sorted by n, most judged first."""
    import pandas as pd

    coverage = float(_config(config)["workbench"]["agreement"]["interval"])
    counted = counted_reviews(session)
    counts: dict[str, dict[str, int]] = {}
    review_ids = [r.id for r in counted.values()]
    for chunk in range(0, len(review_ids), 1000):
        q = (select(Finding.rule, Verdict.verdict).join(Finding, Finding.id == Verdict.finding_id)
             .where(Verdict.review_id.in_(review_ids[chunk:chunk + 1000])))
        for rule, verdict in session.execute(q):
            c = counts.setdefault(rule, {"confirmed": 0, "rejected": 0, "missed": 0})
            c[verdict] = c.get(verdict, 0) + 1
    rows = []
    for rule, c in counts.items():
        n = c["confirmed"] + c["rejected"]
        lo, hi = wilson_interval(c["confirmed"], n, coverage)
        rows.append({"rule": rule, "confirmed": c["confirmed"], "rejected": c["rejected"], "n": n,
                     "precision": c["confirmed"] / n if n else None, "ci_low": lo, "ci_high": hi, "missed": c["missed"]})
    df = pd.DataFrame(rows, columns=PRECISION_COLUMNS)
    return df.sort_values(["n", "rule"], ascending=[False, True], kind="stable").reset_index(drop=True)


def score_agreement(session: Session, config: dict | None = None) -> dict[str, Any]:
    """Machine vs human score over the counted conversations: n, mean |human − machine|, share within
    ``workbench.agreement.score_tolerance`` points, mean machine − human, and the share with the same grade."""
    tol = float(_config(config)["workbench"]["agreement"]["score_tolerance"])
    rows = session.execute(select(Conversation.machine_score, Conversation.human_score, Conversation.machine_grade,
                                  Conversation.human_grade).where(Conversation.status.in_(COUNTED_STATUSES),
                                                                  Conversation.human_score.is_not(None))).all()
    n = len(rows)
    if not n:
        return {"n": 0, "mean_abs_diff": None, "within_tolerance": None, "tolerance": tol,
                "mean_machine_minus_human": None, "grade_agreement": None}
    diffs = [m - h for m, h, _, _ in rows]
    return {
        "n": n,
        "mean_abs_diff": sum(abs(d) for d in diffs) / n,
        "within_tolerance": sum(abs(d) <= tol for d in diffs) / n,
        "tolerance": tol,
        "mean_machine_minus_human": sum(diffs) / n,
        "grade_agreement": sum(mg == hg for _, _, mg, hg in rows) / n,
    }


def format_agreement(table, scores: dict[str, Any]) -> str:
    """The terminal view of ``zhijian agreement``."""
    pct = lambda v: "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v * 100:.1f}%"  # noqa: E731
    lines = ["规则准确率 (precision = confirmed / (confirmed + rejected), counted reviews)", "",
             f"{'rule':<24} {'n':>5} {'confirmed':>9} {'rejected':>8} {'precision':>9}  {'interval':<15} {'missed':>6}"]
    for r in table.itertuples():
        interval = f"{pct(r.ci_low)}–{pct(r.ci_high)}" if r.n else "—"
        lines.append(f"{r.rule:<24} {r.n:>5} {r.confirmed:>9} {r.rejected:>8} {pct(r.precision):>9}  {interval:<15} {r.missed:>6}")
    if table.empty:
        lines.append("(no verdicts yet)")
    lines += ["", "机器与人工评分一致性 (machine vs human score)", ""]
    if not scores["n"]:
        lines.append("(no reviewed conversations yet)")
    else:
        lines += [
            f"reviewed conversations      {scores['n']}",
            f"mean |human − machine|      {scores['mean_abs_diff']:.2f} points",
            f"within ±{scores['tolerance']:g} points            {pct(scores['within_tolerance'])}",
            f"mean machine − human        {scores['mean_machine_minus_human']:+.2f} points",
            f"same grade                  {pct(scores['grade_agreement'])}",
        ]
    return "\n".join(lines)
