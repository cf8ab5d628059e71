"""Who reaches what: every page and endpoint of the workbench × every role, from the app's own routes.

``EXPECTED`` has one row per (method, path) the app serves — a new route without a row fails
``test_every_route_has_a_row`` — and one outcome per role: ``OK`` (200, or a redirect that is not
to the login page; for a POST also: the change is in the audit log under that user), ``LOGIN``
(redirect to /login), 403, 404, 401 (the bearer-token API). Each POST case runs on its own copy of
the database (the sample run loaded with ``load_run``, reviews set up with the real workflow), and
every request carries a valid CSRF token, so a refusal can only come from the role.

Also here: an agent can't read another agent's conversation by id, POSTs without (or with a wrong)
CSRF token fail, login rate limiting, and PII masked in every conversation page.
"""

from __future__ import annotations

import re
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest
from sqlalchemy import func, select

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's TestClient nags about httpx vs httpx2 on import
    from starlette.testclient import TestClient

from pipeline.config import load_config
from pipeline.workbench import auth, database, users
from pipeline.workbench import review as workflow
from pipeline.workbench.db import AuditEntry, Conversation, User

PASSWORD = "correct-horse-42"
ROLES = ("admin", "supervisor", "inspector", "agent", "anonymous")
# the person who plays each role (plus the extra people the set-up needs)
PEOPLE = {"admin": ("admin", "admin", None), "supervisor": ("sup", "supervisor", None), "inspector": ("insp", "inspector", None),
          "agent": ("agent", "agent", "A010"), "_insp2": ("insp2", "inspector", None), "_insp3": ("insp3", "inspector", None)}
OWN_AGENT = "A010"

OK, LOGIN = "ok", "login"
ALL_IN = {"admin": OK, "supervisor": OK, "inspector": OK, "agent": OK, "anonymous": LOGIN}


def only(*allowed: str, denied: int = 403) -> dict[str, Any]:
    return {r: (OK if r in allowed else LOGIN if r == "anonymous" else denied) for r in ROLES}


# (method, path as the app declares it) -> outcome per role
EXPECTED: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/"): ALL_IN,
    ("GET", "/login"): {r: OK for r in ROLES},
    ("POST", "/login"): {r: OK for r in ROLES},
    ("POST", "/logout"): {r: LOGIN for r in ROLES},  # logging out lands on the login page, whoever you were
    ("GET", "/queue"): only("admin", "supervisor", "inspector"),
    ("POST", "/queue/assign"): only("admin", "supervisor"),
    ("GET", "/my"): ALL_IN,
    ("GET", "/conversations/{conv_id}"): ALL_IN,
    ("POST", "/conversations/{conv_id}/reveal"): only("admin", "supervisor"),
    ("POST", "/conversations/{conv_id}/verdict"): only("admin", "supervisor", "inspector"),
    ("POST", "/conversations/{conv_id}/missed"): only("admin", "supervisor", "inspector"),
    ("POST", "/conversations/{conv_id}/missed/{finding_id}/delete"): only("admin", "supervisor", "inspector"),
    ("POST", "/conversations/{conv_id}/submit"): only("admin", "supervisor", "inspector"),
    ("POST", "/conversations/{conv_id}/dispute"): only("admin", "supervisor", "inspector"),
    ("POST", "/conversations/{conv_id}/appeal"): only("agent"),  # the agent's own voice: not even an admin
    ("GET", "/disputes"): only("admin", "supervisor"),
    ("POST", "/disputes/{dispute_id}/sign-off"): only("admin", "supervisor"),
    ("GET", "/agreement"): only("admin", "supervisor"),
    ("GET", "/users"): only("admin"),
    ("POST", "/users"): only("admin"),
    ("POST", "/users/{user_id}/deactivate"): only("admin"),
    ("POST", "/users/{user_id}/sign-out"): only("admin"),
    ("POST", "/users/{user_id}/unlock"): only("admin"),
    ("GET", "/audit"): only("admin", "supervisor"),
    ("GET", "/calibration"): only("admin", "supervisor", "inspector"),
    ("POST", "/calibration"): only("admin", "supervisor"),
    ("GET", "/calibration/{session_id}"): only("admin", "supervisor", "inspector"),  # the inspector takes part
    ("GET", "/calibration/{session_id}/items/{item_id}"): only("admin", "supervisor", "inspector"),
    # only a participant answers (calibration.py): the admin and the supervisor run sessions, they don't take part
    ("POST", "/calibration/{session_id}/items/{item_id}/verdict"): only("inspector"),
    ("POST", "/calibration/{session_id}/items/{item_id}/answer"): only("inspector"),
    ("POST", "/calibration/{session_id}/submit"): only("inspector"),
    ("POST", "/calibration/{session_id}/close"): only("admin", "supervisor"),
    ("POST", "/calibration/{session_id}/gold"): only("admin", "supervisor"),
    ("GET", "/static"): {r: OK for r in ROLES},  # the stylesheet and script: public, no data
    ("GET", "/api/v1/health"): {r: OK for r in ROLES},  # liveness for monitoring, no data
    ("POST", "/api/v1/inspect"): {r: 401 for r in ROLES},  # bearer tokens only: a login cookie is not enough
}


