"""The workbench web app's parts: transcript pieces and masking, sessions, CSRF, login rate limiting,
the queue's filters, security headers, and reviewing over HTTP — on SQLite and on PostgreSQL.

The database holds the real sample run (``zhijian inspect`` on data/samples, loaded with
``load_run``); requests go through the real FastAPI app (starlette's TestClient over
``https://testserver`` so that the Secure session cookie is sent back, as a browser would).
"""

from __future__ import annotations

import re
import stat
import warnings
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's TestClient nags about httpx vs httpx2 on import
    from starlette.testclient import TestClient

from pipeline.config import ConfigError, load_config
from pipeline.schema import Span
from pipeline.workbench import auth, database, queue, transcript, users
from pipeline.workbench.db import AuditEntry, Conversation, Finding, LoginAttempt, Review, Verdict

PASSWORD = "correct-horse-42"
PEOPLE = [("admin", "admin", None), ("sup", "supervisor", None), ("insp", "inspector", None),
          ("insp2", "inspector", None), ("agent", "agent", "A010")]


def web_config(tmp_path, **workbench):
    # argon2id as in production, with a small memory cost: the tests hash and verify many times
    wb = {"secret_key_file": str(tmp_path / "secret"), "argon2": {"time_cost": 1, "memory_cost_kib": 8192, "parallelism": 1}}
    wb.update(workbench)
    return load_config(overrides={"workbench": wb})


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF field in the page"
    return m.group(1)


def login(client: TestClient, username: str, password: str = PASSWORD):
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token}, follow_redirects=False)


# --- transcript: pieces, highlights and masking (pure) -------------------------------------------------

TEXT = "我的电话是13812345678,你明白吗"  # phone at [5, 16), 你明白吗 at [17, 21)
PHONE = [Span(5, 16, "phone")]


@pytest.mark.parametrize("findings, reveal, expected", [
    ([], False, [("我的电话是", (), False), ("138****5678", (), True), (",你明白吗", (), False)]),
    ([(1, 17, 21)], False, [("我的电话是", (), False), ("138****5678", (), True), (",", (), False), ("你明白吗", (1,), False)]),
    # overlapping findings: the overlap is covered by both, each keeps its own ends
    ([(1, 17, 21), (2, 0, 19)], False, [("我的电话是", (2,), False), ("138****5678", (2,), True), (",", (2,), False),
                                         ("你明", (1, 2), False), ("白吗", (1,), False)]),
    ([(1, 3, 10)], True, [("我的电", (), False), ("话是", (1,), False), ("13812", (1,), True), ("345678", (), True),
                          (",你明白吗", (), False)]),
])
def test_turn_pieces_cut_at_findings_and_pii(findings, reveal, expected):
    pieces = transcript.turn_pieces(TEXT, PHONE, findings, reveal=reveal, mask_char="*")
    assert [(p.text, p.findings, p.pii) for p in pieces] == expected
    joined = "".join(p.text for p in pieces)
    assert len(joined) == len(TEXT)  # masking keeps offsets
    assert ("13812345678" in joined) is reveal


def test_turn_pieces_mark_where_each_finding_ends():
    pieces = transcript.turn_pieces(TEXT, PHONE, [(1, 17, 21), (2, 0, 19)], reveal=False, mask_char="*")
    ends = {fid: i for i, p in enumerate(pieces) for fid in p.ends}
    assert pieces[ends[1]].text == "白吗" and pieces[ends[2]].text == "你明"


class _F:
    def __init__(self, fid, turn, start=None, end=None, evidence=None):
        self.id, self.turn, self.start, self.end, self.evidence = fid, turn, start, end, evidence


class _C:
    turns = [{"role": "customer", "text": "请打13812345678"}, {"role": "agent", "text": "你有病"}]
    pii = [[[2, 13, "phone"]], []]
    turn_sentiment = [{"turn": 0, "label": "negative", "confidence": 0.8}]


