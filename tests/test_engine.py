"""The rule machinery on small, purpose-made lexicons: matching, suppression, scopes, kinds,
scoring maths and load-time errors. (The real lexicons are tested in test_core_rules.py.)"""

from __future__ import annotations

import textwrap

import pytest

from pipeline.config import ConfigError, load_config
from pipeline.lexicons import LexiconSet
from pipeline.metrics import ResponseMetrics
from pipeline.normalize import Normalizer
from pipeline.rules import RuleSet
from pipeline.scoring import Scorecard
from tests.conftest import make_conversation

LEXICONS = {
    "greetings": [("G-1", ["您好", "很高兴为您服务"], "guard: scope is the agent's first two turns")],
    "closings": [("C-1", ["再见", "还有其他可以帮您的吗"], "guard: scope is the agent's last two turns")],
    "forbidden_phrases": [("F-1", ["你明白吗", "再跟您说一遍", "我再跟您说一遍"], None)],
    "empathy": [("E-1", ["抱歉", "理解您的心情"], "guard: only judged in the agent's reply window")],
    "negative_emotion": [("N-1", ["太差了", "气死了"], None)],
    "hold": [("H-1", ["请稍等"], None)],
    "hold_return": [("R-1", ["久等了"], None)],
    "complaint_risk": [("K-1", ["投诉", "12315"], "guard: customer turns only; negations and except")],
    "praise": [("P-1", ["服务很好"], None)],
}

RULES = """
version: 1
rules:
  - {id: greeting.missing, kind: absent, category: 服务用语, severity: minor, lexicon: greetings, role: agent, position: {first: 2}, message: m, source: s}
  - {id: closing.missing, kind: absent, category: 结束语, severity: minor, lexicon: closings, role: agent, position: {last: 2}, message: m, source: s}
  - {id: forbidden.phrase, kind: phrase, category: 服务忌语, severity: major, lexicon: forbidden_phrases, role: agent, message: "忌语「{evidence}」", source: s}
  - {id: empathy.missing, kind: absent, category: 安抚, severity: major, lexicon: empathy, role: agent, after: {lexicon: negative_emotion, role: customer, within_turns: windows.empathy_within_agent_turns}, message: m, source: s}
  - {id: hold.no_apology, kind: hold, category: 节奏, severity: minor, lexicon: hold, return_lexicon: hold_return, role: agent, threshold: timing.hold_threshold_s, message: m, source: s}
  - {id: response.first_slow, kind: first_response, category: 时效, severity: minor, threshold: timing.first_response_sla_s, message: m, source: s}
  - {id: response.slow, kind: reply_time, category: 时效, severity: minor, threshold: timing.reply_sla_s, message: m, source: s}
  - {id: complaint.risk, kind: phrase, category: 投诉风险, severity: major, lexicon: complaint_risk, role: customer, message: m, source: s}
  - {id: praise, kind: phrase, category: 表扬, severity: bonus, lexicon: praise, role: customer, message: m, source: s}
  - {id: complaint.unsoothed, kind: combine, category: 投诉风险, severity: major, all: [complaint.risk], none: [praise], message: m, source: s}
"""


def write_lexicons(folder, extra_complaint=""):
    folder.mkdir(exist_ok=True)
    (folder / "char_variants.txt").write_text("妳\t你\n", encoding="utf-8")
    for name, entries in LEXICONS.items():
        lines = [f"lexicon: {name}", "version: 1"]
        if name == "complaint_risk":
            lines += ["negation_window_chars: 2", "negations: [不是要, 不会]"]
        lines.append("entries:")
        for eid, phrases, guard in entries:
            lines += [f"  - id: {eid}", "    category: c", "    source: test", f"    phrases: {phrases}"]
            if guard:
                lines.append(f"    {guard}")
            if name == "complaint_risk":
                lines.append("    except: [投诉建议]")
                lines.append("    exclude: ['\\d12315|12315\\d']")
            lines.append(f"    examples: {{hit: ['{phrases[0]}']}}")
        (folder / f"{name}.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "rules.yaml").write_text(RULES, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    folder = write_lexicons(tmp_path_factory.mktemp("lx") / "lexicons")
    config = load_config()
    normalizer = Normalizer(folder / "char_variants.txt")
    lexicons = LexiconSet.load(folder, normalizer)
    rules = RuleSet.load(folder / "rules.yaml", lexicons, config)
    return normalizer, lexicons, rules


def run(engine, turns, channel="chat"):
    normalizer, _, rules = engine
    c = make_conversation(turns, channel)
    normalizer(c)
    ResponseMetrics()(c)
    rules(c)
    return c


def fired(c, rule):
    return [f for f in c.findings if f.rule == rule]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("我要投诉你们", ["投诉"]),
        ("我不是要投诉", []),  # negation right before
        ("我不会去投诉", []),  # negation within 2 chars
        ("我不是说这个,我要投诉", ["投诉"]),  # punctuation ends the negation's reach
        ("请到投诉建议栏留言", []),  # except phrase overlaps
        ("打12315", ["12315"]),
        ("订单号8123156", []),  # exclude regex: inside a longer number
    ],
)
def test_complaint_matching(engine, text, expected):
    c = run(engine, [("customer", text, 0)])
    assert [f.evidence for f in fired(c, "complaint.risk")] == expected


