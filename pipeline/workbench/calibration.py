"""Calibration sessions (校准): the same conversations scored blind by several inspectors, then their
agreement, each one's deviation from the consensus, and the consensus answer as a gold label.

A supervisor creates a session (conversations, and at least two active inspectors). Each participant
answers every conversation with the normal review's fields — confirmed / rejected on each of the
machine's findings, a score (typed, or rescored from the verdicts by ``review.rescored``, the rule a
review uses), a corrected issue type and sentiment, a comment — and then submits the whole session.
Until every participant has submitted (state ``complete``) or the supervisor closes it (``closed``),
nobody sees anyone else's answers; afterwards :func:`results` gives, per unit (one finding's verdict,
the grade, the issue type, the sentiment of one conversation), every submitted participant's value,
the majority (a tie flagged for the supervisor), agreement per scorecard item, Fleiss' κ and
Krippendorff's α (pipeline/stats.py), and each participant's deviation from the consensus. The
supervisor may accept the consensus (breaking ties) as gold labels (``calibration_gold``), which
``zhijian export-labels --calibration-gold`` writes.

Answers live in their own tables: nothing here changes a conversation's status or scores, a review,
a verdict or a dispute, so a session never counts toward agents' results. Every step writes the audit
log in the caller's transaction; nothing here commits. Errors are review.WorkflowError (NotAllowed
for a permission problem) with a Chinese message saying what to do.
"""

from __future__ import annotations

import random
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..stats import fleiss_kappa, krippendorff_alpha, unit_agreement
from . import audit
from .db import (
    CalibrationAnswer,
    CalibrationGold,
    CalibrationItem,
    CalibrationParticipant,
    CalibrationSession,
    CalibrationVerdict,
    Conversation,
    Finding,
    User,
    utcnow,
)
from .permissions import can
from .review import rescored, upsert_verdict
from .review_checks import JUDGEMENTS, NotAllowed, WorkflowError, _check_labels, _check_score, grade_of

MIN_PARTICIPANTS = 2
MAX_ITEMS = 200  # a session is a meeting's worth of conversations, not a queue
STATE_LABELS = {"open": "进行中", "complete": "已全部提交", "closed": "已结束"}
UNIT_LABELS = {"grade": "等级", "issue_type": "问题类型", "sentiment": "客户情绪"}
SESSION_STATE = ("title", "state", "ended_at", "closed_by", "gold_accepted_by", "gold_accepted_at")
ANSWER_STATE = ("item_id", "user_id", "human_score", "issue_type", "sentiment", "comment")
EXT_ID_SPLIT = re.compile(r"[\s,，、;；]+")


# --------------------------------------------------------------------------- who may see what


def participant(session: Session, cs: CalibrationSession, user: User | None) -> CalibrationParticipant | None:
    if user is None:
        return None
    return session.scalar(select(CalibrationParticipant).where(CalibrationParticipant.session_id == cs.id,
                                                               CalibrationParticipant.user_id == user.id))


def can_see_session(session: Session, cs: CalibrationSession, user: User | None) -> bool:
    """Those who run sessions see every session; an inspector only the ones they take part in."""
    return can(user, "run_calibration") or (can(user, "calibrate") and participant(session, cs, user) is not None)


def results_open(cs: CalibrationSession) -> bool:
    """Answers are shown only when every participant has submitted or the supervisor closed the session."""
    return cs.state in ("complete", "closed")


def visible_sessions(session: Session, user: User) -> list[CalibrationSession]:
    q = select(CalibrationSession).order_by(CalibrationSession.id.desc())
    if not can(user, "run_calibration"):
        q = q.join(CalibrationParticipant, CalibrationParticipant.session_id == CalibrationSession.id).where(
            CalibrationParticipant.user_id == user.id)
    return list(session.scalars(q)) if can(user, "calibrate") else []


def open_tasks(session: Session, user: User) -> list[CalibrationSession]:
    """Sessions still waiting for ``user``'s answers (for their task list)."""
    return list(session.scalars(
        select(CalibrationSession).join(CalibrationParticipant, CalibrationParticipant.session_id == CalibrationSession.id)
        .where(CalibrationParticipant.user_id == user.id, CalibrationParticipant.submitted_at.is_(None),
               CalibrationSession.state == "open").order_by(CalibrationSession.id)))


