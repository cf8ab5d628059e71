"""差评 notices, part 3 (issue 19): the webhook against a real HTTP receiver this test starts on
127.0.0.1 — the HMAC-SHA256 signature, retries with backoff on 5xx and refused connections, a 4xx
as final, every attempt in the delivery log, nothing sent for a rolled-back case — from a case opened
by the service, by ``zhijian load`` and by a bad rating posted to the real-time API. On SQLite and
PostgreSQL (``db_url``)."""

from __future__ import annotations

import copy
import json
import socket
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select

from pipeline.cases import notify, service
from pipeline.workbench.db import Case, WebhookDelivery

SECRET_ENV = "ZHIJIAN_TEST_WEBHOOK_SECRET"
SECRET = "s3cret-for-the-bot"


class Receiver:
    """A local HTTP server that records every POST and answers from a script of status codes (then 200)."""

    def __init__(self, script=()):
        self.script = list(script)
        self.received: list[dict] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 — http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.received.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                status = owner.script.pop(0) if owner.script else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def _config(cfg, url, **webhook):
    c = copy.deepcopy(cfg)
    c["cases"]["webhook"].update({"url": url, "secret_env": SECRET_ENV, "backoff_s": 0.01, "max_attempts": 4, **webhook})
    return c


@pytest.fixture()
def secret(monkeypatch):
    monkeypatch.setenv(SECRET_ENV, SECRET)
    return SECRET.encode()


def _open(factory, config, key="k-1"):
    with factory() as s:
        case, _ = service.open_case(s, config, key=key, source="import", received_at=datetime.now(timezone.utc),
                                    agent_id="A017", review_text="客服态度差 13812345678", channel="天猫")
        s.commit()
        return case.id


def test_signed_post_retried_on_5xx_and_every_attempt_logged(factory, cfg, secret):
    with Receiver([503, 502]) as rx:
        config = _config(cfg, rx.url)
        case_id = _open(factory, config)
        waits = []
        with factory() as s:
            assert notify.deliver_pending(s, config, sleep=waits.append) == {"delivered": 1, "failed": 0}
            row = s.scalar(select(WebhookDelivery))
            assert row.state == "delivered" and row.delivered_at is not None
            assert [a["status"] for a in row.attempts] == [503, 502, 200] and all(a["signed"] for a in row.attempts)
        assert waits == [0.01, 0.02]  # the backoff doubles
        assert len(rx.received) == 3
        last = rx.received[-1]
        h = last["headers"]
        assert notify.verify(secret, h["x-zhijian-timestamp"], last["body"], h["x-zhijian-signature"])
        assert not notify.verify(b"wrong key", h["x-zhijian-timestamp"], last["body"], h["x-zhijian-signature"])
        assert not notify.verify(secret, h["x-zhijian-timestamp"], last["body"] + b" ", h["x-zhijian-signature"])
        assert h["x-zhijian-event"] == "case.opened" and h["content-type"].startswith("application/json")
        payload = json.loads(last["body"])
        assert payload["case_id"] == case_id and payload["agent_id"] == "A017" and payload["url"] == f"/cases/{case_id}"
        assert payload["suggested_reason"] == "服务态度" and payload["evidence"]
        assert "13812345678" not in last["body"].decode() and "差评提醒" in payload["text"]
        with factory() as s:  # nothing left to send
            assert notify.deliver_pending(s, config) == {"delivered": 0, "failed": 0}


def test_a_4xx_is_final_and_a_dead_receiver_is_retried_then_failed(factory, cfg, secret):
    with Receiver([400]) as rx:
        config = _config(cfg, rx.url)
        _open(factory, config, "k-400")
        with factory() as s:
            assert notify.deliver_pending(s, config, sleep=lambda _: None) == {"delivered": 0, "failed": 1}
            assert [a["status"] for a in s.scalar(select(WebhookDelivery)).attempts] == [400]
        assert len(rx.received) == 1
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    config = _config(cfg, dead, max_attempts=3, timeout_s=1)
    _open(factory, config, "k-dead")
    with factory() as s:
        assert notify.deliver_pending(s, config, sleep=lambda _: None) == {"delivered": 0, "failed": 1}
        row = s.scalar(select(WebhookDelivery).where(WebhookDelivery.state == "failed").order_by(WebhookDelivery.id.desc()))
        assert len(row.attempts) == 3 and all(a["status"] is None and a["error"] for a in row.attempts)


