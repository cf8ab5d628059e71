"""What real chat needed from the rules (issue 10), with the shipped lexicons and rules: content-free
turns, the final exchange, a mid-session start, windows in replies, bare refusals, one complaint
finding per turn, a complaint priced only with an agent fault, message boundaries, lexicon defines."""

from __future__ import annotations

import pytest

from tests.conftest import make_conversation

HELLO = ("agent", "您好,很高兴为您服务,请问有什么可以帮您?")
MORE = ("agent", "请问还有其他可以帮到您的吗?")


def _rules(inspector, turns):
    result = inspector.inspect(make_conversation(turns))
    return result, {f.rule: [g for g in result.findings if g.rule == f.rule] for f in result.findings}


@pytest.mark.parametrize("tail, missing", [
    ([("customer", "没有了,谢谢"), ("agent", "不客气的呢"), ("agent", "#E-s[数字x]")], False),  # closing, then courtesy and a sticker
    ([("customer", "好的"), ("agent", "您太客气了")], False),
    ([("customer", "那退货是免邮吗"), ("agent", "质量问题是不需要运费的哦")], True),  # a new question after the closing
    ([("customer", "那退货是免邮吗")], True),  # the customer's last question got no reply at all
    ([("customer", "尽快发货"), ("agent", "好的")], False),  # a bare urge is not a new question
])
def test_closing_is_judged_on_the_final_exchange(inspector, tail, missing):
    turns = [("customer", "我的快递到哪了"), HELLO, ("agent", "明天送达"), MORE, *tail]
    _, fired = _rules(inspector, turns)
    assert ("closing.missing" in fired) is missing


@pytest.mark.parametrize("first, judged", [("好的", False), ("谢谢", False), ("你好", True), ("我的快递到哪了", True)])
def test_a_transcript_that_starts_mid_session_is_not_charged_a_greeting(inspector, first, judged):
    turns = [("customer", first), ("agent", "已经帮您催了"), ("agent", "明天送达"), MORE]
    _, fired = _rules(inspector, turns)
    assert ("greeting.missing" in fired) is judged


@pytest.mark.parametrize("agent_first, charged", [
    ("感谢您对京东的支持,祝您生活愉快,再见!", False),  # a closing first: the transcript started mid-session
    ("请您私信提供号码,以便核实,谢谢!", True),  # an opening reply that thanks (CL-THANKS-003, not_opening)
    ("已经为您反馈,感谢您的理解", True),
])
def test_a_thank_you_that_ends_the_first_reply_is_not_a_mid_session_closing(inspector, agent_first, charged):
    """The same 「…谢谢!」 closes a chat when it is the agent's last word (Weibo gold: both readers),
    but must not make greeting.missing think the transcript began mid-session."""
    turns = [("customer", "流量怎么扣了这么多"), ("agent", agent_first), ("agent", "明天给您回复"), ("customer", "好的")]
    _, fired = _rules(inspector, turns)
    assert ("greeting.missing" in fired) is charged
    assert "closing.missing" not in _rules(inspector, [*turns, ("agent", "已经为您登记,谢谢!")])[1]


@pytest.mark.parametrize("agent_first, greeted", [
    ("亲亲在的呢", True), ("亲什么问题呢", True), ("亲爱滴,正在为您查询中", True),
    ("在的", False), ("亲亲请您提供一下订单号", False), ("亲,订单已经发货了", False), ("#E-s[数字x]", None),
])
def test_qin_alone_is_an_address_not_a_greeting(inspector, agent_first, greeted):
    turns = [("customer", "在吗"), ("agent", agent_first), ("agent", "请提供订单号"), ("customer", "好的"), MORE]
    if greeted is None:  # a sticker is not a turn: the next two agent turns are judged
        turns = [("customer", "在吗"), ("agent", agent_first), HELLO, ("agent", "请提供订单号"), MORE]
        greeted = True
    _, fired = _rules(inspector, turns)
    assert ("greeting.missing" not in fired) is greeted


