"""Rules that earn trust (issue 14, item 4): a rule's status from reviewers' verdicts made through the
real workflow, the rewrite list with masked evidence (CLI and the 一致性 page), and
``review.skip_review_for_trusted_rules`` — which drops only the listed rules' reasons, and changes
nothing when empty."""

from __future__ import annotations

import json
import re
import warnings

import orjson
import pytest
from sqlalchemy import select

from pipeline.config import ConfigError, load_config
from pipeline.schema import Finding
from pipeline.trust import reasons_from_trusted_rules, skip_rules, trust_settings, trust_status
from pipeline.workbench import labels, review, trust, users
from pipeline.workbench.db import Conversation, User
from pipeline.workbench.load import load_run

TRUSTED, REWRITTEN = "complaint.risk", "forbidden.phrase"  # both fire on many sample conversations
PHONE = "13812345678"  # a reviewer's comment quoting a customer's number: must leave masked
# small enough to reach in a test; the defaults (200 reviews, 0.9, 20) are the same code path
TRUST = {"min_reviews": 10, "trusted_lower_bound": 0.7, "rewrite_min_reviews": 5, "false_alarms_shown": 3}


@pytest.fixture()
def tcfg(cfg):
    return load_config(overrides={"workbench": {"argon2": cfg["workbench"]["argon2"]}, "trust": TRUST})


@pytest.fixture()
def bench(factory, sample_run, tcfg):
    """The sample run loaded; a supervisor and an inspector. Returns (factory, review-one function)."""
    with factory() as s:
        load_run(s, sample_run, config=tcfg)
        users.create_user(s, "sup", "sup-password", "supervisor", config=tcfg)
        inspector_id = users.create_user(s, "i1", "i1-password", "inspector", config=tcfg).id
        s.commit()

    def judge(s, conv):
        """One counted review: findings of REWRITTEN rejected (with a comment quoting a phone), the rest confirmed."""
        who = s.get(User, inspector_id)
        r = review.start_review(s, conv, who)
        for f in conv.findings:
            if f.source == "machine":
                rejected = f.rule == REWRITTEN
                review.set_verdict(s, r, f, "rejected" if rejected else "confirmed",
                                   f"误报,客户电话{PHONE}" if rejected else None, who)
        review.submit_review(s, r, actor=who, config=tcfg)
        s.commit()

    return factory, judge


def _with_rule(s, rule: str) -> list[Conversation]:
    return [c for c in s.scalars(select(Conversation).order_by(Conversation.ext_id))
            if any(f.rule == rule and f.source == "machine" for f in c.findings)]


def _row(table, rule: str):
    return next(r for r in table.itertuples() if r.rule == rule)


@pytest.mark.parametrize("confirmed, n, status", [
    (9, 9, "watch"),      # lower bound 0.70 ≥ level, but fewer than min_reviews
    (10, 10, "trusted"),  # 0.72 over 10
    (9, 10, "watch"),     # 0.60: in between
    (2, 4, "watch"),      # precision 0.5, too few to say
    (2, 5, "rewrite"),    # 0.4 over 5
    (3, 5, "watch"),      # 0.6 is not below 0.6
    (0, 0, "watch"),
])
def test_trust_status_table(confirmed, n, status, tcfg):
    assert trust_status(confirmed, n, trust_settings(tcfg))[0] == status


def test_default_levels_are_the_issues():
    t = trust_settings(load_config())
    assert (t["min_reviews"], t["trusted_lower_bound"], t["rewrite_below"], t["interval"]) == (200, 0.9, 0.6, 0.95)
    assert trust_status(199, 199, t)[0] == "watch" and trust_status(200, 200, t)[0] == "trusted"
    assert trust_status(190, 200, t)[0] == "trusted"  # 95 %: lower bound 0.910
    assert trust_status(185, 200, t)[0] == "watch"    # 92.5 %: lower bound 0.882 < 0.9
    with pytest.raises(ConfigError, match="trust.rewrite_below"):
        trust_settings(load_config(overrides={"trust": {"rewrite_below": 1.5}}))
    with pytest.raises(ConfigError, match="skip_review_for_trusted_rules"):
        skip_rules(load_config(overrides={"review": {"skip_review_for_trusted_rules": "complaint.risk"}}))


def test_a_rule_becomes_trusted_only_with_enough_reviews(bench, tcfg):
    factory, judge = bench
    with factory() as s:
        convs = [c for c in _with_rule(s, TRUSTED) if not any(f.rule == REWRITTEN for f in c.findings)]
        assert len(convs) >= TRUST["min_reviews"]
        for k, conv in enumerate(convs[:TRUST["min_reviews"]], start=1):
            judge(s, conv)
            row = _row(trust.rule_trust(s, tcfg), TRUSTED)
            assert (row.n, row.confirmed) == (k, k)
            assert row.status == ("trusted" if k >= TRUST["min_reviews"] else "watch"), k
        summary = trust.trust_summary(s, trust.rule_trust(s, tcfg), tcfg)
    assert TRUSTED in summary["eligible_to_skip_review"] and REWRITTEN not in summary["eligible_to_skip_review"]
    assert summary["listed_not_trusted"] == []