def test_build_transcript_places_findings_on_spans_turns_or_the_conversation():
    findings = [_F(1, 1, 0, 3), _F(2, 1), _F(3, None), _F(4, 7, 0, 1), _F(5, 0, 5, 99)]
    views, loose = transcript.build_transcript(_C(), findings, reveal=False, mask_char="*")
    assert [f.id for f in loose] == [3, 4]  # no turn, or a turn the transcript doesn't have
    assert [p.findings for p in views[1].pieces] == [(1,)] and [f.id for f in views[1].findings] == [2]
    assert [f.id for f in views[0].findings] == [5]  # a span past the text's end: shown on the turn
    assert "".join(p.text for p in views[0].pieces) == "请打138****5678"
    assert views[0].role_label == "客户" and views[0].sentiment["label"] == "negative"


def test_evidence_is_cut_from_the_masked_transcript_or_masked_when_stored_raw():
    conv = _C()
    assert transcript.shown_evidence(conv, _F(1, 0, 2, 13), reveal=False, mask_char="*") == "138****5678"
    assert transcript.shown_evidence(conv, _F(1, 0, 2, 13), reveal=True, mask_char="*") == "13812345678"
    # a run made with --no-mask stored raw evidence without a span
    raw = _F(2, None, evidence="客户邮箱 zhang.san@example.com")
    assert transcript.shown_evidence(conv, raw, reveal=False, mask_char="*") == "客户邮箱 z********@example.com"
    assert transcript.mask_free_text("身份证 110101199003074514", "#") == "身份证 110#############14"


# --- sessions and the secret key (pure) -----------------------------------------------------------------


def test_session_cookie_round_trip_rejects_tampering_and_expiry():
    codec = auth.SessionCodec("k" * 40, max_age_s=60)
    value = codec.dumps({"uid": 3, "csrf": "abc"})
    assert codec.loads(value) == {"uid": 3, "csrf": "abc"}
    assert codec.loads(value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1]) == {}
    assert auth.SessionCodec("x" * 40, max_age_s=60).loads(value) == {}  # another server's key
    assert auth.SessionCodec("k" * 40, max_age_s=-1).loads(value) == {}  # older than max age
    assert codec.loads(None) == {} and codec.loads("garbage") == {}


def test_csrf_check():
    assert auth.csrf_ok({"csrf": "t0ken"}, "t0ken")
    for session, sent in (({"csrf": "t0ken"}, "t0ke"), ({"csrf": "t0ken"}, None), ({}, "t0ken"), ({"csrf": "t0ken"}, "")):
        assert not auth.csrf_ok(session, sent)


def test_secret_key_file_is_created_private_and_reused(tmp_path):
    path = tmp_path / "keys" / "workbench.secret"
    key = auth.load_secret_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(key) >= auth.MIN_SECRET_CHARS
    assert auth.load_secret_key(path) == key
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        auth.load_secret_key(path)
    short = tmp_path / "short"
    short.write_text("tooshort")
    short.chmod(0o600)
    with pytest.raises(ConfigError, match="at least"):
        auth.load_secret_key(short)


# --- login rate limiting (real database) ----------------------------------------------------------------

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


def test_login_rate_limit_per_username_and_per_client(db_url):
    database.upgrade(db_url)
    engine, factory = database.open_database(db_url, migrate=False)
    limits = {"max_failures_per_user": 3, "max_failures_per_client": 5, "window_s": 600}
    try:
        with factory() as s:
            for minute in (0, 1, 2):
                auth.record_login_attempt(s, "Zhang", "10.0.0.1", False, now=T0 + timedelta(minutes=minute))
            s.commit()
            block = auth.login_blocked(s, "zhang ", "10.0.0.9", now=T0 + timedelta(minutes=3), **limits)
            assert block is not None and block.by == "username"
            assert block.until == T0 + timedelta(minutes=10)  # when the oldest of the three leaves the window
            assert auth.login_blocked(s, "zhang", "10.0.0.9", now=T0 + timedelta(minutes=10, seconds=1), **limits) is None
            assert auth.login_blocked(s, "li", "10.0.0.9", now=T0 + timedelta(minutes=3), **limits) is None
            # a success forgives the username's failures, not the client's
            auth.record_login_attempt(s, "zhang", "10.0.0.1", True, now=T0 + timedelta(minutes=4))
            for minute, name in ((5, "wang"), (6, "zhao")):
                auth.record_login_attempt(s, name, "10.0.0.1", False, now=T0 + timedelta(minutes=minute))
            s.commit()
            assert auth.login_blocked(s, "zhang", "10.0.0.2", now=T0 + timedelta(minutes=7), **limits) is None
            block = auth.login_blocked(s, "anyone", "10.0.0.1", now=T0 + timedelta(minutes=7), **limits)
            assert block is not None and block.by == "client" and block.until == T0 + timedelta(minutes=10)
            assert s.scalar(select(func.count()).select_from(LoginAttempt)) == 6
    finally:
        engine.dispose()


