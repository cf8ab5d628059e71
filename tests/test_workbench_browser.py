"""The workbench in a real browser: Debian's chromium driven by Playwright against ``zhijian serve``.

One server per module (the real command in a subprocess, on a free port, on an SQLite database
holding the sample run loaded with ``load_run``), one browser, a fresh context per person. The
people log in, and one flagged conversation goes the whole way: a supervisor assigns it, an
inspector confirms one finding and rejects another and submits, the agent appeals, a second
inspector reviews it independently, the supervisor signs it off — asserted on the pages and in
the database. Screenshots go to docs/img/workbench-*.png with ZHIJIAN_SCREENSHOTS=1, else to a
temp dir. Skipped without chromium or Playwright, except under CI=true where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
SERVER_START_TIMEOUT_S = 180  # the server loads jieba, spaCy and the models before it listens
PASSWORD = "correct-horse-42"
# username, role, agent id, display name
PEOPLE = [("admin", "admin", None, "王管理"), ("sup", "supervisor", None, "李主管"), ("insp", "inspector", None, "张质检"),
          ("insp2", "inspector", None, "赵质检"), ("agent", "agent", "A010", "孙悦")]
VIEWPORT = {"width": 1360, "height": 900}

try:
    import playwright.sync_api  # noqa: F401

    HAVE_PLAYWRIGHT = True
except ImportError:  # pragma: no cover
    HAVE_PLAYWRIGHT = False


pytestmark = pytest.mark.browser


def _require_browser():
    missing = [what for what, ok in (("chromium (/usr/bin/chromium; .ci/run installs it)", CHROMIUM),
                                     ("playwright (pip install -e '.[test]')", HAVE_PLAYWRIGHT)) if not ok]
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: the browser tests must run, but {' and '.join(missing)} is missing", pytrace=False)
        pytest.skip(f"{' and '.join(missing)} not installed")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _shots_dir(tmp_path_factory) -> Path:
    if os.environ.get("ZHIJIAN_SCREENSHOTS") == "1":
        out = REPO / "docs" / "img"
        out.mkdir(parents=True, exist_ok=True)
        return out
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def server(tmp_path_factory, workbench_run_dir):
    """``zhijian serve`` on a loaded database; yields its base URL, a session factory and the user ids."""
    _require_browser()
    from pipeline.config import load_config
    from pipeline.workbench import database, users
    from pipeline.workbench.load import load_run

    tmp = tmp_path_factory.mktemp("browser")
    overrides = {"workbench": {"secret_key_file": str(tmp / "secret"), "database_url": f"sqlite:///{tmp / 'workbench.db'}",
                               # argon2id as in production, with a small memory cost: many logins in a few tests
                               "argon2": {"time_cost": 1, "memory_cost_kib": 8192, "parallelism": 1}}}
    config_file = tmp / "config.yaml"
    config_file.write_text(yaml.safe_dump(overrides, allow_unicode=True), encoding="utf-8")
    cfg = load_config(config_file)
    engine, factory = database.open_database(cfg["workbench"]["database_url"])
    with factory() as s:
        load_run(s, workbench_run_dir, config=cfg)
        ids = {}
        for name, role, agent_id, display in PEOPLE:
            ids[name] = users.create_user(s, name, PASSWORD, role, agent_id=agent_id, display_name=display, config=cfg).id
        s.commit()
    port = _free_port()
    log = open(tmp / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "serve", "--config", str(config_file), "--host", "127.0.0.1",
                             "--port", str(port)], cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"zhijian serve exited {proc.returncode}:\n{(tmp / 'server.log').read_text(errors='replace')[-3000:]}")
            try:
                with urllib.request.urlopen(base + "/login", timeout=5) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"zhijian serve did not answer within {SERVER_START_TIMEOUT_S} s:\n"
                                   f"{(tmp / 'server.log').read_text(errors='replace')[-3000:]}")
            time.sleep(0.5)
        yield {"base": base, "factory": factory, "ids": ids, "config": cfg}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        engine.dispose()


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    return _shots_dir(tmp_path_factory)


class Person:
    """One person's browser context, logged in; collects CSP and console errors."""

    def __init__(self, browser, server, username: str):
        self.context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.base = server["base"]
        self.page.goto(self.base + "/login")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.click("form[action='/login'] button[type=submit]")
        self.page.wait_for_load_state("load")
        assert "/login" not in self.page.url, f"{username} could not log in: {self.page.inner_text('main')[:300]}"

    def go(self, path: str):
        self.page.goto(self.base + path)
        self.page.wait_for_load_state("load")
        return self.page

    def nav(self) -> list[str]:
        return self.page.locator("header.top nav a").all_inner_texts()

    def flash(self) -> str:
        return " ".join(self.page.locator("p.flash").all_inner_texts())

    def close(self):
        assert not [e for e in self.errors if "Content Security Policy" in e], self.errors
        self.context.close()


