"""The report's 差评处理 section (issue 19, pipeline/report/cases.py): numbers checked by hand on a small
set of cases in known states, then the section in ``zhijian report --database-url`` (absent without the
workbench or without cases) — on SQLite and PostgreSQL (``db_url``)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.orm import Session

from test_workbench_core import U, add_conv, team  # noqa: F401 — team: a fixture

from pipeline.cases import service
from pipeline.report.cases import read_cases

NOW = datetime.now(timezone.utc)


def _case(s, cfg, ext, agent, received, review="客服态度差 13812345678"):
    conv = add_conv(s, ext, agent)
    case, _ = service.open_case(s, cfg, key=ext, source="rating", received_at=received, conversation=conv, review_text=review)
    return case


@pytest.fixture()
def cases(factory, team, cfg):
    """Four cases: closed (the supervisor confirmed the suggestion), closed (confirmed another class),
    waiting for the agent and overdue, and fresh."""
    with factory() as s:
        sup, agent = U(s, team, "sup"), U(s, team, "agent17")
        done = []
        for ext, reason in (("c-same", None), ("c-other", "问题解决效果")):
            c = _case(s, cfg, ext, "A017", NOW - timedelta(hours=30))
            service.submit_account(s, c, "说明", agent)
            service.add_note(s, c, "调查", sup)
            service.set_responsibility(s, c, ["individual", "training"] if reason is None else ["process"],
                                       reason or c.suggested_reason, None, sup)
            m = service.add_measure(s, c, "apology", agent, None, None, sup, cfg)
            service.complete_measure(s, c, m, None, agent)
            service.follow_up(s, c, "satisfied" if reason is None else "unreachable", None, sup)
            service.close(s, c, sup)
            done.append(c)
        _case(s, cfg, "c-late", "A017", NOW - timedelta(days=3))
        _case(s, cfg, "c-new", "A018", NOW - timedelta(hours=1))
        s.commit()
        return [c.id for c in done]


def test_the_section_counts_states_timing_responsibility_and_agreement(factory, cfg, cases):
    with factory() as s:
        c = read_cases(s, cfg, NOW)
    assert c["n"] == 4
    assert dict(c["by_state"])["已结案"] == 2 and dict(c["by_state"])["待情况说明"] == 2
    assert c["overdue"] == 1 and dict(c["overdue_by"]) == {"情况说明": 1, "道歉安抚": 1}
    account, apology, closure = c["timing"]
    assert account["done"] == 2 and account["within"] == 0.0 and account["pending_late"] == 1  # written 30 h after a 24 h deadline
    assert account["median"] == pytest.approx(30, abs=0.1) and account["deadline"] == "24 小时"
    assert apology["done"] == 2 and closure["done"] == 2 and closure["within"] == 1.0
    assert dict((k, n) for k, n, _ in c["responsibility"]) == {"个人": 1, "团队协作": 0, "培训不足": 1, "流程缺陷": 1, "外部": 0}
    assert dict((k, (n, d)) for k, n, d in c["measures"])["道歉安抚"] == (2, 2)
    assert dict(c["follow_up"]) == {"满意": 1, "不满意": 0, "未联系上": 1}
    assert c["repeat_agents"] == [("A017", 3)]
    a = c["agreement"]
    assert a["n"] == 2 and a["share"] == 0.5  # one confirmed as suggested, one changed
    assert a["confusion"]["问题解决效果"]["服务态度"] == 1 and a["confusion"]["服务态度"]["服务态度"] == 1
    assert [t["id"] for t in c["typical"]] == list(reversed(cases))
    assert all("13812345678" not in t["review"] for t in c["typical"])


def test_zhijian_report_shows_the_section_with_the_workbench(db_url, factory, cfg, cases, workbench_run_dir, tmp_path):
    from pipeline.cli import main

    out = tmp_path / "report.html"
    assert main(["report", str(workbench_run_dir), "--out", str(out), "--database-url", db_url, "--quiet"]) == 0
    html = out.read_text(encoding="utf-8")
    assert '<section id="cases"><h2>差评处理</h2>' in html and 'href="#cases"' in html
    assert "典型差评案例" in html and "13812345678" not in html and "Cohen" in html
    bare = tmp_path / "bare.html"
    assert main(["report", str(workbench_run_dir), "--out", str(bare), "--quiet"]) == 0
    assert 'id="cases"' not in bare.read_text(encoding="utf-8")


def test_no_section_without_cases_or_on_a_database_before_0004(db_url, cfg):
    from pipeline.workbench.database import downgrade, make_engine, upgrade

    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with Session(engine) as s:
            assert read_cases(s, cfg) is None  # no case
        downgrade(db_url, "0003")
        with Session(engine) as s:
            assert read_cases(s, cfg) is None  # no table
    finally:
        engine.dispose()
