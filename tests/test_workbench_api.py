"""The real-time API over real HTTP (uvicorn on a free port, httpx), on SQLite and on PostgreSQL:
its results are the batch's results, byte for byte; its rejects are the batch's rejects; tokens,
body limits and health."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import uvicorn

SAMPLE_INPUTS = ("data/samples/conversations.jsonl", "data/samples/hostile.jsonl")
SERVER_START_TIMEOUT_S = 60  # uvicorn in a thread: how long to wait for it to accept connections
STALE = timedelta(days=1)  # a last_used_at this old is rewritten on the next request


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """An app served by uvicorn in a background thread, over TCP on 127.0.0.1."""

    def __init__(self, app):
        self.port = _free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, name="uvicorn-test", daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on port {self.port}")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request, tmp_path_factory):
    """A migrated, empty workbench database for this module: SQLite file or PostgreSQL database."""
    from pipeline.workbench.database import upgrade

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('api-db') / 'workbench.db'}"
        upgrade(url)
        yield url
        return
    server = request.getfixturevalue("pg_server")
    url = server.create_database("test_workbench_api")
    upgrade(url)
    yield url
    server.drop_database(url)


@pytest.fixture(scope="module")
def served(database, config):
    """The standalone API app (build_api_app) on a real HTTP server, and a session factory on its database."""
    from pipeline.workbench.api import STATE_KEY, build_api_app

    app = build_api_app(config, database_url=database)
    with LiveServer(app) as live:
        yield live, getattr(app.state, STATE_KEY).session_factory


@pytest.fixture(scope="module")
def token(served):
    from pipeline.workbench.users import create_api_token

    _, factory = served
    with factory() as session:
        plain = create_api_token(session, "test-client")
        session.commit()
    return plain


@pytest.fixture(scope="module")
def client(served, token):
    live, _ = served
    with httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {token}"}) as c:
        yield c


@pytest.fixture(scope="module")
def batch(repo, tmp_path_factory):
    """`zhijian inspect` on the sample inputs, in its own process: results by id, rejects by line."""
    out = tmp_path_factory.mktemp("batch")
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from pipeline.cli import main; sys.exit(main(sys.argv[1:]))",
         "inspect", *(str(repo / p) for p in SAMPLE_INPUTS), "--out", str(out), "--quiet", "--workers", "1"],
        cwd=repo, capture_output=True, text=True,
    )
    assert proc.returncode == 3, proc.stderr  # 3: done, with rejects (hostile.jsonl)
    results = {r["id"]: r for r in map(json.loads, (out / "results.jsonl").read_text(encoding="utf-8").splitlines())}
    rejects = {(r["source"], r["line"]): r for r in map(json.loads, (out / "rejects.jsonl").read_text(encoding="utf-8").splitlines())}
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return results, rejects, manifest


def _lines(repo, rel):
    """(line number, raw bytes with the newline) of each non-blank line, as the batch reads them."""
    raw = (repo / rel).read_bytes().splitlines(keepends=True)
    return [(i, line) for i, line in enumerate(raw, 1) if line.strip()]


def _without_source(result: dict) -> dict:
    # ``source`` says where a result came from (file and line vs. the endpoint): the one field that
    # must differ between the batch and the API
    return {k: v for k, v in result.items() if k != "source"}


# -- same code path as the batch ---------------------------------------------------------------

def test_api_results_and_rejects_equal_the_batch(repo, client, batch):
    results, rejects, _ = batch
    seen_ok, seen_rejected = 0, 0
    for rel in SAMPLE_INPUTS:
        for lineno, line in _lines(repo, rel):
            r = client.post("/api/v1/inspect", content=line, headers={"Content-Type": "application/json"})
            reject = rejects.get((str(repo / rel), lineno))
            if reject is not None and reject["reason"] != "id.duplicate":
                assert r.status_code == 422, (rel, lineno, r.text)
                assert r.json() == {"id": reject["id"], "reason": reject["reason"], "detail": reject["detail"]}
                seen_rejected += 1
                continue
            assert r.status_code == 200, (rel, lineno, r.text)
            got = r.json()
            if reject is not None:
                # a request is a run of one: an id repeated across requests is inspected, not a duplicate
                assert got["id"] == reject["id"]
                continue
            assert got["source"] == {"path": "POST /api/v1/inspect", "line": 1, "row": None}
            assert _without_source(got) == _without_source(results[got["id"]]), (rel, lineno)
            seen_ok += 1
    assert seen_ok == len(results)  # every batch result was reproduced
    assert seen_rejected == sum(1 for r in rejects.values() if r["reason"] != "id.duplicate")
    assert seen_rejected >= 10  # hostile.jsonl exercises many reject reasons, not one


def test_pretty_printed_body_gives_the_same_result(repo, client):
    line = _lines(repo, SAMPLE_INPUTS[0])[3][1]
    pretty = json.dumps(json.loads(line), ensure_ascii=False, indent=2).encode("utf-8")
    assert b"\n" in pretty
    compact = client.post("/api/v1/inspect", content=line)
    indented = client.post("/api/v1/inspect", content=pretty)
    assert compact.status_code == indented.status_code == 200
    assert compact.json() == indented.json()


def test_evidence_is_masked_by_default(repo, client):
    # hostile.jsonl line 1: the agent reads out the courier's phone number 18042497590
    line = _lines(repo, SAMPLE_INPUTS[1])[0][1]
    assert b"18042497590" in line
    r = client.post("/api/v1/inspect", content=line)
    assert r.status_code == 200
    disclosed = [f for f in r.json()["findings"] if f["rule"] == "privacy.disclosure"]
    assert disclosed, "the sample's disclosure finding is the evidence this test needs"
    assert "18042497590" not in r.text
    assert any("*" in f["evidence"] for f in disclosed)


@pytest.mark.parametrize("body, reason", [
    (b"", "json.invalid"),
    (b"   \n", "json.invalid"),
    (b'{"id": "x", "turns": []}', "turns.missing"),
    (b'{"id": "x", "turns": [{"role": "\xe7\xbb\x8f\xe7\x90\x86", "text": "hi"}]}', "turn.role_invalid"),  # 经理
    (b'[{"id": "x"}]', "record.not_object"),
    (b'{"id": "x", "turns": [{"role": "agent", "text": "hi"}', "json.invalid"),
])
def test_unusable_record_is_422_with_the_reject_reason(client, body, reason):
    r = client.post("/api/v1/inspect", content=body)
    assert r.status_code == 422
    assert r.json()["reason"] == reason
    assert r.json()["detail"]


def test_health_reports_the_versions_the_batch_used(served, batch):
    live, _ = served
    _, _, manifest = batch
    r = httpx.get(f"{live.url}/api/v1/health")  # no token needed
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["versions"] == manifest["versions"]
    assert body["versions"]["lexicons"] and body["versions"]["scorecard"]


def test_concurrent_requests_each_get_their_own_result(repo, served, token, batch):
    """Requests arriving together queue for the one inspection thread; none sees another's data."""
    live, _ = served
    results, _, _ = batch
    lines = [line for _, line in _lines(repo, SAMPLE_INPUTS[0])[:24]]

    def post(line: bytes) -> dict:
        with httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {token}"}) as c:
            r = c.post("/api/v1/inspect", content=line)
            assert r.status_code == 200, r.text
            return r.json()

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(post, lines))
    for line, got in zip(lines, answers):
        want = results[json.loads(line)["id"]]
        assert _without_source(got) == _without_source(want)


