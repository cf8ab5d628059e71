"""The customer-emotion turn model (issue 10): people's turn labels on the gold dev chats, the model
trained on them (dev only; test held out), the models stage's ``turn_emotion``, and empathy.missing
anchoring on it beside the negative_emotion lexicon."""

from __future__ import annotations

import json

import pytest

from conftest import make_conversation

from pipeline.gold.labels import merge_turn_labels, read_jsonl


def _labels(path):
    return {r["id"]: r for r in read_jsonl(path)}


def _gold_slice(src, dst, n_dev, n_test):
    """The first n_dev dev chats (with their turn labels) and n_test test chats of a gold folder."""
    from pipeline.models.emotion_training import LABELS_FILE

    dst.mkdir()
    dev = read_jsonl(src / "dev.jsonl")[:n_dev]
    (dst / "dev.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in dev), encoding="utf-8")
    (dst / "test.jsonl").write_text("\n".join((src / "test.jsonl").read_text(encoding="utf-8").splitlines()[:n_test]) + "\n",
                                    encoding="utf-8")
    labels = _labels(src / LABELS_FILE)
    (dst / LABELS_FILE).write_text("".join(json.dumps(labels[r["id"]]) + "\n" for r in dev), encoding="utf-8")
    return dst


@pytest.mark.parametrize("folder, min_marked", [("gold", 300), ("gold_weibo", 200)])
def test_turn_labels_are_what_both_readers_marked_plus_the_adjudication(repo, folder, min_marked):
    """Every dev chat has one line; a turn both readers marked stands, a disputed turn is the
    adjudicator's; only customer turns; agreement between the readers is recorded and high."""
    gold = repo / "data" / folder
    final = _labels(gold / "emotion_turns.jsonl")
    merged, kappa = merge_turn_labels(
        _labels(gold / "dev.jsonl"), *(_labels(gold / "annotations" / f"emotion_{n}.jsonl") for n in ("annotator_a", "annotator_b", "adjudication")),
        key="emotion_turns", role="customer")  # the adjudicator decides only disputed turns, only customer turns are marked
    assert merged == {cid: r["emotion_turns"] for cid, r in final.items()}
    marked = sum(map(len, merged.values()))
    assert kappa >= 0.8 and marked >= min_marked
    readme = (gold / "README.md").read_text(encoding="utf-8")
    assert f"{kappa:.2f}" in readme and str(marked) in readme


def test_the_shipped_model_trained_on_dev_only_and_was_measured_on_the_test_chats(repo):
    meta = json.loads((repo / "models" / "emotion" / "metadata.json").read_text(encoding="utf-8"))
    data = meta["training_data"]
    dev = [r for d in data.get("gold_dirs", [data["gold_dir"]]) for r in read_jsonl(repo / d / "dev.jsonl")]
    test = read_jsonl(repo / "data" / "gold" / "test.jsonl")
    assert data["train_split"] == "dev" and data["test_split"] == "test"
    assert data["train_chats"] == len(dev) and data["test_chats"] == len(test)
    # the held-out figure: does any customer turn reach the threshold, against the readers' "emotion shown"
    held = meta["held_out"]
    assert held["n"] == len(test) and held["positives"] == sum(r["gold"]["empathy_missing"] is not None for r in test)
    assert held["auc"] > 0.75 and meta["out_of_fold"]["auc"] > 0.8
    assert meta["anchor_min_confidence"] == pytest.approx(0.85)


def test_training_on_a_slice_then_the_stage_gives_scikit_learns_probabilities(tmp_path, repo, config):
    """Train on a slice (dev 120 chats, test 40), install the bundle with its inference files, load it
    the way inspection does: turn_emotion holds the fitted pipeline's probability of each turn's label."""
    import shutil

    from pipeline.ingest import Validator
    from pipeline.models.emotion_training import train_emotion
    from pipeline.models.store import save_bundle, write_inference
    from pipeline.run import Inspector

    gold = _gold_slice(repo / "data" / "gold", tmp_path / "gold", 120, 40)
    result = train_emotion(gold, config, C_grid=(3.0,), log=lambda m: None)
    meta = result.metadata
    assert meta["training_data"]["train_chats"] == 120 and meta["training_data"]["test_chats"] == 40
    assert meta["classes"] == ["emotion", "none"] and meta["features"] == "tokens+text-chars"
    assert len(result.report["out_of_fold_scores"]) == meta["training_data"]["train_turns"]

    models = tmp_path / "models"
    for name in ("issue_type", "sentiment", "question_resolved"):
        shutil.copytree(repo / "models" / name, models / name)
    saved = save_bundle(result.model, meta, models / "emotion")
    write_inference(models / "emotion", result.model, saved["sha256"])
    assert (models / "emotion" / "inference.npz").exists()  # the fast path, no scikit-learn at inspection
    inspector = Inspector({**config, "paths": {**config["paths"], "models": str(models)}})
    assert inspector.versions["emotion_model"].startswith("emotion")
    classes = [str(c) for c in result.model.classes_]
    validator = Validator(config)
    seen = 0
    for r in read_jsonl(gold / "dev.jsonl")[:10]:
        conv = validator.validate({k: v for k, v in r.items() if k != "gold"})
        inspector.inspect(conv)
        for p in conv.predictions["turn_emotion"]:
            row = result.model.predict_proba([conv.turns[p["turn"]].tokens])[0]  # the pipeline's own tokens
            assert p["confidence"] == pytest.approx(max(row), abs=1e-4) and p["label"] == classes[int(row.argmax())]
            seen += 1
    assert seen > 20


def test_several_gold_folders_train_one_model_and_each_test_is_held_out_apart(tmp_path, repo, config):
    """JD and Weibo dev chats train together; each folder's test is measured on its own, the first is held_out;
    a folder without turn labels for every dev chat is refused with the file and the fix."""
    from pipeline.config import ConfigError
    from pipeline.models.emotion_training import LABELS_FILE, train_emotion

    jd = _gold_slice(repo / "data" / "gold", tmp_path / "jd", 80, 30)
    weibo = _gold_slice(repo / "data" / "gold_weibo", tmp_path / "weibo", 60, 20)
    result = train_emotion([jd, weibo], config, C_grid=(3.0,), log=lambda m: None, gold_weights=(1.0, 0.5))
    assert result.metadata["params"]["gold_weights"] == [1.0, 0.5]
    data, held_by = result.metadata["training_data"], result.metadata["held_out_by_gold"]
    assert data["train_chats"] == 140 and data["train_chats_by_gold"] == {str(jd): 80, str(weibo): 60}
    assert {d: f["n"] for d, f in held_by.items()} == {str(jd): 30, str(weibo): 20}
    assert result.metadata["held_out"] == held_by[str(jd)] and data["test_chats"] == 30
    one = train_emotion(jd, config, C_grid=(3.0,), log=lambda m: None)
    assert one.metadata["training_data"]["train_turns"] < data["train_turns"]

    lines = (weibo / LABELS_FILE).read_text(encoding="utf-8").splitlines()
    (weibo / LABELS_FILE).write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"emotion_turns\.jsonl: no turn labels for 1 dev chats"):
        train_emotion([jd, weibo], config, C_grid=(3.0,), log=lambda m: None)