def _conversation(server):
    """A flagged, pending conversation of agent A010 with personal data and two machine findings that have spans."""
    from pipeline.workbench.db import Conversation

    with server["factory"]() as s:
        for c in s.scalars(select(Conversation).where(Conversation.agent_id == "A010", Conversation.status == "pending",
                                                      Conversation.review_needed.is_(True)).order_by(Conversation.risk.desc())):
            spanned = [f for f in c.findings if f.source == "machine" and f.start is not None]
            if len(spanned) >= 2 and any(c.pii):
                return c, spanned[:2]
    raise AssertionError("the sample run has no flagged A010 conversation with PII and two spanned findings")


@pytest.mark.parametrize("username, nav, heading", [
    ("admin", ["队列", "我的任务", "评分表问题", "争议", "一致性", "校准", "差评", "用户", "审计"], "复核队列"),
    ("sup", ["队列", "我的任务", "评分表问题", "争议", "一致性", "校准", "差评", "审计"], "复核队列"),
    ("insp", ["队列", "我的任务", "评分表问题", "校准"], "我的任务"),
    ("agent", ["我的会话", "我的差评"], "我的会话"),
])
def test_each_role_logs_in_and_sees_its_menu(browser, server, username, nav, heading):
    person = Person(browser, server, username)
    try:
        assert person.nav() == nav
        assert person.page.inner_text("h1") == heading
        display = next(d for n, _, _, d in PEOPLE if n == username)
        assert display in person.page.inner_text("header.top .who")
        if username == "agent":
            page = person.go("/my?status=all")
            rows = page.locator("table.mine tbody tr[data-conv]")
            assert rows.count() > 0
            from pipeline.workbench.db import Conversation

            with server["factory"]() as s:
                own = set(s.scalars(select(Conversation.ext_id).where(Conversation.agent_id == "A010")))
            assert set(rows.evaluate_all("rs => rs.map(r => r.dataset.conv)")) <= own
            assert person.go("/queue").inner_text("h1").startswith("无权访问")
    finally:
        person.close()


def test_queue_filters_select_all_and_screenshot(browser, server, shots):
    person = Person(browser, server, "sup")
    try:
        page = person.go("/queue")
        total = page.locator("table.queue tbody tr[data-conv]").count()
        assert total > 10
        page.select_option("select[name=reason]", "fatal")
        page.click("#queue-filters button[type=submit]")
        page.wait_for_load_state("load")
        assert "reason=fatal" in page.url
        fatal_rows = page.locator("table.queue tbody tr[data-conv]")
        assert 0 < fatal_rows.count() < total
        assert all("红线" in t for t in fatal_rows.all_inner_texts())
        # the page's one script: "select all" ticks every row of the page
        page.check("input.select-all")
        boxes = page.locator("input[name=conv_ids]")
        assert boxes.count() == fatal_rows.count() and all(boxes.nth(i).is_checked() for i in range(boxes.count()))
        page.uncheck("input.select-all")
        person.go("/queue")
        page.screenshot(path=str(shots / "workbench-queue.png"), full_page=False)
    finally:
        person.close()