# -- tokens ------------------------------------------------------------------------------------

def _token_row(factory, plain):
    from sqlalchemy import select

    from pipeline.workbench.db import ApiToken
    from pipeline.workbench.users import token_sha256

    with factory() as session:
        return session.scalar(select(ApiToken).where(ApiToken.token_sha256 == token_sha256(plain)))


def _new_token(factory, name, *, revoked=False, user_active=None):
    from pipeline.workbench.users import create_api_token, create_user, find_api_token, revoke_api_token

    with factory() as session:
        user = None
        if user_active is not None:
            user = create_user(session, f"u-{name}", "a-long-enough-password", "inspector")
            user.active = user_active
        plain = create_api_token(session, name, user)
        if revoked:
            revoke_api_token(session, find_api_token(session, plain))
        session.commit()
    return plain


def _a_conversation(repo) -> bytes:
    return _lines(repo, SAMPLE_INPUTS[0])[0][1]


@pytest.mark.parametrize("case", ["no header", "basic scheme", "empty bearer", "unknown token", "revoked token", "inactive user"])
def test_401_without_a_live_token(repo, served, case):
    live, factory = served
    headers = {
        "no header": {},
        "basic scheme": {"Authorization": "Basic dXNlcjpwYXNz"},
        "empty bearer": {"Authorization": "Bearer"},
        "unknown token": {"Authorization": "Bearer zj_not-a-token-anyone-was-given"},
        "revoked token": lambda: {"Authorization": f"Bearer {_new_token(factory, 'revoked', revoked=True)}"},
        "inactive user": lambda: {"Authorization": f"Bearer {_new_token(factory, 'inactive', user_active=False)}"},
    }[case]
    headers = headers() if callable(headers) else headers
    r = httpx.post(f"{live.url}/api/v1/inspect", content=_a_conversation(repo), headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert "Bearer" in r.json()["detail"] or "token" in r.json()["detail"]
    assert "findings" not in r.text


def test_a_token_of_an_active_user_works(repo, served):
    live, factory = served
    plain = _new_token(factory, "active", user_active=True)
    r = httpx.post(f"{live.url}/api/v1/inspect", content=_a_conversation(repo), headers={"Authorization": f"Bearer {plain}"})
    assert r.status_code == 200


def test_last_used_at_is_recorded_but_not_on_every_request(repo, served, config):
    from sqlalchemy import update

    from pipeline.workbench.db import ApiToken
    from pipeline.workbench.users import token_sha256

    live, factory = served
    plain = _new_token(factory, "touch")
    assert _token_row(factory, plain).last_used_at is None

    def call():
        r = httpx.post(f"{live.url}/api/v1/inspect", content=_a_conversation(repo), headers={"Authorization": f"Bearer {plain}"})
        assert r.status_code == 200

    def set_last_used(value):
        with factory() as session:
            session.execute(update(ApiToken).where(ApiToken.token_sha256 == token_sha256(plain)).values(last_used_at=value))
            session.commit()

    def last_used():
        value = _token_row(factory, plain).last_used_at
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value

    call()
    assert last_used() is not None  # first use recorded
    # used within the touch interval: the stored time stays as it was (no write per request)
    recent = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(seconds=1)
    assert config["workbench"]["api_token_touch_interval_s"] > 1
    set_last_used(recent)
    call()
    assert last_used() == recent
    # not used for a day: rewritten
    stale = recent - STALE
    set_last_used(stale)
    call()
    assert last_used() > stale


# -- body size ---------------------------------------------------------------------------------

def _padded(repo, size: int) -> bytes:
    """A valid conversation padded with trailing JSON whitespace to exactly ``size`` bytes."""
    line = _a_conversation(repo)
    assert len(line) <= size
    return line + b" " * (size - len(line))


def test_body_at_the_limit_is_accepted(repo, client, config):
    limit = config["workbench"]["api_max_body_bytes"]
    r = client.post("/api/v1/inspect", content=_padded(repo, limit))
    assert r.status_code == 200


def test_413_when_the_declared_length_is_over_the_limit(repo, client, config):
    limit = config["workbench"]["api_max_body_bytes"]
    r = client.post("/api/v1/inspect", content=_padded(repo, limit + 1))
    assert r.status_code == 413
    assert "api_max_body_bytes" in r.json()["detail"]


def test_413_when_a_chunked_body_grows_over_the_limit(repo, client, config):
    limit = config["workbench"]["api_max_body_bytes"]
    body = _padded(repo, limit + 1)

    def chunks():  # a generator: httpx sends it chunked, without Content-Length
        step = 64 * 1024
        for i in range(0, len(body), step):
            yield body[i:i + step]

    r = client.post("/api/v1/inspect", content=chunks())
    assert r.status_code == 413


def test_401_comes_before_reading_a_large_body(repo, served, config):
    live, _ = served
    limit = config["workbench"]["api_max_body_bytes"]
    r = httpx.post(f"{live.url}/api/v1/inspect", content=_padded(repo, limit + 1))
    assert r.status_code == 401


# -- mounted in the workbench ------------------------------------------------------------------

def test_the_workbench_app_serves_the_same_api(repo, database, client, token, tmp_path_factory):
    """create_app mounts this router: same answers there, and no cookie session on /api/."""
    from pipeline.config import load_config
    from pipeline.workbench.app import create_app

    secret = tmp_path_factory.mktemp("web") / "secret"
    app = create_app(load_config(overrides={"workbench": {"secret_key_file": str(secret)}}), database)
    body = _a_conversation(repo)
    with LiveServer(app) as live:
        mounted = httpx.post(f"{live.url}/api/v1/inspect", content=body, headers={"Authorization": f"Bearer {token}"})
        refused = httpx.post(f"{live.url}/api/v1/inspect", content=body)
        health = httpx.get(f"{live.url}/api/v1/health")
    assert mounted.status_code == 200
    assert mounted.json() == client.post("/api/v1/inspect", content=body).json()
    assert "set-cookie" not in mounted.headers
    assert refused.status_code == 401 and refused.headers["content-type"] == "application/json"
    assert health.status_code == 200 and health.json()["versions"] == mounted.json()["versions"]