@pytest.mark.parametrize("text, fires", [
    ("你们这效率也太低了吧", True),   # no negative_emotion entry matches: the model is the anchor
    ("能不能快点啊!!", True),
    ("请问这个什么时候发货", False),  # a plain question
])
def test_empathy_missing_anchors_on_the_emotion_model(inspector, text, fires):
    conv = make_conversation([("agent", "您好，很高兴为您服务"), ("customer", text), ("agent", "好的，我帮您查一下"),
                              ("agent", "已经在配送中了")], cid=f"emo-{text}")
    assert not inspector.lexicons.match(inspector.normalizer.text(text), frozenset(["negative_emotion"]))
    result = inspector.inspect(conv)
    found = [f for f in result.findings if f.rule == "empathy.missing"]
    assert bool(found) == fires
    if fires:
        assert found[0].entry == "model:emotion" and found[0].turn == 1
        assert found[0].value == conv.predictions["turn_emotion"][0]["confidence"] >= 0.85  # how sure the model was


def test_an_apology_in_the_window_answers_a_model_anchor_too(inspector):
    conv = make_conversation([("agent", "您好，很高兴为您服务"), ("customer", "你们这效率也太低了吧"),
                              ("agent", "非常抱歉给您带来不便，我马上帮您催")], cid="emo-apology")
    assert not [f for f in inspector.inspect(conv).findings if f.rule == "empathy.missing"]