def test_retry_message_says_when():
    block = auth.LoginBlock(until=T0 + timedelta(minutes=9, seconds=30), by="username")
    msg = auth.retry_message(block, now=T0, tz=timezone(timedelta(hours=8)))
    assert "10 分钟后" in msg and "17:09" in msg and "该用户名" in msg


# --- the loaded sample run -------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def site(request, tmp_path_factory, workbench_run_dir):
    """The sample run loaded into a database, the web app on it, and the people using it."""
    from pipeline.workbench.app import create_app
    from pipeline.workbench.load import load_run

    tmp = tmp_path_factory.mktemp(f"web_{request.param}")
    server = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'workbench.db'}"
    else:
        server = request.getfixturevalue("pg_server")
        url = server.create_database(f"web_{request.module.__name__}")
    cfg = web_config(tmp)
    engine, factory = database.open_database(url)
    with factory() as s:
        load_run(s, workbench_run_dir, config=cfg)
        ids = {}
        for name, role, agent_id in PEOPLE:
            ids[name] = users.create_user(s, name, PASSWORD, role, agent_id=agent_id, display_name=name, config=cfg).id
        s.commit()
    app = create_app(cfg, url)
    yield {"app": app, "factory": factory, "ids": ids, "config": cfg, "url": url}
    engine.dispose()
    app.state.engine.dispose()
    if server is not None:
        server.drop_database(url)


def client_for(site, username: str | None = None) -> TestClient:
    client = TestClient(site["app"], base_url="https://testserver")
    if username:
        r = login(client, username)
        assert r.status_code == 303 and r.headers["location"] != "/login", r.text[:500]
    return client


def test_security_headers_and_cookie_flags(site):
    client = client_for(site)
    r = client.get("/login")
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(auth.SESSION_COOKIE + "=")
    for flag in ("HttpOnly", "Secure", "SameSite=lax", f"Max-Age={site['config']['workbench']['session_max_age_s']}", "Path=/"):
        assert flag.lower() in cookie.lower(), (flag, cookie)
    csp = r.headers["content-security-policy"]
    assert "http:" not in csp and "https:" not in csp and "*" not in csp and "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp and r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert login(client, "sup").status_code == 303
    conv_id = _conv_ids(site, lambda c: True)[0]
    page = client.get(f"/conversations/{conv_id}")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    # the page's HTML references nothing outside the site
    assert not re.search(r'(src|href)="(https?:)?//', page.text)