def test_longest_hit_wins_within_a_lexicon(engine):
    c = run(engine, [("agent", "您好", 0), ("agent", "我再跟您说一遍,不退", 1)])
    found = fired(c, "forbidden.phrase")
    assert [(f.turn, f.evidence) for f in found] == [(1, "我再跟您说一遍")]
    assert found[0].message == "忌语「我再跟您说一遍」"


@pytest.mark.parametrize(
    "text, evidence, start",
    [
        ("好的，你 明 白 嗎？", "你 明 白 嗎", 3),  # spaces and traditional characters
        ("妳明白嗎", "妳明白嗎", 0),  # variant character folded by char_variants.txt
        ("ＯＫ你*明*白*吗", "你*明*白*吗", 2),  # full-width and decorative symbols
    ],
)
def test_evidence_is_shown_in_the_original_text(engine, text, evidence, start):
    c = run(engine, [("agent", "您好", 0), ("agent", text, 1)])
    f = fired(c, "forbidden.phrase")[0]
    assert (f.evidence, f.start, f.end) == (evidence, start, start + len(evidence))
    assert c.turns[1].text[f.start : f.end] == evidence


def test_role_scope(engine):
    c = run(engine, [("customer", "你明白吗", 0), ("agent", "您好,你明白吗", 5)])
    assert [f.turn for f in fired(c, "forbidden.phrase")] == [1]


def test_greeting_position_first_two_agent_turns(engine):
    hit = run(engine, [("customer", "在吗", 0), ("agent", "在的", 1), ("agent", "请讲", 2), ("agent", "您好", 3)])
    miss = run(engine, [("customer", "在吗", 0), ("agent", "在的", 1), ("agent", "您好", 2)])
    bot_only = run(engine, [("bot", "您好,客服正在赶来", 0), ("agent", "在的", 1), ("agent", "请讲", 2)])
    assert [f.turn for f in fired(hit, "greeting.missing")] == [1]
    assert fired(miss, "greeting.missing") == []
    assert len(fired(bot_only, "greeting.missing")) == 1  # a bot's greeting is not the agent's


def test_no_agent_turn_means_nothing_to_judge(engine):
    c = run(engine, [("customer", "在吗", 0)])
    assert fired(c, "greeting.missing") == fired(c, "closing.missing") == []


def test_closing_position_last_two_agent_turns(engine):
    hit = run(engine, [("agent", "您好", 0), ("agent", "再见", 1), ("agent", "好的", 2), ("agent", "嗯", 3)])
    miss = run(engine, [("agent", "您好", 0), ("agent", "再见", 1), ("agent", "好的", 2)])
    assert len(fired(hit, "closing.missing")) == 1 and fired(miss, "closing.missing") == []


def test_empathy_window(engine):
    # anchor in turn 0; the agent's next two turns lack empathy → one finding at the anchor
    hit = run(engine, [("customer", "太差了", 0), ("agent", "您好", 1), ("agent", "查一下", 2), ("agent", "抱歉", 3)])
    miss = run(engine, [("customer", "太差了", 0), ("agent", "您好", 1), ("agent", "非常抱歉", 2)])
    # two angry turns answered by the same agent turns are judged once
    once = run(engine, [("customer", "太差了", 0), ("customer", "气死了", 1), ("agent", "您好", 2)])
    unanswered = run(engine, [("agent", "您好", 0), ("customer", "太差了", 1)])
    assert [(f.turn, f.evidence) for f in fired(hit, "empathy.missing")] == [(0, "太差了")]
    assert fired(miss, "empathy.missing") == []
    assert len(fired(once, "empathy.missing")) == 1
    assert fired(unanswered, "empathy.missing") == []


