"""The classifiers: real data loaders, the fixed split, training, the model store, the fast
inference path, the models stage in the pipeline, the model anchor of empathy.missing.

MLflow (a tmp tracking store) and the CLI are in test_models_mlflow.py; the notebook in
test_models_notebook.py. Training here runs on a small real subset (datasets.write_subset).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from conftest import REPO, SHARED_DATA, make_conversation

needs_data = pytest.mark.skipif(not (SHARED_DATA / "jddc_uss" / "valid_jddc.txt").exists(), reason="../shared/data not present")


@pytest.fixture(scope="session")
def small_data(tmp_path_factory) -> Path:
    from pipeline.models.datasets import write_subset

    if not (SHARED_DATA / "jddc_uss" / "valid_jddc.txt").exists():
        pytest.skip("../shared/data not present")
    return write_subset(SHARED_DATA, tmp_path_factory.mktemp("data"), dialogues=40, reviews=200)


@pytest.fixture(scope="session")
def small_issue_model(small_data):
    from pipeline.models.datasets import DataPaths
    from pipeline.models.train import default_options, train_issue_type

    opts = default_options("issue_type", data=DataPaths(small_data), C=[1.0], turn_weight=[0.3], cv_folds=2)
    return train_issue_type(opts, log=lambda m: None)


# --------------------------------------------------------------------------- data


@needs_data
def test_taxonomy_places_every_fine_topic_of_the_jd_data():
    from pipeline.models.datasets import DataPaths, Taxonomy, read_jddc_acts

    tax = Taxonomy.load()
    paths = DataPaths(SHARED_DATA)
    rows = json.loads(paths.csds.read_text(encoding="utf-8"))
    fine = {r["Topic"] for r in rows} | {n for n in read_jddc_acts(paths.jddc_acts).values() if n}
    assert fine - set(tax.fine_to_coarse) == set()
    assert 8 <= len(tax.labels) <= 12 and tax.labels[-1] == "其他"
    assert tax.coarse("配送周期") == "配送物流" and tax.coarse("OTHER") == "其他"
    # dialogue label: most frequent coarse type, ties to the first, 其他 only when alone
    assert tax.dialogue_label(["发票退换修改", "配送周期", "查看发票"]) == "发票"
    assert tax.dialogue_label(["配送周期", "发票退换修改"]) == "配送物流"
    assert tax.dialogue_label(["OTHER", "机票相关", "修改订单"]) == "订单修改与取消"
    assert tax.dialogue_label(["OTHER"]) == "其他"


@needs_data
def test_jddc_dialogues_are_rebuilt_from_the_windowed_lines():
    from pipeline.models.datasets import DataPaths, jddc_turn_examples, load_jddc

    paths = DataPaths(SHARED_DATA)
    dialogues = load_jddc(paths.jddc, paths.jddc_acts)
    # SOURCE.md: 330 dialogues, 5,666 customer turns, turn labels {0: 1185, 1: 2563, 2: 928}
    assert len(dialogues) == 330
    assert sum(r == "customer" for d in dialogues for r, _ in d.turns) == 5666
    labels = Counter(e.label for e in jddc_turn_examples(dialogues))
    assert labels == {"negative": 1185, "neutral": 2563, "positive": 928}
    assert Counter(d.sentiment for d in dialogues) == {"positive": 258, "neutral": 39, "negative": 33}
    first = dialogues[0]
    assert first.turns[0] == ("customer", "麻烦你帮我看下能不能开具纸质发票")
    assert first.turns[1][0] == "agent" and first.turns[1][1].startswith("您好 请问您是咨询之前的问题")


def test_split_is_fixed_by_content_and_never_splits_a_unit():
    from pipeline.models.datasets import TEST_FRACTION, content_key, split_of

    keys = [content_key("x", str(i)) for i in range(4000)]
    splits = [split_of(k) for k in keys]
    assert splits == [split_of(k) for k in keys]  # deterministic, no seed
    share = splits.count("test") / len(splits)
    assert abs(share - TEST_FRACTION) < 0.03
    # the split of a unit depends on its own content only
    assert split_of(content_key("jddc", "a", "b")) == split_of(content_key("jddc", "a", "b"))


@needs_data
def test_reviews_are_deduplicated_across_sets_so_the_hotel_overlap_cannot_leak(small_data):
    from pipeline.models.datasets import load_reviews

    examples, stats = load_reviews(SHARED_DATA)
    norm = Counter("".join(e.text.split()) for e in examples)
    assert max(norm.values()) == 1  # one example per text: a text is in train or in test, never both
    assert stats["duplicates"] > 5000  # the ~5,573 hotel reviews present in two sets (SOURCE.md)


@needs_data
def test_issue_dialogues_split_by_dialogue_and_drop_the_csds_jddc_overlap():
    from pipeline.models.datasets import DataPaths, Taxonomy, issue_type_dialogues

    dialogues, info = issue_type_dialogues(DataPaths(SHARED_DATA), Taxonomy.load())
    # issue 11: the 6 "overlaps" of before matched on an empty string (placeholder-only turns)
    assert info["csds_dialogues"] == 777 and info["jddc_dropped_overlap_with_csds"] == 0
    assert len({d.key for d in dialogues}) == len(dialogues)
    assert {d.split for d in dialogues} == {"train", "test", "gold"}


@needs_data
def test_the_gold_test_chats_are_held_out_from_training():
    """Every dialogue of data/gold/test.jsonl is in the ``gold`` split (never trained on, never in the
    models' own test figures); the gold dev chats are not."""
    import json

    from pipeline.models.datasets import GOLD_DIR, DataPaths, Taxonomy, issue_type_dialogues

    keys = {s: {json.loads(l)["source"]["content_key"] for l in (GOLD_DIR / f"{s}.jsonl").open(encoding="utf-8")} for s in ("dev", "test")}
    dialogues, _ = issue_type_dialogues(DataPaths(SHARED_DATA), Taxonomy.load())
    by_key = {d.key: d.split for d in dialogues}
    held = {k for k in keys["test"] if k in by_key}
    assert len(held) >= 200 and all(by_key[k] == "gold" for k in held)
    assert not any(by_key.get(k) == "gold" for k in keys["dev"])


def test_placeholders_are_stripped_in_both_bracket_widths_and_never_make_an_overlap():
    """Issue 11: full-width ［数字］ survived stripping (数字 showed up in ``because``), and a customer
    turn that was only a placeholder counted as a shared utterance between two dialogues."""
    from pipeline.models.datasets import Dialogue, drop_overlap
    from pipeline.models.features import clean_tokens, strip_placeholders

    assert "数字" not in strip_placeholders("订单号［数字］和[数字x]、［订单编号］、#E-s［数字x］")
    keep = [Dialogue("a", "csds", [("customer", "[订单编号][订单编号]"), ("customer", "［数字］［数字］［数字］"), ("customer", "我的快递到哪里了呀亲")], "train")]
    only_placeholders = Dialogue("b", "jddc", [("customer", "[订单编号][订单编号]"), ("customer", "［数字］［数字］［数字］")], "train")
    one_real = Dialogue("c", "jddc", [("customer", "[订单编号][订单编号]"), ("customer", "我的快递到哪里了呀亲")], "train")
    two_real = Dialogue("d", "jddc", [("customer", "我的快递到哪里了呀亲"), ("customer", "［数字］［数字］［数字］"), ("customer", "我的快递到哪里了呀亲 ")], "train")
    kept, dropped = drop_overlap(keep, [only_placeholders, one_real, two_real])
    assert [d.key for d in kept] == ["b", "c", "d"] and dropped == 0
    shared = Dialogue("e", "jddc", [("customer", "我的快递到哪里了呀亲"), ("customer", "发票抬头写错了怎么改")], "train")
    keep[0].turns.append(("customer", "发票抬头写错了怎么改"))
    assert drop_overlap(keep, [shared]) == ([], 1)
    assert clean_tokens(["数字", "123", "，"]) == ["数字"]  # the analyzer itself keeps words: stripping is what removes them


def test_temperature_recovers_the_scale_the_labels_were_drawn_at_and_ece_measures_it():
    import numpy as np

    from pipeline.models.calibration import expected_calibration_error, fit_temperature, softmax

    rng = np.random.default_rng(0)
    z = rng.normal(size=(4000, 4)) * 3
    true_t = 2.5
    p = softmax(z, true_t)
    y = np.array([rng.choice(4, p=row) for row in p])
    t = fit_temperature(z, y)
    assert abs(t - true_t) < 0.3
    assert expected_calibration_error(softmax(z, t), y)["ece"] < 0.03
    assert expected_calibration_error(softmax(z, 0.3), y)["ece"] > 0.2  # an overconfident scale shows
    table = expected_calibration_error(softmax(z, t), y)["bins"]
    assert sum(b["n"] for b in table) == len(y)


def test_the_temperature_curve_finds_the_scale_of_a_model_trained_on_more_data_than_its_fold_models():
    """Decision values grow with the training size; a temperature fitted on fold models' out-of-fold
    decisions is too sharp for the refit model. The curve read at the full size is not (issue 11)."""
    import numpy as np

    from pipeline.models.calibration import expected_calibration_error, fit_temperature, softmax, temperature_at, temperature_curve

    rng = np.random.default_rng(1)
    z = rng.normal(size=(6000, 5)) * 2
    y = np.array([rng.choice(5, p=row) for row in softmax(z)])  # labels drawn at temperature 1 of z

    def scale(n: float) -> float:  # how much larger a model trained on n units makes its decisions
        return (n / 100.0) ** 0.4

    full = 1000
    points = [(n, fit_temperature(z * scale(n), y)) for n in (500, 667, 800, 900)]  # 2-, 3-, 5-, 10-fold models
    assert all(abs(t - scale(n)) < 0.1 * scale(n) for n, t in points)
    t_full = temperature_at(temperature_curve(points), full)
    t_fold = dict(points)[800]  # the fold models' own temperature: what v3 shipped
    assert abs(t_full - scale(full)) < abs(t_fold - scale(full))
    ece_full = expected_calibration_error(softmax(z * scale(full), t_full), y)["ece"]
    ece_fold = expected_calibration_error(softmax(z * scale(full), t_fold), y)["ece"]
    assert ece_full < ece_fold
    flat = temperature_curve([(800, 0.5)])  # one point: that temperature at any size
    assert temperature_at(flat, 1000) == pytest.approx(0.5) and temperature_at(temperature_curve([]), 10) == 1.0


def test_top_label_map_bends_the_shape_a_temperature_cannot_and_never_changes_a_prediction():
    """Labels drawn so that confident answers are right less often than they say and unsure ones
    more often (the issue-type model's held-out shape, issue 11): no temperature fixes both ends,
    the top-label map fitted on the pairs does, and every row keeps its top class and sums to 1."""
    import numpy as np

    from pipeline.models.calibration import apply_top_label, expected_calibration_error, fit_temperature, fit_top_label, softmax

    rng = np.random.default_rng(2)
    z = rng.normal(size=(6000, 6)) * 2.5
    p = softmax(z)
    conf, top = p.max(axis=1), p.argmax(axis=1)
    true_conf = 1 / (1 + np.exp(-(0.5 * np.log(conf / (1 - conf)) + 0.2)))  # flatter than said
    right = rng.random(len(conf)) < true_conf
    y = np.where(right, top, (top + 1 + rng.integers(0, 5, len(top))) % 6)
    t = fit_temperature(z, y)
    ece_t = expected_calibration_error(softmax(z, t), y)["ece"]
    params = fit_top_label(conf, right)
    assert params["a"] == pytest.approx(0.5, abs=0.1) and params["b"] == pytest.approx(0.2, abs=0.15)
    mapped = apply_top_label(p, params)
    assert expected_calibration_error(mapped, y)["ece"] < min(0.03, ece_t / 2)
    assert (mapped.argmax(axis=1) == top).all() and np.allclose(mapped.sum(axis=1), 1.0)
    # a map that would push the top below the runner-up stops at it; a one-hot row stays one-hot
    close = np.array([[0.40, 0.39, 0.21], [1.0, 0.0, 0.0]])
    out = apply_top_label(close, {"a": 0.1, "b": -3.0})
    assert out[0].argmax() == 0 and out[0, 0] >= out[0, 1] and np.allclose(out[1], [1.0, 0.0, 0.0])
    assert apply_top_label(close, None) is close
    assert fit_top_label(np.array([0.9, 0.8]), np.array([True, True])) == {"a": 1.0, "b": 0.0}  # nothing to learn from


def test_the_shipped_issue_type_temperature_is_fitted_for_the_shipped_models_training_size(repo):
    """The shipped model's temperature is the curve of the fold models' temperatures read at the
    number of dialogues it was trained on — not the 5-fold models' own temperature (v3 before
    issue 11's ECE fix), and the fast path carries the same one."""
    import numpy as np

    from pipeline.models import inference
    from pipeline.models.calibration import temperature_at, temperature_curve
    from pipeline.models.store import load_bundle, read_metadata

    d = repo / "models" / "issue_type"
    meta = read_metadata(d)
    cal = meta.get("calibration")
    assert cal and cal["points"], "models/issue_type: no temperature curve — calibrated the old way (the fold models' temperature)"
    n = meta["training_data"]["dialogues_train"]
    assert cal["train_dialogues"] == n
    assert len({p["folds"] for p in cal["points"]}) >= 3
    assert all(p["train_dialogues"] < n for p in cal["points"])  # fitted on models trained on less than the shipped one
    expected = temperature_at(temperature_curve([(p["train_dialogues"], p["temperature"]) for p in cal["points"]]), n)
    pipeline, _ = load_bundle(d)
    clf = pipeline.steps[1][1]
    assert clf.temperature == pytest.approx(expected, rel=1e-9) == meta["params"]["temperature"]
    five_fold = [p["temperature"] for p in cal["points"] if p["folds"] == 5]
    assert five_fold and five_fold[0] == pytest.approx(cal["out_of_fold_temperature"])
    assert abs(clf.temperature - cal["out_of_fold_temperature"]) > 1e-6
    fast = inference.load(d, meta["sha256"])
    assert fast is not None and np.allclose(fast.coef_t, (clf.raw_coef_ / clf.temperature).T, rtol=1e-12, atol=0)
    # … and the top-label map fitted on the out-of-fold confidences (issue 11's held-out shape)
    assert cal["top_label"] and clf.top_label == cal["top_label"] == meta["params"]["top_label"] == fast.top_label
    assert 0 < cal["top_label"]["a"] < 1  # the fitted shape flattens: confident answers were over-confident


def test_soft_labels_are_the_share_of_each_type_in_a_dialogue():
    from pipeline.models.datasets import Taxonomy

    tax = Taxonomy.load()
    fine = {tax.coarse(t): t for t in tax.fine_to_coarse}
    shares = tax.type_shares([fine["发票"], fine["发票"], fine["配送物流"], "OTHER", ""])
    assert shares == {"发票": 2 / 3, "配送物流": 1 / 3}
    assert tax.type_shares(["OTHER"]) == {"其他": 1.0}
    assert tax.dialogue_label([fine["发票"], fine["发票"], fine["配送物流"]]) == max(shares, key=shares.get)


def test_low_confidence_review_flag_takes_the_models_own_threshold(inspector):
    from pipeline.config import ConfigError
    from pipeline.review_flags import resolve_confidence_thresholds

    meta = {"issue_type": {"low_confidence_below": 0.25}, "sentiment": {"low_confidence_below": 0.4}}
    assert resolve_confidence_thresholds({"issue_type": "auto", "sentiment": 0}, meta) == {"issue_type": 0.25}
    assert resolve_confidence_thresholds({"issue_type": "auto"}, {}) == {}  # no model, no flag
    assert resolve_confidence_thresholds({"sentiment": 0.5}, meta) == {"sentiment": 0.5}
    with pytest.raises(ConfigError, match="neither a probability nor 'auto'"):
        resolve_confidence_thresholds({"issue_type": "high"}, meta)
    from pipeline.config import load_config
    from pipeline.review_flags import ReviewFlags

    shipped = {n: m.metadata for n, m in inspector.models.loaded.items()}
    assert 0 < shipped["issue_type"]["low_confidence_below"] < 0.5
    assert inspector.flags.model_confidence_below == {}  # off by default (docs/ACCURACY.md)
    on = load_config(overrides={"review": {"model_confidence_below": {"issue_type": "auto", "sentiment": 0.3}}})
    flags = ReviewFlags(on, None, shipped)
    assert flags.model_confidence_below == {"issue_type": shipped["issue_type"]["low_confidence_below"], "sentiment": 0.3}


# --------------------------------------------------------------------------- training + store


@pytest.mark.parametrize("features, loss, temperature, top_label", [("tokens", "logistic", 1.0, None),
                                                                    ("tokens+role+chars", "svm", 0.2, None),
                                                                    ("tokens+role+chars", "svm", 0.2, {"a": 0.6, "b": 0.1}),
                                                                    ("tokens", "logistic", 3.0, {"a": 1.4, "b": -0.2})])
def test_fast_inference_equals_sklearn_predict_proba(features, loss, temperature, top_label, tmp_path):
    import numpy as np

    from pipeline.models.predict import LinearTextModel
    from pipeline.models.train import _fit, _pipeline

    docs = [["退款", "多久", "到账"], ["快递", "没到", "物流"], ["发票", "抬头"], ["退款", "快递"], ["谢谢"], ["发票", "开", "专票"]] * 3
    for labels in (["r", "d", "i", "r", "o", "i"] * 3, ["a", "b", "a", "b", "a", "b"] * 3):  # multiclass and binary
        pipe = _fit(_pipeline(features, 2.0, "balanced", 1, 0, loss=loss), docs, labels, [1.0] * len(docs))
        before = pipe.predict([["快递", "没到"], ["发票"], ["谢谢", "退款"]]).tolist()
        pipe.steps[1][1].set_temperature(temperature)
        pipe.steps[1][1].set_top_label(top_label)
        assert pipe.predict([["快递", "没到"], ["发票"], ["谢谢", "退款"]]).tolist() == before  # neither step changes a label
        fast = LinearTextModel(pipe)
        probe = [["退款", "到账", "到账"], ["完全", "陌生"], [], ["快递", "发票", "退款", "。", "123"]]
        expected = pipe.predict_proba(probe)
        got = np.array([fast.proba(d) for d in probe])
        assert np.allclose(got, expected, atol=1e-9)
        assert np.allclose(fast.proba_many(probe), expected, atol=1e-9) and np.allclose(fast.proba_rows(probe), expected, atol=1e-9)
        if top_label:  # the inference files carry the map: the arrays give the same numbers
            from pipeline.models import inference

            inference.export(tmp_path, pipe, "0" * 64)
            arrays = inference.load(tmp_path, "0" * 64)
            assert arrays.top_label == top_label and np.allclose([arrays.proba(d) for d in probe], expected, atol=1e-9)
        label, conf, because, _ = fast.predict(["快递", "没到"], explain=3)
        assert label == pipe.predict([["快递", "没到"]])[0] and 0 < conf <= 1


@needs_data
def test_training_on_a_small_real_subset_produces_a_model_and_metadata(small_issue_model, tmp_path):
    from pipeline.models.store import load_bundle, save_bundle

    r = small_issue_model
    assert r.report["held_out"]["n"] > 0 and 0 <= r.report["held_out"]["macro_f1"] <= 1
    # the refit model's temperature: the fold models' temperatures (2-, 3-, 5-, 10-fold) read at its size
    from pipeline.models.calibration import temperature_at, temperature_curve

    cal, n = r.report["calibration"], r.metadata["training_data"]["dialogues_train"]
    assert [p["folds"] for p in cal["points"]] == [2, 3, 5, 10] and all(p["train_dialogues"] < n for p in cal["points"])
    assert r.model.steps[1][1].temperature == pytest.approx(
        temperature_at(temperature_curve([(p["train_dialogues"], p["temperature"]) for p in cal["points"]]), n))
    assert set(r.report["baselines"]) == {"majority", "keywords"}
    assert r.metrics["test_macro_f1"] == r.report["held_out"]["macro_f1"]
    meta = save_bundle(r.model, r.metadata, tmp_path / "issue_type")
    model, loaded = load_bundle(tmp_path / "issue_type")
    assert loaded == meta
    for key in ("labels", "held_out", "training_data", "libraries", "sha256", "tokenizer", "params"):
        assert key in meta
    assert len(meta["sha256"]) == 64 and meta["libraries"]["scikit-learn"]
    assert meta["training_data"]["train_hash"] != meta["training_data"]["test_hash"]
    assert set(meta["labels"]) <= set(json.loads(json.dumps(r.report["held_out"]["labels"])))
    assert model.predict([["发票"]])[0] in meta["labels"]


@needs_data
def test_loader_refuses_a_tampered_artifact_and_a_wrong_sklearn_version(small_issue_model, tmp_path):
    from pipeline.config import ConfigError
    from pipeline.models import ModelsStage
    from pipeline.models.store import METADATA_FILE, MODEL_FILE, save_bundle

    d = tmp_path / "models" / "issue_type"
    save_bundle(small_issue_model.model, small_issue_model.metadata, d)
    ModelsStage(tmp_path / "models")  # loads

    blob = bytearray((d / MODEL_FILE).read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (d / MODEL_FILE).write_bytes(bytes(blob))
    with pytest.raises(ConfigError, match="sha256 .* does not match .*refusing to load"):
        ModelsStage(tmp_path / "models")

    save_bundle(small_issue_model.model, small_issue_model.metadata, d)
    meta = json.loads((d / METADATA_FILE).read_text(encoding="utf-8"))
    meta["libraries"]["scikit-learn"] = "0.24.2"
    (d / METADATA_FILE).write_text(json.dumps(meta), encoding="utf-8")
    # served from its inference files (arrays), the model doesn't depend on scikit-learn's version …
    assert ModelsStage(tmp_path / "models").loaded["issue_type"].fast.pipeline is None
    # … the pickle does
    for name in ("inference.npz", "inference.json"):
        (d / name).unlink()
    with pytest.raises(ConfigError, match=r"trained with scikit-learn 0\.24\.2, but .* is installed"):
        ModelsStage(tmp_path / "models")

    (d / METADATA_FILE).unlink()
    with pytest.raises(ConfigError, match="metadata.json: missing"):
        ModelsStage(tmp_path / "models")


@needs_data
def test_inspect_exits_2_with_the_message_when_a_model_is_tampered(small_issue_model, tmp_path, capsys):
    from pipeline.cli import main
    from pipeline.models.store import MODEL_FILE, save_bundle

    d = tmp_path / "models" / "issue_type"
    save_bundle(small_issue_model.model, small_issue_model.metadata, d)
    (d / MODEL_FILE).write_bytes((d / MODEL_FILE).read_bytes() + b"\0")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"paths:\n  models: {tmp_path / 'models'}\n", encoding="utf-8")
    code = main(["inspect", str(REPO / "data/samples/conversations.jsonl"), "--out", str(tmp_path / "out"), "--config", str(cfg), "--quiet"])
    assert code == 2
    assert "refusing to load" in capsys.readouterr().err


def test_no_model_artifact_means_null_predictions(tmp_path):
    from pipeline.models import ModelsStage

    stage = ModelsStage(tmp_path)
    assert stage.versions == {"issue_model": None, "sentiment_model": None, "emotion_model": None}
    conv = make_conversation([("customer", "快递怎么还没到", 0)])
    assert stage(conv).predictions == {}


# --------------------------------------------------------------------------- the shipped models in the pipeline


@pytest.fixture(scope="module")
def sample_results(tmp_path_factory):
    from pipeline.cli import main

    out = tmp_path_factory.mktemp("inspect")
    assert main(["inspect", str(REPO / "data/samples/conversations.jsonl"), "--out", str(out), "--quiet"]) in (0, 3)
    return [json.loads(line) for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]


def test_shipped_models_load_with_versions(repo):
    from pipeline.models import ModelsStage

    stage = ModelsStage(repo / "models")
    v = stage.versions
    assert v["issue_model"] and v["issue_model"].startswith("issue_type")
    assert v["sentiment_model"] and v["sentiment_model"].startswith("sentiment")
    assert v["emotion_model"] and v["emotion_model"].startswith("emotion")
    size = sum(p.stat().st_size for p in (repo / "models").rglob("*") if p.is_file())
    assert size < 8_000_000  # a few MB in the repository


def test_inspect_fills_issue_type_sentiment_and_turn_sentiment(sample_results):
    from pipeline.models.features import BECAUSE_SKIP

    conversations = {
        json.loads(line)["id"]: json.loads(line) for line in (REPO / "data/samples/conversations.jsonl").read_text(encoding="utf-8").splitlines()
    }
    filled = 0
    for r in sample_results:
        assert r["versions"]["issue_model"] and r["versions"]["sentiment_model"]
        it = r["issue_type"]
        assert isinstance(it["label"], str) and 0 < it["confidence"] <= 1 and isinstance(it["because"], list)
        filled += bool(it["because"])
        # because: words a person can read — no character n-grams, no function words, no placeholders
        assert not [w for w in it["because"] if w.startswith("~") or w in BECAUSE_SKIP or "数字" in w]
        assert all(a["label"] != it["label"] and 0.25 <= a["confidence"] <= it["confidence"] for a in it["also"])
        conv = conversations[r["id"]]
        customer_turns = [i for i, t in enumerate(conv["turns"]) if t.get("role") in ("customer", "客户", "用户", "user")]
        assert [t["turn"] for t in r["turn_sentiment"]] == customer_turns  # one entry per customer turn
        for t in r["turn_sentiment"]:
            assert t["label"] in ("negative", "neutral", "positive", None)
        s = r["sentiment"]
        if s is not None:
            assert s["label"] in ("negative", "neutral", "positive") and 0 < s["confidence"] <= 1
            assert s["customer_end"] in ("negative", "neutral", "positive")
    assert filled >= len(sample_results) * 0.9  # `because` names the tokens behind the label


def test_predictions_are_sensible_on_plain_cases(inspector):
    conv = make_conversation([
        ("customer", "我买的冰箱快递三天了还没到,物流一直不更新", 0),
        ("agent", "您好,我帮您查一下物流", 5),
        # the chat model knows the words of 2,300 labelled real chat turns: 气死我了 / 垃圾 are not among
        # them (docs/MODELS.md, "what it does not know")
        ("customer", "你们这什么破服务,我要投诉", 10),
        ("agent", "非常抱歉让您久等了", 15),
        ("customer", "好的谢谢你,服务很好", 20),
    ])
    result = inspector.inspect(conv)
    assert result.issue_type["label"] == "配送物流"
    assert {"快递", "物流"} & set(result.issue_type["because"])
    labels = [t["label"] for t in result.turn_sentiment]
    assert labels[1] == "negative" and labels[2] == "positive"
    assert result.sentiment["customer_end"] == "positive"


def test_inspect_start_up_does_not_import_mlflow_pandas_or_sklearn(repo):
    code = (
        "import sys\n"
        "from pipeline.cli import build_parser\n"
        "build_parser()\n"
        "from pipeline.config import load_config, resolve_path\n"
        "from pipeline.models import ModelsStage\n"
        "s = ModelsStage(resolve_path('models'), load_config())\n"
        "assert s.versions['issue_model'], s.versions\n"
        "print(sorted(m for m in ('mlflow', 'pandas', 'sklearn', 'joblib') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=repo, check=True)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- empathy.missing's model anchor


def _rules(tmp_path, lexicon_copy, after: str):
    from pipeline.config import load_config
    from pipeline.lexicons import LexiconSet
    from pipeline.rules import RuleSet

    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "version: 1\nrules:\n  - id: empathy.missing\n    kind: absent\n    category: 安抚\n    severity: major\n"
        "    lexicon: empathy\n    role: agent\n"
        f"    after: {after}\n"
        "    message: 客户表达不满「{evidence}」后,坐席没有安抚\n    source: test\n",
        encoding="utf-8",
    )
    return RuleSet.load(rules, LexiconSet.load(lexicon_copy), load_config())


def _prepared(inspector, turns, turn_sentiment):
    conv = make_conversation(turns)
    inspector.normalizer(conv)
    conv.predictions["turn_sentiment"] = turn_sentiment
    return conv


def test_model_anchor_fires_on_a_confident_negative_turn_without_a_lexicon_hit(tmp_path, lexicon_copy, inspector):
    rs = _rules(tmp_path, lexicon_copy, "{lexicon: negative_emotion, model: sentiment, label: negative, min_confidence: 0.6, role: customer, within_turns: 2}")
    turns = [("customer", "这个问题你们能不能处理一下", 0), ("agent", "请您提供订单号", 5), ("customer", "好的", 9), ("agent", "已为您登记", 12)]
    conv = _prepared(inspector, turns, [{"turn": 0, "label": "negative", "confidence": 0.8}, {"turn": 2, "label": "neutral", "confidence": 0.7}])
    rs(conv)
    [f] = conv.findings
    assert (f.turn, f.entry, f.evidence) == (0, "model:sentiment", "这个问题你们能不能处理一下")
    assert (f.start, f.end) == (0, len(turns[0][1]))
    # below min_confidence: no anchor, no finding
    conv = _prepared(inspector, turns, [{"turn": 0, "label": "negative", "confidence": 0.55}, {"turn": 2, "label": "neutral", "confidence": 0.7}])
    assert rs(conv).findings == []
    # an apology in the window answers a model anchor too
    turns2 = [turns[0], ("agent", "非常抱歉给您带来不便", 5)]
    conv = _prepared(inspector, turns2, [{"turn": 0, "label": "negative", "confidence": 0.9}])
    assert rs(conv).findings == []
    # no predictions (no model loaded): the lexicon alone decides
    conv = _prepared(inspector, [("customer", "气死我了", 0), ("agent", "请提供订单号", 5)], [])
    conv.predictions.pop("turn_sentiment")
    assert [f.entry for f in rs(conv).findings][0].startswith("NE-")


@pytest.mark.parametrize("after, message", [
    ("{model: issue_type, label: negative}", r"after.model must be one of the per-turn models \['emotion', 'sentiment'\]"),
    ("{model: sentiment, label: angry}", "after.label of the sentiment model must be one of negative, neutral, positive"),
    ("{model: emotion, label: negative}", "after.label of the emotion model must be one of emotion, none"),
    ("{model: sentiment, label: negative, min_confidence: 1.5}", "min_confidence must be a number between 0 and 1"),
    ("{model: sentiment, label: negative, min_confidence: models.nope}", "is not a configuration key"),
])
def test_model_anchor_is_validated(tmp_path, lexicon_copy, after, message):
    from pipeline.config import ConfigError

    with pytest.raises(ConfigError, match=message):
        _rules(tmp_path, lexicon_copy, after)


def test_the_stage_predicts_what_the_sklearn_pipeline_predicts(inspector):
    """The stage's token-by-token fast path gives scikit-learn's probabilities on real-shaped input."""
    import numpy as np

    from pipeline.ingest import read_inputs
    from pipeline.models.features import conversation_document

    from pipeline.models.store import load_bundle

    stage = inspector.models
    issue, sent = stage.loaded["issue_type"].fast, stage.loaded["sentiment"].fast
    issue_pipeline, _ = load_bundle(REPO / "models" / "issue_type")
    sent_pipeline, _ = load_bundle(REPO / "models" / "sentiment")
    convs = [c for c in read_inputs([str(REPO / "data/samples/conversations.jsonl")], inspector.config) if hasattr(c, "turns")][:40]
    for c in convs:
        inspector.normalizer(c)
        inspector.segmenter(c)
        stage(c)
        doc = conversation_document(((t.role, t.tokens) for t in c.turns), "customer+agent")
        p = issue_pipeline.predict_proba([doc])[0]
        assert c.predictions["issue_type"]["label"] == issue.classes[int(p.argmax())]
        assert abs(c.predictions["issue_type"]["confidence"] - p.max()) < 1e-4
        customer = [t for t in c.turns if t.role == "customer" and t.tokens]
        if customer:
            q = sent_pipeline.predict_proba([t.tokens for t in customer])
            got = {d["turn"]: d for d in c.predictions["turn_sentiment"]}
            for t, row in zip(customer, q):
                assert got[t.index]["label"] == sent.classes[int(np.argmax(row))]
                assert abs(got[t.index]["confidence"] - row.max()) < 1e-4