def test_login_redirects_only_within_the_site(site):
    client = client_for(site)
    for nxt, where in (("/my?status=all", "/my?status=all"), ("//evil.example/x", "/queue"), ("https://evil.example/", "/queue"),
                       ("/\\evil.example", "/queue")):
        client.cookies.clear()
        token = csrf_of(client.get("/login").text)
        r = client.post("/login", data={"username": "sup", "password": PASSWORD, "csrf_token": token, "next": nxt},
                        follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == where, nxt


def test_wrong_password_is_401_and_recorded(site):
    client = client_for(site)
    r = login(client, "insp", "not-the-password")
    assert r.status_code == 401 and "用户名或密码错误" in r.text
    with site["factory"]() as s:
        assert s.scalar(select(LoginAttempt.ok).where(LoginAttempt.username == "insp").order_by(LoginAttempt.id.desc())) is False


def _session_row(site, client):
    from pipeline.workbench.db import WebSession

    token = site["app"].state.codec.loads(client.cookies.get(auth.SESSION_COOKIE))["sid"]
    with site["factory"]() as s:
        return s.scalar(select(WebSession).where(WebSession.token_sha256 == auth._token_sha256(token)))


def _refused(client) -> bool:
    r = client.get("/my", follow_redirects=False)
    return r.status_code == 303 and r.headers["location"].startswith("/login")


@pytest.mark.parametrize("column, by", [("created_at", "session_max_age_s"), ("last_seen_at", "session_idle_s")])
def test_session_ends_after_the_absolute_and_the_idle_timeout(site, column, by):
    from pipeline.workbench.db import WebSession

    client = client_for(site, "insp2")
    assert client.get("/my").status_code == 200
    row = _session_row(site, client)
    limit = site["config"]["workbench"][by]
    with site["factory"]() as s:
        r = s.get(WebSession, row.id)
        # just inside the limit the login lives (and a request refreshes last_seen_at) …
        setattr(r, column, datetime.now(timezone.utc) - timedelta(seconds=limit - 30))
        s.commit()
    assert not _refused(client)
    with site["factory"]() as s:
        r = s.get(WebSession, row.id)
        setattr(r, column, datetime.now(timezone.utc) - timedelta(seconds=limit + 1))
        s.commit()
    assert _refused(client)
    with site["factory"]() as s:
        assert s.get(WebSession, row.id) is None  # the timed-out login is gone from the database


def test_session_ends_when_the_user_is_deactivated_or_the_password_changes(site):
    client = client_for(site, "insp2")
    assert client.get("/my").status_code == 200
    with site["factory"]() as s:
        user = users.authenticate(s, "insp2", PASSWORD, site["config"])
        users.set_password(s, user, PASSWORD + "!", config=site["config"])
        s.commit()
    assert _refused(client)
    with site["factory"]() as s:
        user = users.authenticate(s, "insp2", PASSWORD + "!", site["config"])
        users.set_password(s, user, PASSWORD, config=site["config"])
        s.commit()
    client = client_for(site, "insp2")
    with site["factory"]() as s:
        user = s.get(users.User, site["ids"]["insp2"])
        users.set_active(s, user, False)
        s.commit()
    assert _refused(client)
    with site["factory"]() as s:
        users.set_active(s, s.get(users.User, site["ids"]["insp2"]), True)
        s.commit()
    assert _refused(client)  # reactivation does not bring an ended login back


def test_logout_ends_the_session_and_a_replayed_cookie_is_refused(site):
    client = client_for(site, "agent")
    copied = client.cookies.get(auth.SESSION_COOKIE)
    token = csrf_of(client.get("/my").text)
    r = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert _refused(client)
    replay = TestClient(site["app"], base_url="https://testserver", cookies={auth.SESSION_COOKIE: copied})
    assert _refused(replay)  # the signed cookie is intact, but its login no longer exists
    with site["factory"]() as s:
        actions = [a for (a,) in s.execute(select(AuditEntry.action).where(AuditEntry.entity == "users",
                                                                               AuditEntry.entity_id == str(site["ids"]["agent"])))]
    assert actions[-2:] == ["login", "logout"]


# --- the queue -----------------------------------------------------------------------------------------


def _conv_ids(site, keep) -> list[int]:
    with site["factory"]() as s:
        return [c.id for c in s.scalars(select(Conversation).order_by(Conversation.id)) if keep(c)]


@pytest.mark.parametrize("params, errors", [
    ({"date_from": "2026/11/23"}, ["开始日期「2026/11/23」不是日期"]),
    ({"date_from": "2026-11-24", "date_to": "2026-11-23"}, ["晚于结束日期"]),
    ({"grade": "A"}, ["等级「A」无效"]),
    ({"reason": "fatal;drop"}, ["复核原因"]),
    ({"confidence_below": "1.5"}, ["0 到 1"]),
    ({"confidence_below": "abc"}, ["0 到 1"]),
    ({"sort": "name"}, ["排序「name」无效"]),
    ({"status": "done"}, ["状态「done」无效"]),
    ({"grade": "差", "reason": "fatal", "confidence_below": "0.5", "date_from": "2026-11-01"}, []),
])
def test_queue_filter_errors_name_the_field_and_the_fix(params, errors):
    f = queue.parse_filters(params)
    assert len(f.errors) == len(errors)
    for message, fragment in zip(f.errors, errors):
        assert fragment in message


FILTER_CASES = {
    "grade": ("差", lambda c, rules: c.machine_grade == "差"),
    "reason": ("complaint.risk", lambda c, rules: "complaint.risk" in c.review_reasons),
    "rule": ("empathy.missing", lambda c, rules: "empathy.missing" in rules),
    "confidence_below": ("0.5", lambda c, rules: c.min_model_confidence is not None and c.min_model_confidence < 0.5),
    "team": (None, None),
    "agent": ("A010", lambda c, rules: c.agent_id == "A010"),
    "date_from": (None, None),
}


@pytest.mark.parametrize("key", sorted(FILTER_CASES))
def test_queue_filters_match_a_direct_computation(site, key):
    with site["factory"]() as s:
        convs = list(s.scalars(select(Conversation)))
        rules = {c.id: {f.rule for f in c.findings} for c in convs}
        user = users.authenticate(s, "sup", PASSWORD, site["config"])
        value, keep = FILTER_CASES[key]
        if key == "team":
            value = sorted({c.team for c in convs if c.team})[0]
            keep = lambda c, r: c.team == value  # noqa: E731
        if key == "date_from":
            days = sorted({c.day for c in convs if c.day})
            value = days[len(days) // 2]
            keep = lambda c, r: c.day is not None and c.day >= value  # noqa: E731
        f = queue.parse_filters({key: value, "status": "all"})
        assert f.errors == []
        page = queue.queue_page(s, user, f, page_size=1000)
        expected = {c.id for c in convs if c.review_needed and keep(c, rules[c.id])}
        assert expected, f"the sample run should have conversations for {key}={value}"
        assert {c.id for c in page.items} == expected and page.total == len(expected)


def test_queue_sorts_and_pages_without_gaps_or_repeats(site):
    with site["factory"]() as s:
        user = users.authenticate(s, "sup", PASSWORD, site["config"])
        flagged = s.scalar(select(func.count()).where(Conversation.review_needed.is_(True)))
        for sort, key, descending in (("risk", lambda c: c.risk, True), ("score", lambda c: c.machine_score, False),
                                      ("date", lambda c: c.started_at or "", True)):
            seen, page_no = [], 1
            while True:
                page = queue.queue_page(s, user, queue.parse_filters({"sort": sort, "status": "all", "page": str(page_no)}), 17)
                seen += page.items
                if page_no >= page.pages:
                    break
                page_no += 1
            assert len(seen) == len({c.id for c in seen}) == flagged
            values = [key(c) for c in seen]
            assert values == sorted(values, reverse=descending), sort


def test_queue_page_over_http_shows_filters_and_rejects_bad_ones(site):
    client = client_for(site, "sup")
    r = client.get("/queue", params={"reason": "fatal", "status": "all"})
    assert r.status_code == 200
    rows = re.findall(r'<tr data-conv="([^"]+)">', r.text)
    with site["factory"]() as s:
        fatal = {c.ext_id for c in s.scalars(select(Conversation).where(Conversation.review_needed.is_(True)))
                 if "fatal" in c.review_reasons}
    assert rows and set(rows) == fatal
    assert "红线" in r.text
    bad = client.get("/queue", params={"date_to": "11/23"})
    assert bad.status_code == 400 and "结束日期「11/23」不是日期:请按 YYYY-MM-DD 填写" in bad.text


def test_agent_sees_only_their_own_conversations_in_my_list(site):
    client = client_for(site, "agent")
    r = client.get("/my", params={"status": "all"})
    shown = set(re.findall(r'<tr data-conv="([^"]+)">', r.text))
    with site["factory"]() as s:
        own = set(s.scalars(select(Conversation.ext_id).where(Conversation.agent_id == "A010")))
    assert shown and shown <= own and len(shown) == min(len(own), site["config"]["workbench"]["queue_page_size"])


# --- the conversation page and a review over HTTP -------------------------------------------------------


def _with_pii_and_findings(site) -> Conversation:
    with site["factory"]() as s:
        for c in s.scalars(select(Conversation).where(Conversation.agent_id == "A010", Conversation.status == "pending")
                           .order_by(Conversation.id)):
            machine = [f for f in c.findings if f.source == "machine"]
            if any(c.pii) and len(machine) >= 2:
                return c
    raise AssertionError("the sample run has no pending A010 conversation with PII and two findings")


def test_conversation_page_highlights_findings_and_masks_pii(site):
    conv = _with_pii_and_findings(site)
    client = client_for(site, "sup")
    html = client.get(f"/conversations/{conv.id}").text
    for turn, spans in zip(conv.turns, conv.pii):
        for start, end, _label in spans:
            assert turn["text"][start:end] not in html  # raw PII never in the page
    assert 'class="pii"' in html
    with site["factory"]() as s:
        findings = list(s.scalars(select(Finding).where(Finding.conversation_id == conv.id)))
    for f in findings:
        assert f'id="f-{f.id}"' in html and f.rule in html
        if f.start is not None:
            assert re.search(rf'<mark class="hl" data-findings="[^"]*\b{f.id}\b', html), f.rule
    assert "机器得分" in html and "人工得分" in html and "得分明细" in html
    if conv.issue_type and conv.issue_type.get("because"):
        assert conv.issue_type["because"][0] in html


def test_a_red_line_finding_reads_red_line_to_zero_on_the_page(site):
    with site["factory"]() as s:
        conv = next(c for c in s.scalars(select(Conversation).order_by(Conversation.id)) if (c.score_detail or {}).get("fatal"))
        fatal = [f for f in conv.findings if f.item in conv.score_detail["fatal"]]
    html = client_for(site, "sup").get(f"/conversations/{conv.id}").text
    for f in fatal:
        row = html[html.index(f'id="f-{f.id}"'):]
        row = row[:row.index("</tr>")]
        assert '<span class="fatal">红线 → 0</span>' in row


def test_reveal_is_for_supervisors_audited_and_shown_once(site):
    conv = _with_pii_and_findings(site)
    raw = next(t["text"][s:e] for t, spans in zip(conv.turns, conv.pii) for s, e, _ in spans)
    inspector = client_for(site, "insp")
    token = csrf_of(inspector.get("/queue").text)
    assert inspector.post(f"/conversations/{conv.id}/reveal", data={"csrf_token": token}).status_code == 403
    sup = client_for(site, "sup")
    token = csrf_of(sup.get(f"/conversations/{conv.id}").text)
    r = sup.post(f"/conversations/{conv.id}/reveal", data={"csrf_token": token, "reason": "  "})
    assert r.status_code == 400 and raw not in r.text and "请填写查看个人信息的理由" in r.text
    r = sup.post(f"/conversations/{conv.id}/reveal", data={"csrf_token": token, "reason": "核实客户来电号码"})
    assert r.status_code == 200 and raw in r.text and "已记入审计日志" in r.text
    assert raw not in sup.get(f"/conversations/{conv.id}").text
    with site["factory"]() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == "pii.reveal", AuditEntry.entity_id == str(conv.id))).all()
        assert [(r.user_id, r.after["reason"]) for r in rows] == [(site["ids"]["sup"], "核实客户来电号码")]