def app_routes(app) -> set[tuple[str, str]]:
    """Every (method, path) the app answers: its OpenAPI description (which also lists the routes of
    included routers, e.g. the real-time API) plus its mounts (static files)."""
    from starlette.routing import Mount

    out = {(m.upper(), path) for path, ops in app.openapi()["paths"].items() for m in ops}
    out |= {("GET", r.path) for r in app.routes if isinstance(r, Mount)}
    return out


# --- the site: one loaded database, copied per case ---------------------------------------------------


@dataclass
class Site:
    config: dict
    template: Path  # the loaded SQLite file every case copies
    tmp: Path
    ids: dict[str, int]  # username -> user id
    cookies: dict[str, str]  # role -> session cookie (from a real login)
    states: dict[str, int]  # named conversations / disputes prepared with the workflow
    counter: int = 0

    def copy(self) -> str:
        self.counter += 1
        dst = self.tmp / f"case{self.counter}.db"
        shutil.copyfile(self.template, dst)
        return f"sqlite:///{dst}"


def _web_config(tmp: Path, **workbench) -> dict:
    # argon2id as in production, with a small memory cost: the tests log in many times
    wb = {"secret_key_file": str(tmp / "secret"), "argon2": {"time_cost": 1, "memory_cost_kib": 8192, "parallelism": 1}}
    wb.update(workbench)
    return load_config(overrides={"workbench": wb})


def _pick(s, where: Callable[[Conversation], bool], skip: set[int]) -> Conversation:
    for c in s.scalars(select(Conversation).order_by(Conversation.risk.desc(), Conversation.id)):
        if c.id not in skip and where(c):
            skip.add(c.id)
            return c
    raise AssertionError("the sample run lacks a conversation the role tests need")