# --------------------------------------------------------------------------- choosing conversations


def conversations_by_ext_id(session: Session, text: str) -> list[int]:
    """Conversation ids for ext ids typed or pasted (separated by spaces, commas, 、 or new lines)."""
    wanted = [t for t in EXT_ID_SPLIT.split(text or "") if t]
    wanted = list(dict.fromkeys(wanted))
    if not wanted:
        return []
    found = dict(session.execute(select(Conversation.ext_id, Conversation.id).where(Conversation.ext_id.in_(wanted))).all())
    missing = [w for w in wanted if w not in found]
    if missing:
        raise WorkflowError(f"工作台中没有这些会话:{'、'.join(missing[:5])}{' 等' if len(missing) > 5 else ''}"
                            f"(共 {len(missing)} 条);请核对会话编号,或先用 zhijian load 载入它们的运行目录")
    return [found[w] for w in wanted]


def conversations_from_sample(session: Session, n: int, seed: int) -> list[int]:
    """``n`` conversations drawn (seeded) from the newest stratified sample loaded into the workbench
    (``zhijian sample --load``, review reason sample.stratified)."""
    from .sampling import latest_sample

    sample = latest_sample(session)
    if not sample or not sample.get("ids"):
        raise WorkflowError("工作台中还没有分层抽样:先运行 zhijian sample RUN_DIR --size N --load,或直接填写会话编号")
    ids = sorted(sample["ids"])
    if n < 1:
        raise WorkflowError("抽取条数须为正整数")
    chosen = random.Random(seed).sample(ids, min(n, len(ids)))
    found = dict(session.execute(select(Conversation.ext_id, Conversation.id).where(Conversation.ext_id.in_(chosen))).all())
    return [found[e] for e in chosen if e in found]


# --------------------------------------------------------------------------- running a session


def create_session(session: Session, title: str, conv_ids: Iterable[int], participant_ids: Iterable[int],
                   actor: User) -> CalibrationSession:
    """A new open session on conversations ``conv_ids`` (database ids) with inspectors ``participant_ids``."""
    if not can(actor, "run_calibration"):
        raise NotAllowed(f"{actor.username}({actor.role})无权创建校准会话,需质检主管")
    title = (title or "").strip()
    if not title:
        raise WorkflowError("请填写校准会话的名称,例如「3 月第 2 周 服务忌语校准」")
    ids = list(dict.fromkeys(int(i) for i in conv_ids))
    if not ids:
        raise WorkflowError("请至少选择一条会话(填写会话编号,或从分层抽样中抽取)")
    if len(ids) > MAX_ITEMS:
        raise WorkflowError(f"一次校准最多 {MAX_ITEMS} 条会话,收到 {len(ids)} 条")
    convs = {c.id: c for c in session.scalars(select(Conversation).where(Conversation.id.in_(ids)))}
    missing = [i for i in ids if i not in convs]
    if missing:
        raise WorkflowError(f"会话不存在:{missing[:5]}")
    people = list(dict.fromkeys(int(i) for i in participant_ids))
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(people)))} if people else {}
    bad = [users[i].username if i in users else str(i) for i in people
           if i not in users or users[i].role != "inspector" or not users[i].active]
    if bad:
        raise WorkflowError(f"参与人须为在岗的质检员:{'、'.join(bad)} 不是")
    if len(people) < MIN_PARTICIPANTS:
        raise WorkflowError(f"校准至少需要 {MIN_PARTICIPANTS} 位质检员参与,才能比较一致性")
    cs = CalibrationSession(title=title, state="open", created_by=actor.id, created_at=utcnow())
    session.add(cs)
    session.flush()
    for pos, cid in enumerate(ids):
        session.add(CalibrationItem(session_id=cs.id, conversation_id=cid, position=pos))
    for uid in people:
        session.add(CalibrationParticipant(session_id=cs.id, user_id=uid))
    session.flush()
    session.refresh(cs)
    audit.record(session, actor, "calibration.create", "calibration_sessions", cs.id, None,
                 audit.snapshot(cs, SESSION_STATE) | {"conversations": [convs[i].ext_id for i in ids],
                                                      "participants": [users[i].username for i in people]})
    return cs


