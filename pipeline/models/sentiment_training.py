"""Train the customer-turn sentiment classifier: chat turns (JDDC, reviewers' corrections) in
their own model, product reviews in theirs (reported beside it); a temperature fitted on the
out-of-fold chat-turn probabilities; figures per turn and per conversation (docs/MODELS.md)."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from typing import Any, Callable

from .datasets import (
    SENTIMENT_LABELS,
    last_customer_turn_examples,
    load_extra_sentiment_labels,
    TextExample,
    dataset_hash,
    jddc_turn_examples,
    load_jddc,
    load_reviews,
    load_stc3,
    stc3_turn_examples,
    unique,
)
from ..io.hashing import sha256_file
from .evaluate import calibration_figure, classification_metrics, confusion_figure, flat_metrics, majority_baseline
from .features import TextPrep
from .training import (
    HELD_OUT_SPLITS,
    LOW_CONFIDENCE_GRID,
    TrainOptions,
    TrainResult,
    _fast,
    _fit,
    _fold_of,
    _limit,
    _low_confidence_threshold,
    _pipeline,
    _selection_table,
    default_options,
)


def lexicon_sentiment(prep: TextPrep, texts: list[str]) -> list[str]:
    """The keyword baseline: a negative_emotion or complaint_risk hit → negative, a praise hit →
    positive, otherwise neutral (the product's own lexicons)."""
    neg = frozenset({"negative_emotion", "complaint_risk"}) & frozenset(prep.lexicons.lexicons)
    pos = frozenset({"praise"}) & frozenset(prep.lexicons.lexicons)
    out = []
    for t in texts:
        norm = prep.normalizer.text(t)
        if neg and prep.lexicons.match(norm, neg):
            out.append("negative")
        elif pos and prep.lexicons.match(norm, pos):
            out.append("positive")
        else:
            out.append("neutral")
    return out


def _binary_accuracy(probas, classes: list[str], labels: list[str]) -> float:
    """Reviews are positive / negative: the model's call is the likelier of the two."""
    if not labels or "positive" not in classes or "negative" not in classes:
        return 0.0
    ip, ineg = classes.index("positive"), classes.index("negative")
    ok = sum((("positive" if p[ip] >= p[ineg] else "negative") == lab) for p, lab in zip(probas, labels))
    return ok / len(labels)


def _prf(truth: list[bool], pred: list[bool]) -> dict[str, float]:
    tp = sum(t and p for t, p in zip(truth, pred))
    fp = sum(p and not t for t, p in zip(truth, pred))
    fn = sum(t and not p for t, p in zip(truth, pred))
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    f05 = 1.25 * p * r / (0.25 * p + r) if p + r else 0.0
    return {"precision": float(p), "recall": float(r), "f1": float(f1), "f0.5": float(f05), "fired": int(sum(bool(x) for x in pred))}


def aggregate_conversation(turn_probas: list, classes: list[str], how: str = "mean_of_turns") -> tuple[str, float]:
    """The conversation's sentiment from its customer turns' probabilities (in turn order):
    ``mean_of_turns``, ``end_weighted`` (turn i of n weighs i + 1) or ``last_turn``."""
    import numpy as np

    p = np.asarray(turn_probas)
    if how == "last_turn":
        m = p[-1]
    elif how == "end_weighted":
        w = np.arange(1, len(p) + 1, dtype=float)
        m = (p * w[:, None]).sum(axis=0) / w.sum()
    else:
        m = p.mean(axis=0)
    k = int(m.argmax())
    return classes[k], float(m[k])


AGGREGATES = ("mean_of_turns", "end_weighted", "last_turn")


def train_sentiment(opts: TrainOptions | None = None, config: dict | None = None, log: Callable[[str], None] = print) -> TrainResult:
    """Customer-turn sentiment from real chat turns (JDDC satisfaction labels, reviewers' labels);
    reviews in their own model unless ``review_weight`` mixes them in; a temperature fitted on the
    out-of-fold probabilities; scored on held-out chat turns (corpus test split ∪ gold test chats)."""
    import numpy as np
    from sklearn.metrics import f1_score

    from .calibration import expected_calibration_error, fit_temperature, softmax

    opts = opts or default_options("sentiment")
    t_start = time.time()
    paths = opts.data
    jddc = _limit(unique(load_jddc(paths.jddc, paths.jddc_acts)), opts.limit, lambda d: d.source)
    reviews, review_stats = load_reviews(paths.data_dir)
    reviews = _limit(reviews, opts.limit, lambda e: e.source)
    use_stc3 = paths.stc3.exists()
    stc3 = _limit(unique(load_stc3(paths.stc3)), opts.limit, lambda d: d.source) if use_stc3 else []
    turns = jddc_turn_examples(jddc)
    stc3_turns = stc3_turn_examples(stc3)
    extra, extra_used = load_extra_sentiment_labels(opts.extra_labels)
    reviewer_turns = last_customer_turn_examples(extra)  # training split: chat turns, weight 1
    prep = TextPrep(config)
    tok: dict[int, list[str]] = {}
    for ex in itertools.chain(turns, reviewer_turns, reviews, stc3_turns):
        tok[id(ex)] = prep.tokens(ex.text)

    def part(items: list[TextExample], *splits: str) -> list[TextExample]:
        return [e for e in items if e.split in splits]

    # chat turns are held out from the gold set's test chats too (never trained on; 4× the turns)
    j_tr, j_te = part(turns, "train") + reviewer_turns, part(turns, *HELD_OUT_SPLITS)
    r_tr, r_te = part(reviews, "train"), part(reviews, "test")
    s_tr, s_te = part(stc3_turns, "train"), part(stc3_turns, "test")
    own_review_model = all(w == 0 for w in opts.review_weight)
    log(f"sentiment: JDDC customer turns {len(j_tr)} train ({len(reviewer_turns)} reviewers') / {len(j_te)} held out; "
        f"reviews {len(r_tr)} / {len(r_te)} ({'own model' if own_review_model else 'mixed into the chat model'}); "
        f"STC-3 customer turns {len(s_tr)} / {len(s_te)}")

    k = max(2, opts.cv_folds)
    fold = {id(e): _fold_of(e.key, k, opts.seed) for e in itertools.chain(j_tr, r_tr, s_tr)}
    grid = list(itertools.product(opts.C, opts.review_weight, opts.stc3_weight))
    rows = []
    oof_best: dict[tuple, dict[int, Any]] = {}
    for C, rw, sw in grid:  # the vectorizer is fitted inside each fold
        oof: dict[int, Any] = {}
        for f in range(k):
            fit_set = [(e, 1.0) for e in j_tr if fold[id(e)] != f]
            if rw > 0:
                fit_set += [(e, rw) for e in r_tr if fold[id(e)] != f]
            if sw > 0:
                fit_set += [(e, sw) for e in s_tr if fold[id(e)] != f]
            if len({e.label for e, _ in fit_set}) < 2:
                continue
            pipe = _fit(_pipeline(opts.features, C, opts.class_weight, opts.min_df, opts.seed, loss=opts.loss),
                        [tok[id(e)] for e, _ in fit_set], [e.label for e, _ in fit_set], [w for _, w in fit_set])
            fast = _fast(pipe)
            for e in itertools.chain(j_tr, r_tr if rw > 0 else ()):  # reviews with their own model: not this one's job
                if fold[id(e)] == f:
                    oof[id(e)] = fast.proba(tok[id(e)]), fast.classes
        jl = [e for e in j_tr if id(e) in oof]
        j_pred = [oof[id(e)][1][int(oof[id(e)][0].argmax())] for e in jl]
        j_f1 = float(f1_score([e.label for e in jl], j_pred, average="macro", zero_division=0)) if jl else 0.0
        rl = [e for e in r_tr if id(e) in oof]
        r_acc = _binary_accuracy([oof[id(e)][0] for e in rl], oof[id(rl[0])][1] if rl else [], [e.label for e in rl]) if rl else None
        ok = rw == 0 or (r_acc is not None and r_acc >= opts.min_review_accuracy)
        rows.append({"C": C, "review_weight": rw, "stc3_weight": sw, "cv_jddc_macro_f1": j_f1, "cv_review_accuracy": r_acc,
                     "meets_review_accuracy": ok, "score": j_f1 + (1.0 if ok else 0.0)})
        oof_best[(C, rw, sw)] = oof
        log(f"  cv C={C:<4} review_weight={rw:<5} stc3_weight={sw:<4} JDDC macro-F1 {j_f1:.3f}"
            + (f"  review accuracy {r_acc:.3f}" if r_acc is not None else ""))
    best = _selection_table(rows)[0]
    bkey = (best["C"], best["review_weight"], best["stc3_weight"])
    fit_set = [(e, 1.0) for e in j_tr] + [(e, best["review_weight"]) for e in r_tr if best["review_weight"] > 0]
    fit_set += [(e, best["stc3_weight"]) for e in s_tr if best["stc3_weight"] > 0]
    model = _fit(_pipeline(opts.features, best["C"], opts.class_weight, opts.min_df, opts.seed, loss=opts.loss),
                 [tok[id(e)] for e, _ in fit_set], [e.label for e, _ in fit_set], [w for _, w in fit_set])
    # calibration: a temperature on the out-of-fold chat-turn probabilities (softmax(log p / T)
    # = softmax(z / T): the probabilities' logs are the decision values up to a per-row shift)
    oof = oof_best[bkey]
    jl = [e for e in j_tr if id(e) in oof]
    classes = [str(c) for c in model.steps[1][1].classes_]
    oof_logp = np.log(np.array([oof[id(e)][0] for e in jl]) + 1e-12) if jl else np.zeros((0, len(classes)))
    oof_y = np.array([classes.index(e.label) for e in jl], dtype=int)
    temperature = fit_temperature(oof_logp, oof_y) if jl else 1.0
    model.steps[1][1].set_temperature(temperature)
    for e in jl:  # the anchor thresholds below are chosen on calibrated probabilities too
        oof[id(e)] = softmax(np.log(oof[id(e)][0] + 1e-12)[None, :], temperature)[0], oof[id(e)][1]
    oof_p = np.array([oof[id(e)][0] for e in jl]) if jl else np.zeros((0, len(classes)))
    low_conf = _low_confidence_threshold(oof_p.max(axis=1).tolist(), (oof_p.argmax(axis=1) == oof_y).tolist(),
                                         LOW_CONFIDENCE_GRID, opts.low_confidence_max_accuracy, opts.low_confidence_max_share)
    fast = _fast(model)
    labels = list(SENTIMENT_LABELS)

    def predict(items):
        return [fast.predict(tok[id(e)])[0] for e in items]

    held_out = classification_metrics([e.label for e in j_te], predict(j_te), labels)
    te_p = np.array([[dict(zip(classes, fast.proba(tok[id(e)]).tolist())).get(lab, 0.0) for lab in labels] for e in j_te]) \
        if j_te else np.zeros((0, len(labels)))
    calibration = expected_calibration_error(te_p, np.array([labels.index(e.label) for e in j_te], dtype=int))
    low_conf["held_out_at_threshold"] = _low_confidence_threshold(
        te_p.max(axis=1).tolist(), [labels[k_] == e.label for k_, e in zip(te_p.argmax(axis=1), j_te)],
        [low_conf["threshold"]], 1.0, 1.0)["table"][0] if j_te else None
    extra_models: dict[str, Any] = {}
    if own_review_model and len({e.label for e in r_tr}) > 1:
        # reviews are another domain (product / hotel / take-away reviews, not chat turns): their
        # own binary model, scored on their own held-out split; not used by `inspect`
        review_model = _fit(_pipeline(opts.features, 1.0, opts.class_weight, opts.min_df, opts.seed, loss="logistic"),
                            [tok[id(e)] for e in r_tr], [e.label for e in r_tr], [1.0] * len(r_tr))
        review_fast = _fast(review_model)
        review_acc = _binary_accuracy([review_fast.proba(tok[id(e)]) for e in r_te], review_fast.classes, [e.label for e in r_te])
        extra_models["reviews_model.joblib"] = review_model
    else:
        review_acc = _binary_accuracy([fast.proba(tok[id(e)]) for e in r_te], classes, [e.label for e in r_te])
    y_tr = [e.label for e in j_tr]
    baselines = {
        "majority": majority_baseline(y_tr, [e.label for e in j_te], labels),
        "lexicon": classification_metrics([e.label for e in j_te], lexicon_sentiment(prep, [e.text for e in j_te]), labels),
    }
    lex_reviews = lexicon_sentiment(prep, [e.text for e in r_te])
    review_majority = Counter(e.label for e in r_tr).most_common(1)[0][0] if r_tr else "positive"
    review_baselines = {
        "majority": sum(e.label == review_majority for e in r_te) / len(r_te) if r_te else 0.0,
        "lexicon": sum((("negative" if p == "negative" else "positive") == e.label) for p, e in zip(lex_reviews, r_te)) / len(r_te) if r_te else 0.0,
    }
    stc3_turn_metrics = classification_metrics([e.label for e in s_te], predict(s_te), labels) if s_te else None

    # conversation level: how to combine the turns is chosen on the training split's STC-3
    # dialogues (dialogue-level satisfaction; not in the training data unless stc3_weight > 0),
    # then reported on the held-out dialogues of both corpora (JDDC's OVERALL label, STC-3's).
    def conversation_scores(dls, split):
        held = [d for d in dls if d.split in split and d.sentiment]
        truth, preds = [], {a: [] for a in AGGREGATES}
        for d in held:
            probs = [fast.proba(prep.tokens(t)) for r, t in d.turns if r == "customer" and t.strip()]
            if not probs:
                continue
            truth.append(d.sentiment)
            for a in AGGREGATES:
                preds[a].append(aggregate_conversation(probs, classes, a)[0])
        return {a: classification_metrics(truth, preds[a], labels) for a in AGGREGATES} if truth else {}

    choose_on = conversation_scores(stc3, ("train",)) or conversation_scores(jddc, ("train",))
    aggregate = max(AGGREGATES, key=lambda a: (choose_on[a]["macro_f1"] if choose_on else 0.0, a == "mean_of_turns"))
    conversation: dict[str, Any] = {"aggregate": aggregate,
                                    "selection_macro_f1": {a: m["macro_f1"] for a, m in choose_on.items()}}
    for name, dls in (("jddc", jddc), ("stc3", stc3)):
        held_splits = HELD_OUT_SPLITS if name == "jddc" else ("test",)
        scores = conversation_scores(dls, held_splits)
        if scores:
            truth_all = [d.sentiment for d in dls if d.split in held_splits and d.sentiment]
            conversation[name] = {**scores, "majority": majority_baseline(
                [d.sentiment for d in dls if d.split == "train" and d.sentiment] or truth_all, truth_all, labels)}

    # empathy.missing anchor: lexicon vs model vs both, against JDDC "dissatisfied" turns.
    # Thresholds are chosen on the training split's out-of-fold probabilities (best F0.5).
    neg = classes.index("negative") if "negative" in classes else None
    anchor: dict[str, Any] = {}
    if neg is not None:
        lex = {id(e): bool(prep.lexicons.match(prep.normalizer.text(e.text), frozenset({"negative_emotion"})))
               for e in itertools.chain(j_tr, j_te)} if "negative_emotion" in prep.lexicons.lexicons else {}
        tr_l = [e for e in j_tr if id(e) in oof]
        truth_tr = [e.label == "negative" for e in tr_l]
        p_tr = [float(oof[id(e)][0][neg]) for e in tr_l]
        grid_th = [round(0.30 + 0.05 * i, 2) for i in range(14)]  # 0.30 … 0.95

        def best_threshold(with_lexicon: bool) -> float:
            scored = []
            for th in grid_th:
                pred = [(p >= th) or (with_lexicon and lex.get(id(e), False)) for e, p in zip(tr_l, p_tr)]
                scored.append((_prf(truth_tr, pred)["f0.5"], th))
            return max(scored)[1] if scored else 0.5

        th_model, th_both = best_threshold(False), best_threshold(True)
        truth_te = [e.label == "negative" for e in j_te]
        p_te = [float(fast.proba(tok[id(e)])[neg]) for e in j_te]
        anchor = {
            "label": "JDDC customer turn rated 0 (dissatisfied), held-out split",
            "n": len(j_te),
            "positives": sum(truth_te),
            "lexicon": _prf(truth_te, [lex.get(id(e), False) for e in j_te]),
            "model": {**_prf(truth_te, [p >= th_model for p in p_te]), "threshold": th_model},
            "lexicon_or_model": {**_prf(truth_te, [(p >= th_both) or lex.get(id(e), False) for e, p in zip(j_te, p_te)]), "threshold": th_both},
            "criterion": "F0.5 (precision counts double: a false anchor costs an agent points)",
        }
        # best against this label only: the label is dissatisfaction, not the anger / distress
        # empathy.missing is about — the rule's anchor is decided in docs/MODELS.md, not here
        anchor["best_on_this_label"] = max(("lexicon", "model", "lexicon_or_model"), key=lambda k_: anchor[k_]["f0.5"])

    data = {
        "jddc_dialogues": len(jddc),
        "reviews": review_stats,
        "stc3_dialogues": len(stc3),
        "files": {p.name: sha256_file(p) for p in [paths.jddc, paths.jddc_acts, *paths.review_paths().values(), *([paths.stc3] if use_stc3 else [])]},
        "train_hash": dataset_hash([(e.key + f":{i}", e.label) for i, e in enumerate(j_tr + r_tr + s_tr)]),
        "test_hash": dataset_hash([(e.key + f":{i}", e.label) for i, e in enumerate(j_te + r_te + s_te)]),
        "counts": {"jddc_train": len(j_tr), "jddc_test": len(j_te), "reviews_train": len(r_tr), "reviews_test": len(r_te),
                   "stc3_train": len(s_tr), "stc3_test": len(s_te)},
        "label_counts_jddc_test": dict(Counter(e.label for e in j_te)),
        "reviewer_turns": len(reviewer_turns),
        "extra_labels": extra_used,
        "gold_test_dialogues_held_out": sum(d.split == "gold" for d in jddc),
        "limit": opts.limit,
    }
    report = {
        "name": "sentiment",
        "held_out": held_out,
        "held_out_reviews_accuracy": review_acc,
        "reviews_model": "own" if extra_models else "mixed into the chat model",
        "calibration": {"temperature": temperature, "held_out": calibration},
        "low_confidence": low_conf,
        "baselines": baselines,
        "review_baselines": review_baselines,
        "stc3_turns_weak_labels": stc3_turn_metrics,
        "conversation": conversation,
        "empathy_anchor": anchor,
        "selection": {"grid": rows, "best": best, "cv_folds": k,
                      "criterion": f"CV JDDC macro-F1 among configurations with CV review accuracy ≥ {opts.min_review_accuracy}"},
        "data": data,
        "tokenizer": prep.description,
        "seconds": round(time.time() - t_start, 1),
    }
    metadata = {
        "name": "sentiment",
        "labels": classes,
        "features": opts.features,
        "conversation": {"aggregate": aggregate, "customer_end": "last customer turn with text"},
        "params": {"loss": opts.loss, "C": best["C"], "review_weight": best["review_weight"], "stc3_weight": best["stc3_weight"],
                   "class_weight": opts.class_weight, "min_df": opts.min_df, "seed": opts.seed, "temperature": temperature},
        "low_confidence_below": low_conf["threshold"],
        "held_out": {"jddc_macro_f1": held_out["macro_f1"], "jddc_accuracy": held_out["accuracy"], "jddc_n": held_out["n"],
                     "negative_f1": held_out["per_class"]["negative"]["f1"], "ece": calibration["ece"],
                     "reviews_accuracy": review_acc, "reviews_n": len(r_te), "reviews_model": "own" if extra_models else "mixed",
                     "per_class_f1": {k_: v["f1"] for k_, v in held_out["per_class"].items()}},
        "baselines": {k_: {"macro_f1": v["macro_f1"], "accuracy": v["accuracy"]} for k_, v in baselines.items()},
        "training_data": {"files": data["files"], "train_hash": data["train_hash"], "test_hash": data["test_hash"],
                          "counts": data["counts"], "gold_test_dialogues_held_out": data["gold_test_dialogues_held_out"],
                          "reviewer_turns": len(reviewer_turns), "extra_labels": extra_used, "limit": opts.limit},
        "tokenizer": prep.description,
    }
    params = {**{k_: v for k_, v in opts.params().items() if k_ not in ("turn_weight", "roles", "taxonomy")},
              "best_C": best["C"], "best_review_weight": best["review_weight"], "best_stc3_weight": best["stc3_weight"]}
    metrics = {**flat_metrics("test", held_out), "test_reviews_accuracy": review_acc,
               "test_ece": calibration["ece"] or 0.0, "temperature": temperature, "low_confidence_below": low_conf["threshold"],
               "cv_jddc_macro_f1": best["cv_jddc_macro_f1"],
               **({"cv_review_accuracy": best["cv_review_accuracy"]} if best["cv_review_accuracy"] is not None else {}),
               "baseline_majority_macro_f1": baselines["majority"]["macro_f1"],
               "baseline_lexicon_macro_f1": baselines["lexicon"]["macro_f1"],
               "baseline_lexicon_reviews_accuracy": review_baselines["lexicon"]}
    if stc3_turn_metrics:
        metrics["test_stc3_turns_macro_f1"] = stc3_turn_metrics["macro_f1"]
    for name in ("jddc", "stc3"):
        if name in conversation:
            metrics[f"test_{name}_conversation_macro_f1"] = conversation[name][aggregate]["macro_f1"]
    for k_ in ("lexicon", "model", "lexicon_or_model"):
        if anchor:
            metrics[f"empathy_anchor_{k_}_f0.5"] = anchor[k_]["f0.5"]
            metrics[f"empathy_anchor_{k_}_f1"] = anchor[k_]["f1"]
    figures = {"confusion_matrix.png": confusion_figure(held_out, f"sentiment — held-out JDDC customer turns ({held_out['n']})"),
               "calibration.png": calibration_figure(calibration, f"sentiment — held-out chat turns (T = {temperature:.2f})")}
    log(f"sentiment: held-out JDDC macro-F1 {held_out['macro_f1']:.3f}, negative F1 {held_out['per_class']['negative']['f1']:.3f} "
        f"(majority {baselines['majority']['macro_f1']:.3f}, lexicon {baselines['lexicon']['macro_f1']:.3f}); ECE "
        f"{calibration['ece'] or 0:.3f}; held-out reviews accuracy {review_acc:.3f} ({'own model' if extra_models else 'same model'})")
    return TrainResult("sentiment", model, metadata, params, metrics, report, figures, extra_models)