@pytest.fixture(scope="module")
def site(tmp_path_factory, workbench_run_dir) -> Site:
    from pipeline.workbench.app import create_app
    from pipeline.workbench.load import load_run

    tmp = tmp_path_factory.mktemp("roles")
    cfg = _web_config(tmp)
    template = tmp / "template.db"
    url = f"sqlite:///{template}"
    engine, factory = database.open_database(url)
    states: dict[str, int] = {}
    with factory() as s:
        load_run(s, workbench_run_dir, config=cfg)
        people = {}
        for key, (name, role, agent_id) in PEOPLE.items():
            people[name] = users.create_user(s, name, PASSWORD, role, agent_id=agent_id, display_name=name, config=cfg)
        s.flush()
        sup, insp, insp2 = people["sup"], people["insp"], people["insp2"]

        def own_with_findings(c):
            return c.agent_id == OWN_AGENT and c.status == "pending" and sum(f.source == "machine" for f in c.findings) >= 1

        used: set[int] = set()
        states["pool"] = _pick(s, own_with_findings, used).id  # pending, unassigned: any reviewer may pick it up

        def reviewed_by(reviewer, conv):
            workflow.assign(s, [conv.id], reviewer, sup)
            rv = workflow.start_review(s, conv, reviewer)
            workflow.submit_review(s, rv, actor=reviewer, config=cfg)

        reviewed = _pick(s, own_with_findings, used)
        reviewed_by(insp, reviewed)
        states["reviewed"] = reviewed.id  # the agent may appeal it; insp (who reviewed it) may dispute it
        second = _pick(s, own_with_findings, used)
        reviewed_by(insp, second)
        d = workflow.open_dispute(s, second, "dispute", "第二句判定有误", insp)  # not sup: the raiser may not sign off
        workflow.assign(s, [second.id], insp2, sup)
        workflow.submit_review(s, workflow.start_review(s, second, insp2), actor=insp2, config=cfg)
        states["second_reviewed"], states["dispute"] = second.id, d.id
        # calibration: an open session where insp has judged everything (not submitted), and a complete one
        from pipeline.workbench import calibration

        cal_conv = _pick(s, own_with_findings, used)
        open_cs = calibration.create_session(s, "校准(进行中)", [cal_conv.id], [insp.id, insp2.id], sup)
        done_cs = calibration.create_session(s, "校准(已完成)", [cal_conv.id], [insp2.id, people["insp3"].id], sup)
        for cs, who in ((open_cs, insp), (done_cs, insp2), (done_cs, people["insp3"])):
            for f in calibration.machine_findings(cal_conv):
                calibration.set_verdict(s, cs, cs.items[0], f, "confirmed", None, who)
        for who in (insp2, people["insp3"]):
            calibration.submit(s, done_cs, who, cfg)
        states["cal_open"], states["cal_item"], states["cal_done"] = open_cs.id, open_cs.items[0].id, done_cs.id
        s.commit()
        ids = {u.username: u.id for u in s.scalars(select(User))}
    engine.dispose()

    app = create_app(cfg, url)
    cookies = {}
    for role in ROLES:
        client = TestClient(app, base_url="https://testserver")
        if role == "anonymous":
            client.get("/login")
        else:
            token = _csrf(client.get("/login").text)
            r = client.post("/login", data={"username": PEOPLE[role][0], "password": PASSWORD, "csrf_token": token},
                            follow_redirects=False)
            assert r.status_code == 303, (role, r.text[:300])
        cookies[role] = client.cookies.get(auth.SESSION_COOKIE)
    app.state.engine.dispose()
    return Site(cfg, template, tmp, ids, cookies, states)


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF field in the page"
    return m.group(1)


def _client(site: Site, app, role: str) -> tuple[TestClient, str]:
    client = TestClient(app, base_url="https://testserver", cookies={auth.SESSION_COOKIE: site.cookies[role]})
    token = app.state.codec.loads(site.cookies[role])["csrf"]
    return client, token


# --- what each case requests ----------------------------------------------------------------------------