def get_item(session: Session, cs: CalibrationSession, item_id: int) -> CalibrationItem | None:
    item = session.get(CalibrationItem, item_id)
    return item if item is not None and item.session_id == cs.id else None


def machine_findings(conv: Conversation) -> list[Finding]:
    """What a participant judges: the machine's findings (a review's added findings are not shown)."""
    return [f for f in conv.findings if f.source == "machine"]


def _locked(session: Session, cs: CalibrationSession) -> CalibrationSession:
    """Lock the session's row until the transaction ends and re-read it: two participants submitting
    at once take turns, so the last one sees the other's submission and completes the session."""
    session.execute(select(CalibrationSession.id).where(CalibrationSession.id == cs.id).with_for_update())
    session.refresh(cs)
    return cs


def _check_answering(session: Session, cs: CalibrationSession, actor: User) -> CalibrationParticipant:
    if not can(actor, "calibrate"):
        raise NotAllowed(f"{actor.username}({actor.role})不能参与校准")
    part = participant(session, cs, actor)
    if part is None:
        raise NotAllowed(f"{actor.username} 不是校准会话「{cs.title}」的参与人,无权作答")
    _locked(session, cs)
    session.refresh(part)
    if cs.state != "open":
        raise WorkflowError(f"校准会话「{cs.title}」{STATE_LABELS.get(cs.state, cs.state)},不能再修改答案")
    if part.submitted_at is not None:
        raise WorkflowError("你已提交本次校准的全部答案,不能再修改")
    return part


def answer_of(session: Session, item: CalibrationItem, user: User, create: bool = False) -> CalibrationAnswer | None:
    answer = session.scalar(select(CalibrationAnswer).where(CalibrationAnswer.item_id == item.id,
                                                           CalibrationAnswer.user_id == user.id))
    if answer is None and create:
        answer = CalibrationAnswer(item_id=item.id, user_id=user.id)
        session.add(answer)
        session.flush()
    return answer


def set_verdict(session: Session, cs: CalibrationSession, item: CalibrationItem, finding: Finding, verdict: str,
                comment: str | None, actor: User) -> CalibrationVerdict:
    """The participant's confirmed / rejected on one machine finding (again to change it)."""
    _check_answering(session, cs, actor)
    if verdict not in JUDGEMENTS:
        raise WorkflowError("请选择「确认」或「误报」")
    if finding.conversation_id != item.conversation_id or finding.source != "machine":
        raise WorkflowError("该发现不属于这条会话的机器发现:请刷新页面后重试")
    answer = answer_of(session, item, actor, create=True)
    row, before = upsert_verdict(session, CalibrationVerdict, finding, verdict, comment, answer_id=answer.id)
    session.expire(answer, ["verdicts"])
    audit.record(session, actor, "calibration.verdict", "calibration_verdicts", row.id, before,
                 {"verdict": verdict, "comment": row.comment, "finding_id": finding.id, "session_id": cs.id, "item_id": item.id,
                  "rule": finding.rule})
    return row


def save_answer(session: Session, cs: CalibrationSession, item: CalibrationItem, *, human_score: float | None,
                issue_type: str | None, sentiment: str | None, comment: str | None, actor: User,
                config: dict | None = None) -> CalibrationAnswer:
    """The score and labels of the participant's answer (score None: rescored from the verdicts)."""
    _check_answering(session, cs, actor)
    score = _check_score(human_score, "人工评分", config)
    issue_type, sentiment = _check_labels(issue_type, sentiment)
    answer = answer_of(session, item, actor, create=True)
    before = audit.snapshot(answer, ANSWER_STATE)
    answer.human_score, answer.issue_type, answer.sentiment = score, issue_type, sentiment
    answer.comment = (comment or "").strip() or None
    answer.saved_at = utcnow()
    session.flush()
    audit.record(session, actor, "calibration.answer", "calibration_answers", answer.id, before, audit.snapshot(answer, ANSWER_STATE))
    return answer


def verdicts_of(answer: CalibrationAnswer | None) -> dict[int, str]:
    return {v.finding_id: v.verdict for v in answer.verdicts} if answer is not None else {}


def answer_score(conv: Conversation, answer: CalibrationAnswer | None, config: dict | None = None) -> float:
    """The participant's score: typed, else what their verdicts imply (review.rescored)."""
    if answer is not None and answer.human_score is not None:
        return answer.human_score
    return rescored(conv, verdicts_of(answer), config)