@pytest.mark.parametrize(
    "turns, expected_value",
    [
        ([("agent", "请稍等", 10), ("agent", "查到了", 100)], 90),  # 90 s > 60 s, no apology
        ([("agent", "请稍等", 10), ("agent", "久等了,查到了", 100)], None),  # apologised
        ([("agent", "请稍等", 10), ("agent", "查到了", 50)], None),  # short wait
        ([("agent", "好的", 10), ("agent", "查到了", 100)], None),  # no hold announced
        ([("agent", "请稍等", 10, 20), ("agent", "查到了", 75)], None),  # a call: the wait runs from end_ts (55 s)
    ],
)
def test_hold(engine, turns, expected_value):
    c = run(engine, turns, channel="phone")
    assert [f.value for f in fired(c, "hold.no_apology")] == ([expected_value] if expected_value else [])


@pytest.mark.parametrize(
    "channel, reply_at, slow",
    [("chat", 31, True), ("chat", 30, False), ("phone", 61, True), ("phone", 45, False), (None, 31, True)],
)
def test_first_response_sla_by_channel(engine, channel, reply_at, slow):
    c = run(engine, [("customer", "在吗", 0), ("agent", "您好", reply_at)], channel=channel)
    assert bool(fired(c, "response.first_slow")) is slow
    assert c.metrics["first_response_s"] == reply_at


def test_reply_time_and_metrics(engine):
    c = run(
        engine,
        [
            ("customer", "在吗", 0),
            ("bot", "自动回复", 1),  # a bot doesn't stop the clock
            ("agent", "您好", 10),
            ("customer", "我的快递", 20),
            ("customer", "还没到", 25),
            ("agent", "我看一下", 100),  # waited 80 s since turn 3 (> 60 s chat SLA)
            ("customer", "好", 110),
            ("agent", "好的", 120),
        ],
    )
    assert [(f.turn, f.value) for f in fired(c, "response.slow")] == [(5, 80)]
    assert c.metrics["first_response_s"] == 10
    assert c.metrics["max_response_s"] == 80
    assert c.metrics["avg_response_s"] == pytest.approx((10 + 80 + 10) / 3, abs=1e-3)


def test_timing_without_timestamps_is_null_not_invented(engine):
    c = run(engine, [("customer", "在吗", None), ("agent", "您好", None)])
    assert c.metrics["first_response_s"] is None and fired(c, "response.first_slow") == []


def test_backwards_timestamps_are_ignored(engine):
    c = run(engine, [("customer", "在吗", 50), ("agent", "您好", 10)])
    assert c.metrics["first_response_s"] is None


def test_combine_rule_a_and_not_b(engine):
    a = run(engine, [("customer", "我要投诉", 0)])
    b = run(engine, [("customer", "我要投诉", 0), ("customer", "不过服务很好", 1)])
    assert len(fired(a, "complaint.unsoothed")) == 1
    assert fired(b, "complaint.unsoothed") == []


SCORECARD = """
scorecard: t
version: 1
base: 100
max_score: 100
grades: [{grade: 优, min: 90}, {grade: 良, min: 80}, {grade: 中, min: 60}, {grade: 差, min: 0}]
parts:
  - id: A
    weight: 15
    items:
      - {id: A.fatal, rules: [forbidden.phrase], severity: fatal, fatal: true}
      - {id: A.forbidden, rules: [forbidden.phrase], points: -10, cap: 20}
      - {id: A.greeting, rules: [greeting.missing], points: -5, cap: 5}
  - id: B
    weight: 10
    items:
      - {id: B.praise, rules: [praise], points: 3, cap: 4}
      - {id: B.complaint, rules: [complaint.risk], points: -4}
"""