def _case(site: Site, method: str, path: str, role: str, url: str) -> tuple[str, dict[str, Any] | None]:
    """The concrete URL and form for one (route, role): set up so that an allowed role succeeds."""
    st, ids = site.states, site.ids
    actor_name = PEOPLE.get(role, ("insp",))[0] if role != "anonymous" else "insp"
    form: dict[str, Any] | None = {} if method == "POST" else None
    params = {"conv_id": st["pool"], "dispute_id": st["dispute"], "user_id": ids["insp3"], "session_id": st["cal_open"],
              "item_id": st["cal_item"]}
    if path == "/static":
        return "/static/app.css", None
    if path == "/login" and method == "POST":
        form = {"username": PEOPLE[role][0] if role != "anonymous" else "insp", "password": PASSWORD}
    elif path == "/queue/assign":
        form = {"conv_ids": [st["pool"]], "inspector": ids["insp2"], "mode": "assign"}
    elif path.startswith("/calibration"):
        if path == "/calibration" and method == "POST":
            engine, factory = database.open_database(url, migrate=False)
            with factory() as s:
                ext = s.get(Conversation, st["pool"]).ext_id
            engine.dispose()
            form = {"title": "新校准", "ext_ids": ext, "participants": [ids["insp2"], ids["insp3"]]}
        elif path.endswith("/verdict"):
            engine, factory = database.open_database(url, migrate=False)
            with factory() as s:
                from pipeline.workbench.db import CalibrationItem

                conv = s.get(CalibrationItem, st["cal_item"]).conversation
                form = {"finding_id": next(f.id for f in conv.findings if f.source == "machine"), "verdict": "rejected"}
            engine.dispose()
        elif path.endswith("/answer"):
            form = {"human_score": "80", "comment": "校准"}
        elif path.endswith("/gold"):
            params["session_id"] = st["cal_done"]
    elif path.endswith("/verdict") or path.endswith("/missed") or path.endswith("/delete"):
        engine, factory = database.open_database(url, migrate=False)
        with factory() as s:
            conv = s.get(Conversation, st["pool"])
            finding = next(f for f in conv.findings if f.source == "machine")
            if path.endswith("/verdict"):
                form = {"finding_id": finding.id, "verdict": "rejected", "comment": "误报"}
            elif path.endswith("/missed"):
                form = {"rule": "closing.missing", "turn": len(conv.turns), "evidence": "", "points": "-5"}
            else:
                # a missed finding in the acting reviewer's own draft (for roles that may not review: insp's)
                who = s.scalar(select(User).where(User.username == (actor_name if role in ("admin", "supervisor", "inspector") else "insp")))
                rv = workflow.start_review(s, conv, who)
                added = workflow.add_missed_finding(s, rv, rule="closing.missing", turn=0, start=None, end=None, points=-5,
                                                    comment=None, actor=who, config=site.config)
                params["finding_id"] = added.id
                s.commit()
        engine.dispose()
    elif path.endswith("/reveal"):
        form = {"reason": "核实来电号码"}
    elif path.endswith("/submit"):
        form = {"human_score": "80", "comment": "ok"}
    elif path.endswith("/dispute"):
        params["conv_id"] = st["reviewed"]
        form = {"reason": "得分偏低"}
    elif path.endswith("/appeal"):
        params["conv_id"] = st["reviewed"]
        form = {"reason": "我已经道歉了"}
    elif path.endswith("/sign-off"):
        form = {"final_score": "88", "decision": "overturned", "comment": "第二轮属实,酌情调整", "confirm": "yes"}
    elif path == "/users" and method == "POST":
        form = {"username": f"new_{role}", "display_name": "新人", "role": "inspector", "password": PASSWORD}
    concrete = re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: str(params[m.group(1)]), path)
    return concrete, form


def _outcome(r) -> Any:
    if r.status_code in (302, 303, 307):
        return LOGIN if r.headers["location"].startswith("/login") else OK
    return OK if r.status_code == 200 else r.status_code


def _audit_count(url: str, user_id: int | None) -> int:
    engine, factory = database.open_database(url, migrate=False)
    try:
        with factory() as s:
            return s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.user_id == user_id)) or 0
    finally:
        engine.dispose()


CASES = [(m, p, role) for (m, p) in EXPECTED for role in ROLES]


@pytest.fixture(scope="module")
def read_only_app(site):
    from pipeline.workbench.app import create_app

    app = create_app(site.config, site.copy())
    yield app
    app.state.engine.dispose()


def test_every_route_has_a_row(read_only_app):
    from test_cases_web import CASE_ROUTES  # the 差评 routes × roles are tested there, each on a case in the right state
    from test_questions_web import QUESTION_ROUTES  # the 评分表问题 routes × roles: tested there

    served = app_routes(read_only_app) - CASE_ROUTES - QUESTION_ROUTES
    assert served - set(EXPECTED) == set(), "routes without an expected outcome per role: add them to EXPECTED"
    assert set(EXPECTED) - served == set(), "rows for routes the app no longer serves: remove them"


@pytest.mark.parametrize("method, path, role", CASES, ids=[f"{m} {p} {r}" for m, p, r in CASES])
def test_role_reaches_only_what_it_may(site, read_only_app, method, path, role):
    from pipeline.workbench.app import create_app

    expected = EXPECTED[(method, path)][role]
    if method == "GET":
        app, url = read_only_app, None
    else:
        url = site.copy()
        app = create_app(site.config, url)
    try:
        concrete, form = _case(site, method, path, role, url or "")
        client, token = _client(site, app, role)
        actor = site.ids.get(PEOPLE[role][0]) if role != "anonymous" else None
        before = _audit_count(url, actor) if url and actor else None
        if method == "GET":
            r = client.get(concrete, follow_redirects=False)
        else:
            r = client.post(concrete, data={**form, "csrf_token": token}, follow_redirects=False)
        assert _outcome(r) == expected, (r.status_code, r.headers.get("location"), r.text[:400])
        if method == "POST" and expected == OK and path not in ("/login",):
            # allowed means done: the change is in the audit log under this user
            assert _audit_count(url, actor) > before, r.text[:400]
        if expected == 403 and not path.startswith("/api/"):
            assert "无权" in r.text
    finally:
        if app is not read_only_app:
            app.state.engine.dispose()


