"""Scorecard questions in a real browser (issue 17): Debian's chromium driven by Playwright against
``zhijian serve`` (the harness of tests/test_workbench_browser.py). The QA lead adds a question on the
评分表问题 page; an inspector opens the active-learning queue of 问题是否解决, opens the least sure
conversation, sees the machine's answer with its confidence and evidence turns, answers both questions
with one click each; the QA lead sees the answer counted on the 一致性 page beside the held-out figure —
asserted on the pages, in the database and in the audit log. Screenshots go to docs/img/questions-*.png
with ZHIJIAN_SCREENSHOTS=1.
"""

from __future__ import annotations

from sqlalchemy import select

from test_workbench_browser import Person, browser, server, shots  # noqa: F401 — fixtures

from pipeline.workbench.db import AuditEntry, Conversation, MachineAnswer, QuestionAnswer


def test_add_a_question_answer_with_one_click_and_see_it_on_the_agreement_page(browser, server, shots):  # noqa: F811
    sup = Person(browser, server, "sup")
    try:
        page = sup.go("/questions")
        assert page.locator("tr[data-question='question.resolved'] .q-status").inner_text() in ("试运行", "正式")
        page.fill("#add-question input[name=key]", "question.refund_time")
        page.fill("#add-question input[name=text]", "坐席是否说明了退款到账时间?")
        page.click("#add-question button[type=submit]")
        page.wait_for_load_state("load")
        assert "已添加问题 question.refund_time" in sup.flash()
        assert page.locator("tr[data-question='question.refund_time'] td").nth(2).inner_text() == "是 / 否 / 不适用"
        page.screenshot(path=str(shots / "questions-list.png"), full_page=False)
    finally:
        sup.close()

    insp = Person(browser, server, "insp")
    try:
        page = insp.go("/questions")
        page.click("tr[data-question='question.resolved'] a[href$='/queue']")
        page.wait_for_load_state("load")
        first = page.locator("table.question-queue tbody tr").first
        ext_id = first.get_attribute("data-conv")
        page.screenshot(path=str(shots / "questions-queue.png"), full_page=False)
        first.locator("a").click()
        page.wait_for_load_state("load")
        row = page.locator("#question-question\\.resolved")
        assert row.locator("td.confidence").inner_text().endswith("%")
        assert row.locator("td.evidence a").count() >= 1  # the evidence turns, linked to the transcript
        row.locator("button.choice", has_text="否").click()  # one click
        page.wait_for_load_state("load")
        row = page.locator("#question-question\\.resolved")
        assert "已记录" in insp.flash() and row.locator("button.chosen").inner_text() == "否"
        page.locator("#question-question\\.refund_time button.choice", has_text="不适用").click()
        page.wait_for_load_state("load")
        assert page.locator("#question-question\\.refund_time button.chosen").inner_text() == "不适用"
        page.locator("#questions").screenshot(path=str(shots / "questions-conversation.png"))
    finally:
        insp.close()

    with server["factory"]() as s:
        conv = s.scalar(select(Conversation).where(Conversation.ext_id == ext_id))
        answers = {a.question: a for a in s.scalars(select(QuestionAnswer).where(QuestionAnswer.conversation_id == conv.id))}
        assert {k: (a.answer, a.user_id) for k, a in answers.items()} == {
            "question.resolved": ("否", server["ids"]["insp"]), "question.refund_time": ("不适用", server["ids"]["insp"])}
        machine = s.scalar(select(MachineAnswer).where(MachineAnswer.conversation_id == conv.id,
                                                       MachineAnswer.question == "question.resolved"))
        logged = s.scalars(select(AuditEntry).where(AuditEntry.action == "question.answer", AuditEntry.user_id == server["ids"]["insp"])).all()
        assert len(logged) == 2
        agree_expected = "1" if machine.answer == "否" else "0"

    sup = Person(browser, server, "sup")
    try:
        page = sup.go("/agreement")
        row = page.locator("#question-agreement tr[data-question='question.resolved']")
        assert row.locator("[data-key=answered]").inner_text() == "1"
        if machine.answer is None:  # the least sure conversation: the machine abstained
            assert row.locator("[data-key=abstained]").inner_text() == "1" and row.locator("[data-key=n]").inner_text() == "0"
        else:
            assert row.locator("[data-key=n]").inner_text() == "1" and row.locator("[data-key=agree]").inner_text() == agree_expected
        assert row.locator("[data-key=held-out]").inner_text().startswith("0.")  # the training's held-out figure beside it
        added = page.locator("#question-agreement tr[data-question='question.refund_time']")
        assert added.locator("[data-key=answered]").inner_text() == "1"
        page.locator("#question-agreement").screenshot(path=str(shots / "questions-agreement.png"))
    finally:
        sup.close()