def test_review_over_http_confirm_reject_missed_and_submit(site):
    conv = _with_pii_and_findings(site)
    client = client_for(site, "insp")
    page = client.get(f"/conversations/{conv.id}")
    token = csrf_of(page.text)
    with site["factory"]() as s:
        machine = list(s.scalars(select(Finding).where(Finding.conversation_id == conv.id, Finding.source == "machine")
                                 .order_by(Finding.position)))
    first, second = machine[0], machine[1]
    r = client.post(f"/conversations/{conv.id}/verdict", data={"csrf_token": token, "finding_id": first.id, "verdict": "confirmed"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/conversations/{conv.id}#f-{first.id}"
    r = client.post(f"/conversations/{conv.id}/verdict",
                    data={"csrf_token": token, "finding_id": second.id, "verdict": "rejected", "comment": "客户在开玩笑"})
    assert "已保存判定" in r.text and "已判定:误报" in r.text
    # a missed finding is located by the text the reviewer copied from the turn
    turn = next(i for i, t in enumerate(conv.turns) if t["role"] == "agent" and len(t["text"]) >= 4)
    snippet = conv.turns[turn]["text"][:4]
    bad = client.post(f"/conversations/{conv.id}/missed", data={"csrf_token": token, "rule": "closing.missing", "turn": turn + 1,
                                                                "evidence": "不存在的文字", "points": "-5"})
    assert bad.status_code == 400 and f"在第 {turn + 1} 句中找不到证据文字「不存在的文字」" in bad.text
    r = client.post(f"/conversations/{conv.id}/missed", data={"csrf_token": token, "rule": "closing.missing", "turn": turn + 1,
                                                              "evidence": snippet, "points": "-5", "comment": "漏了结束语"})
    assert r.status_code == 200 and "已添加漏检" in r.text
    bad = client.post(f"/conversations/{conv.id}/submit", data={"csrf_token": token, "human_score": "abc"})
    assert bad.status_code == 400 and "人工得分「abc」不是数字" in bad.text
    r = client.post(f"/conversations/{conv.id}/submit", data={"csrf_token": token, "human_score": "72", "sentiment": "negative",
                                                             "comment": "复核完成"})
    assert r.status_code == 200 and "复核已提交" in r.text and "已复核" in r.text
    with site["factory"]() as s:
        c = s.get(Conversation, conv.id)
        assert c.status == "reviewed" and c.human_score == 72 and c.machine_score == conv.machine_score
        assert c.corrected_sentiment == "negative"
        review = s.scalar(select(Review).where(Review.conversation_id == conv.id))
        verdicts = {v.finding_id: v.verdict for v in s.scalars(select(Verdict).where(Verdict.review_id == review.id))}
        added = s.scalar(select(Finding).where(Finding.conversation_id == conv.id, Finding.source == "human"))
        assert verdicts == {first.id: "confirmed", second.id: "rejected", added.id: "missed"}
        assert (added.turn, added.start, added.end, added.points) == (turn, 0, 4, -5)
        actions = [a for a in s.scalars(select(AuditEntry.action).where(AuditEntry.user_id == site["ids"]["insp"]))]
        assert {"verdict.set", "finding.add", "review.submit"} <= set(actions)
    # a submitted review can't be changed: the page says why (409)
    again = client.post(f"/conversations/{conv.id}/verdict", data={"csrf_token": token, "finding_id": first.id, "verdict": "rejected"})
    assert again.status_code == 409 and "已复核" in again.text


def test_assign_by_hand_and_round_robin_over_http(site):
    pending = _conv_ids(site, lambda c: c.status == "pending" and c.review_needed and c.agent_id != "A010")[:5]
    two = [site["ids"]["insp"], site["ids"]["insp2"]]
    client = client_for(site, "sup")
    token = csrf_of(client.get("/queue").text)
    r = client.post("/queue/assign", data={"csrf_token": token, "conv_ids": pending[:1], "inspector": site["ids"]["insp2"],
                                           "mode": "assign"}, follow_redirects=False)
    assert r.status_code == 303
    with site["factory"]() as s:
        assert s.get(Conversation, pending[0]).assignee_id == site["ids"]["insp2"]
        load = {i: s.scalar(select(func.count()).where(Conversation.assignee_id == i, Conversation.status.in_(("assigned", "disputed"))))
                for i in two}
    # round-robin: each item to whoever has the fewest open items then (ties: the order chosen)
    expected = dict(load)
    for _ in pending[1:5]:
        expected[min(two, key=lambda i: (expected[i], two.index(i)))] += 1
    r = client.post("/queue/assign", data={"csrf_token": token, "conv_ids": pending[1:5], "mode": "round_robin", "inspectors": two})
    assert "轮流分配给 2 位质检员" in r.text
    with site["factory"]() as s:
        owners = [s.get(Conversation, i).assignee_id for i in pending[1:5]]
    assert {i: load[i] + owners.count(i) for i in two} == expected
    none_chosen = client.post("/queue/assign", data={"csrf_token": token, "mode": "assign", "inspector": site["ids"]["insp"]})
    assert "请先勾选要分配的会话" in none_chosen.text
