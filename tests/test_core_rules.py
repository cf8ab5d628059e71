"""Every SPEC core rule id, with the real lexicons and configuration: hit and miss cases."""

from __future__ import annotations

import pytest

from tests.conftest import make_conversation

OPEN = ("agent", "您好,很高兴为您服务,请问有什么可以帮您?", 5)
CLOSE = ("agent", "请问还有其他可以帮您的吗?感谢您的咨询,祝您生活愉快,再见", 300)

CASES = [
    # rule, expected to fire?, turns
    ("greeting.missing", True, [("customer", "在吗", 0), ("agent", "嗯,什么事", 5), ("agent", "说吧", 8), CLOSE]),
    ("greeting.missing", False, [("customer", "在吗", 0), OPEN, CLOSE]),
    ("greeting.missing", False, [("customer", "在吗", 0), ("agent", "亲,在的呢", 5), CLOSE]),
    ("greeting.missing", False, [("customer", "在嗎", 0), ("agent", "您好，請問有什麼可以幫您", 5), CLOSE]),
    ("greeting.missing", False, [("customer", "在吗", 0), ("agent", "有什么问题我可以帮您处理或解决呢?", 5), CLOSE]),
    ("closing.missing", True, [("customer", "在吗", 0), OPEN, ("agent", "好的", 20), ("agent", "就这样", 30)]),
    ("closing.missing", False, [("customer", "在吗", 0), OPEN, CLOSE]),
    ("closing.missing", False, [("customer", "在吗", 0), OPEN, ("agent", "请问还有其他还可以帮到您的吗?", 20), ("agent", "好的", 30)]),
    ("forbidden.phrase", True, [("customer", "运费怎么算", 0), OPEN, ("agent", "运费不算,你明白吗?", 20), CLOSE]),
    ("forbidden.phrase", True, [("customer", "运费怎么算", 0), OPEN, ("agent", "我再跟您说一遍,不包邮", 20), CLOSE]),
    ("forbidden.phrase", True, [("customer", "运费怎么算", 0), OPEN, ("agent", "你 明 白 嗎", 20), CLOSE]),
    ("forbidden.phrase", False, [("customer", "运费怎么算", 0), OPEN, ("agent", "我明白您的意思,运费由我们承担", 20), CLOSE]),
    ("forbidden.phrase", False, [("customer", "你明白吗", 0), OPEN, CLOSE]),  # the customer may say it
    ("empathy.missing", True, [("customer", "等了一周还没到,太差了!", 0), OPEN, ("agent", "订单已经发货", 20), CLOSE]),
    ("empathy.missing", False, [("customer", "等了一周还没到,太差了!", 0), OPEN, ("agent", "非常抱歉给您带来不便,我马上帮您催", 20), CLOSE]),
    ("empathy.missing", False, [("customer", "快递到了吗", 0), OPEN, ("agent", "订单已经发货", 20), CLOSE]),
    ("hold.no_apology", True, [("customer", "帮我查下", 0), OPEN, ("agent", "请稍等,我帮您查询一下", 10), ("agent", "查到了,明天送达", 120), CLOSE]),
    ("hold.no_apology", False, [("customer", "帮我查下", 0), OPEN, ("agent", "请稍等,我帮您查询一下", 10), ("agent", "感谢您的耐心等待,明天送达", 120), CLOSE]),
    ("hold.no_apology", False, [("customer", "帮我查下", 0), OPEN, ("agent", "请稍等,我帮您查询一下", 10), ("agent", "查到了,明天送达", 40), CLOSE]),
    ("response.first_slow", True, [("customer", "在吗", 0), ("agent", "您好,很高兴为您服务", 45), CLOSE]),
    ("response.first_slow", False, [("customer", "在吗", 0), ("agent", "您好,很高兴为您服务", 12.5), CLOSE]),
    ("response.slow", True, [("customer", "在吗", 0), OPEN, ("customer", "我的快递呢", 10), ("agent", "我看一下", 100), CLOSE]),
    ("response.slow", False, [("customer", "在吗", 0), OPEN, ("customer", "我的快递呢", 10), ("agent", "我看一下", 30), CLOSE]),
    ("complaint.risk", True, [("customer", "再不处理我就打12315投诉你们", 0), OPEN, CLOSE]),
    ("complaint.risk", True, [("customer", "我要找你们领导", 0), OPEN, CLOSE]),
    ("complaint.risk", False, [("customer", "我不是要投诉,就问问", 0), OPEN, CLOSE]),
    ("complaint.risk", False, [("customer", "我的电话是13153156789", 0), OPEN, CLOSE]),
    ("praise", True, [("customer", "在吗", 0), OPEN, ("customer", "你服务很好,给你点赞", 200), CLOSE]),
    ("praise", False, [("customer", "在吗", 0), OPEN, ("customer", "服务不好", 200), CLOSE]),
]


