"""Calibration sessions through the web app (FastAPI TestClient on the sample run, SQLite and
PostgreSQL): a supervisor creates a session from typed ids, three inspectors answer blind over HTTP,
pages hide others' answers until all submitted, then show κ / α, deviations and the consensus; the
supervisor breaks ties and accepts gold. Also: who reaches the pages, masking, CSRF, audit."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from test_workbench_web import client_for, csrf_of, site  # noqa: F401 — site: the loaded sample run (a fixture)

from pipeline.workbench.db import AuditEntry, CalibrationGold, CalibrationSession, Conversation, Review, User

TRIO = ("insp", "insp2", "insp3")


def _ensure_third_inspector(site):
    from pipeline.workbench import users

    with site["factory"]() as s:
        if s.scalar(select(User).where(User.username == "insp3")) is None:
            site["ids"]["insp3"] = users.create_user(s, "insp3", "correct-horse-42", "inspector", display_name="insp3",
                                                     config=site["config"]).id
            s.commit()
        else:
            site["ids"]["insp3"] = s.scalar(select(User.id).where(User.username == "insp3"))


def _two_conversations(site) -> list[Conversation]:
    """Two conversations with machine findings (one with personal data in its transcript)."""
    with site["factory"]() as s:
        convs = [c for c in s.scalars(select(Conversation).order_by(Conversation.id))
                 if sum(f.source == "machine" for f in c.findings) >= 1]
        with_pii = next(c for c in convs if any(c.pii))
        other = next(c for c in convs if c.id != with_pii.id)
        return [with_pii, other]


def _form(client, url: str, data: dict) -> object:
    token = csrf_of(client.get("/calibration").text)
    return client.post(url, data={**data, "csrf_token": token}, follow_redirects=False)


def _create(site, sup, convs, title="第一次校准") -> int:
    r = _form(sup, "/calibration", {"title": title, "ext_ids": "\n".join(c.ext_id for c in convs),
                                    "participants": [site["ids"][n] for n in TRIO]})
    assert r.status_code == 303, r.text[:800]
    return int(r.headers["location"].rsplit("/", 1)[1])


def _answer(site, client, sid: int, verdict_of) -> None:
    """Judge every machine finding of every item (``verdict_of(position)``), save a score, submit."""
    with site["factory"]() as s:
        cs = s.get(CalibrationSession, sid)
        plan = [(item.id, [f.id for f in item.conversation.findings if f.source == "machine"]) for item in cs.items]
    for item_id, finding_ids in plan:
        page = f"/calibration/{sid}/items/{item_id}"
        token = csrf_of(client.get(page).text)
        for pos, fid in enumerate(finding_ids):
            r = client.post(page + "/verdict", data={"finding_id": fid, "verdict": verdict_of(pos), "csrf_token": token},
                            follow_redirects=False)
            assert r.status_code == 303, r.text[:500]
        r = client.post(page + "/answer", data={"human_score": "", "comment": "好", "csrf_token": token}, follow_redirects=False)
        assert r.status_code == 303
    r = client.post(f"/calibration/{sid}/submit", data={"csrf_token": token}, follow_redirects=True)
    assert "已提交全部答案" in r.text


def test_a_blind_session_over_http(site):
    _ensure_third_inspector(site)
    convs = _two_conversations(site)
    sup = client_for(site, "sup")
    sid = _create(site, sup, convs)
    people = {n: client_for(site, n) for n in TRIO}

    # inspectors find it in their tasks; the agent and a supervisor's list
    assert f"/calibration/{sid}" in people["insp"].get("/my").text
    assert "第一次校准" in sup.get("/calibration").text
    assert client_for(site, "agent").get(f"/calibration/{sid}").status_code == 403

    # insp answers "rejected" on everything, insp2 "confirmed", insp3 confirms the first finding only
    _answer(site, people["insp"], sid, lambda pos: "rejected")
    with site["factory"]() as s:
        item = s.get(CalibrationSession, sid).items[0]
        first = next(f for f in item.conversation.findings if f.source == "machine")
        item_id = item.id
    # insp2, before answering, sees none of insp's verdicts — nor does the supervisor
    for who, client in (("insp2", people["insp2"]), ("sup", sup)):
        html = client.get(f"/calibration/{sid}/items/{item_id}").text
        assert "已判定:误报" not in html and "各参与人判定" not in html and 'id="blind-note"' in html, who
        session_html = client.get(f"/calibration/{sid}").text
        assert 'id="calibration-results"' not in session_html and "Fleiss" not in session_html, who
    # personal data stays masked on the item page
    html = people["insp2"].get(f"/calibration/{sid}/items/{item_id}").text
    conv = convs[0]
    for turn, spans in zip(conv.turns, conv.pii):
        for start, end, _ in spans:
            assert turn["text"][start:end] not in html
    # insp sees their own saved verdicts but can't change them after submitting
    assert "已判定:误报" in people["insp"].get(f"/calibration/{sid}/items/{item_id}").text
    token = csrf_of(people["insp"].get(f"/calibration/{sid}").text)
    r = people["insp"].post(f"/calibration/{sid}/items/{item_id}/verdict",
                            data={"finding_id": first.id, "verdict": "confirmed", "csrf_token": token})
    assert r.status_code == 409 and "不能再修改" in r.text

    _answer(site, people["insp2"], sid, lambda pos: "confirmed")
    assert 'id="calibration-results"' not in people["insp2"].get(f"/calibration/{sid}").text
    _answer(site, people["insp3"], sid, lambda pos: "confirmed" if pos == 0 else "rejected")

    # all submitted: the results, for participants and the supervisor alike
    for client in (people["insp"], sup):
        html = client.get(f"/calibration/{sid}").text
        assert 'id="calibration-results"' in html and "Fleiss κ" in html and "Krippendorff α" in html
        assert re.search(r'data-key="fleiss_kappa">[-0-9.—]+<', html)
        assert 'id="deviations"' in html and 'id="consensus"' in html and 'id="per-item"' in html
    html = people["insp2"].get(f"/calibration/{sid}/items/{item_id}").text
    assert "各参与人判定" in html and "insp:误报" in html and "insp2:确认" in html and "insp3:确认" in html

    # the supervisor accepts the consensus (no ties with three raters on two values)
    token = csrf_of(sup.get(f"/calibration/{sid}").text)
    r = sup.post(f"/calibration/{sid}/gold", data={"csrf_token": token}, follow_redirects=True)
    assert "已将共识答案确认为金标准" in r.text, r.text[:1000]
    with site["factory"]() as s:
        gold = {g.unit: g.value for g in s.scalars(select(CalibrationGold).where(CalibrationGold.session_id == sid,
                                                                               CalibrationGold.item_id == item_id))}
        assert gold[f"finding:{first.id}"] == "confirmed"  # insp2 + insp3 against insp
        actions = [a for (a,) in s.execute(select(AuditEntry.action).where(AuditEntry.action.like("calibration.%")))]
        assert {"calibration.create", "calibration.verdict", "calibration.answer", "calibration.submit",
                "calibration.complete", "calibration.gold"} <= set(actions)
        # nothing counted as a review
        assert s.scalar(select(Review).where(Review.conversation_id.in_([c.id for c in convs]))) is None


def test_who_reaches_the_calibration_pages(site):
    _ensure_third_inspector(site)
    convs = _two_conversations(site)
    sup = client_for(site, "sup")
    sid = _create(site, sup, convs[:1], title="权限检查")
    with site["factory"]() as s:
        item_id = s.get(CalibrationSession, sid).items[0].id
    for path in (f"/calibration/{sid}", f"/calibration/{sid}/items/{item_id}"):
        assert client_for(site, "admin").get(path).status_code == 200
        assert client_for(site, "agent").get(path).status_code == 403
        assert client_for(site).get(path, follow_redirects=False).headers["location"].startswith("/login")
    # an inspector can answer only as a participant; the supervisor, who isn't one, can't answer
    token = csrf_of(sup.get(f"/calibration/{sid}").text)
    r = sup.post(f"/calibration/{sid}/items/{item_id}/answer", data={"human_score": "80", "csrf_token": token})
    assert r.status_code == 403 and "不是校准会话" in r.text
    # a missing CSRF token is refused; an inspector can't close or create
    insp = client_for(site, "insp")
    assert insp.post(f"/calibration/{sid}/submit", data={}).status_code == 403
    token = csrf_of(insp.get("/calibration").text)
    assert insp.post(f"/calibration/{sid}/close", data={"csrf_token": token}).status_code == 403
    assert insp.post("/calibration", data={"title": "x", "csrf_token": token}).status_code == 403
    # a form error is shown on the list page, in Chinese
    r = _form(sup, "/calibration", {"title": "少人", "ext_ids": convs[0].ext_id, "participants": [site["ids"]["insp"]]})
    assert r.status_code == 409 and "至少需要 2 位质检员" in r.text
    r = _form(sup, "/calibration", {"title": "错号", "ext_ids": "no-such-id", "participants": [site["ids"]["insp"]]})
    assert r.status_code == 409 and "no-such-id" in r.text
    # closing early shows the results of those who submitted
    r = _form(sup, f"/calibration/{sid}/close", {})
    assert r.status_code == 303
    html = sup.get(f"/calibration/{sid}").text
    assert 'id="calibration-results"' in html and "(0 / 3 位参与人提交)" in html
    r = _form(sup, f"/calibration/{sid}/gold", {})
    assert r.status_code == 409 and "不足 2 位" in r.text


def test_the_conversation_page_still_renders_its_review_form(site):
    """The verdict form, the review fields and the transcript are shared macros now."""
    convs = _two_conversations(site)
    html = client_for(site, "sup").get(f"/conversations/{convs[1].id}").text
    assert 'class="verdict-form"' in html and 'name="human_score"' in html and 'id="transcript"' in html