def test_review_appeal_second_review_and_sign_off(browser, server, shots):
    from pipeline.workbench.db import Conversation, Dispute, Review, Verdict

    conv, (first, second) = _conversation(server)
    ids = server["ids"]

    # 1. the supervisor assigns it to 张质检 from the queue
    sup = Person(browser, server, "sup")
    page = sup.go("/queue?agent=A010&sort=risk")
    row = page.locator(f"tr[data-conv='{conv.ext_id}']")
    row.locator("input[name=conv_ids]").check()
    page.select_option("#assign-form select[name=inspector]", label="张质检")
    page.click("#assign-form button[name=mode][value=assign]")
    page.wait_for_load_state("load")
    assert "已将 1 条会话分配给 张质检" in sup.flash()
    assert page.locator(f"tr[data-conv='{conv.ext_id}']").inner_text().count("张质检") == 1

    # 2. 张质检 confirms one finding, rejects the other, submits
    insp = Person(browser, server, "insp")
    page = insp.go("/my")
    page.click(f"tr[data-conv='{conv.ext_id}'] a")
    page.wait_for_load_state("load")
    assert page.url.endswith(f"/conversations/{conv.id}")
    # the findings are highlighted where they are in the transcript
    for f in (first, second):
        mark = page.locator(f"#t-{f.turn} mark.hl[data-findings~='{f.id}']")
        assert mark.count() >= 1
        assert "".join(mark.all_inner_texts()) == page.locator(f"tr#f-{f.id} td.evidence").inner_text()
    # personal data is masked on the page
    assert page.locator("section.transcript .pii").count() == sum(len(spans) for spans in conv.pii)
    text = page.inner_text("section.transcript")
    for turn, spans in zip(conv.turns, conv.pii):
        for s, e, _ in spans:
            assert turn["text"][s:e] not in text
    page.locator(f"tr#f-{first.id} input[value=confirmed]").check()
    page.locator(f"tr#f-{first.id} button[type=submit]").click()
    page.wait_for_load_state("load")
    assert "已保存判定" in insp.flash()
    page.locator(f"tr#f-{second.id} input[value=rejected]").check()
    page.locator(f"tr#f-{second.id} input[name=comment]").fill("判断有误,与坐席表现无关")
    page.locator(f"tr#f-{second.id} button[type=submit]").click()
    page.wait_for_load_state("load")
    assert page.locator(f"tr#f-{first.id} .saved").inner_text() == "已判定:确认"
    assert page.locator(f"tr#f-{second.id} .saved").inner_text() == "已判定:误报"
    page.screenshot(path=str(shots / "workbench-conversation.png"), full_page=True)
    page.fill("form.submit-review textarea[name=comment]", "一条误报,其余属实")
    page.click("form.submit-review button[type=submit]")
    page.wait_for_load_state("load")
    assert "复核已提交" in insp.flash()
    assert page.inner_text("h1 .status") == "已复核"
    with server["factory"]() as s:
        round1 = s.get(Conversation, conv.id).human_score
    assert round1 is not None and page.inner_text(".score-box.human .big").startswith(f"{round1:g}")

    # 3. the agent sees the result and appeals
    agent = Person(browser, server, "agent")
    page = agent.go(f"/conversations/{conv.id}")
    assert page.inner_text("h1 .status") == "已复核"
    assert page.locator("form.verdict-form").count() == 0  # agents read, they don't review
    page.fill("form.appeal-form textarea[name=reason]", "第二条判定有误,请复核")
    page.screenshot(path=str(shots / "workbench-appeal.png"), full_page=False)
    page.click("form.appeal-form button[type=submit]")
    page.wait_for_load_state("load")
    assert "申诉已提交" in agent.flash() and page.inner_text("h1 .status") == "争议中"
    assert page.locator("form.appeal-form").count() == 0

    # 4. 赵质检 picks it up from the pool and reviews it without seeing round 1
    insp2 = Person(browser, server, "insp2")
    page = insp2.go("/queue?status=disputed")
    page.click(f"tr[data-conv='{conv.ext_id}'] a")
    page.wait_for_load_state("load")
    assert "独立复核中" in page.inner_text(".score-box.human")
    assert "第二轮复核(独立)" in page.inner_text("section.review h2")
    assert page.locator("td.verdicts .verdict").count() == 0  # round 1's verdicts are not shown
    for f in (first, second):
        page.locator(f"tr#f-{f.id} input[value=confirmed]").check()
        page.locator(f"tr#f-{f.id} button[type=submit]").click()
        page.wait_for_load_state("load")
    page.fill("form.submit-review input[name=human_score]", "65")
    page.click("form.submit-review button[type=submit]")
    page.wait_for_load_state("load")
    assert page.inner_text("h1 .status") == "已二次复核"

    # 5. the supervisor signs it off on the disputes page
    page = sup.go("/disputes")
    with server["factory"]() as s:
        dispute = s.scalar(select(Dispute).where(Dispute.conversation_id == conv.id))
    row = page.locator(f"tr#d-{dispute.id}")
    assert row.get_attribute("data-state") == "second_reviewed" and "申诉" in row.inner_text()
    # no score prefilled: the final score follows the chosen decision (each option says its round's score)
    assert row.locator("input[name=final_score]").input_value() == ""
    assert "改判(第二轮 65 分)" in row.locator("select[name=decision]").inner_text()
    row.locator("select[name=decision]").select_option("overturned")
    row.locator("input[name=comment]").fill("第二轮复核属实,改判")
    page.screenshot(path=str(shots / "workbench-disputes.png"), full_page=False)
    row.locator("button[type=submit]").click()
    page.wait_for_load_state("load")
    # irreversible: a confirmation page first, saying what will be recorded
    assert page.inner_text("dl.sign-off-plan dd.final").startswith("65")
    assert page.inner_text("dl.sign-off-plan dd.decision") == "改判"
    page.click("form.confirm-sign-off button[type=submit]")
    page.wait_for_load_state("load")
    assert f"会话 {conv.ext_id} 已签核(改判),最终得分 65" in sup.flash()
    page = sup.go(f"/conversations/{conv.id}")
    assert page.inner_text("h1 .status") == "已签核"
    assert page.inner_text(".score-box.human .big").startswith("65")
    assert page.inner_text(".score-box.machine .big").startswith(f"{conv.machine_score:g}")
    assert "改判" in page.inner_text("section.disputes")
    page.screenshot(path=str(shots / "workbench-signed-off.png"), full_page=False)

    # the database agrees
    with server["factory"]() as s:
        c = s.get(Conversation, conv.id)
        assert (c.status, c.human_score, c.machine_score) == ("signed_off", 65, conv.machine_score)
        d = s.get(Dispute, dispute.id)
        assert (d.kind, d.state, d.signed_off_by, d.final_score) == ("appeal", "overturned", ids["sup"], 65)
        reviews = {r.round: r for r in s.scalars(select(Review).where(Review.conversation_id == conv.id))}
        assert reviews[1].reviewer_id == ids["insp"] and reviews[2].reviewer_id == ids["insp2"]
        verdicts = {(v.review_id, v.finding_id): v.verdict for v in s.scalars(select(Verdict))}
        assert verdicts[(reviews[1].id, first.id)] == "confirmed" and verdicts[(reviews[1].id, second.id)] == "rejected"
        assert verdicts[(reviews[2].id, first.id)] == verdicts[(reviews[2].id, second.id)] == "confirmed"

    # the agreement page counts the signed-off review (overturned: round 2's verdicts, both confirmed)
    from pipeline.workbench.labels import rule_precision, score_agreement

    page = sup.go("/agreement")
    with server["factory"]() as s:
        table = rule_precision(s, config=server["config"]).set_index("rule")
        scores = score_agreement(s, config=server["config"])
    for rule in {first.rule, second.rule}:
        cells = page.locator(f"#rule-precision tr[data-rule='{rule}'] td").all_inner_texts()
        assert cells[0] == rule and f"{100 * table.loc[rule, 'precision']:.0f}%" in cells
    assert scores["n"] >= 1 and page.inner_text("#score-agreement dd[data-key='n']") == str(scores["n"])

    # the agent sees the final result
    page = agent.go("/my?status=all")
    assert "已签核" in page.locator(f"tr[data-conv='{conv.ext_id}']").inner_text()
    page = agent.go("/audit")
    assert page.inner_text("h1").startswith("无权访问")
    for person in (sup, insp, agent, insp2):
        person.close()