def unanswered(session: Session, cs: CalibrationSession, user: User) -> list[tuple[CalibrationItem, int]]:
    """Items where ``user`` has not judged every machine finding yet, with how many are left."""
    out = []
    for item in cs.items:
        judged = verdicts_of(answer_of(session, item, user))
        left = sum(f.id not in judged for f in machine_findings(item.conversation))
        if left:
            out.append((item, left))
    return out


def submit(session: Session, cs: CalibrationSession, actor: User, config: dict | None = None) -> CalibrationParticipant:
    """Hand in every answer at once (each machine finding judged); the last participant to submit
    completes the session and opens its results."""
    part = _check_answering(session, cs, actor)
    left = unanswered(session, cs, actor)
    if left:
        names = "、".join(f"{item.conversation.ext_id}(还有 {n} 条)" for item, n in left[:5])
        raise WorkflowError(f"还有会话未判定完所有机器发现:{names};每条发现都须选「确认」或「误报」后才能提交")
    part.submitted_at = utcnow()
    scores = {}
    for item in cs.items:
        scores[item.conversation.ext_id] = answer_score(item.conversation, answer_of(session, item, actor), config)
    session.flush()
    audit.record(session, actor, "calibration.submit", "calibration_participants", part.id, None,
                 {"session_id": cs.id, "submitted_at": part.submitted_at, "scores": scores})
    waiting = session.scalars(select(CalibrationParticipant).where(CalibrationParticipant.session_id == cs.id,
                                                                  CalibrationParticipant.submitted_at.is_(None))).all()
    if not waiting:
        _end(session, cs, "complete", None)
    return part


def _end(session: Session, cs: CalibrationSession, state: str, actor: User | None) -> None:
    before = audit.snapshot(cs, SESSION_STATE)
    cs.state, cs.ended_at = state, utcnow()
    if state == "closed":
        cs.closed_by = actor.id
    session.flush()
    audit.record(session, actor, f"calibration.{'complete' if state == 'complete' else 'close'}", "calibration_sessions",
                 cs.id, before, audit.snapshot(cs, SESSION_STATE))


def close(session: Session, cs: CalibrationSession, actor: User) -> CalibrationSession:
    """End an open session early: the results use the participants who submitted."""
    if not can(actor, "run_calibration"):
        raise NotAllowed(f"{actor.username}({actor.role})无权结束校准会话")
    _locked(session, cs)
    if cs.state != "open":
        raise WorkflowError(f"校准会话「{cs.title}」{STATE_LABELS.get(cs.state, cs.state)},无需再结束")
    _end(session, cs, "closed", actor)
    return cs


# --------------------------------------------------------------------------- results


@dataclass
class Unit:
    """One thing every participant answered on one conversation: a finding's verdict, the grade, a label."""

    key: str  # finding:<id> | grade | issue_type | sentiment
    item: CalibrationItem
    group: str  # the scorecard item (or rule) of a finding; 等级 / 问题类型 / 客户情绪 otherwise
    label: str
    finding: Finding | None
    values: dict[int, str | None]  # participant user id -> value
    votes: dict[str, int] = field(default_factory=dict)
    consensus: str | None = None
    tie: bool = False
    agreement: float | None = None  # share of agreeing participant pairs


def _consensus(values: Iterable[str | None]) -> tuple[dict[str, int], str | None, bool]:
    votes = Counter(v for v in values if v is not None)
    if sum(votes.values()) < 2:  # one answer is nobody's consensus
        return dict(votes), None, False
    ranked = votes.most_common()
    tie = len(ranked) > 1 and ranked[0][1] == ranked[1][1]
    return dict(ranked), (None if tie else ranked[0][0]), tie


def _label_of(conv: Conversation, kind: str) -> str | None:
    value = getattr(conv, kind) or {}
    return value.get("label") if isinstance(value, dict) else None