@pytest.mark.parametrize(
    "findings, score, grade",
    [
        ([], 100, "优"),
        ([("forbidden.phrase", "major")], 90, "优"),
        ([("forbidden.phrase", "major")] * 3, 85, "良"),  # item cap 20, then part weight 15
        ([("forbidden.phrase", "major"), ("greeting.missing", "minor")], 85, "良"),
        ([("praise", "bonus")] * 2, 100, "优"),  # bonus can't lift above max_score
        ([("complaint.risk", "major")] * 2, 92 - 0, "优"),  # no cap on the item: -8
        ([("complaint.risk", "major")] * 2 + [("praise", "bonus")] * 2, 96, "优"),  # -8 then +4 (cap)
        ([("complaint.risk", "major")] * 4, 90, "优"),  # -16 limited to the part weight 10
        ([("forbidden.phrase", "fatal")], 0, "差"),  # 红线
        ([("forbidden.phrase", "major")] * 5 + [("greeting.missing", "minor"), ("complaint.risk", "major")] * 3, 75, "中"),
    ],
)
def test_scoring_maths(tmp_path, findings, score, grade):
    from pipeline.schema import Finding

    path = tmp_path / "scorecard.yaml"
    path.write_text(SCORECARD, encoding="utf-8")
    card = Scorecard.load(path)
    c = make_conversation([("agent", "x", 0)])
    c.findings = [Finding(rule=r, category="c", severity=s, message="m") for r, s in findings]
    out = card(c)
    assert (out["score"], out["grade"]) == (score, grade)
    assert all(f.item is not None for f in c.findings)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: (d / "praise.yaml").write_text("lexicon: praise\nversion: 1\nentries:\n  - id: P\n    phrases: [好]\n", "utf-8"), "praise.yaml:4"),
        (lambda d: (d / "praise.yaml").write_text("lexicon: praise\nversion: 1\nentries: [\n", "utf-8"), "praise.yaml:"),
        (lambda d: (d / "hold.yaml").write_text("lexicon: hold2\nversion: 1\nentries: []\n", "utf-8"), "must equal the file name"),
        (
            lambda d: (d / "praise.yaml").write_text(
                "lexicon: praise\nversion: 1\nentries:\n  - {id: P, category: c, source: s, phrases: [很棒的服务], examples: {hit: [a]}}\n"
                "  - {id: P, category: c, source: s, phrases: [很好的服务], examples: {hit: [a]}}\n",
                "utf-8",
            ),
            "already used",
        ),
        (
            lambda d: (d / "praise.yaml").write_text(
                "lexicon: praise\nversion: 1\nentries:\n  - {id: P, category: c, source: s, patterns: ['(unclosed'], examples: {hit: [a]}}\n", "utf-8"
            ),
            "bad regex",
        ),
        (lambda d: (d / "rules.yaml").write_text(RULES.replace("kind: phrase, category: 表扬", "kind: phrasse, category: 表扬"), "utf-8"), "unknown kind 'phrasse'"),
        (lambda d: (d / "rules.yaml").write_text(RULES.replace("timing.hold_threshold_s", "timing.hold_s"), "utf-8"), "not a configuration key"),
        (lambda d: (d / "rules.yaml").write_text(RULES.replace("lexicon: praise,", "lexicon: praize,"), "utf-8"), "lexicon 'praize' not found"),
        (lambda d: (d / "rules.yaml").write_text(RULES.replace("none: [praise]", "none: [praise.later]"), "utf-8"), "must be defined above"),
    ],
)
def test_bad_rule_files_fail_at_load_with_file_and_line(tmp_path, mutate, message):
    folder = write_lexicons(tmp_path / "lexicons")
    mutate(folder)
    config = load_config()
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        lexicons = LexiconSet.load(folder)
        RuleSet.load(folder / "rules.yaml", lexicons, config)


