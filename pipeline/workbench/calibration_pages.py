"""The calibration pages (校准): the list and the create form, a session's page (progress, then the
results), one conversation's blind answer form, and the actions — each a thin translation of form
fields into calibration.py, which checks who may do what and writes the audit log.

Installed by ``app.create_app``; routes are gated like every page (``require_calibrate`` /
``require_run_calibration``, so pipeline/workbench/matrix.py lists them), and everything a person sees
goes through the templates' masking ``finalize``.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import calibration, permissions, transcript
from .db import CalibrationSession, Finding, User
from . import review as workflow
from .ids import parse_id
from .web import (FormError, active_inspectors, checked_form, error_status, flash, form_field, get_db, max_score, render, require,
                  run_action, score_field, workflow_errors)

NOT_FOUND = "找不到该校准会话,或您不是它的参与人。"
DEFAULT_SAMPLE_SEED = 14


def install(app: FastAPI) -> None:  # noqa: C901 — one route table, read top to bottom
    can = permissions.can

    config = app.state.config
    mask_char = config["privacy"]["mask_char"]

    def _session_or_404(db: Session, user: User, session_id: int) -> CalibrationSession:
        cs = db.get(CalibrationSession, session_id)
        if cs is None or not calibration.can_see_session(db, cs, user):
            raise HTTPException(404, NOT_FOUND)
        return cs

    def _item_or_404(db: Session, cs: CalibrationSession, item_id: int):
        item = calibration.get_item(db, cs, item_id)
        if item is None:
            raise HTTPException(404, NOT_FOUND)
        return item

    def _list_response(request: Request, db: Session, user: User, error: str | None = None, form: dict | None = None,
                       status: int = 200):
        from .sampling import latest_sample

        runs = calibration.visible_sessions(db, user)
        progress = {cs.id: (sum(p.submitted_at is not None for p in cs.participants), len(cs.participants)) for cs in runs}
        sample = latest_sample(db) if can(user, "run_calibration") else None
        return render(request, "calibration_list.html", user, {
            "sessions": runs, "progress": progress, "error": error, "form": form or {},
            "can_run": can(user, "run_calibration"),
            "inspectors": active_inspectors(db) if can(user, "run_calibration") else [],
            "sample_size": len((sample or {}).get("ids") or []), "state_labels": calibration.STATE_LABELS,
            "default_seed": DEFAULT_SAMPLE_SEED}, status)

    @app.get("/calibration")
    def calibration_list(request: Request, user: User = Depends(require("calibrate")), db: Session = Depends(get_db)):
        return _list_response(request, db, user)

    @app.post("/calibration")
    def calibration_create(request: Request, user: User = Depends(require("run_calibration")),
                           form: Any = Depends(checked_form), db: Session = Depends(get_db)):
        fields = {k: form_field(form, k) for k in ("title", "ext_ids", "sample_n", "seed")}
        try:
            ids = calibration.conversations_by_ext_id(db, fields["ext_ids"])
            if fields["sample_n"]:
                n, seed = parse_id(fields["sample_n"]), parse_id(fields["seed"] or str(DEFAULT_SAMPLE_SEED))
                if n is None or seed is None:
                    raise FormError("抽取条数和随机种子须为正整数")
                ids += [i for i in calibration.conversations_from_sample(db, n, seed) if i not in ids]
            people = [i for i in map(parse_id, form.getlist("participants")) if i is not None]
            cs = calibration.create_session(db, fields["title"], ids, people, actor=user)
        except workflow_errors() as e:
            db.rollback()
            return _list_response(request, db, user, error=str(e), form=fields, status=error_status(e))
        db.commit()
        flash(request, f"已创建校准会话「{cs.title}」:{len(cs.items)} 条会话,{len(cs.participants)} 位质检员。")
        return RedirectResponse(f"/calibration/{cs.id}", status_code=303)

    @app.get("/calibration/{session_id:id}")
    def calibration_session(request: Request, session_id: int, user: User = Depends(require("calibrate")),
                            db: Session = Depends(get_db)):
        return _session_response(request, db, user, _session_or_404(db, user, session_id))

    def _session_response(request, db, user, cs, error: str | None = None, status: int = 200):
        me = calibration.participant(db, cs, user)
        people = {u.id: u for u in db.scalars(select(User).where(User.id.in_([p.user_id for p in cs.participants] + [cs.created_by])))}
        mine = {}
        if me is not None:
            for item in cs.items:
                judged = calibration.verdicts_of(calibration.answer_of(db, item, user))
                total = len(calibration.machine_findings(item.conversation))
                mine[item.id] = (sum(f.id in judged for f in calibration.machine_findings(item.conversation)), total)
        open_results = calibration.results_open(cs)
        res = calibration.results(db, cs, config) if open_results else None
        return render(request, "calibration_session.html", user, {
            "cs": cs, "me": me, "people": people, "mine": mine, "res": res, "error": error,
            "can_run": can(user, "run_calibration"), "state_labels": calibration.STATE_LABELS,
            "gold": calibration.gold_of(db, cs) if open_results else {}}, status)

    @app.get("/calibration/{session_id:id}/items/{item_id:id}")
    def calibration_item(request: Request, session_id: int, item_id: int, user: User = Depends(require("calibrate")),
                         db: Session = Depends(get_db)):
        cs = _session_or_404(db, user, session_id)
        return _item_response(request, db, user, cs, _item_or_404(db, cs, item_id))

    def _item_response(request, db, user, cs, item, error: str | None = None, status: int = 200):
        conv = item.conversation
        findings = calibration.machine_findings(conv)
        views, loose = transcript.build_transcript(conv, findings, reveal=False, mask_char=mask_char)
        me = calibration.participant(db, cs, user)
        answer = calibration.answer_of(db, item, user) if me is not None else None
        answering = me is not None and me.submitted_at is None and cs.state == "open"
        res = calibration.results(db, cs, config) if calibration.results_open(cs) else None
        votes = {u.key: u for u in res["units"] if u.item.id == item.id} if res else {}
        position = [i.id for i in cs.items].index(item.id)
        return render(request, "calibration_item.html", user, {
            "cs": cs, "item": item, "conv": conv, "findings": findings, "turns": views, "loose_findings": loose,
            "finding_index": {f.id: n + 1 for n, f in enumerate(findings)},
            "evidence": {f.id: transcript.shown_evidence(conv, f, reveal=False, mask_char=mask_char) for f in findings},
            "answer": answer, "my_verdicts": {v.finding_id: v for v in (answer.verdicts if answer else [])},
            "answering": answering, "me": me, "res": res, "votes": votes,
            "suggested": calibration.answer_score(conv, answer, config), "score_high": max_score(config),
            "issue_types": workflow.issue_type_labels(), "error": error, "reveal": False,
            "prev_item": cs.items[position - 1] if position > 0 else None,
            "next_item": cs.items[position + 1] if position + 1 < len(cs.items) else None,
            "people": {u.id: u for u in db.scalars(select(User).where(User.id.in_([p.user_id for p in cs.participants])))}},
            status)

    def _item_action(request, db, user, cs, item, act, done: str, anchor: str = ""):
        return run_action(request, db, act, done, f"/calibration/{cs.id}/items/{item.id}{anchor}",
                          lambda e: _item_response(request, db, user, cs, item, error=str(e), status=error_status(e)))

    @app.post("/calibration/{session_id:id}/items/{item_id:id}/verdict")
    def calibration_verdict(request: Request, session_id: int, item_id: int, user: User = Depends(require("calibrate")),
                            form: Any = Depends(checked_form), db: Session = Depends(get_db)):
        cs = _session_or_404(db, user, session_id)
        item = _item_or_404(db, cs, item_id)

        def act():
            fid = parse_id(form_field(form, "finding_id"))
            finding = db.get(Finding, fid) if fid is not None else None
            if finding is None:
                raise FormError("该发现不属于这条会话:请刷新页面后重试")
            calibration.set_verdict(db, cs, item, finding, form_field(form, "verdict"), form_field(form, "comment") or None, actor=user)

        return _item_action(request, db, user, cs, item, act, "已保存判定。", f"#f-{form_field(form, 'finding_id')}")

    @app.post("/calibration/{session_id:id}/items/{item_id:id}/answer")
    def calibration_answer(request: Request, session_id: int, item_id: int, user: User = Depends(require("calibrate")),
                           form: Any = Depends(checked_form), db: Session = Depends(get_db)):
        cs = _session_or_404(db, user, session_id)
        item = _item_or_404(db, cs, item_id)

        def act():
            score = score_field(form, "human_score", "人工得分", required=False, low=0, high=max_score(config))
            calibration.save_answer(db, cs, item, human_score=score, issue_type=form_field(form, "issue_type") or None,
                                    sentiment=form_field(form, "sentiment") or None, comment=form_field(form, "comment") or None,
                                    actor=user, config=config)

        return _item_action(request, db, user, cs, item, act, "已保存本条会话的评分。", "#answer")

    def _session_action(request, db, user, cs, act, done: str):
        def again(e: Exception):
            db.refresh(cs)
            return _session_response(request, db, user, cs, error=str(e), status=error_status(e))

        return run_action(request, db, act, done, f"/calibration/{cs.id}", again)

    @app.post("/calibration/{session_id:id}/submit")
    def calibration_submit(request: Request, session_id: int, user: User = Depends(require("calibrate")),
                           form: Any = Depends(checked_form), db: Session = Depends(get_db)):
        cs = _session_or_404(db, user, session_id)
        return _session_action(request, db, user, cs, lambda: calibration.submit(db, cs, user, config),
                               "已提交全部答案。其他参与人全部提交后即可查看结果。")

    @app.post("/calibration/{session_id:id}/close")
    def calibration_close(request: Request, session_id: int, user: User = Depends(require("run_calibration")),
                          form: Any = Depends(checked_form), db: Session = Depends(get_db)):
        cs = _session_or_404(db, user, session_id)
        return _session_action(request, db, user, cs, lambda: calibration.close(db, cs, user),
                               "校准会话已结束:结果按已提交的参与人计算。")

    @app.post("/calibration/{session_id:id}/gold")
    def calibration_gold(request: Request, session_id: int, user: User = Depends(require("run_calibration")),
                         form: Any = Depends(checked_form), db: Session = Depends(get_db)):
        cs = _session_or_404(db, user, session_id)
        decisions = {k.removeprefix("tie:"): form_field(form, k) for k in form.keys() if k.startswith("tie:")}
        return _session_action(request, db, user, cs, lambda: calibration.accept_gold(db, cs, decisions, user, config),
                               "已将共识答案确认为金标准(zhijian export-labels --calibration-gold 可导出)。")