def test_empathy_window_counts_replies_not_messages(inspector):
    """The agent answers in three messages; the apology is the third: still within its next reply."""
    turns = [("customer", "都快一个星期了还没到"), HELLO, ("agent", "我看一下"), ("agent", "订单在路上"), ("agent", "给您带来不便非常抱歉"),
             ("customer", "好的"), MORE]
    _, fired = _rules(inspector, turns)
    assert "empathy.missing" not in fired
    turns[4] = ("agent", "明天送达")
    _, fired = _rules(inspector, turns)
    assert [f.turn for f in fired["empathy.missing"]] == [0]


def test_an_apology_two_replies_before_counts(inspector):
    turns = [("customer", "我的东西呢"), ("agent", "非常抱歉,仓库发货晚了"), ("customer", "那什么时候到"), ("agent", "明天"),
             ("customer", "都快一个星期了"), ("agent", "明天一定送到"), MORE]
    _, fired = _rules(inspector, turns)
    assert "empathy.missing" not in fired


@pytest.mark.parametrize("reply, forbidden", [
    (["这个无法查询"], True),
    (["亲亲,这个没有办法喔"], True),
    (["小妹也不清楚的呢"], True),
    (["您好 这个不清楚的"], True),  # two messages joined by a space
    (["这个无法查询", "建议您联系商家客服处理哦"], False),  # an alternative in the same reply
    (["这个是不可以的哦", "您是之前维修过的吗?"], False),
    (["这个不可以呢", "感谢您对京东的支持,祝您生活愉快,再见!"], True),  # a closing is no alternative
])
def test_a_bare_refusal_is_judged_on_the_whole_reply(inspector, reply, forbidden):
    turns = [("customer", "在吗"), HELLO, ("customer", "能帮我改一下地址吗"), *[("agent", r) for r in reply], ("customer", "好吧"), MORE]
    _, fired = _rules(inspector, turns)
    found = {f.turn for f in fired.get("forbidden.phrase", [])}
    assert (3 in found) is forbidden, fired.get("forbidden.phrase")


def test_one_complaint_finding_per_turn_and_no_points_without_an_agent_fault(inspector):
    calm = [("customer", "快递太慢了,我要投诉快递员,给差评"), HELLO, ("agent", "非常抱歉给您带来不便,马上帮您催"), MORE]
    result, fired = _rules(inspector, calm)
    assert [f.turn for f in fired["complaint.risk"]] == [0]
    assert "complaint.caused" not in fired and result.score == 100
    assert "complaint.risk" in result.review["reasons"]
    rude = [("customer", "快递太慢了,我要投诉"), HELLO, ("agent", "你明白吗"), MORE]
    result, fired = _rules(inspector, rude)
    assert "complaint.caused" in fired and result.score < 90


@pytest.mark.parametrize("text, fires", [("我不是投诉配送员", False), ("买家给的差评怎么处理", False), ("你帮我找你们领导说一下嘛", False),
                                         ("让你们领导说话", True), ("不给退我就投诉", True)])
def test_complaint_risk_on_real_phrasings(inspector, text, fires):
    _, fired = _rules(inspector, [("customer", text), HELLO, MORE])
    assert ("complaint.risk" in fired) is fires


@pytest.mark.parametrize("text, praised", [("辛苦了", True), ("嗯再见辛苦啦", True), ("[数字x]心", True), ("好评了", True),
                                          ("已评价", False), ("好的谢谢", False), ("辛苦您帮我查一下", False)])
def test_praise_as_the_rubric_reads_it(inspector, text, praised):
    _, fired = _rules(inspector, [("customer", "在吗"), HELLO, ("customer", text), MORE])
    assert ("praise" in fired) is praised


def test_undefined_lexicon_define_is_an_error_naming_the_file(lexicon_copy):
    from pipeline.config import ConfigError
    from pipeline.lexicons import LexiconSet

    path = lexicon_copy / "forbidden_phrases.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("{{PARTICLES}}", "{{PARTICLE}}", 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"forbidden_phrases.yaml.*\{\{PARTICLE\}\} is not defined"):
        LexiconSet.load(lexicon_copy)
