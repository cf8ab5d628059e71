"""差评 pages over HTTP (issue 19): every /cases route × every role (``CASE_EXPECTED``; a new /cases
route without a row fails), each allowed POST leaving its row in the audit log, an agent's 404 on
another agent's case, CSRF on every POST, the badge, personal data masked on the case page, the list
ordered overdue first. The sample run loaded into SQLite, as in tests/test_workbench_roles.py (whose
``site`` fixture this reuses: logins of admin, sup, insp and agent A010)."""

from __future__ import annotations

import re
import warnings
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: F401 — imported by test_workbench_roles too

from test_workbench_roles import LOGIN, OK, OWN_AGENT, PEOPLE, ROLES, _audit_count, _client, _outcome, only, site  # noqa: F401 — site: fixture

from pipeline.cases import service
from pipeline.workbench import database
from pipeline.workbench.db import Case, Conversation, User

# (method, path as the app declares it) -> outcome per role; the state the case is put in first
CASE_EXPECTED: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/cases"): only("admin", "supervisor", "agent"),
    ("GET", "/cases/{case_id}"): only("admin", "supervisor", "agent"),
    ("POST", "/cases/{case_id}/account"): only("agent"),  # the agent's own voice: not even an admin
    ("POST", "/cases/{case_id}/note"): only("admin", "supervisor"),
    ("POST", "/cases/{case_id}/contact"): only("admin", "supervisor"),
    ("POST", "/cases/{case_id}/responsibility"): only("admin", "supervisor"),
    ("POST", "/cases/{case_id}/measures"): only("admin", "supervisor"),
    ("POST", "/cases/{case_id}/measures/{measure_id}/done"): only("admin", "supervisor", "agent"),  # the agent owns it
    ("POST", "/cases/{case_id}/follow-up"): only("admin", "supervisor"),
    ("POST", "/cases/{case_id}/close"): only("admin", "supervisor"),
}
CASE_ROUTES = frozenset(CASE_EXPECTED)
STATE_FOR = {"account": "open", "note": "accounted", "contact": "accounted", "responsibility": "investigating",
             "measures": "responsibility", "done": "measures", "follow-up": "done", "close": "followed_up"}
NOW = datetime.now(timezone.utc)


def _prepare(url: str, cfg: dict, state: str, agent_id: str = OWN_AGENT) -> tuple[int, int | None]:
    """A new case of ``agent_id`` walked to ``state`` ('done': every measure done); (case id, measure id)."""
    engine, factory = database.open_database(url, migrate=False)
    try:
        with factory() as s:
            conv = s.scalar(select(Conversation).where(Conversation.agent_id == agent_id).order_by(Conversation.id))
            case, _ = service.open_case(s, cfg, key=f"test:{state}:{agent_id}", source="import", received_at=NOW,
                                        conversation=conv, review_text="客服态度差,我的电话 13912345678")
            who = {u.username: u for u in s.scalars(select(User))}
            sup, agent = who["sup"], who.get("agent")
            measure = None
            order = ["open", "accounted", "investigating", "responsibility", "measures", "done", "followed_up"]
            for step in order[1:order.index(state) + 1]:
                if step == "accounted":
                    case.state, case.account_text, case.account_at = "accounted", "说明", NOW  # as if the agent wrote it
                elif step == "investigating":
                    service.add_note(s, case, "调查", sup)
                elif step == "responsibility":
                    service.set_responsibility(s, case, ["individual"], "服务态度", None, sup)
                elif step == "measures":
                    owner = agent if agent_id == OWN_AGENT else sup
                    measure = service.add_measure(s, case, "apology", owner, None, None, sup, cfg).id
                elif step == "done":
                    for m in case.measures:
                        service.complete_measure(s, case, m, None, sup)
                elif step == "followed_up":
                    service.follow_up(s, case, "satisfied", None, sup)
            s.commit()
            return case.id, measure
    finally:
        engine.dispose()


def _form(path: str) -> dict[str, Any]:
    return {"account": {"text": "当时系统故障,我回复慢了"}, "note": {"note": "听了录音"},
            "contact": {"channel": "电话", "note": "客户接受道歉"},
            "responsibility": {"responsibility": ["individual", "training"], "confirmed_reason": "服务态度"},
            "measures": {"kind": "training", "owner_id": "", "due_at": "2030-01-31"}, "done": {"note": "已完成"},
            "follow-up": {"result": "satisfied", "note": ""}, "close": {}}[path.rstrip("/").split("/")[-1]]


def test_every_case_route_has_a_row(site):
    from pipeline.workbench.app import create_app
    from test_workbench_roles import app_routes

    app = create_app(site.config, site.copy())
    try:
        served = {(m, p) for m, p in app_routes(app) if p.startswith("/cases")}
        assert served == set(CASE_EXPECTED)
    finally:
        app.state.engine.dispose()


CASES = [(m, p, role) for (m, p) in CASE_EXPECTED for role in ROLES]


