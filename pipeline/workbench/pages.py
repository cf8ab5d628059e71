"""The review pages: login and logout, the queue and my items, one conversation (verdicts, missed
findings, submit, disputes and appeals, the audited reveal), disputes' sign-off, agreement, users
and the audit log — each a thin translation of form fields into the workflow in ``review`` /
``users`` (which check who may do what and write the audit log).

Installed by ``app.create_app``; the helpers every page shares are in web.py.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import audit, auth, calibration, permissions, question_stats, queue, users
from . import review as workflow
from .db import ROLES, AuditEntry, Conversation, Dispute, Finding, Review, User
from .ids import parse_id
from .web import (DISPUTE_KIND_LABELS, DISPUTE_STATE_LABELS, ROLE_LABELS, SENTIMENT_LABELS, SEVERITY_LABELS, FormError,
                  active_inspectors, checked_form, client_address, conversation_response, current_user, error_status, flash,
                  form_field, get_db, home_path, locate_evidence, login_slot, max_score, render, require, require_login,
                  run_action, safe_next, score_field, session_of, visible_conversation, workflow_errors)

def install(app: FastAPI) -> None:  # noqa: C901 — one route table, read top to bottom
    config = app.state.config
    wb = config["workbench"]
    page_size = int(wb["queue_page_size"])
    mask_char = config["privacy"]["mask_char"]
    inspector_sees = str(wb["inspector_sees"])
    permissions.check_inspector_sees(inspector_sees)  # a bad value fails at start, not on a page

    @app.get("/")
    def home(user: User = Depends(require_login)):
        return RedirectResponse(home_path(user), status_code=303)

    # -- login / logout --
    @app.get("/login")
    def login_page(request: Request, user: User | None = Depends(current_user)):
        if user is not None:
            return RedirectResponse(home_path(user), status_code=303)
        return render(request, "login.html", None, {"next": safe_next(request.query_params.get("next"), "")})

    @app.post("/login")
    def login(request: Request, _slot: None = Depends(login_slot), form: Any = Depends(checked_form),
              db: Session = Depends(get_db)):
        username, password = form_field(form, "username"), form.get("password") or ""
        nxt = safe_next(form.get("next"), "")
        ctx = {"next": nxt, "username": username}
        client = client_address(request)
        block = _login_block(db, username, client)
        if block is not None:
            wait_s = max(1, math.ceil((block.until - datetime.now(timezone.utc)).total_seconds()))
            resp = render(request, "login.html", None, {**ctx, "error": auth.retry_message(block, tz=app.state.tz)}, 429)
            resp.headers["Retry-After"] = str(wait_s)
            return resp
        if not username or not password:
            return render(request, "login.html", None, {**ctx, "error": "请填写用户名和密码。"}, 400)
        # the read transaction ends before the ~0.1 s hash: its connection goes back to the pool
        user = users.authenticate(db, username, password, app.state.config, release_connection=True)
        auth.record_login_attempt(db, username, client, ok=user is not None)
        if user is None:
            audit.record(db, None, "login.failed", "logins", auth.username_key(username), None, {"client": client})
            db.flush()
            lock = _login_block(db, username, client)
            if lock is not None:
                audit.record(db, None, "login.lock", "logins", auth.username_key(username), None,
                             {"client": client, "by": lock.by, "until": lock.until})
            db.commit()
            return render(request, "login.html", None, {**ctx, "error": "用户名或密码错误,或账号已停用。"}, 401)
        request.state.session = auth.start_session(db, user, client)
        audit.record(db, user, "login", "users", user.id, None, {"client": client})
        db.commit()
        return RedirectResponse(nxt or home_path(user), status_code=303)

    def _login_block(db: Session, username: str, client: str) -> auth.LoginBlock | None:
        return auth.login_blocked(db, username, client, max_failures_per_user=int(wb["login_max_failures"]),
                                  max_failures_per_client=int(wb["login_max_failures_per_client"]),
                                  window_s=int(wb["login_window_s"]))

    @app.post("/logout")
    def logout(request: Request, form: Any = Depends(checked_form), db: Session = Depends(get_db)):
        uid = auth.end_session(db, session_of(request))
        if uid is not None:
            audit.record(db, db.get(User, uid), "logout", "users", uid, None, {"client": client_address(request)})
        db.commit()
        request.state.session = {"csrf": auth.new_csrf_token(), "flash": [["ok", "您已退出登录。"]]}
        return RedirectResponse("/login", status_code=303)

    # -- queue and my items --
    @app.get("/queue")
    def queue_view(request: Request, user: User = Depends(require("view_queue")), db: Session = Depends(get_db)):
        filters = queue.parse_filters(request.query_params)
        page = queue.queue_page(db, user, filters, page_size, inspector_sees=inspector_sees)
        ctx = {"filters": filters, "page": page, "options": queue.filter_options(db, user, inspector_sees), "sorts": queue.SORTS,
               "grades": queue.GRADES, "statuses": workflow.STATUS_LABELS,
               "can_assign": permissions.can(user, "assign"),
               "inspectors": active_inspectors(db) if permissions.can(user, "assign") else [],
               "assignees": _assignee_names(db, page.items)}
        return render(request, "queue.html", user, ctx, 400 if filters.errors else 200)

    @app.post("/queue/assign")
    def assign(request: Request, user: User = Depends(require("assign")), form: Any = Depends(checked_form),
               db: Session = Depends(get_db)):
        back = safe_next(form.get("next"), "/queue")
        try:
            ids = [i for i in map(parse_id, form.getlist("conv_ids")) if i is not None]
            if not ids:
                raise FormError("请先勾选要分配的会话")
            convs = [visible_conversation(db, user, i, inspector_sees) for i in ids]
            if form.get("mode") == "round_robin":
                chosen = [i for i in map(parse_id, form.getlist("inspectors")) if i is not None]
                pool = [u for u in active_inspectors(db) if not chosen or u.id in chosen]
                if not pool:
                    raise FormError("没有可分配的在岗质检员:请先在「用户」页创建质检员账号")
                workflow.assign_round_robin(db, [c.id for c in convs], pool, actor=user)
                msg = f"已将 {len(convs)} 条会话轮流分配给 {len(pool)} 位质检员。"
            else:
                target = form_field(form, "inspector")
                inspector = db.get(User, parse_id(target)) if parse_id(target) is not None else None
                if inspector is None or not inspector.active or not permissions.can(inspector, "review"):
                    raise FormError("请选择一位在岗的质检员")
                workflow.assign(db, [c.id for c in convs], inspector, actor=user)
                msg = f"已将 {len(convs)} 条会话分配给 {inspector.display_name or inspector.username}。"
        except workflow_errors() as e:
            db.rollback()
            flash(request, str(e), "error")
            return RedirectResponse(back, status_code=303)
        db.commit()
        flash(request, msg)
        return RedirectResponse(back, status_code=303)

    @app.get("/my")
    def my_items(request: Request, user: User = Depends(require_login), db: Session = Depends(get_db)):
        filters = queue.parse_filters(request.query_params)
        if user.role == "agent":
            # an agent's list is all their results, reviewed or not (permissions limit it to their own)
            filters.status = filters.status if "status" in request.query_params else "all"
        else:
            filters.assignee = user.id
        page = queue.queue_page(db, user, filters, page_size, flagged_only=False, inspector_sees=inspector_sees)
        return render(request, "my.html", user, {"filters": filters, "page": page, "statuses": workflow.STATUS_LABELS,
                                                 "calibration_tasks": calibration.open_tasks(db, user)})

    # -- one conversation --
    @app.get("/conversations/{conv_id:id}")
    def conversation(request: Request, conv_id: int, user: User = Depends(require_login), db: Session = Depends(get_db)):
        conv = visible_conversation(db, user, conv_id, inspector_sees)
        return conversation_response(request, db, user, conv)

    @app.post("/conversations/{conv_id:id}/reveal")
    def reveal(request: Request, conv_id: int, user: User = Depends(require("see_unmasked")),
               form: Any = Depends(checked_form), db: Session = Depends(get_db)):
        conv = visible_conversation(db, user, conv_id, inspector_sees)
        reason = form_field(form, "reason")
        if not reason:
            return conversation_response(request, db, user, conv, error="请填写查看个人信息的理由(记入审计日志)。", status=400)
        workflow.reveal_pii(db, conv, user, reason)
        db.commit()
        # shown once, in this response only (no-store): reloading the page masks again
        return conversation_response(request, db, user, conv, reveal=True)

    def _conversation_action(request: Request, db: Session, user: User, conv: Conversation, action, done: str, anchor: str = ""):
        def again(e: Exception):
            db.refresh(conv)
            return conversation_response(request, db, user, conv, error=str(e), status=error_status(e))

        return run_action(request, db, action, done, f"/conversations/{conv.id}{anchor}", again)

    @app.post("/conversations/{conv_id:id}/verdict")
    def verdict(request: Request, conv_id: int, user: User = Depends(require("review")), form: Any = Depends(checked_form),
                db: Session = Depends(get_db)):
        conv = visible_conversation(db, user, conv_id, inspector_sees)

        def act():
            fid = form_field(form, "finding_id")
            finding = db.get(Finding, parse_id(fid)) if parse_id(fid) is not None else None
            if finding is None or finding.conversation_id != conv.id:
                raise FormError("该发现不属于这条会话:请刷新页面后重试")
            value = form_field(form, "verdict")
            if value not in ("confirmed", "rejected"):
                raise FormError("请选择「确认」或「误报」")
            rv = workflow.start_review(db, conv, user)
            workflow.set_verdict(db, rv, finding, value, form_field(form, "comment") or None, actor=user)

        return _conversation_action(request, db, user, conv, act, "已保存判定。", f"#f-{form_field(form, 'finding_id')}")

    @app.post("/conversations/{conv_id:id}/missed")
    def missed(request: Request, conv_id: int, user: User = Depends(require("review")), form: Any = Depends(checked_form),
               db: Session = Depends(get_db)):
        conv = visible_conversation(db, user, conv_id, inspector_sees)

        def act():
            rule = form_field(form, "rule")
            if not rule:
                raise FormError("请填写漏检的规则编号,例如 forbidden.phrase")
            raw_turn = form_field(form, "turn")
            turn_no = parse_id(raw_turn)
            if turn_no is None or turn_no > len(conv.turns):
                raise FormError(f"句子序号「{raw_turn}」无效:请填写 1–{len(conv.turns)} 之间的整数")
            turn = turn_no - 1
            start, end = locate_evidence(conv, turn, form_field(form, "evidence"), mask_char)
            top = max_score(config)
            points = score_field(form, "points", "分值", required=True, low=-top, high=top)
            severity = form_field(form, "severity") or None
            if severity is not None and severity not in SEVERITY_LABELS:
                raise FormError("严重度请从下拉列表中选择")
            rv = workflow.start_review(db, conv, user)
            workflow.add_missed_finding(db, rv, rule=rule, turn=turn, start=start, end=end, points=points,
                                      comment=form_field(form, "comment") or None, actor=user,
                                      category=form_field(form, "category") or None, severity=severity, config=config)

        return _conversation_action(request, db, user, conv, act, "已添加漏检。", "#review")

    @app.post("/conversations/{conv_id:id}/missed/{finding_id:id}/delete")
    def remove_missed(request: Request, conv_id: int, finding_id: int, user: User = Depends(require("review")),
                      form: Any = Depends(checked_form), db: Session = Depends(get_db)):
        conv = visible_conversation(db, user, conv_id, inspector_sees)

        def act():
            finding = db.get(Finding, finding_id)
            if finding is None or finding.conversation_id != conv.id:
                raise FormError("该漏检不属于这条会话:请刷新页面后重试")
            workflow.remove_missed_finding(db, workflow.start_review(db, conv, user), finding, actor=user)

        return _conversation_action(request, db, user, conv, act, "已删除这条漏检。", "#review")

    @app.post("/conversations/{conv_id:id}/submit")
    def submit(request: Request, conv_id: int, user: User = Depends(require("review")), form: Any = Depends(checked_form),
               db: Session = Depends(get_db)):
        conv = visible_conversation(db, user, conv_id, inspector_sees)

        def act():
            score = score_field(form, "human_score", "人工得分", required=False, low=0, high=max_score(config))
            sentiment = form_field(form, "sentiment") or None
            if sentiment is not None and sentiment not in SENTIMENT_LABELS:
                raise FormError("情绪请选择 正面 / 中性 / 负面,或留空")
            rv = workflow.start_review(db, conv, user)
            workflow.submit_review(db, rv, human_score=score, issue_type=form_field(form, "issue_type") or None, sentiment=sentiment,
                                 comment=form_field(form, "comment") or None, actor=user, config=config)

        return _conversation_action(request, db, user, conv, act, "复核已提交。")

    @app.post("/conversations/{conv_id:id}/dispute")
    def dispute(request: Request, conv_id: int, user: User = Depends(require("dispute")), form: Any = Depends(checked_form),
                db: Session = Depends(get_db)):
        conv = visible_conversation(db, user, conv_id, inspector_sees)
        return _open_dispute(request, db, user, conv, form, "dispute")

    @app.post("/conversations/{conv_id:id}/appeal")
    def appeal(request: Request, conv_id: int, user: User = Depends(require("appeal")), form: Any = Depends(checked_form),
               db: Session = Depends(get_db)):
        conv = visible_conversation(db, user, conv_id, inspector_sees)
        return _open_dispute(request, db, user, conv, form, "appeal")

    def _open_dispute(request, db, user, conv, form, kind):

        def act():
            reason = form_field(form, "reason")
            if not reason:
                raise FormError(f"请填写{DISPUTE_KIND_LABELS[kind]}理由")
            workflow.open_dispute(db, conv, kind, reason, actor=user)

        done = "申诉已提交,将由另一位质检员独立复核后由质检主管签核。" if kind == "appeal" else "已提出争议,等待第二位质检员复核。"
        return _conversation_action(request, db, user, conv, act, done)

    # -- disputes (supervisor) --
    @app.get("/disputes")
    def disputes(request: Request, user: User = Depends(require("sign_off")), db: Session = Depends(get_db)):
        state = request.query_params.get("state") or "active"
        q = select(Dispute, Conversation).join(Conversation, Conversation.id == Dispute.conversation_id)
        if state == "active":
            q = q.where(Dispute.state.in_(("open", "second_reviewed")))
        elif state in DISPUTE_STATE_LABELS:
            q = q.where(Dispute.state == state)
        # waiting for a sign-off first, then oldest first
        rows = db.execute(q.order_by((Dispute.state == "second_reviewed").desc(), Dispute.created_at, Dispute.id)).all()
        people = {u.id: u for u in db.scalars(select(User))}
        rounds = _round_scores(db, [c.id for _, c in rows])
        return render(request, "disputes.html", user, {"rows": rows, "state": state, "people": people, "rounds": rounds,
                                                       "inspectors": active_inspectors(db), "decisions": workflow.DECISIONS})

    @app.post("/disputes/{dispute_id:id}/sign-off")
    def sign_off(request: Request, dispute_id: int, user: User = Depends(require("sign_off")),
                 form: Any = Depends(checked_form), db: Session = Depends(get_db)):
        d = db.get(Dispute, dispute_id)
        if d is None:
            raise HTTPException(404, "找不到该争议。")
        conv = visible_conversation(db, user, d.conversation_id, inspector_sees)
        fields = {k: form_field(form, k) for k in ("decision", "final_score", "comment")}
        try:
            final = score_field(form, "final_score", "最终得分", required=False, low=0, high=max_score(config))
            if fields["decision"] not in workflow.DECISIONS:
                raise FormError("请选择签核结论:维持原结果或改判")
            if form.get("confirm") != "yes":
                # irreversible: first show what will be recorded, then sign off on a second, explicit click
                plan = workflow.plan_sign_off(db, d, decision=fields["decision"], final_score=final, comment=fields["comment"],
                                              config=config)
                return render(request, "sign_off_confirm.html", user, {"d": d, "c": conv, "plan": plan, "fields": fields,
                                                                        "decisions": workflow.DECISIONS})
            d = workflow.sign_off(db, d, final_score=final, decision=fields["decision"], comment=fields["comment"] or None,
                                  actor=user, config=config)
        except workflow_errors() as e:
            db.rollback()
            flash(request, str(e), "error")
            return RedirectResponse(f"/disputes#d-{dispute_id}", status_code=303)
        db.commit()
        flash(request, f"会话 {conv.ext_id} 已签核({workflow.DECISIONS[d.state]}),最终得分 {d.final_score:g}。")
        return RedirectResponse("/disputes", status_code=303)

    # -- agreement --
    @app.get("/agreement")
    def agreement(request: Request, user: User = Depends(require("view_agreement")), db: Session = Depends(get_db)):
        from pipeline.trust import STATUS_LABELS
        from pipeline.workbench import labels, trust

        precision = trust.rule_trust(db, config)
        return render(request, "agreement.html", user, {
            "columns": list(precision.columns), "rows": precision.to_dict("records"), "scores": labels.score_agreement(db, config=config),
            "trust": trust.trust_summary(db, precision, config), "status_labels": STATUS_LABELS,
            "question_rows": question_stats.question_agreement(db, config)})

    # -- users (admin) --
    @app.get("/users")
    def users_page(request: Request, user: User = Depends(require("manage_users")), db: Session = Depends(get_db)):
        return _users_response(request, db, user)

    def _users_response(request, db, user, error=None, form=None, status=200):
        people = list(db.scalars(select(User).order_by(User.active.desc(), User.role, User.username)))
        locked = {p.id: b for p in people if (b := _login_block(db, p.username, "")) is not None and b.by == "username"}
        return render(request, "users.html", user, {"people": people, "roles": ROLES, "error": error, "form": form or {},
                                                    "min_password": int(wb["password_min_length"]),
                                                    "sessions": auth.active_sessions(db), "locked": locked}, status)

    @app.post("/users")
    def create_user(request: Request, user: User = Depends(require("manage_users")), form: Any = Depends(checked_form),
                    db: Session = Depends(get_db)):
        fields = {k: form_field(form, k) for k in ("username", "display_name", "role", "agent_id", "team")}
        try:
            created = users.create_user(db, fields["username"], form.get("password") or "", fields["role"],
                                        display_name=fields["display_name"], agent_id=fields["agent_id"] or None,
                                        team=fields["team"] or None, actor=user, config=app.state.config)
        except users.UserError as e:
            db.rollback()
            return _users_response(request, db, user, error=str(e), form=fields, status=400)
        db.commit()
        flash(request, f"已创建用户 {created.username}({ROLE_LABELS[created.role]})。")
        return RedirectResponse("/users", status_code=303)

    @app.post("/users/{user_id:id}/deactivate")
    def deactivate(request: Request, user_id: int, user: User = Depends(require("manage_users")),
                   form: Any = Depends(checked_form), db: Session = Depends(get_db)):
        target = _target_user(db, user_id)
        if target.id == user.id:
            flash(request, "不能停用自己的账号:请让另一位管理员操作。", "error")
            return RedirectResponse("/users", status_code=303)
        users.set_active(db, target, False, actor=user)
        return _users_done(request, db, f"已停用用户 {target.username};其登录立即失效。")

    def _target_user(db: Session, user_id: int) -> User:
        target = db.get(User, user_id)
        if target is None:
            raise HTTPException(404, "找不到该用户。")
        return target

    def _users_done(request: Request, db: Session, message: str):
        db.commit()
        flash(request, message)
        return RedirectResponse("/users", status_code=303)

    @app.post("/users/{user_id:id}/sign-out")
    def sign_out_everywhere(request: Request, user_id: int, user: User = Depends(require("manage_users")),
                            form: Any = Depends(checked_form), db: Session = Depends(get_db)):
        target = _target_user(db, user_id)
        ended = users.sign_out_everywhere(db, target, actor=user)
        return _users_done(request, db, f"已结束用户 {target.username} 的 {ended} 处登录。")

    @app.post("/users/{user_id:id}/unlock")
    def unlock(request: Request, user_id: int, user: User = Depends(require("manage_users")),
               form: Any = Depends(checked_form), db: Session = Depends(get_db)):
        target = _target_user(db, user_id)
        users.unlock_user(db, target.username, actor=user)
        return _users_done(request, db, f"已解除用户 {target.username} 的登录锁定。")

    # -- audit log --
    @app.get("/audit")
    def audit_log(request: Request, user: User = Depends(require("view_audit")), db: Session = Depends(get_db)):
        params = request.query_params
        q = select(AuditEntry)
        entity, action, who = params.get("entity") or "", params.get("action") or "", params.get("user") or ""
        if entity:
            q = q.where(AuditEntry.entity == entity)
        if params.get("entity_id"):
            q = q.where(AuditEntry.entity_id == params["entity_id"])
        if action:
            q = q.where(AuditEntry.action == action)
        if parse_id(who) is not None:
            q = q.where(AuditEntry.user_id == parse_id(who))
        total = db.scalar(select(func.count()).select_from(q.subquery())) or 0
        pages = max(1, math.ceil(total / page_size))
        page = min(parse_id(params.get("page")) or 1, pages)
        entries = db.scalars(q.order_by(AuditEntry.id.desc()).limit(page_size).offset((page - 1) * page_size)).all()
        people = {u.id: u for u in db.scalars(select(User))}
        actions = list(db.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))
        entities = list(db.scalars(select(AuditEntry.entity).distinct().order_by(AuditEntry.entity)))
        return render(request, "audit.html", user, {
            "entries": entries, "people": people, "page": page, "pages": pages, "total": total, "actions": actions,
            "entities": entities, "f": {"entity": entity, "action": action, "user": who, "entity_id": params.get("entity_id") or ""}})


def _assignee_names(db: Session, convs: list[Conversation]) -> dict[int, str]:
    ids = {c.assignee_id for c in convs if c.assignee_id}
    if not ids:
        return {}
    return {u.id: u.display_name or u.username for u in db.scalars(select(User).where(User.id.in_(ids)))}


def _round_scores(db: Session, conv_ids: list[int]) -> dict[tuple[int, int], Review]:
    """The submitted review of each round per conversation, for the sign-off form."""
    if not conv_ids:
        return {}
    out = {}
    for r in db.scalars(select(Review).where(Review.conversation_id.in_(conv_ids), Review.submitted_at.is_not(None))
                        .order_by(Review.submitted_at)):
        out[(r.conversation_id, r.round)] = r
    return out