def results(session: Session, cs: CalibrationSession, config: dict | None = None) -> dict[str, Any]:
    """Everything the results page shows (see the module docstring); only call it once
    :func:`results_open`. Uses the participants who submitted."""
    parts = [p for p in cs.participants if p.submitted_at is not None]
    raters = [p.user_id for p in parts]
    people = {u.id: u for u in session.scalars(select(User).where(User.id.in_([p.user_id for p in cs.participants])))}
    answers: dict[tuple[int, int], CalibrationAnswer] = {}
    if raters:
        for a in session.scalars(select(CalibrationAnswer).where(
                CalibrationAnswer.item_id.in_([i.id for i in cs.items]), CalibrationAnswer.user_id.in_(raters))):
            answers[(a.item_id, a.user_id)] = a
    units: list[Unit] = []
    scores: dict[int, dict[int, float]] = {}  # item id -> user id -> score
    for item in cs.items:
        conv = item.conversation
        item_scores = {u: answer_score(conv, answers.get((item.id, u)), config) for u in raters}
        scores[item.id] = item_scores
        for n, f in enumerate(machine_findings(conv), start=1):
            values = {u: verdicts_of(answers.get((item.id, u))).get(f.id) for u in raters}
            units.append(Unit(f"finding:{f.id}", item, f.item or f.rule, f"[{n}] {f.rule}", f, values))
        units.append(Unit("grade", item, UNIT_LABELS["grade"], UNIT_LABELS["grade"], None,
                          {u: grade_of(s, config) for u, s in item_scores.items()}))
        for kind in ("issue_type", "sentiment"):
            machine = _label_of(conv, kind)
            values = {u: getattr(answers.get((item.id, u)), kind, None) or machine for u in raters}
            if any(v is not None for v in values.values()):
                units.append(Unit(kind, item, UNIT_LABELS[kind], UNIT_LABELS[kind], None, values))
    for unit in units:
        unit.votes, unit.consensus, unit.tie = _consensus(unit.values.values())
        unit.agreement = unit_agreement(list(unit.values.values()))

    def stats_of(group: list[Unit]) -> dict[str, Any]:
        complete = [list(u.values.values()) for u in group if len(raters) >= 2 and all(v is not None for v in u.values.values())]
        agreements = [u.agreement for u in group if u.agreement is not None]
        return {"units": len(group), "agreement": sum(agreements) / len(agreements) if agreements else None,
                "fleiss_kappa": fleiss_kappa(complete) if complete else None,
                "krippendorff_alpha": krippendorff_alpha([list(u.values.values()) for u in group]),
                "ties": sum(u.tie for u in group)}

    by_group: dict[str, list[Unit]] = {}
    for unit in units:
        by_group.setdefault(unit.group, []).append(unit)
    per_item = [{"group": g, **stats_of(us)} for g, us in sorted(by_group.items(), key=lambda kv: (-len(kv[1]), kv[0]))]

    consensus_score = {i: statistics.median(s.values()) if s else None for i, s in scores.items()}
    deviations = []
    for p in cs.participants:
        u = p.user_id
        row = {"user": people.get(u), "submitted": p.submitted_at is not None, "units": 0, "differ": 0,
               "deviation": None, "mean_score_diff": None, "mean_abs_score_diff": None}
        if p.submitted_at is not None:
            decided = [x for x in units if x.consensus is not None and x.values.get(u) is not None]
            row["units"] = len(decided)
            row["differ"] = sum(x.values[u] != x.consensus for x in decided)
            row["deviation"] = row["differ"] / len(decided) if decided else None
            diffs = [scores[i][u] - consensus_score[i] for i in scores if consensus_score[i] is not None]
            if diffs:
                row["mean_score_diff"] = sum(diffs) / len(diffs)
                row["mean_abs_score_diff"] = sum(abs(d) for d in diffs) / len(diffs)
        deviations.append(row)
    return {"raters": raters, "people": people, "units": units, "overall": stats_of(units), "per_item": per_item,
            "scores": scores, "consensus_score": consensus_score, "deviations": deviations,
            "ties": [u for u in units if u.tie], "submitted": len(raters), "participants": len(cs.participants)}


def gold_of(session: Session, cs: CalibrationSession) -> dict[str, CalibrationGold]:
    """The session's accepted gold labels by ``<item id>:<unit key>``."""
    rows = session.scalars(select(CalibrationGold).where(CalibrationGold.session_id == cs.id))
    return {f"{g.item_id}:{g.unit}": g for g in rows}


