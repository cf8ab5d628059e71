"""The customer's mood at the end (sentiment.customer_end), read as GOLD_RUBRIC does, and the
review flag that follows it."""

import json

import pytest

from conftest import make_conversation

OPEN = ("agent", "您好,很高兴为您服务", 5)
CLOSE = ("agent", "还有其他可以帮您的吗?祝您生活愉快", 40)


def _end(inspector, customer_turns):
    turns = [("customer", "在吗", 0), OPEN]
    for n, text in enumerate(customer_turns):
        turns += [("customer", text, 10 + n), ("agent", "好的亲", 11 + n)]
    c = make_conversation(turns + [CLOSE])
    for name, stage in inspector.stages:
        stage(c)
    return c.predictions["sentiment"]


@pytest.mark.parametrize("customer, label, entry_prefix", [
    (["我的快递到哪了", "好的谢谢"], "neutral", None),                 # a plain 谢谢 is neutral, whatever the model says
    (["我的快递到哪了", "好的,非常感谢!"], "positive", "WT-"),         # warm thanks
    (["我的快递到哪了", "谢谢小姐姐"], "positive", "WT-"),
    (["我的快递到哪了", "你们服务态度真好"], "positive", "PR-"),       # praise
    (["等个鬼啊,你们这个审核效率太低了", "没有了"], "negative", "NE-"),  # the emotion is in the last substantive turn, 没有了 is not
    (["真的太失望了", "那订单号是多少", "什么时候发货", "好的"], "neutral", None),  # the emotion was three substantive turns back
    (["我的快递怎么还没到", "好的谢谢"], "neutral", None),  # thanked after it: calmed down
    (["我的快递怎么还没到", "谢谢", "怎么又变了呢?"], "negative", "NE-"),  # …but a new reproach after the thanks counts
])
def test_customer_end_reads_the_last_substantive_turns(inspector, customer, label, entry_prefix):
    s = _end(inspector, customer)
    assert s["customer_end"] == label
    if entry_prefix:
        assert s["customer_end_entry"].startswith(entry_prefix)
        assert s["customer_end_turn"] is not None and s["customer_end_turn"] % 2 == 0  # a customer turn
    else:
        assert s["customer_end_entry"] is None and s["customer_end_turn"] is None


def test_customer_end_evidence_points_at_the_turn_that_showed_it(inspector):
    s = _end(inspector, ["等个鬼啊,你们这个审核效率太低了", "没有了"])
    assert s["customer_end_turn"] == 2  # not the 没有了 at turn 4


def test_without_a_sentiment_model_nothing_is_invented(inspector):
    c = make_conversation([("customer", "真的太失望了", 0), OPEN])
    c.predictions = {"sentiment": None}
    inspector.end_sentiment(c)
    assert c.predictions["sentiment"] is None


def test_a_missing_lexicon_is_a_config_error_that_names_it(config, inspector):
    from pipeline.config import ConfigError
    from pipeline.end_sentiment import EndSentiment

    bad = {**config, "end_sentiment": {"positive_lexicons": ["praise", "no_such_lexicon"]}}
    with pytest.raises(ConfigError, match="no_such_lexicon"):
        EndSentiment(bad, inspector.lexicons)


@pytest.mark.parametrize("customer_end, flagged", [("negative", True), ("neutral", False), ("positive", False)])
def test_end_negative_flag_follows_customer_end_by_default(inspector, config, customer_end, flagged):
    from pipeline.review_flags import ReviewFlags

    c = make_conversation([("customer", "在吗", 0), OPEN, ("customer", "还是不行啊", 20), CLOSE])
    # the model's last-turn label says the opposite: the default no longer listens to it
    c.predictions = {"turn_sentiment": [{"turn": 2, "label": "negative" if not flagged else "positive", "confidence": 0.99}],
                     "sentiment": {"label": "neutral", "confidence": 0.5, "customer_end": customer_end}}
    scored = {"score": 100, "detail": {"fatal": []}}
    assert ("customer.end_negative" in ReviewFlags(config, inspector.lexicons)(c, scored)["reasons"]) is flagged


def test_end_sentiment_on_gold_dev_beats_the_models_last_turn(repo, config):
    """On the real dev chats people labelled, the rubric reading agrees with them far more often
    than the sentiment model's label of the last turn did (macro-F1 0.23 before this stage)."""
    from pipeline.gold.evaluate import evaluate, inspect_gold, load_gold

    records = load_gold([repo / "data" / "gold" / "dev.jsonl"])
    on = evaluate(records, inspect_gold(records, config))[0]["end_sentiment"]
    off_config = {**config, "end_sentiment": {"enabled": False}}
    off = evaluate(records, inspect_gold(records, off_config))[0]["end_sentiment"]
    assert on["macro_f1"] >= off["macro_f1"] + 0.3
    for label in ("negative", "positive"):  # not bought by calling everything neutral
        assert on["per_label"][label]["f1"] > off["per_label"][label]["f1"]
        assert on["per_label"][label]["precision"] > off["per_label"][label]["precision"] + 0.2