def test_a_rule_with_many_false_alarms_is_listed_for_rewrite_with_masked_evidence(bench, tcfg):
    factory, judge = bench
    with factory() as s:
        for conv in _with_rule(s, REWRITTEN):
            judge(s, conv)
            row = _row(trust.rule_trust(s, tcfg), REWRITTEN)
            assert row.confirmed == 0 and row.status == ("rewrite" if row.n >= TRUST["rewrite_min_reviews"] else "watch")
            if row.status == "rewrite":
                break
        table = trust.rule_trust(s, tcfg)
        summary = trust.trust_summary(s, table, tcfg)
        alarms = summary["rewrite"][REWRITTEN]
        expected = {(c.ext_id, f.turn, labels.masked_evidence(c, f)) for c in _with_rule(s, REWRITTEN)
                    if c.status == "reviewed" for f in c.findings if f.rule == REWRITTEN}
    assert [r for r in table.itertuples() if r.status == "rewrite"] == [_row(table, REWRITTEN)]
    assert alarms["count"] == _row(table, REWRITTEN).rejected == len(expected) >= TRUST["rewrite_min_reviews"]
    assert len(alarms["rows"]) == TRUST["false_alarms_shown"]  # the newest few; the count is the whole
    assert {(r["conversation_id"], r["turn"], r["evidence"]) for r in alarms["rows"]} <= expected
    assert all(r["evidence"] and r["turn"] is not None and r["entry"] for r in alarms["rows"])
    assert all(PHONE not in r["comment"] and "*" in r["comment"] for r in alarms["rows"])


def test_agreement_command_prints_status_eligible_rules_and_rewrite_list(bench, db_url, tcfg, tmp_path, capsys):
    from pipeline.cli import main

    factory, judge = bench
    with factory() as s:
        for conv in _with_rule(s, TRUSTED)[:TRUST["min_reviews"] + 2]:
            judge(s, conv)
        for conv in _with_rule(s, REWRITTEN)[:TRUST["rewrite_min_reviews"] + 1]:
            if conv.status != "reviewed":
                judge(s, conv)
    config = tmp_path / "trust.yaml"
    config.write_text(json.dumps({"trust": TRUST, "review": {"skip_review_for_trusted_rules": [TRUSTED, "greeting.missing"]}}),
                      encoding="utf-8")
    common = ["--database-url", db_url, "--config", str(config)]
    assert main(["agreement", *common]) == 0
    text = capsys.readouterr().out
    assert "规则信任状态" in text and re.search(rf"可列入 review.skip_review_for_trusted_rules: .*{re.escape(TRUSTED)}", text)
    assert f"{REWRITTEN}  误报" in text and PHONE not in text
    assert main(["agreement", "--json", *common]) == 0
    data = orjson.loads(capsys.readouterr().out)
    status = {r["rule"]: r["status"] for r in data["rules"]}
    assert status[TRUSTED] == "trusted" and status[REWRITTEN] == "rewrite"
    assert data["trust"]["skip_review_listed"] == sorted([TRUSTED, "greeting.missing"])
    assert "greeting.missing" in data["trust"]["listed_not_trusted"] and TRUSTED not in data["trust"]["listed_not_trusted"]
    rejected = next(r["rejected"] for r in data["rules"] if r["rule"] == REWRITTEN)
    assert data["trust"]["rewrite"][REWRITTEN]["count"] == rejected and data["trust"]["rewrite"][REWRITTEN]["rows"]