@pytest.mark.parametrize("rule, fires, turns", CASES, ids=[f"{r}-{'hit' if f else 'miss'}-{i}" for i, (r, f, _) in enumerate(CASES)])
def test_core_rule(inspector, rule, fires, turns):
    c = make_conversation(turns)
    result = inspector.inspect(c)
    found = [f for f in result.findings if f.rule == rule]
    assert bool(found) is fires, [(f.rule, f.turn, f.evidence) for f in result.findings]
    for f in found:
        if f.start is not None:
            assert c.turns[f.turn].text[f.start : f.end] == f.evidence


def test_fatal_forbidden_phrase_scores_zero(inspector):
    fatal = [e for e in inspector.lexicons.entries.values() if e.lexicon == "forbidden_phrases" and e.severity == "fatal"]
    assert fatal, "the forbidden-phrase lexicon should hold 红线 (fatal) entries"
    c = make_conversation([("customer", "在吗", 0), OPEN, ("agent", fatal[0].examples["hit"][0], 20), CLOSE])
    result = inspector.inspect(c)
    assert result.score == 0 and result.grade == "差"
    assert "fatal" in result.review["reasons"]


def test_clean_conversation_scores_full(inspector):
    c = make_conversation([("customer", "在吗,我的快递到哪了", 0), OPEN, ("customer", "订单号JD123", 10), ("agent", "已经在派送中,预计今天送达", 20), CLOSE])
    result = inspector.inspect(c)
    assert result.findings == [] and result.score == 100 and result.grade == "优"


def test_models_stage_fills_predictions_with_the_shipped_models(inspector):
    # the models themselves: tests/test_models*.py; without an artifact the fields stay null (ibid.)
    result = inspector.inspect(make_conversation([("customer", "在吗", 0), OPEN, CLOSE]))
    assert result.issue_type["label"] and result.sentiment["customer_end"] and result.turn_sentiment[0]["turn"] == 0
    assert result.versions["issue_model"] and result.versions["sentiment_model"]


@pytest.mark.parametrize("score_rating, reason", [(1, "rating.bad"), (5, None)])
def test_review_flags(inspector, score_rating, reason):
    c = make_conversation([("customer", "在吗", 0), OPEN, CLOSE], rating={"score": score_rating, "comment": "x"})
    reasons = inspector.inspect(c).review["reasons"]
    assert (reason in reasons) if reason else "rating.bad" not in reasons


def test_calibration_sample_rate_and_determinism():
    from pipeline.review_flags import in_calibration_sample

    ids = [f"c-{i}" for i in range(20000)]
    picked = [i for i in ids if in_calibration_sample(i, 7, 0.05)]
    assert 0.04 < len(picked) / len(ids) < 0.06
    assert picked == [i for i in ids if in_calibration_sample(i, 7, 0.05)]
    assert picked != [i for i in ids if in_calibration_sample(i, 8, 0.05)]
    assert not any(in_calibration_sample(i, 7, 0.0) for i in ids)


@pytest.mark.parametrize(
    "text, fires",
    [
        ("您登记的手机是13812345678对吗", True),
        ("您登记的手机尾号是5678对吗", False),
        ("好的,已经发到您的邮箱zhang.wei@163.com", True),
        ("订单号JD20261116206268已经发货", False),
    ],
)
def test_privacy_disclosure_and_its_evidence_is_masked(config, text, fires):
    from pipeline.run import Inspector

    turns = [("customer", "在吗", 0), OPEN, ("agent", text, 20), CLOSE]
    masked = [f for f in Inspector(config).inspect(make_conversation(turns)).findings if f.rule == "privacy.disclosure"]
    raw = [f for f in Inspector(config, mask=False).inspect(make_conversation(turns)).findings if f.rule == "privacy.disclosure"]
    assert bool(masked) is fires and bool(raw) is fires
    for m, r in zip(masked, raw):
        assert text[r.start : r.end] == r.evidence  # --no-mask keeps the raw text
        assert m.evidence != r.evidence and len(m.evidence) == len(r.evidence) and "*" in m.evidence


@pytest.mark.parametrize("last, label, confidence, flagged", [
    ("还是不行啊", "negative", 0.9, True),
    ("还是不行啊", "negative", 0.4, False),
    ("还是不行啊", "neutral", 0.9, False),
    ("没有了", "negative", 0.9, False),  # answering 还有其他可以帮您的吗: an acknowledgement, not a negative end
    ("好的 #E-s[数字x]", "negative", 0.95, False),
])
def test_customer_end_negative_from_the_model_needs_a_confident_last_turn_that_says_something(inspector, config, last, label, confidence, flagged):
    from pipeline.review_flags import ReviewFlags

    config = {**config, "review": {**config["review"], "end_negative_from": "model"}}
    c = make_conversation([("customer", "在吗", 0), OPEN, ("customer", last, 20), CLOSE])
    c.predictions = {"turn_sentiment": [{"turn": 0, "label": "neutral", "confidence": 0.9}, {"turn": 2, "label": label, "confidence": confidence}],
                     "sentiment": {"label": label, "confidence": confidence, "customer_end": label}}
    scored = {"score": 100, "detail": {"fatal": []}}
    assert ("customer.end_negative" in ReviewFlags(config, inspector.lexicons)(c, scored)["reasons"]) is flagged
