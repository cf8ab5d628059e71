"""Issue 12 end to end, on one real run: personal data stays masked wherever it travels (results,
Parquet, report, workbench pages, exports, the API), sign-off can't contradict itself (the s-0214
case), password hashing is bounded, locks can be lifted, proxies are trusted only by configuration,
inspectors see only the queue, and destructive database commands ask first.

The run is a real ``zhijian inspect`` of a conversation whose customer dictates a phone number in
Chinese numerals (speech-to-text does this) and whose rating comment carries a phone and an ID-card
number; reviewers then type more personal data into comments, an added finding's category and an
appeal reason, through the real workflow. Each test works on its own copy of the loaded database.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's TestClient nags about httpx vs httpx2 on import
    from starlette.testclient import TestClient

from pipeline.config import load_config
from pipeline.privacy import id_check_digit
from pipeline.workbench import auth, database, users
from pipeline.workbench import review as workflow
from pipeline.workbench.db import AuditEntry, Conversation, Dispute, LoginAttempt, User

from conftest import FAST_ARGON2, inspect_into

PASSWORD = "correct-horse-42"
ID_CARD = "11010119900307757" + id_check_digit("11010119900307757")
PHONE, NUMERAL_PHONE, EMAIL = "13812345678", "幺三八一二三四五六七八", "zhang.san@example.com"
NUMERAL_PHONE_2 = "一三九零零一二三四五六"
CARD = "6222021234567890128"  # passes the Luhn check
RAW = [PHONE, NUMERAL_PHONE, NUMERAL_PHONE_2, EMAIL, ID_CARD, CARD, "三八一二三四五六七八", "零零一二三四五六"]
RECORD = {
    "id": "pii-1", "channel": "chat", "started_at": "2026-12-01T10:00:00+08:00",
    "agent": {"id": "A010", "name": "王坐席", "team": "售后一组"},
    "rating": {"score": 1, "comment": f"态度差!打我电话{PHONE},身份证{ID_CARD}"},
    "turns": [
        {"role": "customer", "text": f"我的手机是{NUMERAL_PHONE},邮箱{EMAIL},快递到现在还没到", "ts": 0},
        {"role": "agent", "text": "这个没有办法的呢", "ts": 5},
        {"role": "customer", "text": "你们这什么服务,气死我了", "ts": 20},
        {"role": "agent", "text": "您也可以联系物流", "ts": 30},
    ],
}
PEOPLE = [("admin", "admin", None), ("sup", "supervisor", None), ("sup2", "supervisor", None), ("insp", "inspector", None),
          ("insp2", "inspector", None), ("agent", "agent", "A010")]


@dataclass
class Site:
    run: Path
    template: Path
    config: dict
    ids: dict[str, int]
    conv_id: int
    dispute_id: int
    tmp: Path
    counter: int = 0

    def app(self, **workbench):
        """The workbench on a fresh copy of the loaded database (and its URL)."""
        from pipeline.workbench.app import create_app

        self.counter += 1
        dst = self.tmp / f"copy{self.counter}.db"
        shutil.copyfile(self.template, dst)
        url = f"sqlite:///{dst}"
        config = self.config if not workbench else load_config(overrides={"workbench": {**self.config["workbench"], **workbench}})
        return create_app(config, url), url


def _config(tmp: Path) -> dict:
    return load_config(overrides={"workbench": {"secret_key_file": str(tmp / "secret"), "argon2": FAST_ARGON2}})


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Site:
    """One run inspected and loaded; round 1 (70, comments with PII), the agent's appeal (a reason with a
    phone in Chinese numerals), round 2 (0): the s-0214 situation, waiting for a sign-off."""
    from pipeline.workbench.load import load_run

    tmp = tmp_path_factory.mktemp("security")
    (tmp / "in.jsonl").write_text(json.dumps(RECORD, ensure_ascii=False) + "\n", encoding="utf-8")
    run = inspect_into(tmp, ["in.jsonl"])
    cfg = _config(tmp)
    template = tmp / "template.db"
    engine, factory = database.open_database(f"sqlite:///{template}")
    with factory() as s:
        load_run(s, run, config=cfg)
        people = {name: users.create_user(s, name, PASSWORD, role, agent_id=agent, display_name=name, config=cfg)
                  for name, role, agent in PEOPLE}
        s.flush()
        conv = s.scalar(select(Conversation).where(Conversation.ext_id == "pii-1"))
        assert conv.findings, "the conversation needs machine findings to judge"
        insp, insp2, sup = people["insp"], people["insp2"], people["sup"]
        workflow.assign(s, [conv.id], insp, sup)
        r1 = workflow.start_review(s, conv, insp)
        workflow.set_verdict(s, r1, conv.findings[0], "rejected", f"客户留的电话{PHONE}不算泄露", insp)
        workflow.add_missed_finding(s, r1, rule="privacy.disclosure", turn=0, start=None, end=None, points=-5,
                                    comment=f"卡号{CARD}", category=f"客户邮箱{EMAIL}", actor=insp, config=cfg)
        workflow.submit_review(s, r1, human_score=70, comment=f"已回电 {NUMERAL_PHONE_2}", actor=insp, config=cfg)
        dispute = workflow.open_dispute(s, conv, "appeal", f"我没有泄露客户电话{NUMERAL_PHONE}", people["agent"])
        workflow.assign(s, [conv.id], insp2, sup)
        workflow.submit_review(s, workflow.start_review(s, conv, insp2), human_score=0, actor=insp2, config=cfg)
        s.commit()
        ids = {u.username: u.id for u in s.scalars(select(User))}
        conv_id, dispute_id = conv.id, dispute.id
    engine.dispose()
    return Site(run, template, cfg, ids, conv_id, dispute_id, tmp)


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF field in the page"
    return m.group(1)


def _login(app, username: str) -> tuple[TestClient, str]:
    client = TestClient(app, base_url="https://testserver")
    token = _csrf(client.get("/login").text)
    r = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] != "/login", r.text[:300]
    return client, _csrf(client.get("/my").text)


def _clear(text: str) -> list[str]:
    return [raw for raw in RAW if raw in text]


# --- personal data, masked wherever it travels --------------------------------------------------------


def test_results_and_parquet_carry_no_personal_data(site):
    import pyarrow.parquet as pq

    results = (site.run / "results.jsonl").read_text(encoding="utf-8")
    assert _clear(results) == []
    assert "138****5678" in results  # the rating comment is there, masked
    for path in site.run.rglob("*.parquet"):
        assert _clear(json.dumps(pq.read_table(path).to_pylist(), ensure_ascii=False, default=str)) == [], path


def test_the_report_carries_no_personal_data(site, tmp_path):
    from pipeline.cli import main

    out = tmp_path / "report.html"
    assert main(["report", str(site.run), "--out", str(out)]) == 0
    assert _clear(out.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("who, paths", [
    ("sup", ["/conversations/{c}", "/disputes", "/disputes?state=all", "/audit", "/queue?status=all"]),
    ("insp", ["/conversations/{c}", "/my"]),
    ("agent", ["/conversations/{c}", "/my"]),
])
def test_pages_never_show_personal_data(site, who, paths):
    app, _ = site.app()
    client, _ = _login(app, who)
    for path in paths:
        r = client.get(path.format(c=site.conv_id))
        assert r.status_code == 200, path
        assert _clear(r.text) == [], (who, path)
    page = client.get(f"/conversations/{site.conv_id}").text
    if who != "agent":  # the round-1 verdict comment (in a title attribute), the added finding's category
        assert "138****5678" in page and "@example.com" in page


def test_the_audit_log_stores_no_personal_data(site):
    """The audit log is append-only and never purged: typed text in it is masked when written."""
    engine, factory = database.open_database(f"sqlite:///{site.template}", migrate=False)
    with factory() as s:
        rows = s.scalars(select(AuditEntry)).all()
    engine.dispose()
    logged = json.dumps([[e.before, e.after] for e in rows], ensure_ascii=False)
    assert "卡号" in logged and "客户邮箱" in logged  # the comment and the category are there …
    assert _clear(logged) == []  # … masked


def test_the_reveal_shows_the_transcript_and_audits_it_but_typed_text_stays_masked(site):
    app, url = site.app()
    client, token = _login(app, "sup")
    r = client.post(f"/conversations/{site.conv_id}/reveal", data={"csrf_token": token, "reason": "核实客户来电号码"})
    assert r.status_code == 200
    assert NUMERAL_PHONE in r.text and EMAIL in r.text and PHONE in r.text  # the transcript and the rating comment
    assert CARD not in r.text  # a reviewer's comment is not part of the reveal


def test_exported_labels_carry_no_personal_data(site, tmp_path):
    from pipeline.workbench.labels import export_labels

    app, url = site.app()
    engine, factory = database.open_database(url, migrate=False)
    with factory() as s:
        workflow.sign_off(s, s.get(Dispute, site.dispute_id), decision="upheld", actor=s.get(User, site.ids["sup"]),
                          config=site.config)
        s.commit()
        export_labels(s, tmp_path, config=site.config)
    engine.dispose()
    for path in tmp_path.iterdir():
        assert _clear(path.read_text(encoding="utf-8")) == [], path.name


def test_the_api_answers_masked(site):
    app, url = site.app()
    engine, factory = database.open_database(url, migrate=False)
    with factory() as s:
        token = users.create_api_token(s, "crm")
        s.commit()
    engine.dispose()
    client = TestClient(app, base_url="https://testserver")
    r = client.post("/api/v1/inspect", content=json.dumps(RECORD, ensure_ascii=False).encode(),
                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert _clear(r.text) == [] and "138****5678" in r.text


# --- sign-off: the result follows the decision ---------------------------------------------------------


def test_s0214_signed_off_unchanged_keeps_round_one(site, tmp_path):
    """Round 1 = 70, round 2 = 0, the supervisor keeps 维持原结果 without typing a score: the result
    is round 1's — score, grade, verdicts and the exported labels all agree."""
    from pipeline.workbench.labels import export_labels

    app, url = site.app()
    client, token = _login(app, "sup")
    page = client.get("/disputes").text
    assert "维持原结果(第一轮 70 分)" in page and "改判(第二轮 0 分)" in page
    form = {"csrf_token": token, "final_score": "", "comment": ""}
    # no decision chosen: refused, nothing changes
    r = client.post(f"/disputes/{site.dispute_id}/sign-off", data=form, follow_redirects=True)
    assert "请选择签核结论" in r.text
    # a decision: first the confirmation page, nothing recorded yet
    r = client.post(f"/disputes/{site.dispute_id}/sign-off", data={**form, "decision": "upheld"})
    assert r.status_code == 200 and "确认签核" in r.text
    assert re.search(r'class="final"><strong>70</strong>', r.text)
    engine, factory = database.open_database(url, migrate=False)
    with factory() as s:
        assert s.get(Dispute, site.dispute_id).state == "second_reviewed"
    r = client.post(f"/disputes/{site.dispute_id}/sign-off", data={**form, "decision": "upheld", "confirm": "yes"},
                    follow_redirects=True)
    assert "已签核(维持原结果),最终得分 70" in r.text
    with factory() as s:
        conv, dispute = s.get(Conversation, site.conv_id), s.get(Dispute, site.dispute_id)
        assert (conv.status, conv.human_score, dispute.state, dispute.final_score) == ("signed_off", 70.0, "upheld", 70.0)
        assert conv.human_grade == workflow.grade_of(70.0, site.config) != workflow.grade_of(0.0, site.config)
        export_labels(s, tmp_path, config=site.config)
    engine.dispose()
    rows = [json.loads(x) for x in (tmp_path / "finding_verdicts.jsonl").read_text(encoding="utf-8").splitlines()]
    assert rows and {r["round"] for r in rows} == {1}  # round 1's verdicts, which the final result used
    assert any(r["verdict"] == "rejected" for r in rows)
    verdicts = [json.loads(x) for x in (tmp_path / "verdicts.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {v["human_score"] for v in verdicts} == {70.0}


def test_overturned_takes_round_two_and_an_adjusted_score_needs_a_reason(site):
    app, url = site.app()
    client, token = _login(app, "sup")
    form = {"csrf_token": token, "decision": "overturned", "final_score": "40", "comment": "", "confirm": "yes"}
    r = client.post(f"/disputes/{site.dispute_id}/sign-off", data=form, follow_redirects=True)
    assert "与结论「改判」对应的得分 0 不一致" in r.text
    engine, factory = database.open_database(url, migrate=False)
    with factory() as s:
        assert s.get(Dispute, site.dispute_id).state == "second_reviewed"
    r = client.post(f"/disputes/{site.dispute_id}/sign-off", data={**form, "comment": "部分扣分过重"}, follow_redirects=True)
    assert "已签核(改判),最终得分 40" in r.text
    with factory() as s:
        conv, dispute = s.get(Conversation, site.conv_id), s.get(Dispute, site.dispute_id)
        assert (conv.human_score, dispute.state, dispute.decision) == (40.0, "overturned", "部分扣分过重")
        signed = s.scalar(select(AuditEntry).where(AuditEntry.action == "dispute.sign_off"))
        assert (signed.after["decision_score"], signed.after["adjusted"]) == (0.0, True)
        assert workflow.counted_review(s, conv).round == 2
    engine.dispose()


# --- logins: a bounded hash pool, locks an admin can lift, audited ---------------------------------------


def test_the_hash_pool_refuses_beyond_its_size_and_frees_its_slots():
    pool = auth.HashPool(2)
    with pool.slot(), pool.slot():
        with pytest.raises(auth.HashPoolFull):
            with pool.slot():
                pass
    with pool.slot():  # released on exit, also after the refusal
        pass
    with pytest.raises(Exception, match="at least 1"):
        auth.HashPool(-1)
    assert auth.HashPool(0).size == max(1, (os.cpu_count() or 2) // 2)  # auto: half the cores


def test_a_login_beyond_the_hash_pool_is_429_at_once_and_not_counted(site):
    app, url = site.app(login_concurrent_hashes=1)
    client = TestClient(app, base_url="https://testserver")
    token = _csrf(client.get("/login").text)
    with app.state.hash_pool.slot():  # another login is hashing right now
        r = client.post("/login", data={"username": "insp", "password": PASSWORD, "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 429 and "登录请求过多" in r.text and r.headers["retry-after"]
    engine, factory = database.open_database(url, migrate=False)
    with factory() as s:
        assert s.scalars(select(LoginAttempt)).all() == []
    engine.dispose()
    r = client.post("/login", data={"username": "insp", "password": PASSWORD, "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303


def test_a_locked_user_is_unlocked_by_an_admin_and_every_step_is_audited(site):
    app, url = site.app()
    limit = site.config["workbench"]["login_max_failures"]
    client = TestClient(app, base_url="https://testserver")
    token = _csrf(client.get("/login").text)
    for _ in range(limit):
        client.post("/login", data={"username": "insp2", "password": "wrong-password", "csrf_token": token})
    r = client.post("/login", data={"username": "insp2", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 429
    admin, admin_token = _login(app, "admin")
    page = admin.get("/users").text
    assert "已锁定至" in page and f'action="/users/{site.ids["insp2"]}/unlock"' in page
    r = admin.post(f"/users/{site.ids['insp2']}/unlock", data={"csrf_token": admin_token}, follow_redirects=True)
    assert "已解除用户 insp2 的登录锁定" in r.text
    r = client.post("/login", data={"username": "insp2", "password": PASSWORD, "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    engine, factory = database.open_database(url, migrate=False)
    with factory() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action.like("login%")).order_by(AuditEntry.id)).all()
    engine.dispose()
    actions = [(e.action, e.user_id) for e in rows]
    assert actions.count(("login.failed", None)) == limit
    assert ("login.lock", None) in actions and ("login.unlock", site.ids["admin"]) in actions
    assert actions[-1] == ("login", site.ids["insp2"])


def test_an_admin_signs_a_user_out_everywhere(site):
    app, _ = site.app()
    one, _ = _login(app, "insp")
    two, _ = _login(app, "insp")
    admin, token = _login(app, "admin")
    assert "2 处" in admin.get("/users").text
    r = admin.post(f"/users/{site.ids['insp']}/sign-out", data={"csrf_token": token}, follow_redirects=True)
    assert "已结束用户 insp 的 2 处登录" in r.text
    for client in (one, two):
        r = client.get("/my", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_proxy_headers_are_believed_only_from_configured_proxies():
    from pipeline.workbench.app import proxy_settings

    assert proxy_settings("") == {"proxy_headers": False}
    assert proxy_settings(None) == {"proxy_headers": False}
    assert proxy_settings(" 10.0.0.5,127.0.0.1 ") == {"proxy_headers": True, "forwarded_allow_ips": "10.0.0.5,127.0.0.1"}
    assert load_config()["workbench"]["forwarded_allow_ips"] == ""  # the default trusts no one


# --- who sees what ------------------------------------------------------------------------------------


@pytest.mark.parametrize("inspector_sees, opens_unflagged", [("queue", False), ("pool", True)])
def test_an_inspector_sees_the_queue_not_every_loaded_conversation(site, sample_run, tmp_path, inspector_sees, opens_unflagged):
    """The sample run has conversations the machine did not flag; by default an inspector can't open them."""
    from pipeline.workbench.app import create_app
    from pipeline.workbench.load import load_run

    url = f"sqlite:///{tmp_path / 'wb.db'}"
    engine, factory = database.open_database(url)
    with factory() as s:
        load_run(s, sample_run, config=site.config)
        users.create_user(s, "insp", PASSWORD, "inspector", config=site.config)
        s.commit()
        flagged = s.scalar(select(Conversation.id).where(Conversation.review_needed.is_(True)))
        n_flagged = len(s.scalars(select(Conversation.id).where(Conversation.review_needed.is_(True))).all())
        unflagged = s.scalar(select(Conversation.id).where(Conversation.review_needed.is_(False)))
    engine.dispose()
    assert flagged and unflagged
    config = load_config(overrides={"workbench": {**site.config["workbench"], "inspector_sees": inspector_sees}})
    client, _ = _login(create_app(config, url), "insp")
    assert client.get(f"/conversations/{flagged}").status_code == 200
    assert client.get(f"/conversations/{unflagged}").status_code == (200 if opens_unflagged else 404)
    assert f"共 {n_flagged} 条" in client.get("/queue?status=all").text  # the queue: every flagged item, nothing else


def test_a_bad_inspector_sees_value_is_refused_at_start(site):
    from pipeline.config import ConfigError

    with pytest.raises(ConfigError, match="inspector_sees"):
        site.app(inspector_sees="everything")


# --- destructive commands ask first -------------------------------------------------------------------


def test_db_downgrade_needs_yes(tmp_path, capsys):
    from pipeline.cli import main

    url = f"sqlite:///{tmp_path / 'wb.db'}"
    database.upgrade(url)
    assert main(["db", "downgrade", "base", "--database-url", url]) == 2
    assert "--yes" in capsys.readouterr().err
    assert database.current_revision(url) == database.head_revision()
    assert main(["db", "downgrade", "base", "--database-url", url, "--yes"]) == 0
    assert database.current_revision(url) is None


# --- docs/SECURITY.md says what the code enforces ---------------------------------------------------------


def test_security_doc_holds_the_matrix_the_code_enforces(site):
    from pipeline.workbench.matrix import markdown_matrix, policy_table, route_gates

    app, _ = site.app()
    doc = (Path(__file__).resolve().parents[1] / "docs" / "SECURITY.md").read_text(encoding="utf-8")
    block = doc.split("<!-- matrix:begin -->")[1].split("<!-- matrix:end -->")[0].strip()
    assert block == (policy_table() + "\n" + markdown_matrix(app)).strip(), \
        "docs/SECURITY.md is out of date: paste `python -m pipeline.workbench.matrix` between the matrix markers"
    gates = {(m, p): g for m, p, g in route_gates(app)}
    assert gates[("POST", "/conversations/{conv_id}/appeal")] == "appeal"
    assert gates[("GET", "/conversations/{conv_id}")] == "login" and gates[("GET", "/login")] == "public"
    assert gates[("POST", "/api/v1/inspect")] == "token"
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert "docs/SECURITY.md" in readme

