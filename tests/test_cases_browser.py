"""One 差评 case in a real browser, from the notice to 回访 and closure (issue 19): Debian's chromium
driven by Playwright against ``zhijian serve`` (the harness of tests/test_workbench_browser.py).

A third-party review of a conversation of agent A010 is imported (``importing.import_reviews``, what
``zhijian cases import`` runs); the agent sees the badge and the case in 我的差评, reads the suggested
reason with its evidence and the transcript, writes the 情况说明; the supervisor investigates (a note,
a customer contact), sets the responsibility and the confirmed reason, adds an apology (owned by the
agent) and a training; the agent marks the apology done; the supervisor finishes the training, records
the 回访 and closes the case — asserted on the pages and in the database. Screenshots go to
docs/img/cases-*.png with ZHIJIAN_SCREENSHOTS=1 (docs/CASES.md shows them).
"""

from __future__ import annotations

from sqlalchemy import select

from test_workbench_browser import Person, browser, server, shots  # noqa: F401 — fixtures

from pipeline.cases import importing
from pipeline.workbench.db import AuditEntry, Case, Conversation


def _import_review(server, tmp_path) -> int:
    with server["factory"]() as s:
        conv = s.scalars(select(Conversation).where(Conversation.agent_id == "A010", Conversation.customer_id.is_not(None))
                         .order_by(Conversation.risk.desc())).first()
        path = tmp_path / "reviews.jsonl"
        path.write_text('{"ref": "TM-20261205-01", "source": "天猫", "conversation_id": "%s", "rating": 1, '
                        '"text": "客服态度敷衍,问了半天也没解决,我的电话 13812345678"}\n' % conv.ext_id, encoding="utf-8")
        summary = importing.import_reviews(s, path, server["config"])
        s.commit()
        assert summary.opened == 1 and summary.matched_by_id == 1
        return s.scalar(select(Case.id).where(Case.key == "import:天猫:TM-20261205-01"))


def test_a_case_from_notice_to_follow_up_and_closure(browser, server, shots, tmp_path):  # noqa: F811
    case_id = _import_review(server, tmp_path)

    agent = Person(browser, server, "agent")
    try:
        page = agent.go("/my")
        assert agent.nav() == ["我的会话", "我的差评"]
        assert page.inner_text("#case-badge").strip() == "1"  # the notice, at once
        page = agent.go("/cases")
        row = page.locator(f"tr[data-case='{case_id}']")
        assert row.count() == 1 and "unread" in row.get_attribute("class")
        page.screenshot(path=str(shots / "cases-agent-list.png"), full_page=False)
        row.locator("a").click()
        page.wait_for_load_state("load")
        assert page.inner_text("#case-state") == "待情况说明"
        assert page.inner_text("#suggested-reason") in ("服务态度", "专业能力", "响应速度", "问题解决效果", "其他")
        assert page.locator("#suggestion li").count() >= 1 and page.locator("#transcript .turn").count() >= 2
        assert "13812345678" not in page.content()  # the review text is masked like everything else
        page.fill("#account textarea[name=text]", "客户要求当天发货,我按规定说明无法加急,语气可能比较生硬。")
        page.click("#account button[type=submit]")
        page.wait_for_load_state("load")
        assert "情况说明已提交" in agent.flash() and page.inner_text("#case-state") == "待调查"
        assert page.locator("#case-badge").count() == 0  # read
    finally:
        agent.close()

    sup = Person(browser, server, "sup")
    try:
        page = sup.go(f"/cases/{case_id}")
        assert "客户要求当天发货" in page.inner_text("#account")
        page.fill("#investigation textarea[name=note]", "已调取聊天记录,坐席确有生硬表述。")
        page.click("form[action$='/note'] button")
        page.wait_for_load_state("load")
        page.fill("form[action$='/contact'] textarea[name=note]", "电话联系客户,客户希望得到道歉。")
        page.click("form[action$='/contact'] button")
        page.wait_for_load_state("load")
        assert page.inner_text("#case-state") == "调查中" and page.locator("table.contacts tbody tr").count() == 1
        page.check("input[name=responsibility][value=individual]")
        page.check("input[name=responsibility][value=training]")
        page.select_option("select[name=confirmed_reason]", "服务态度")
        page.click("#responsibility button[type=submit]")
        page.wait_for_load_state("load")
        assert "个人、培训不足" in page.inner_text("#responsibility") and page.inner_text("#confirmed-reason") == "服务态度"
        agent_id = server["ids"]["agent"]
        page.select_option("#measure-form select[name=kind]", "apology")
        page.select_option("#measure-form select[name=owner_id]", str(agent_id))
        page.fill("#measure-form input[name=note]", "当天电话致歉")
        page.click("#measure-form button[type=submit]")
        page.wait_for_load_state("load")
        page.select_option("#measure-form select[name=kind]", "training")
        page.select_option("#measure-form select[name=owner_id]", str(server["ids"]["sup"]))
        page.fill("#measure-form input[name=due_at]", "2030-01-15")
        page.click("#measure-form button[type=submit]")
        page.wait_for_load_state("load")
        assert page.locator("table.measures tbody tr[data-measure]").count() == 2
        assert page.inner_text("#case-state") == "措施执行中"
        page.screenshot(path=str(shots / "cases-supervisor.png"), full_page=True)
    finally:
        sup.close()

    agent = Person(browser, server, "agent")
    try:
        page = agent.go(f"/cases/{case_id}")
        apology = page.locator("tr[data-measure=apology]")
        apology.locator("input[name=note]").fill("已电话致歉,客户接受")
        apology.locator("button").click()
        page.wait_for_load_state("load")
        assert "措施已完成" in agent.flash()
        assert page.locator("tr[data-measure=training] button").count() == 0  # not the agent's measure
        assert page.locator("form[action$='/follow-up']").count() == 0
    finally:
        agent.close()

    sup = Person(browser, server, "sup")
    try:
        page = sup.go(f"/cases/{case_id}")
        page.locator("tr[data-measure=training] button").click()
        page.wait_for_load_state("load")
        page.select_option("form[action$='/follow-up'] select[name=result]", "satisfied")
        page.fill("form[action$='/follow-up'] input[name=note]", "客户对处理结果满意")
        page.click("form[action$='/follow-up'] button")
        page.wait_for_load_state("load")
        assert page.inner_text("#follow-up-result") == "满意"
        page.click("form[action$='/close'] button")
        page.wait_for_load_state("load")
        assert "差评已结案" in sup.flash() and page.inner_text("#case-state") == "已结案"
        page.screenshot(path=str(shots / "cases-closed.png"), full_page=True)
        page = sup.go("/cases?state=all")
        assert "已结案" in page.inner_text(f"tr[data-case='{case_id}']")
    finally:
        sup.close()

    with server["factory"]() as s:
        case = s.get(Case, case_id)
        assert case.state == "closed" and case.apology_at is not None and case.follow_up_result == "satisfied"
        assert case.responsibility == ["individual", "training"] and case.confirmed_reason == "服务态度"
        actions = list(s.scalars(select(AuditEntry.action).where(AuditEntry.entity == "cases", AuditEntry.entity_id == str(case_id))
                                 .order_by(AuditEntry.id)))
        assert actions == ["case.open", "case.account", "case.note", "case.contact", "case.responsibility", "case.measure",
                           "case.measure", "case.measure_done", "case.measure_done", "case.follow_up", "case.close"]