@pytest.mark.parametrize("method, path, role", CASES, ids=[f"{m} {p} {r}" for m, p, r in CASES])
def test_role_reaches_only_what_it_may_on_cases(site, method, path, role):
    from pipeline.workbench.app import create_app

    expected = CASE_EXPECTED[(method, path)][role]
    url = site.copy()
    last = path.rstrip("/").split("/")[-1]
    case_id, measure_id = _prepare(url, site.config, STATE_FOR.get(last, "open"))
    app = create_app(site.config, url)
    try:
        concrete = path.replace("{case_id}", str(case_id)).replace("{measure_id}", str(measure_id))
        client, token = _client(site, app, role)
        actor = site.ids.get(PEOPLE[role][0]) if role != "anonymous" else None
        before = _audit_count(url, actor) if actor else None
        if method == "GET":
            r = client.get(concrete, follow_redirects=False)
        else:
            form = _form(path)
            if last == "measures":
                form["owner_id"] = str(site.ids["sup"])
            r = client.post(concrete, data={**form, "csrf_token": token}, follow_redirects=False)
        assert _outcome(r) == expected, (r.status_code, r.headers.get("location"), r.text[:600])
        if method == "POST" and expected == OK:
            assert r.headers["location"].startswith(f"/cases/{case_id}")
            assert _audit_count(url, actor) > before, r.text[:400]
        if expected == 403:
            assert "无权" in r.text
    finally:
        app.state.engine.dispose()


def test_an_agent_gets_404_for_another_agents_case_and_does_not_see_it_listed(site):
    from pipeline.workbench.app import create_app

    url = site.copy()
    other, _ = _prepare(url, site.config, "open", agent_id="A001")
    mine, _ = _prepare(url, site.config, "open")
    app = create_app(site.config, url)
    try:
        client, token = _client(site, app, "agent")
        assert client.get(f"/cases/{other}").status_code == 404
        assert client.get("/cases/999999999").status_code == 404  # the same answer as a case that doesn't exist
        assert client.post(f"/cases/{other}/account", data={"text": "x", "csrf_token": token}).status_code == 404
        html = client.get("/cases?state=all").text
        assert f'data-case="{mine}"' in html and f'data-case="{other}"' not in html
        assert "我的差评" in html
        sup, _ = _client(site, app, "supervisor")
        assert f'data-case="{other}"' in sup.get("/cases").text
    finally:
        app.state.engine.dispose()


@pytest.mark.parametrize("path", [p for (m, p) in CASE_EXPECTED if m == "POST"])
def test_case_posts_without_a_valid_csrf_token_are_refused(site, path):
    from pipeline.workbench.app import create_app

    url = site.copy()
    last = path.rstrip("/").split("/")[-1]
    case_id, measure_id = _prepare(url, site.config, STATE_FOR[last])
    role = next(r for r in ROLES if CASE_EXPECTED[("POST", path)][r] == OK)
    app = create_app(site.config, url)
    try:
        client, token = _client(site, app, role)
        concrete = path.replace("{case_id}", str(case_id)).replace("{measure_id}", str(measure_id))
        for sent in ({}, {"csrf_token": "forged" + token[6:]}):
            r = client.post(concrete, data={**_form(path), **sent}, follow_redirects=False)
            assert r.status_code == 403 and "CSRF" in r.text
    finally:
        app.state.engine.dispose()


def test_badge_list_order_masking_and_a_form_error(site):
    from pipeline.workbench.app import create_app

    url = site.copy()
    engine, factory = database.open_database(url, migrate=False)
    with factory() as s:
        s.execute(Case.__table__.delete())  # only the cases this test makes
        s.commit()
    engine.dispose()
    fresh, _ = _prepare(url, site.config, "open")
    engine, factory = database.open_database(url, migrate=False)
    with factory() as s:
        conv = s.scalar(select(Conversation).where(Conversation.agent_id == OWN_AGENT).order_by(Conversation.id.desc()))
        late, _ = service.open_case(s, site.config, key="late", source="rating", received_at=NOW - timedelta(days=10),
                                    conversation=conv, review_text="太慢了 邮箱 zhang.san@example.com")
        s.commit()
        late_id = late.id
    engine.dispose()
    app = create_app(site.config, url)
    try:
        client, token = _client(site, app, "agent")
        page = client.get("/cases").text
        assert re.search(r'id="case-badge"[^>]*>\s*2\s*<', page), "two unread notices"
        rows = re.findall(r'<tr data-case="(\d+)" class="([^"]*)"', page)
        assert [int(r[0]) for r in rows] == [late_id, fresh] and "overdue" in rows[0][1]
        html = client.get(f"/cases/{fresh}").text
        assert "13912345678" not in html and "客服态度差" in html  # the review text, masked
        assert "系统初判原因" in html and 'id="suggested-reason"' in html
        assert "zhang.san@example.com" not in client.get(f"/cases/{late_id}").text
        assert "case-badge" not in client.get("/my").text  # both opened: read
        r = client.post(f"/cases/{fresh}/account", data={"text": " ", "csrf_token": token}, follow_redirects=False)
        assert r.status_code == 409 and "请填写情况说明" in r.text
    finally:
        app.state.engine.dispose()


@pytest.mark.parametrize("method, path", sorted(CASE_EXPECTED))
def test_a_case_id_beyond_64_bits_is_404(site, method, path):
    from pipeline.workbench.app import create_app

    app = create_app(site.config, site.copy())
    try:
        client, token = _client(site, app, "supervisor")
        huge = "9" * 20
        concrete = path.replace("{case_id}", huge).replace("{measure_id}", huge)
        if concrete == path:
            return  # /cases: no id
        r = client.get(concrete) if method == "GET" else client.post(concrete, data={"csrf_token": token})
        assert r.status_code == 404
    finally:
        app.state.engine.dispose()