def test_the_agreement_page_shows_status_and_rewrite_list(bench, db_url, tcfg):
    from pipeline.workbench.app import create_app

    factory, judge = bench
    with factory() as s:
        for conv in _with_rule(s, TRUSTED)[:TRUST["min_reviews"]]:
            judge(s, conv)
        for conv in _with_rule(s, REWRITTEN)[:TRUST["rewrite_min_reviews"] + 1]:
            if conv.status != "reviewed":
                judge(s, conv)
        rewrite_convs = {c.ext_id for c in _with_rule(s, REWRITTEN) if c.status == "reviewed"}
    app = create_app(tcfg, db_url)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    client = TestClient(app, base_url="https://testserver")
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    assert client.post("/login", data={"username": "sup", "password": "sup-password", "csrf_token": token},
                       follow_redirects=False).status_code == 303
    page = client.get("/agreement").text
    app.state.engine.dispose()
    assert re.search(rf'<tr data-rule="{re.escape(TRUSTED)}">.*?data-status="trusted">可信', page)
    assert re.search(rf'<tr data-rule="{re.escape(REWRITTEN)}">.*?data-status="rewrite">需改写', page)
    assert re.search(rf'id="eligible">[^<]*<code>{re.escape(TRUSTED)}</code>', page)
    table = re.search(rf'<table class="grid rewrite" data-rule="{re.escape(REWRITTEN)}">(.*?)</table>', page, re.S).group(1)
    shown = re.findall(r"<tr><td>([^<]+)</td>", table)
    assert len(shown) == TRUST["false_alarms_shown"] and set(shown) <= rewrite_convs
    assert PHONE not in page and "误报,客户电话" in table


# --- skipping review: only the listed rules' reasons, nothing when the list is empty -----------------------


def _f(rule, points=0.0, fatal=False):
    return Finding(rule=rule, category="", severity="minor", points=points, fatal=fatal)


@pytest.mark.parametrize("reasons, findings, rules, dropped", [
    (["complaint.risk"], [_f("complaint.risk")], set(), []),
    (["complaint.risk", "rating.bad"], [_f("complaint.risk")], {"complaint.risk"}, ["complaint.risk"]),
    (["fatal", "score.low"], [_f("privacy.disclosure", fatal=True)], {"privacy.disclosure"}, ["fatal", "score.low"]),
    (["fatal", "score.low"], [_f("privacy.disclosure", fatal=True), _f("greeting.missing", -5)], {"privacy.disclosure"}, ["fatal"]),
    (["score.low"], [_f("forbidden.phrase", -10), _f("empathy.missing", -10)], {"forbidden.phrase"}, []),
    (["score.low"], [_f("forbidden.phrase", -10), _f("praise", 2)], {"forbidden.phrase"}, ["score.low"]),
    (["customer.end_negative", "model.low_confidence"], [_f("complaint.risk")], {"complaint.risk"}, []),
])
def test_reasons_from_trusted_rules(reasons, findings, rules, dropped):
    assert reasons_from_trusted_rules(reasons, findings, frozenset(rules)) == dropped


def _inspect(tmp_path, repo, name, config=None):
    from conftest import inspect_into

    work = tmp_path / name
    work.mkdir()
    extra = []
    if config is not None:
        (work / "config.yaml").write_text(json.dumps(config), encoding="utf-8")
        extra = ["--config", "config.yaml"]
    run = inspect_into(work, [str(repo / "data" / "samples" / "conversations.jsonl")], "run", *extra)
    return run, [orjson.loads(x) for x in (run / "results.jsonl").read_bytes().splitlines()]


def test_skip_review_for_trusted_rules_changes_only_the_listed_rules_reasons(tmp_path, repo):
    base_run, base = _inspect(tmp_path, repo, "default")
    empty_run, _ = _inspect(tmp_path, repo, "empty", {"review": {"skip_review_for_trusted_rules": []}})
    assert (empty_run / "results.jsonl").read_bytes() == (base_run / "results.jsonl").read_bytes()
    _, skipped = _inspect(tmp_path, repo, "skip", {"review": {"skip_review_for_trusted_rules": ["complaint.risk"]}})

    seed, rate = load_config()["review"]["calibration_seed"], load_config()["review"]["calibration_rate"]
    from pipeline.review_flags import in_calibration_sample

    changed = 0
    for before, after in zip(base, skipped, strict=True):
        assert {k: v for k, v in before.items() if k != "review"} == {k: v for k, v in after.items() if k != "review"}
        if "complaint.risk" not in before["review"]["reasons"]:
            assert after["review"] == before["review"]
            continue
        changed += 1
        left = [r for r in before["review"]["reasons"] if r != "complaint.risk"]
        if not left and in_calibration_sample(before["id"], seed, rate):
            left = ["calibration.sample"]  # a clean conversation again: it may be sampled
        assert after["review"] == {"needed": bool(left), "reasons": left, "skipped": ["complaint.risk"]}
    assert changed and any(not r["review"]["needed"] for r in skipped if r["review"].get("skipped"))


def test_skipped_reasons_are_said_in_words():
    from pipeline.review_flags import review_in_words

    assert review_in_words({"needed": False, "reasons": [], "skipped": ["complaint.risk"]}) == "无需人工复核(可信规则免复核:投诉风险)"
    assert review_in_words({"needed": True, "reasons": ["fatal"], "skipped": ["score.low"]}) == "需人工复核:红线(可信规则免复核:低分)"
    assert review_in_words({"needed": True, "reasons": ["fatal"]}) == "需人工复核:红线"
