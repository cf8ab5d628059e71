"""The 差评 pages (issue 19): the list (我的差评 for agents; overdue first), one case's page (the review,
the machine's suggested reason with its evidence, the transcript, the agent's 情况说明, the investigation,
responsibility, measures, 回访, the case's history) and its actions — each a thin translation of form
fields into pipeline/cases/service.py, which checks who may do what and writes the audit log.

Installed by ``app.create_app``; routes are gated like every page (``require_view_cases`` /
``require_account_case`` / ``require_handle_cases``, so pipeline/workbench/matrix.py lists them); a case
the user may not see answers 404, the same as one that doesn't exist; everything a person sees goes
through the templates' masking ``finalize``.
"""

from __future__ import annotations

from datetime import datetime, time, timezone
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..cases import reason as reasons
from ..cases import service
from . import audit, permissions, transcript
from .db import CASE_STATES, Case, CaseMeasure, Finding, User
from .ids import parse_id
from .web import FormError, checked_form, error_status, form_field, get_db, render, require, run_action

NOT_FOUND = "找不到该差评,或您无权查看。"


def install(app: FastAPI) -> None:  # noqa: C901 — one route table, read top to bottom

    config = app.state.config
    mask_char = config["privacy"]["mask_char"]
    tz = app.state.tz

    def _case_or_404(db: Session, user: User, case_id: int) -> Case:
        case = db.get(Case, case_id)
        if case is None or not service.can_view_case(user, case):
            raise HTTPException(404, NOT_FOUND)
        return case

    @app.get("/cases")
    def cases_list(request: Request, user: User = Depends(require("view_cases")), db: Session = Depends(get_db)):
        params = request.query_params
        state = params.get("state") or "active"
        if state not in (*CASE_STATES, "active", "all"):
            state = "active"
        rows = service.list_cases(db, user, overdue_only=params.get("overdue") == "1", agent=params.get("agent") or None,
                                  state=None if state == "all" else state)
        return render(request, "cases.html", user, {
            "rows": rows, "unread": service.unread_case_ids(db, user), "state": state,
            "filters": {"overdue": params.get("overdue") == "1", "agent": params.get("agent") or ""},
            "state_labels": service.STATE_LABELS, "source_labels": service.SOURCE_LABELS})

    @app.get("/cases/{case_id:id}")
    def case_page(request: Request, case_id: int, user: User = Depends(require("view_cases")), db: Session = Depends(get_db)):
        case = _case_or_404(db, user, case_id)
        if case.id in service.unread_case_ids(db, user):
            service.mark_read(db, case, user)
            db.commit()
        return _case_response(request, db, user, case)

    def _case_response(request, db, user, case, error: str | None = None, status: int = 200):
        conv = case.conversation
        views, findings, finding_index = [], [], {}
        if conv is not None:
            findings = list(db.scalars(select(Finding).where(Finding.conversation_id == conv.id, Finding.source == "machine")
                                       .order_by(Finding.position)))
            views, _ = transcript.build_transcript(conv, findings, reveal=False, mask_char=mask_char)
            finding_index = {f.id: n + 1 for n, f in enumerate(findings)}
        people = {u.id: u for u in db.scalars(select(User))}
        handles = permissions.can(user, "handle_cases")
        history = audit.history(db, "cases", case.id)
        sug = case.suggestion or {}
        return render(request, "case.html", user, {
            "case": case, "conv": conv, "turns": views, "finding_index": finding_index, "reveal": False,
            "suggestion": sug, "overdue": service.overdue_items(case), "people": people, "history": history,
            "error": error, "handles": handles,
            "can_account": permissions.can(user, "account_case") and case.state == "open" and user.agent_id == case.agent_id,
            "can_done": {m.id: service.can_complete_measure(user, case, m) and case.state == "measures" and m.done_at is None
                         for m in case.measures},
            "owners": [u for u in people.values() if u.active and u.role in ("agent", "supervisor", "admin")],
            "classes": reasons.CLASSES, "state_labels": service.STATE_LABELS, "source_labels": service.SOURCE_LABELS,
            "responsibility_labels": service.RESPONSIBILITY_LABELS, "measure_labels": service.MEASURE_LABELS,
            "follow_up_labels": service.FOLLOW_UP_LABELS, "states": CASE_STATES,
            "measure_due_d": config["cases"]["measure_due_d"]}, status)

    def _act(request, db, user, case, act, done: str, anchor: str = ""):
        def again(e: Exception):
            db.refresh(case)
            return _case_response(request, db, user, case, error=str(e), status=error_status(e))

        return run_action(request, db, act, done, f"/cases/{case.id}{anchor}", again)

    def _due(form: Any) -> datetime | None:
        raw = form_field(form, "due_at")
        if not raw:
            return None
        try:
            day = datetime.fromisoformat(raw)
        except ValueError:
            raise FormError(f"完成期限「{raw}」不是日期:请写成 2026-12-08") from None
        if day.tzinfo is None:  # a date typed on the page: the end of that day, in the workbench's time zone
            day = datetime.combine(day.date(), time(23, 59), tzinfo=tz) if len(raw) <= 10 else day.replace(tzinfo=tz)
        return day.astimezone(timezone.utc)

    @app.post("/cases/{case_id:id}/account")
    def case_account(request: Request, case_id: int, user: User = Depends(require("account_case")),
                     form: Any = Depends(checked_form), db: Session = Depends(get_db)):
        case = _case_or_404(db, user, case_id)
        return _act(request, db, user, case, lambda: service.submit_account(db, case, form_field(form, "text"), user),
                    "情况说明已提交,等待主管调查。", "#account")

    @app.post("/cases/{case_id:id}/note")
    def case_note(request: Request, case_id: int, user: User = Depends(require("handle_cases")),
                  form: Any = Depends(checked_form), db: Session = Depends(get_db)):
        case = _case_or_404(db, user, case_id)
        return _act(request, db, user, case, lambda: service.add_note(db, case, form_field(form, "note"), user), "已记录调查。",
                    "#investigation")

    @app.post("/cases/{case_id:id}/contact")
    def case_contact(request: Request, case_id: int, user: User = Depends(require("handle_cases")),
                     form: Any = Depends(checked_form), db: Session = Depends(get_db)):
        case = _case_or_404(db, user, case_id)
        return _act(request, db, user, case,
                    lambda: service.add_contact(db, case, form_field(form, "channel"), form_field(form, "note"), user),
                    "已记录客户沟通。", "#investigation")

    @app.post("/cases/{case_id:id}/responsibility")
    def case_responsibility(request: Request, case_id: int, user: User = Depends(require("handle_cases")),
                            form: Any = Depends(checked_form), db: Session = Depends(get_db)):
        case = _case_or_404(db, user, case_id)
        return _act(request, db, user, case,
                    lambda: service.set_responsibility(db, case, form.getlist("responsibility"), form_field(form, "confirmed_reason"),
                                                       form_field(form, "note") or None, user),
                    "已认定责任。", "#responsibility")

    @app.post("/cases/{case_id:id}/measures")
    def case_measure(request: Request, case_id: int, user: User = Depends(require("handle_cases")),
                     form: Any = Depends(checked_form), db: Session = Depends(get_db)):
        case = _case_or_404(db, user, case_id)

        def act():
            owner_id = parse_id(form_field(form, "owner_id"))
            owner = db.get(User, owner_id) if owner_id is not None else None
            service.add_measure(db, case, form_field(form, "kind"), owner, _due(form), form_field(form, "note") or None, user, config)

        return _act(request, db, user, case, act, "已添加处理措施。", "#measures")

    @app.post("/cases/{case_id:id}/measures/{measure_id:id}/done")
    def case_measure_done(request: Request, case_id: int, measure_id: int, user: User = Depends(require("view_cases")),
                          form: Any = Depends(checked_form), db: Session = Depends(get_db)):
        case = _case_or_404(db, user, case_id)

        def act():
            m = db.get(CaseMeasure, measure_id)
            if m is None or m.case_id != case.id:
                raise FormError("该措施不属于这条差评:请刷新页面后重试")
            service.complete_measure(db, case, m, form_field(form, "note") or None, user)

        return _act(request, db, user, case, act, "措施已完成。", "#measures")

    @app.post("/cases/{case_id:id}/follow-up")
    def case_follow_up(request: Request, case_id: int, user: User = Depends(require("handle_cases")),
                       form: Any = Depends(checked_form), db: Session = Depends(get_db)):
        case = _case_or_404(db, user, case_id)
        return _act(request, db, user, case,
                    lambda: service.follow_up(db, case, form_field(form, "result"), form_field(form, "note") or None, user),
                    "已记录回访结果。", "#follow-up")

    @app.post("/cases/{case_id:id}/close")
    def case_close(request: Request, case_id: int, user: User = Depends(require("handle_cases")),
                   form: Any = Depends(checked_form), db: Session = Depends(get_db)):
        case = _case_or_404(db, user, case_id)
        return _act(request, db, user, case, lambda: service.close(db, case, user), "差评已结案。")