@pytest.mark.parametrize(
    "text, message",
    [
        ("timing:\n  hold_threshold_s: fast\n", "must be int"),
        ("timing:\n  hold_treshold_s: 60\n", "unknown configuration key 'timing.hold_treshold_s'"),
        ("timing: [1, 2]\n", "must be a mapping"),
        ("review:\n  calibration_rate: 2\n", "between 0 and 1"),
        ("timing:\n  hold_threshold_s: 60\n  bad: [\n", "YAML syntax error"),
    ],
)
def test_bad_config_fails_with_the_key(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        load_config(path)


def test_config_override_changes_a_threshold(tmp_path, engine):
    path = tmp_path / "c.yaml"
    path.write_text("timing:\n  first_response_sla_s: {chat: 5}\n", encoding="utf-8")
    config = load_config(path)
    assert config["timing"]["first_response_sla_s"] == {"chat": 5, "phone": 60, "default": 30}


def test_empathy_lookback_counts_a_just_given_apology(tmp_path):
    folder = write_lexicons(tmp_path / "lexicons")
    rules = (folder / "rules.yaml").read_text(encoding="utf-8")
    (folder / "rules.yaml").write_text(rules.replace("within_turns: windows.empathy_within_agent_turns}", "within_turns: 2, lookback_turns: 1}"), "utf-8")
    normalizer = Normalizer(folder / "char_variants.txt")
    lexicons = LexiconSet.load(folder, normalizer)
    engine = (normalizer, lexicons, RuleSet.load(folder / "rules.yaml", lexicons, load_config()))
    turns = [("customer", "太差了", 0), ("agent", "抱歉", 1), ("customer", "气死了", 2), ("agent", "查一下", 3)]
    c = run(engine, turns)
    assert fired(c, "empathy.missing") == []  # the repeat complaint follows an apology
    c = run(engine, [("customer", "太差了", 0), ("agent", "好的", 1), ("customer", "气死了", 2), ("agent", "查一下", 3)])
    assert [f.turn for f in fired(c, "empathy.missing")] == [0]  # the reply window (1, 3) is judged once


def test_result_serializes_like_its_dict(inspector):
    """The writers hand the dataclass to orjson directly; it must equal the documented dict."""
    import orjson

    from tests.conftest import make_conversation

    result = inspector.inspect(make_conversation([("customer", "太差了", 0), ("agent", "你明白吗", 45)]))
    assert result.findings
    assert orjson.loads(orjson.dumps(result)) == orjson.loads(orjson.dumps(result.to_dict()))
    assert list(orjson.loads(orjson.dumps(result))) == list(result.to_dict())


def test_an_unexpected_error_on_one_conversation_becomes_a_reject(inspector, monkeypatch):
    from pipeline.run import RunSummary, inspect_records

    good = make_conversation([("customer", "在吗", 0), ("agent", "您好", 5)], cid="ok")
    bad = make_conversation([("customer", "在吗", 0), ("agent", "您好", 5)], cid="boom")
    real = inspector.scorecard.__class__.__call__

    def explode(self, conversation):
        if conversation.id == "boom":
            raise RuntimeError("scorecard bug")
        return real(self, conversation)

    monkeypatch.setattr(inspector.scorecard.__class__, "__call__", explode)
    results, rejects, summary = [], [], RunSummary()
    inspect_records(inspector, [good, bad], results.append, rejects.append, summary)
    assert [r.id for r in results] == ["ok"]
    assert [(r.id, r.reason) for r in rejects] == [("boom", "internal.error")] and "scorecard bug" in rejects[0].detail
    assert (summary.read, summary.inspected, summary.rejected) == (2, 1, 1)


def test_auto_workers_one_for_a_small_input_every_core_for_a_big_one():
    from pipeline.runner import auto_workers

    n, why = auto_workers(8, [{"path": "a.jsonl", "bytes": 400_000}], 8_000_000)
    assert n == 1 and "0.4 MB" in why and "--workers" in why
    assert auto_workers(8, [{"path": "a.jsonl", "bytes": 100_000_000}], 8_000_000) == (8, None)
    assert auto_workers(8, [{"path": "a.jsonl", "bytes": 20_000_000}, {"path": "b.csv", "bytes": 4_000_000}], 8_000_000)[0] == 3
    assert auto_workers(8, [{"path": "a.jsonl.gz", "bytes": 4_000_000}], 8_000_000)[0] == 2  # compressed: ~5× the text


def test_a_small_run_uses_one_worker_unless_asked_and_reports_start_up_apart(tmp_path, repo):
    import json

    from pipeline.cli import main

    inputs = [str(repo / "data/samples/conversations.jsonl"), str(repo / "data/samples/turns.csv")]  # two partitions
    assert main(["inspect", *inputs, "--out", str(tmp_path / "auto"), "--quiet"]) == 0
    auto = json.loads((tmp_path / "auto" / "manifest.json").read_text(encoding="utf-8"))
    assert auto["workers"] == 1 and "MB of input" in auto["workers_note"]
    # start-up apart (0 when this process already holds the Inspector, as here after other tests)
    assert 0 <= auto["startup_s"] < auto["elapsed_s"] and auto["work_conversations_per_s"] >= auto["conversations_per_s"]
    assert main(["inspect", *inputs, "--out", str(tmp_path / "two"), "--quiet", "--workers", "2"]) == 0
    two = json.loads((tmp_path / "two" / "manifest.json").read_text(encoding="utf-8"))
    assert two["workers"] == 2 and "workers_note" not in two
    assert len({p["counts"]["pid"] for p in two["partitions"]}) == 2  # really two processes
