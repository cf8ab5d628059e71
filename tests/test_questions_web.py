"""评分表问题 pages over HTTP (issue 17): every question route × every role (``QUESTION_EXPECTED``; a new
question route without a row fails), each allowed POST leaving its row in the audit log, CSRF on every
POST, the one-click answer on the conversation page with the machine's answer, confidence and evidence
turns, the active-learning queue, a form error said in Chinese, and the 一致性 page counting the answer.
The sample run loaded into SQLite, as in tests/test_workbench_roles.py (whose ``site`` fixture this
reuses: logins of admin, sup, insp and agent A010)."""

from __future__ import annotations

import re
import warnings
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import select

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: F401 — imported by test_workbench_roles too

from test_workbench_roles import LOGIN, OK, PEOPLE, ROLES, _audit_count, _client, _outcome, only, site  # noqa: F401 — site: fixture

from pipeline.workbench import database
from pipeline.workbench.db import Conversation, MachineAnswer, Question, QuestionAnswer

QUESTION_EXPECTED: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/questions"): only("admin", "supervisor", "inspector"),
    ("POST", "/questions"): only("admin", "supervisor"),
    ("POST", "/questions/{question_id}/edit"): only("admin", "supervisor"),
    ("GET", "/questions/{key}/queue"): only("admin", "supervisor", "inspector"),
    ("POST", "/conversations/{conv_id}/questions"): only("admin", "supervisor", "inspector"),
}
QUESTION_ROUTES = frozenset(QUESTION_EXPECTED)


@contextmanager
def _db(url: str):
    engine, factory = database.open_database(url, migrate=False)
    try:
        with factory() as s:
            yield s
    finally:
        engine.dispose()


@contextmanager
def _app(site):
    """A copy of the site's database with a workbench question added as the QA lead would: (app, url, its id)."""
    from pipeline.config import load_config
    from pipeline.workbench.app import create_app
    from pipeline.workbench.db import User
    from pipeline.workbench.question_store import create_question

    url = site.copy()
    with _db(url) as s:
        sup = s.scalar(select(User).where(User.username == "sup"))
        qid = create_question(s, load_config(), sup, key="question.refund_time", text="坐席是否说明了退款到账时间?",
                              choices=["是", "否", "不适用"], item=None).id
        s.commit()
    app = create_app(site.config, url)
    try:
        yield app, url, qid
    finally:
        app.state.engine.dispose()


def _form(path: str, n: int = 0) -> dict[str, str]:
    if path == "/questions":
        return {"key": f"question.added_{n}", "text": "坐席是否核对了订单号?", "choices": "是、否、不适用", "item": ""}
    if path.endswith("/edit"):
        return {"text": "坐席是否说明了退款到账的时间?", "choices": "是,否,不适用", "item": "", "active": "1"}
    return {"question": "question.resolved", "answer": "否"}


def test_every_question_route_has_a_row(site):
    from test_workbench_roles import app_routes

    with _app(site) as (app, _, _):
        served = {(m, p) for m, p in app_routes(app) if p.startswith("/questions") or p.endswith("/questions")}
        assert served == set(QUESTION_EXPECTED)


CASES = [(m, p, role) for (m, p) in QUESTION_EXPECTED for role in ROLES]


@pytest.mark.parametrize("method, path, role", CASES, ids=[f"{m} {p} {r}" for m, p, r in CASES])
def test_role_reaches_only_what_it_may_on_questions(site, method, path, role):
    expected = QUESTION_EXPECTED[(method, path)][role]
    with _app(site) as (app, url, qid):
        concrete = (path.replace("{question_id}", str(qid)).replace("{key}", "question.resolved")
                    .replace("{conv_id}", str(site.states["pool"])))
        client, token = _client(site, app, role)
        actor = site.ids.get(PEOPLE[role][0]) if role != "anonymous" else None
        before = _audit_count(url, actor) if actor else None
        if method == "GET":
            r = client.get(concrete, follow_redirects=False)
        else:
            r = client.post(concrete, data={**_form(path), "csrf_token": token}, follow_redirects=False)
        assert _outcome(r) == expected, (r.status_code, r.headers.get("location"), r.text[:600])
        if method == "POST" and expected == OK:
            assert r.status_code == 303, r.text[:600]
            assert _audit_count(url, actor) > before, r.text[:400]
        if expected == 403:
            assert "无权" in r.text