# --- another agent's conversation, another inspector's item ----------------------------------------------


def test_an_agent_cannot_reach_another_agents_conversation_by_id(site, read_only_app):
    client, token = _client(site, read_only_app, "agent")
    engine, factory = database.open_database(f"sqlite:///{site.template}", migrate=False)
    with factory() as s:
        others = list(s.scalars(select(Conversation.id).where(Conversation.agent_id != OWN_AGENT)))
        own = list(s.scalars(select(Conversation.id).where(Conversation.agent_id == OWN_AGENT)))
    engine.dispose()
    assert others and own
    for conv_id in others:
        r = client.get(f"/conversations/{conv_id}", follow_redirects=False)
        assert r.status_code == 404 and "找不到该会话" in r.text, conv_id
    # a made-up id answers the same: ids reveal nothing
    missing = client.get(f"/conversations/{max(others + own) + 1000}")
    assert missing.status_code == 404 and missing.text.replace(str(max(others + own) + 1000), "") == \
        client.get(f"/conversations/{others[0]}").text.replace(str(others[0]), "")
    for conv_id in own:
        assert client.get(f"/conversations/{conv_id}").status_code == 200
    # nor appeal it
    url = site.copy()
    from pipeline.workbench.app import create_app

    app = create_app(site.config, url)
    client, token = _client(site, app, "agent")
    logged = _audit_count(url, site.ids["agent"])  # the agent's own login
    r = client.post(f"/conversations/{others[0]}/appeal", data={"reason": "不是我的", "csrf_token": token})
    assert r.status_code == 404
    assert _audit_count(url, site.ids["agent"]) == logged
    app.state.engine.dispose()


def test_an_inspector_cannot_open_an_item_assigned_to_someone_else(site):
    from pipeline.workbench.app import create_app

    url = site.copy()
    engine, factory = database.open_database(url, migrate=False)
    with factory() as s:
        conv = s.get(Conversation, site.states["pool"])
        workflow.assign(s, [conv.id], s.get(User, site.ids["insp2"]), s.get(User, site.ids["sup"]))
        s.commit()
    engine.dispose()
    app = create_app(site.config, url)
    client, token = _client(site, app, "inspector")
    assert client.get(f"/conversations/{site.states['pool']}").status_code == 404
    r = client.post(f"/conversations/{site.states['pool']}/submit", data={"csrf_token": token})
    assert r.status_code == 404
    app.state.engine.dispose()


# --- CSRF ------------------------------------------------------------------------------------------------


POSTS = [(p, next(r for r in ROLES if EXPECTED[("POST", p)][r] == OK))
         for (m, p) in EXPECTED if m == "POST" and any(v == OK for v in EXPECTED[(m, p)].values())]


@pytest.mark.parametrize("path, role", POSTS, ids=[p for p, _ in POSTS])
def test_posts_without_a_valid_csrf_token_are_refused(site, path, role):
    from pipeline.workbench.app import create_app

    url = site.copy()
    app = create_app(site.config, url)
    try:
        concrete, form = _case(site, "POST", path, role, url)
        client, token = _client(site, app, role)
        actor = site.ids.get(PEOPLE[role][0]) if role != "anonymous" else None
        before = _audit_count(url, actor)
        for sent in ({}, {"csrf_token": "forged" + token[6:]}, {"csrf_token": ""}):
            r = client.post(concrete, data={**form, **sent}, follow_redirects=False)
            assert r.status_code == 403 and "CSRF" in r.text and "刷新页面" in r.text, (sent, r.text[:300])
        assert _audit_count(url, actor) == before
        # another session's valid token is no good either
        other = next(r for r in ROLES if r != role)
        foreign = app.state.codec.loads(site.cookies[other])["csrf"]
        assert client.post(concrete, data={**form, "csrf_token": foreign}, follow_redirects=False).status_code == 403
    finally:
        app.state.engine.dispose()


