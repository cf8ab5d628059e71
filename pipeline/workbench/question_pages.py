"""The 评分表问题 pages (issue 17): the list of questions (rules.yaml's read-only with their status and
held-out figures; the workbench's added and edited by a QA lead), each question's active-learning
queue (the conversations whose machine answer is least sure), and the one-click answer on the
conversation page — each a thin translation of form fields into question_store.py, which checks the
values and writes the audit log.

Installed by ``app.create_app``; routes are gated like every page (``require_view_queue`` /
``require_manage_questions`` / ``require_review``, so pipeline/workbench/matrix.py lists them).
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from sqlalchemy.orm import Session

from . import question_stats, question_store
from .db import Question, User
from .permissions import can
from .web import (checked_form, conversation_response, error_status, form_field, get_db, render, require, run_action,
                  visible_conversation)

NOT_FOUND = "找不到该问题。"


def choices_field(raw: str) -> list[str]:
    """「是,否,不适用」(commas, 、 or spaces) → the choices."""
    for sep in ("，", "、", " ", "/"):
        raw = raw.replace(sep, ",")
    return [c for c in raw.split(",") if c.strip()]


def install(app: FastAPI) -> None:  # noqa: C901 — one route table, read top to bottom
    def status_of(e: Exception) -> int:
        return 400 if isinstance(e, question_store.QuestionError) else error_status(e)  # a value to fix

    config = app.state.config
    inspector_sees = str(config["workbench"]["inspector_sees"])

    def _list_response(request, db, user, error: str | None = None, form: dict | None = None, status: int = 200):
        questions = question_store.all_questions(db, config, active_only=False)
        return render(request, "questions.html", user, {
            "questions": questions, "sizes": question_stats.queue_sizes(db, [q.key for q in questions]),
            "items": question_store.scorecard_items(config), "can_manage": can(user, "manage_questions"),
            "default_choices": "、".join(question_store.DEFAULT_CHOICES), "error": error, "form": form or {},
            "snippets": {q.key: question_store.rules_yaml_snippet(q) for q in questions if q.editable}}, status)

    @app.get("/questions")
    def questions_page(request: Request, user: User = Depends(require("view_queue")), db: Session = Depends(get_db)):
        return _list_response(request, db, user)

    def _again(request, db, user, form):
        def again(e: Exception):
            fields = {k: form_field(form, k) for k in ("key", "text", "choices", "item")}
            return _list_response(request, db, user, error=str(e), form=fields, status=status_of(e))
        return again

    @app.post("/questions")
    def question_create(request: Request, user: User = Depends(require("manage_questions")),
                        form: Any = Depends(checked_form), db: Session = Depends(get_db)):
        def act():
            question_store.create_question(db, config, user, key=form_field(form, "key"), text=form_field(form, "text"),
                                           choices=choices_field(form_field(form, "choices")), item=form_field(form, "item") or None)

        return run_action(request, db, act, f"已添加问题 {form_field(form, 'key')}:质检员可在会话页一键作答。", "/questions",
                          _again(request, db, user, form))

    @app.post("/questions/{question_id:id}/edit")
    def question_edit(request: Request, question_id: int, user: User = Depends(require("manage_questions")),
                      form: Any = Depends(checked_form), db: Session = Depends(get_db)):
        q = db.get(Question, question_id)
        if q is None:
            raise HTTPException(404, NOT_FOUND)

        def act():
            question_store.update_question(db, config, user, q, text=form_field(form, "text"),
                                           choices=choices_field(form_field(form, "choices")), item=form_field(form, "item") or None,
                                           active=form_field(form, "active") != "0")

        return run_action(request, db, act, f"已保存问题 {q.key}。", f"/questions#q-{q.key}", _again(request, db, user, form))

    @app.get("/questions/{key}/queue")
    def question_queue(request: Request, key: str, user: User = Depends(require("view_queue")), db: Session = Depends(get_db)):
        q = question_store.find_question(db, config, key)
        if q is None:
            raise HTTPException(404, NOT_FOUND)
        answered = request.query_params.get("answered") == "1"
        limit = int(config["questions"]["queue_length"])
        rows = question_stats.uncertain_queue(db, user, q, inspector_sees, limit=limit, include_answered=answered)
        return render(request, "question_queue.html", user, {"q": q, "rows": rows, "answered": answered, "limit": limit})

    @app.post("/conversations/{conv_id:id}/questions")
    def answer_question(request: Request, conv_id: int, user: User = Depends(require("review")),
                        form: Any = Depends(checked_form), db: Session = Depends(get_db)):
        conv = visible_conversation(db, user, conv_id, inspector_sees)
        key, answer = form_field(form, "question"), form_field(form, "answer")

        def again(e: Exception):
            return conversation_response(request, db, user, conv, error=str(e), status=status_of(e))

        return run_action(request, db, lambda: question_store.set_answer(db, config, conv, key, answer, user),
                          f"已记录:{key} → {answer}", f"/conversations/{conv.id}#question-{key}", again)