def test_without_the_emotion_model_only_the_lexicon_anchors(tmp_path, repo, config):
    """A models folder without emotion/: no turn_emotion, no model anchor — nothing invented."""
    import shutil

    from pipeline.run import Inspector

    models = tmp_path / "models"
    for name in ("issue_type", "sentiment", "question_resolved"):
        shutil.copytree(repo / "models" / name, models / name)
    ins = Inspector({**config, "paths": {**config["paths"], "models": str(models)}})
    conv = make_conversation([("agent", "您好，很高兴为您服务"), ("customer", "你们这效率也太低了吧"), ("agent", "好的，我帮您查一下")],
                             cid="emo-none")
    result = ins.inspect(conv)
    assert "turn_emotion" not in conv.predictions and result.versions["emotion_model"] is None
    assert not [f for f in result.findings if f.rule == "empathy.missing"]


def test_ngram_ids_find_exactly_the_slices_that_are_features(repo, config):
    """The integer-coded n-gram look-up (both char-n-gram models: emotion, issue type) finds what a dict
    look-up of every slice finds, occurrence for occurrence: on real turns, and on the edges — empty texts,
    one character, a character outside the BMP, the joining noncharacter inside a text, digits, spaces."""
    from collections import Counter

    from pipeline.models import ModelsStage
    from pipeline.models.features import TextPrep, turn_text

    stage = ModelsStage(repo / "models", config)
    prep = TextPrep(config)
    texts = [turn_text(prep.tokens(t["text"])) for r in read_jsonl(repo / "data" / "gold" / "dev.jsonl")[:60]
             for t in r["turns"] if t["role"] == "customer"]
    texts += ["", "急", "?", "为什么还没到?!😡😡", "a\uffffb", "  ", "0", "好的 谢谢", ""]
    for fast in (stage._emotion, stage._issue):
        lo, hi = fast.text_chars[1] if fast.text_chars else fast.char_ngrams[1]
        get = fast._char_vocab.get
        want = Counter((k, get(s[i:i + n])) for k, s in enumerate(texts) for n in range(lo, hi + 1)
                       for i in range(len(s) - n + 1) if get(s[i:i + n]) is not None)
        rows, cols = fast.ngram_ids(texts, lo, hi)
        assert Counter(zip(rows.tolist(), cols.tolist())) == want and sum(want.values()) > 1000


def test_the_batched_path_gives_the_reference_probabilities(repo, config):
    """proba_rows_batched (n-grams read as slices, one set of array operations per conversation) equals
    the analyzer-over-the-whole-turn reference, per conversation as the stage calls it."""
    import numpy as np

    from pipeline.models import ModelsStage
    from pipeline.models.features import TextPrep

    fast = ModelsStage(repo / "models", config)._emotion
    prep = TextPrep(config)
    worst, turns = 0.0, 0
    for r in read_jsonl(repo / "data" / "gold" / "test.jsonl")[:150]:
        docs = [d for d in (prep.tokens(t["text"]) for t in r["turns"] if t["role"] == "customer") if d]
        if docs:
            a, b = np.array(fast.proba_rows_batched(docs)), np.array(fast.proba_rows_reference(docs))
            worst = max(worst, float(np.abs(a - b).max()))
            turns += len(docs)
    assert turns > 1000 and worst <= 1e-12