# --- login rate limiting ---------------------------------------------------------------------------------


def test_login_rate_limit_per_username_then_per_client(site):
    from pipeline.workbench.app import create_app

    cfg = _web_config(site.tmp, login_max_failures=3, login_max_failures_per_client=5)
    url = site.copy()
    app = create_app(cfg, url)
    try:
        def attempt(username, password, client_addr):
            c = TestClient(app, base_url="https://testserver", client=(client_addr, 40000))
            token = _csrf(c.get("/login").text)
            return c.post("/login", data={"username": username, "password": password, "csrf_token": token}, follow_redirects=False)

        for _ in range(3):
            assert attempt("insp", "wrong-password", "10.0.0.1").status_code == 401
        blocked = attempt("insp", PASSWORD, "10.0.0.2")  # even the right password, from elsewhere
        assert blocked.status_code == 429
        assert "该用户名登录失败次数过多" in blocked.text and "分钟后" in blocked.text
        assert 0 < int(blocked.headers["retry-after"]) <= cfg["workbench"]["login_window_s"]
        assert attempt("sup", PASSWORD, "10.0.0.2").status_code == 303  # other users are not affected
        # per client: failures spread over usernames from one address
        for name in ("a1", "a2"):
            assert attempt(name, "wrong-password", "10.0.0.1").status_code == 401
        refused = attempt("sup", PASSWORD, "10.0.0.1")
        assert refused.status_code == 429 and "本机地址" in refused.text
        assert attempt("admin", PASSWORD, "10.0.0.3").status_code == 303
    finally:
        app.state.engine.dispose()


# --- PII in the pages ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["supervisor", "agent"])
def test_pii_is_masked_in_every_conversation_page(site, read_only_app, role):
    client, _ = _client(site, read_only_app, role)
    engine, factory = database.open_database(f"sqlite:///{site.template}", migrate=False)
    with factory() as s:
        q = select(Conversation).order_by(Conversation.id)
        if role == "agent":
            q = q.where(Conversation.agent_id == OWN_AGENT)
        convs = [c for c in s.scalars(q) if any(c.pii)]
    engine.dispose()
    assert convs, "the sample run has conversations with phone numbers, ID cards, bank cards or e-mail"
    labels = set()
    for c in convs:
        html = client.get(f"/conversations/{c.id}").text
        for turn, spans in zip(c.turns, c.pii):
            for start, end, label in spans:
                raw = turn["text"][start:end]
                assert raw not in html, (c.ext_id, label)
                labels.add(label)
        assert html.count('class="pii"') >= sum(len(sp) for sp in c.pii)
    if role == "supervisor":
        assert {"phone", "email", "id_card"} <= labels


ID_ROUTES = sorted((m, p) for (m, p) in EXPECTED if "_id}" in p)


@pytest.mark.parametrize("method, path", ID_ROUTES)
@pytest.mark.parametrize("role", ["admin", "agent", "anonymous"])
def test_an_id_beyond_64_bits_is_404_on_every_route(site, read_only_app, method, path, role):
    client, token = _client(site, read_only_app, role)
    for bad in ("99999999999999999999", "9223372036854775808", "0x10", "１２"):
        url = re.sub(r"\{\w+\}", bad, path)
        r = client.request(method, url, data={"csrf_token": token} if method == "POST" else None, follow_redirects=False)
        assert r.status_code == 404, (url, r.status_code)


def test_ids_in_forms_and_query_strings_beyond_64_bits_are_refused_not_500(site, read_only_app):
    client, token = _client(site, read_only_app, "supervisor")
    huge = "9" * 20
    assert client.get(f"/queue?assignee={huge}&page={huge}").status_code in (200, 400)
    assert client.get(f"/audit?user={huge}&page={huge}").status_code == 200
    r = client.post("/queue/assign", data={"csrf_token": token, "conv_ids": [huge], "inspector": huge, "mode": "assign"},
                    follow_redirects=False)
    assert r.status_code == 303  # "请先勾选要分配的会话": a form error, nothing changed