def test_unsigned_without_a_key_and_nothing_queued_for_a_rolled_back_case(factory, cfg, monkeypatch):
    monkeypatch.delenv(SECRET_ENV, raising=False)
    with Receiver() as rx:
        config = _config(cfg, rx.url)
        with factory() as s:
            service.open_case(s, config, key="gone", source="import", received_at=datetime.now(timezone.utc), agent_id="A1")
            s.rollback()
        _open(factory, config, "kept")
        with factory() as s:
            assert notify.deliver_pending(s, config) == {"delivered": 1, "failed": 0}
            assert s.scalar(select(func.count()).select_from(WebhookDelivery)) == 1
        assert len(rx.received) == 1 and "x-zhijian-signature" not in rx.received[0]["headers"]


def test_zhijian_load_posts_one_notice_per_opened_case(db_url, cfg, secret, workbench_run_dir, tmp_path):
    import yaml

    from pipeline.cli import main
    from pipeline.workbench.database import open_database

    with Receiver() as rx:
        conf = tmp_path / "zhijian.yaml"
        conf.write_text(yaml.safe_dump({"cases": {"webhook": {"url": rx.url, "secret_env": SECRET_ENV, "backoff_s": 0.01}}}),
                        encoding="utf-8")
        assert main(["load", str(workbench_run_dir), "--config", str(conf), "--database-url", db_url]) == 0
        engine, factory = open_database(db_url)
        try:
            with factory() as s:
                n = s.scalar(select(func.count()).select_from(Case))
                assert n > 0
                assert s.scalar(select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.state == "delivered")) == n
        finally:
            engine.dispose()
        assert len(rx.received) == n
        assert {json.loads(r["body"])["case_id"] for r in rx.received} == set(range(1, n + 1))
        assert all(notify.verify(secret, r["headers"]["x-zhijian-timestamp"], r["body"], r["headers"]["x-zhijian-signature"])
                   for r in rx.received)


def test_a_bad_rating_posted_to_the_api_opens_a_case_and_notifies_at_once(db_url, cfg, secret):
    from starlette.testclient import TestClient

    from pipeline.workbench.api import build_api_app
    from pipeline.workbench.database import open_database
    from pipeline.workbench.users import create_api_token

    with Receiver() as rx:
        config = _config(cfg, rx.url)
        engine, factory = open_database(db_url)
        with factory() as s:
            token = create_api_token(s, "crm")
            s.commit()
        app = build_api_app(config, database_url=db_url)
        body = {"id": "api-bad-1", "channel": "chat", "started_at": "2026-12-05T10:00:00+08:00",
                "agent": {"id": "A017", "name": "王芳"}, "rating": {"score": 1, "comment": "等了半天没人回"},
                "turns": [{"role": "customer", "text": "在吗,我的订单怎么还没发货"}, {"role": "agent", "text": "您好"},
                          {"role": "customer", "text": "人呢?怎么不回"}]}
        good = {**body, "id": "api-good-1", "rating": {"score": 5}}
        try:
            with TestClient(app) as client:
                auth = {"Authorization": f"Bearer {token}"}
                assert client.post("/api/v1/inspect", json=good, headers=auth).status_code == 200
                r = client.post("/api/v1/inspect", json=body, headers=auth)
                assert r.status_code == 200 and r.json()["id"] == "api-bad-1"
                deadline = time.monotonic() + 10
                while not rx.received and time.monotonic() < deadline:
                    time.sleep(0.05)
            with factory() as s:
                cases = list(s.scalars(select(Case)))
                assert [(c.key, c.source, c.agent_id, c.conversation_id) for c in cases] == [("api:api-bad-1", "api", "A017", None)]
                assert cases[0].suggested_reason == "响应速度"  # the customer chased the agent; the comment says so too
            assert len(rx.received) == 1 and json.loads(rx.received[0]["body"])["conversation_id"] == "api-bad-1"
        finally:
            engine.dispose()