def accept_gold(session: Session, cs: CalibrationSession, decisions: dict[str, str], actor: User,
                config: dict | None = None) -> list[CalibrationGold]:
    """The consensus answers as gold labels; ``decisions`` breaks each tie (``<item id>:<unit key>`` →
    one of the tied values). Accepting again replaces the session's earlier gold labels."""
    if not can(actor, "run_calibration"):
        raise NotAllowed(f"{actor.username}({actor.role})无权确认金标准,需质检主管")
    _locked(session, cs)
    if not results_open(cs):
        raise WorkflowError("全部参与人提交(或主管结束会话)之后,才能确认共识答案")
    res = results(session, cs, config)
    if res["submitted"] < MIN_PARTICIPANTS:
        raise WorkflowError(f"只有 {res['submitted']} 位参与人提交了答案,不足 {MIN_PARTICIPANTS} 位,没有共识可言")
    chosen: list[tuple[Unit, str, str]] = []
    undecided = []
    for unit in res["units"]:
        key = f"{unit.item.id}:{unit.key}"
        pick = (decisions.get(key) or "").strip()
        if unit.tie:
            if pick not in unit.votes:
                undecided.append(f"{unit.item.conversation.ext_id} {unit.label}")
                continue
            chosen.append((unit, pick, "supervisor"))
        elif unit.consensus is not None:
            chosen.append((unit, unit.consensus, "majority"))
    if undecided:
        raise WorkflowError(f"有 {len(undecided)} 项票数相同,请主管逐项选定后再确认:{'、'.join(undecided[:5])}")
    before = [audit.snapshot(g, ("item_id", "unit", "value", "decided_by"))
              for g in session.scalars(select(CalibrationGold).where(CalibrationGold.session_id == cs.id))]
    for g in session.scalars(select(CalibrationGold).where(CalibrationGold.session_id == cs.id)):
        session.delete(g)
    session.flush()
    now = utcnow()
    rows = [CalibrationGold(session_id=cs.id, item_id=u.item.id, unit=u.key, finding_id=u.finding.id if u.finding else None,
                            value=value, votes=dict(u.votes), decided_by=how, accepted_by=actor.id, accepted_at=now)
            for u, value, how in chosen]
    session.add_all(rows)
    s_before = audit.snapshot(cs, SESSION_STATE)
    cs.gold_accepted_by, cs.gold_accepted_at = actor.id, now
    session.flush()
    audit.record(session, actor, "calibration.gold", "calibration_sessions", cs.id, s_before | {"gold": before},
                 audit.snapshot(cs, SESSION_STATE) | {"gold": [{"conversation": u.item.conversation.ext_id, "unit": u.key,
                                                                 "value": v, "decided_by": how} for u, v, how in chosen]})
    return rows


# --------------------------------------------------------------------------- gold labels out


def gold_rows(session: Session) -> Iterable[dict[str, Any]]:
    """Every accepted gold label, one JSON-ready row each (``export-labels --calibration-gold``):
    the conversation, the unit (``finding`` with its rule, entry, item, turn, span and masked
    evidence; ``grade``; ``issue_type``; ``sentiment``), the value, the votes and how it was decided."""
    from ..privacy import mask_free_text
    from .labels import masked_evidence

    names = dict(session.execute(select(User.id, User.username)).all())
    q = (select(CalibrationGold, CalibrationItem, CalibrationSession)
         .join(CalibrationItem, CalibrationItem.id == CalibrationGold.item_id)
         .join(CalibrationSession, CalibrationSession.id == CalibrationGold.session_id)
         .order_by(CalibrationGold.session_id, CalibrationItem.position, CalibrationGold.id))
    for g, item, cs in session.execute(q):
        conv = item.conversation
        f = session.get(Finding, g.finding_id) if g.finding_id is not None else None
        row = {"conversation_id": conv.ext_id, "session": cs.id, "session_title": mask_free_text(cs.title),
               "unit": "finding" if f is not None else g.unit, "value": g.value, "votes": g.votes, "decided_by": g.decided_by,
               "accepted_by": names.get(g.accepted_by), "accepted_at": g.accepted_at.isoformat() if g.accepted_at else None}
        if f is not None:
            row.update({"rule": f.rule, "entry": f.entry, "item": f.item, "category": mask_free_text(f.category),
                        "turn": f.turn, "start": f.start, "end": f.end, "evidence": masked_evidence(conv, f)})
        yield row