@pytest.mark.parametrize("path", [p for (m, p) in QUESTION_EXPECTED if m == "POST"])
def test_question_posts_without_a_valid_csrf_token_are_refused(site, path):
    role = next(r for r in ROLES if QUESTION_EXPECTED[("POST", path)][r] == OK)
    with _app(site) as (app, _, qid):
        client, token = _client(site, app, role)
        concrete = path.replace("{question_id}", str(qid)).replace("{conv_id}", str(site.states["pool"]))
        for sent in ({}, {"csrf_token": "forged" + token[6:]}):
            r = client.post(concrete, data={**_form(path), **sent}, follow_redirects=False)
            assert r.status_code == 403 and "CSRF" in r.text


def test_answer_on_the_conversation_page_then_queue_and_agreement(site):
    with _app(site) as (app, url, _):
        insp, token = _client(site, app, "inspector")
        page = insp.get("/questions/question.resolved/queue").text
        queued = re.findall(r'<tr data-conv="([^"]+)">', page)
        assert queued, "the inspector's queue offers the least sure conversations"
        with _db(url) as s:
            convs = {c.ext_id: c for c in s.scalars(select(Conversation).where(Conversation.ext_id.in_(queued)))}
            conf = {m.conversation_id: m.confidence for m in s.scalars(select(MachineAnswer).where(MachineAnswer.question == "question.resolved"))}
        order = [conf[convs[e].id] for e in queued]
        assert order == sorted(order)
        conv = convs[queued[0]]
        html = insp.get(f"/conversations/{conv.id}").text
        row = re.search(r'<tr id="question-question\.resolved".*?</tr>', html, re.S).group(0)
        assert "需人工判断" in row or "<b>" in row  # the machine's answer, or its abstention
        assert re.search(r'class="confidence">\d+%<', row) and re.search(r'href="#t-\d+">第 \d+ 句', row)
        assert [b for b in re.findall(r'name="answer" value="([^"]+)"', row)] == ["是", "否", "不确定"]
        r = insp.post(f"/conversations/{conv.id}/questions", data={"question": "question.resolved", "answer": "否", "csrf_token": token},
                      follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/conversations/{conv.id}#question-question.resolved"
        html = insp.get(r.headers["location"]).text
        assert 'value="否" class="choice chosen"' in html and "已答:否" in html
        assert f'data-conv="{conv.ext_id}"' not in insp.get("/questions/question.resolved/queue").text  # answered: off the queue
        bad = insp.post(f"/conversations/{conv.id}/questions", data={"question": "question.resolved", "answer": "也许", "csrf_token": token})
        assert bad.status_code == 400 and "「也许」不是问题 question.resolved 的选项" in bad.text
        sup, _ = _client(site, app, "supervisor")
        agreement = sup.get("/agreement").text
        row = re.search(r'<tr data-question="question\.resolved">.*?</tr>', agreement, re.S).group(0)
        assert re.search(r'data-key="answered">1<', row) and re.search(r'data-key="held-out">0\.\d+', row)
        with _db(url) as s:
            a = s.scalar(select(QuestionAnswer))
            assert (a.answer, a.user_id, a.conversation_id) == ("否", site.ids["insp"], conv.id)


def test_a_qa_lead_adds_a_question_and_inspectors_are_offered_it(site):
    with _app(site) as (app, url, _):
        sup, token = _client(site, app, "supervisor")
        page = sup.get("/questions").text
        assert 'data-question="question.resolved"' in page and "lexicons/rules.yaml(只读)" in page and 'id="add-question"' in page
        bad = sup.post("/questions", data={"key": "退款", "text": "x", "choices": "是、否", "csrf_token": token})
        assert bad.status_code == 400 and "须以 question. 开头" in bad.text and 'value="退款"' in bad.text  # kept to fix
        r = sup.post("/questions", data={"key": "question.refund_reason", "text": "坐席是否说明了退款到账时间?", "choices": "是、否、不适用",
                                         "item": "", "csrf_token": token}, follow_redirects=False)
        assert r.status_code == 303
        page = sup.get("/questions").text
        assert 'data-question="question.refund_reason"' in page and "model: question_refund_reason" in page
        insp, _ = _client(site, app, "inspector")
        assert 'id="add-question"' not in insp.get("/questions").text  # inspectors answer, they don't define
        html = insp.get(f"/conversations/{site.states['pool']}").text
        row = re.search(r'<tr id="question-question\.refund_reason".*?</tr>', html, re.S).group(0)
        assert "坐席是否说明了退款到账时间?" in row and re.findall(r'name="answer" value="([^"]+)"', row) == ["是", "否", "不适用"]
        with _db(url) as s:
            assert s.scalar(select(Question.created_by).where(Question.key == "question.refund_reason")) == site.ids["sup"]
        assert sup.get("/questions/question.nope/queue").status_code == 404
