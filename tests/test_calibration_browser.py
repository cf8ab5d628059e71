"""A blind calibration session with three inspectors in a real browser (Debian's chromium driven by
Playwright against ``zhijian serve``, the same harness as test_workbench_browser.py).

The supervisor creates the session on the 校准 page; three inspectors find it in 我的任务 and judge
every machine finding of two conversations. Before the last one submits, an inspector's pages show
only their own verdicts and no results; once all three submitted, the session page shows Fleiss' κ,
Krippendorff's α, each inspector's deviation and the consensus, and the supervisor accepts it as gold.
Screenshots to docs/img/workbench-calibration*.png with ZHIJIAN_SCREENSHOTS=1."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from test_workbench_browser import PASSWORD, Person, browser, server, shots  # noqa: F401 — fixtures of the harness

pytestmark = pytest.mark.browser

THIRD = ("insp3", "钱质检")
VERDICTS = {"insp": lambda pos: "rejected", "insp2": lambda pos: "confirmed",
            "insp3": lambda pos: "confirmed" if pos == 0 else "rejected"}
NAMES = {"insp": "张质检", "insp2": "赵质检", "insp3": "钱质检"}


def _add_third_inspector(server) -> None:
    from pipeline.workbench import users
    from pipeline.workbench.db import User

    with server["factory"]() as s:
        if s.scalar(select(User).where(User.username == THIRD[0])) is None:
            users.create_user(s, THIRD[0], PASSWORD, "inspector", display_name=THIRD[1], config=server["config"])
            s.commit()


def _conversations(server) -> list:
    """Two pending conversations with one to three machine findings each (few clicks, real content)."""
    from pipeline.workbench.db import Conversation

    with server["factory"]() as s:
        out = []
        for c in s.scalars(select(Conversation).where(Conversation.review_needed.is_(True)).order_by(Conversation.id)):
            n = sum(f.source == "machine" for f in c.findings)
            if 1 <= n <= 3 and (not out or n != sum(f.source == "machine" for f in out[0].findings)):
                out.append(c)
            if len(out) == 2:
                return out
    raise AssertionError("the sample run lacks two flagged conversations with 1–3 findings")


def _answer(person: Person, session_url: str, verdict_of) -> None:
    page = person.go(session_url)
    items = page.locator("table.calibration-items tbody tr a").evaluate_all("as => as.map(a => a.getAttribute('href'))")
    for href in items:
        page = person.go(href)
        rows = page.locator("section.findings tbody tr[data-rule]")
        ids = rows.evaluate_all("rs => rs.map(r => r.id)")
        for pos, row_id in enumerate(ids):
            row = page.locator(f"tr#{row_id}")
            row.locator(f"input[value={verdict_of(pos)}]").check()
            row.locator("button[type=submit]").click()
            page.wait_for_load_state("load")
            assert "已保存判定" in person.flash()
        page.click("form.calibration-answer button[type=submit]")
        page.wait_for_load_state("load")
    page = person.go(session_url)
    page.click("form.submit-calibration button[type=submit]")
    page.wait_for_load_state("load")
    assert "已提交全部答案" in person.flash()


def test_a_blind_session_with_three_inspectors(browser, server, shots):
    _add_third_inspector(server)
    convs = _conversations(server)

    # 1. the supervisor creates the session on the 校准 page
    sup = Person(browser, server, "sup")
    page = sup.go("/my")
    page.click("header.top nav a:has-text('校准')")
    page.wait_for_load_state("load")
    page.fill("form.new-calibration input[name=title]", "服务忌语校准(三人)")
    page.fill("form.new-calibration textarea[name=ext_ids]", "\n".join(c.ext_id for c in convs))
    for name in NAMES.values():
        page.locator("fieldset.participants label", has_text=name).locator("input").check()
    page.click("form.new-calibration button[type=submit]")
    page.wait_for_load_state("load")
    assert "已创建校准会话" in sup.flash()
    session_url = re.sub(r"^https?://[^/]+", "", page.url)
    assert re.fullmatch(r"/calibration/\d+", session_url)
    assert page.locator("table.calibration-items tbody tr").count() == 2
    assert page.locator("#participants .participant[data-submitted=no]").count() == 3

    people = {name: Person(browser, server, name) for name in NAMES}
    # 2. 张质检 finds it in 我的任务 and answers everything "误报"
    page = people["insp"].go("/my")
    page.click("#calibration-tasks a")
    page.wait_for_load_state("load")
    assert page.url.endswith(session_url)
    _answer(people["insp"], session_url, VERDICTS["insp"])

    # 3. 赵质检 can't see 张质检's verdicts: no results, no votes, only an empty form of their own
    p2 = people["insp2"]
    page = p2.go(session_url)
    assert page.locator("#calibration-results").count() == 0 and page.locator("#blind-note").count() == 1
    assert "张质检 · 已提交" in page.inner_text("#participants")  # who has submitted is shown, not what
    page.click("table.calibration-items tbody tr:first-child a")
    page.wait_for_load_state("load")
    assert page.locator("td.votes").count() == 0 and page.locator(".saved").count() == 0
    assert page.locator("section.findings input[value=rejected]:checked").count() == 0
    page.screenshot(path=str(shots / "workbench-calibration-blind.png"), full_page=False)
    _answer(p2, session_url, VERDICTS["insp2"])
    page = p2.go(session_url)
    assert page.locator("#calibration-results").count() == 0  # two of three: still blind
    page = sup.go(session_url)
    assert page.locator("#calibration-results").count() == 0  # the supervisor doesn't see answers early either

    # 4. the third submits: the page shows κ, α, the deviations and the consensus
    _answer(people["insp3"], session_url, VERDICTS["insp3"])
    page = people["insp"].go(session_url)
    assert page.inner_text("h1 .cal-state") == "已全部提交"
    kappa = page.inner_text("#overall dd[data-key=fleiss_kappa]")
    alpha = page.inner_text("#overall dd[data-key=krippendorff_alpha]")
    assert re.fullmatch(r"-?\d+(\.\d+)?|—", kappa) and re.fullmatch(r"-?\d+(\.\d+)?|—", alpha)
    assert alpha != "—"
    assert page.locator("#deviations tbody tr").count() == 3
    first_finding = page.locator("#consensus tbody tr[data-unit*=':finding:']").first
    assert first_finding.locator("td.consensus-value").inner_text() == "确认"  # 赵 and 钱 against 张
    assert "differs" in (first_finding.locator("td").nth(2).get_attribute("class") or "")  # 张's column
    page.screenshot(path=str(shots / "workbench-calibration-results.png"), full_page=True)
    # the item page now shows everyone's verdict
    page.click("table.calibration-items tbody tr:first-child a")
    page.wait_for_load_state("load")
    votes = page.locator("td.votes").first.inner_text()
    assert "张质检:误报" in votes and "赵质检:确认" in votes and "钱质检:确认" in votes

    # 5. the supervisor accepts the consensus as gold
    page = sup.go(session_url)
    assert page.locator("#consensus tr[data-tie=yes]").count() == 0  # three raters, two values: a majority always
    page.click("form.gold-form button[type=submit]")
    page.wait_for_load_state("load")
    assert "确认为金标准" in sup.flash() and page.locator("#gold-accepted").count() == 1

    from pipeline.workbench.db import CalibrationGold, Conversation, Review

    with server["factory"]() as s:
        assert s.scalar(select(CalibrationGold).limit(1)) is not None
        for c in convs:  # the session changed nothing of the agents' results
            now = s.get(Conversation, c.id)
            assert (now.status, now.human_score) == (c.status, c.human_score)
            assert s.scalar(select(Review).where(Review.conversation_id == c.id)) is None
    for person in (sup, *people.values()):
        person.close()
