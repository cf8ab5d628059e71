"""Train the issue-type classifier from the real corpora (CSDS, JDDC) and reviewers' labels:
soft labels from every segment's type, extra short examples, a linear SVM with a temperature read
at the training size and a top-label map; selection by repeated CV by dialogue inside the
training split; the held-out split (corpus test ∪ the gold set's test chats) scored once
(docs/MODELS.md, issue 11)."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from typing import Any, Callable

from .datasets import (
    load_extra_issue_labels,
    Taxonomy,
    dataset_hash,
    issue_type_dialogues,
)
from .evaluate import calibration_figure, classification_metrics, confusion_figure, flat_metrics, majority_baseline
from .features import TextPrep, conversation_document
from .training import (
    HELD_OUT_SPLITS,
    LOW_CONFIDENCE_GRID,
    TrainOptions,
    TrainResult,
    _balanced,
    _fast,
    _fit,
    _fold_of,
    _limit,
    _low_confidence_threshold,
    _pipeline,
    _repeated_folds,
    _selection_table,
    _single_type_metrics,
    default_options,
    keyword_baseline,
)


def train_issue_type(opts: TrainOptions | None = None, config: dict | None = None, log: Callable[[str], None] = print) -> TrainResult:
    """Issue type from every segment's type (soft labels), the CSDS segment summaries and the JDDC
    customer turns' intents; TF-IDF (tokens, agent tokens, customer character n-grams) → a linear
    model; chosen by repeated CV by dialogue on the training split; probabilities calibrated by a
    temperature for the model's training size, from temperatures fitted on the out-of-fold decisions
    of fold models trained on 50–90 % of it; scored once on the held-out dialogues."""
    import numpy as np
    from sklearn.metrics import f1_score

    from .calibration import (apply_top_label, expected_calibration_error, fit_temperature, fit_top_label, softmax, temperature_at,
                              temperature_curve)

    opts = opts or default_options("issue_type")
    t_start = time.time()
    taxonomy = Taxonomy.load(opts.taxonomy)
    labels = taxonomy.labels
    dialogues, data_info = issue_type_dialogues(opts.data, taxonomy)
    dialogues = _limit(dialogues, opts.limit, lambda d: d.source)
    extra, extra_used = load_extra_issue_labels(opts.extra_labels)
    for d in extra:
        d.issue_type = taxonomy.dialogue_label(d.fine_topics)
    dialogues += extra
    prep = TextPrep(config)
    tokens = [[(r, prep.tokens(t)) for r, t in d.turns] for d in dialogues]
    docs = [conversation_document(toks, opts.roles) for toks in tokens]
    y = [d.issue_type for d in dialogues]
    shares = [taxonomy.type_shares(d.fine_topics) for d in dialogues]
    train = [i for i, d in enumerate(dialogues) if d.split == "train"
             and (opts.train_share >= 1 or _fold_of(d.key, 10_000, opts.seed) < opts.train_share * 10_000)]
    test = [i for i, d in enumerate(dialogues) if d.split in HELD_OUT_SPLITS]
    log(f"issue_type: {len(dialogues)} dialogues ({len(train)} train of which {len(extra)} reviewers' / {len(test)} held out), "
        f"{len(labels)} types")

    # extra short examples: CSDS segment summaries (labelled with their segment's topic) and JDDC
    # customer turns (labelled with their own intent)
    summaries: dict[int, list[tuple[list[str], str]]] = {}
    turn_examples: dict[int, list[tuple[list[str], str]]] = {}
    for i in train:
        d = dialogues[i]
        summaries[i] = [(prep.tokens(text), taxonomy.coarse(topic)) for topic, text in d.segments
                        if taxonomy.coarse(topic) != taxonomy.other]
        if d.source == "jddc":
            intents = iter(d.fine_topics)
            ex = []
            for role, toks in tokens[i]:
                if role != "customer":
                    continue
                coarse = taxonomy.coarse(next(intents, "OTHER"))
                if coarse != taxonomy.other and toks:
                    ex.append((toks, coarse))
            turn_examples[i] = ex

    def training_set(idx: list[int], summary_w: float, turn_w: float):
        X, Y, W = [], [], []
        for i in idx:
            for lab, share in (shares[i].items() if opts.soft_labels else [(y[i], 1.0)]):
                X.append(docs[i]); Y.append(lab); W.append(share)
            for w, extra_ex in ((summary_w, summaries.get(i, ())), (turn_w, turn_examples.get(i, ()))):
                if w > 0:
                    for toks, lab in extra_ex:
                        X.append(toks); Y.append(lab); W.append(w)
        if opts.class_weight == "balanced":
            W = _balanced(Y, W)
        return X, Y, W

    def fit(idx: list[int], C: float, summary_w: float, turn_w: float):
        X, Y, W = training_set(idx, summary_w, turn_w)
        return _fit(_pipeline(opts.features, C, None, opts.min_df, opts.seed, loss=opts.loss), X, Y, W)

    def decisions(pipe, idx: list[int]) -> np.ndarray:
        """Raw (uncalibrated) decision values, columns in taxonomy order."""
        clf = pipe.steps[1][1]
        z = clf.raw_decision_function(pipe.steps[0][1].transform([docs[i] for i in idx]))
        z = softmax(z) if z.ndim == 1 else z  # a two-class quick run: any monotone column pair will do
        out = np.full((len(idx), len(labels)), -1e3)
        for c, lab in enumerate(clf.classes_):
            out[:, labels.index(lab)] = z[:, c]
        return out

    def oof_decisions(idx: list[int], folds: list[list[int]], cfg: tuple) -> list[np.ndarray]:
        out = []
        for fold in folds:
            z = np.zeros((len(idx), len(labels)))
            for f in sorted(set(fold)):
                a = [idx[j] for j in range(len(idx)) if fold[j] != f]
                b = [j for j in range(len(idx)) if fold[j] == f]
                if len({lab for i in a for lab in shares[i]}) < 2:
                    continue
                z[b] = decisions(fit(a, *cfg), [idx[j] for j in b])
            out.append(z)
        return out

    def cv_figures(idx: list[int], zs: list[np.ndarray]) -> dict[str, Any]:
        runs = []
        for z in zs:
            pred = [labels[k] for k in z.argmax(axis=1)]
            st = _single_type_metrics([y[i] for i in idx], pred, [shares[i] for i in idx], labels)
            runs.append({"macro_f1": classification_metrics([y[i] for i in idx], pred, labels)["macro_f1"],
                         "single_type_macro_f1": st["single_type"]["macro_f1"] if st["single_type"] else 0.0,
                         "accuracy_any": st["accuracy_any"]})
        return {k: float(np.mean([r[k] for r in runs])) for k in runs[0]} if runs else {}

    # model selection: repeated k-fold by dialogue inside the training split
    k = max(2, opts.cv_folds)
    keys = [dialogues[i].key for i in train]
    folds = _repeated_folds(keys, k, max(1, opts.cv_repeats), opts.seed)
    grid = list(itertools.product(opts.C, opts.summary_weight, opts.turn_weight))
    rows, oof_by_cfg = [], {}
    for cfg in grid:
        zs = oof_decisions(train, folds, cfg)
        fig = cv_figures(train, zs)
        oof_by_cfg[cfg] = zs
        rows.append({"C": cfg[0], "summary_weight": cfg[1], "turn_weight": cfg[2], **fig, "score": fig.get("single_type_macro_f1", 0.0)})
        log(f"  cv C={cfg[0]:<5} summary_weight={cfg[1]:<4} turn_weight={cfg[2]:<4} single-type macro-F1 {fig.get('single_type_macro_f1', 0):.3f}"
            f"  macro-F1 {fig.get('macro_f1', 0):.3f}  any-type accuracy {fig.get('accuracy_any', 0):.3f}")
    best = _selection_table(rows)[0]
    best_cfg = (best["C"], best["summary_weight"], best["turn_weight"])

    # calibration. The fold models' own temperature, on the best configuration's out-of-fold
    # decisions, calibrates the fold models (the out-of-fold figures and model.low_confidence below)
    y_train_idx = np.array([labels.index(y[i]) for i in train])
    oof = np.vstack(oof_by_cfg[best_cfg]) if train else np.zeros((0, len(labels)))
    oof_temperature = fit_temperature(oof, np.tile(y_train_idx, len(oof_by_cfg[best_cfg]))) if len(oof) else 1.0
    oof_p = softmax(oof, oof_temperature)
    oof_y = np.tile(y_train_idx, len(oof_by_cfg[best_cfg]))
    top_label = fit_top_label(oof_p.max(axis=1), oof_p.argmax(axis=1) == oof_y) if opts.top_label and len(oof) else None
    oof_p = apply_top_label(oof_p, top_label)
    oof_calibration = expected_calibration_error(oof_p, oof_y)
    low_conf = _low_confidence_threshold(oof_p.max(axis=1).tolist(), (oof_p.argmax(axis=1) == oof_y).tolist(),
                                         LOW_CONFIDENCE_GRID, opts.low_confidence_max_accuracy, opts.low_confidence_max_share)
    log(f"  fold models' temperature {oof_temperature:.3f}; out-of-fold ECE {oof_calibration['ece'] or 0:.3f}; "
        f"model.low_confidence below {low_conf['threshold']}")

    # … but the shipped model is refit on every training dialogue and has larger decision values
    # than models trained on 80 %: its temperature is read at its training size off the curve of
    # the temperatures fitted for k-fold models, k in opts.temperature_folds (issue 11)
    def fold_sizes(fold_lists: list[list[int]]) -> float:
        return float(np.mean([sum(1 for v in fold if v != f) for fold in fold_lists for f in sorted(set(fold))]))

    def temperature_points(idx: list[int], ks: list[int], done: dict[int, tuple[list[list[int]], list[np.ndarray]]],
                           keep: dict[int, tuple[list[list[int]], list[np.ndarray]]] | None = None) -> list[dict[str, Any]]:
        """The temperature fitted on the out-of-fold decisions of kk-fold CV of ``idx`` (best
        configuration), for each kk of ``ks``, with the fold models' mean training size;
        ``done``: kk → (folds, decisions) already computed."""
        y_idx = np.array([labels.index(y[i]) for i in idx], dtype=int)
        points = []
        for kk in sorted(set(ks)):
            if not 2 <= kk <= len(idx):
                continue
            if kk in done:
                fold_lists, zs = done[kk]
            else:
                fold_lists = _repeated_folds([dialogues[i].key for i in idx], kk, max(1, opts.cv_repeats), opts.seed)
                zs = oof_decisions(idx, fold_lists, best_cfg)
            if keep is not None:
                keep[kk] = (fold_lists, zs)
            Z, Y = np.vstack(zs), np.tile(y_idx, len(zs))
            filled = ~np.all(Z == 0, axis=1)  # rows of a skipped fold (one class only) have no decision
            points.append({"folds": kk, "repeats": len(zs), "train_dialogues": fold_sizes(fold_lists),
                           "temperature": fit_temperature(Z[filled], Y[filled]) if filled.any() else 1.0})
        return points

    curve_points = temperature_points(train, opts.temperature_folds, {k: (folds, oof_by_cfg[best_cfg])})
    if curve_points:
        curve = temperature_curve([(p["train_dialogues"], p["temperature"]) for p in curve_points])
        temperature = temperature_at(curve, len(train))
        calibration_method = "temperature at the training size, log-linear in the fold models' training size"
        log("  temperature curve: " + ", ".join(f"{p['folds']}-fold ({p['train_dialogues']:.0f} dialogues) {p['temperature']:.3f}"
                                                 for p in curve_points)
            + f" → {temperature:.3f} at {len(train)} dialogues (the shipped model)")
    else:
        curve = temperature_curve([(fold_sizes(folds), oof_temperature)]) if train else temperature_curve([])
        temperature = oof_temperature
        calibration_method = "the fold models' temperature"
    if top_label:
        calibration_method += f"; then the top-label map σ({top_label['a']:.3f} · logit(c) + {top_label['b']:.3f}) fitted on the out-of-fold confidences"
        log(f"  top-label map on the out-of-fold confidences: a = {top_label['a']:.3f}, b = {top_label['b']:.3f}")
    calibration_info = {"method": calibration_method, "train_dialogues": len(train), "temperature": temperature, "top_label": top_label,
                        "out_of_fold_temperature": oof_temperature, "points": curve_points,
                        "curve": {"intercept": curve["intercept"], "slope": curve["slope"]}}

    # nested CV of the calibration (report only; opts.calibration_cv_repeats, bench/models_report.py
    # --calibration-cv): inside the training split alone, each outer fold scored by the best
    # configuration refit on the other folds and calibrated as v3 did (its 5-fold models' own
    # temperature) or at its size off the curve — the choice of the method (issue 11, docs/MODELS.md)
    calibration_cv: dict[str, Any] = {}
    if opts.calibration_cv_repeats and curve_points:
        # method → (its temperature: the fold models' own 0 or the curve's 1, then the top-label map?)
        methods = {"fold_models_temperature": (0, False), "temperature_curve": (1, False), "temperature_curve+top_label": (1, True)}
        runs: list[dict[str, Any]] = []
        for r in range(opts.calibration_cv_repeats):
            outer = _repeated_folds(keys, k, 1, opts.seed + 100 + r)[0]
            zs_out = np.zeros((len(train), len(labels)))
            temps = np.zeros((len(train), 2))
            top_params: dict[int, dict[str, float]] = {}
            for f in sorted(set(outer)):
                inner = [train[j] for j in range(len(train)) if outer[j] != f]
                rows_ = [j for j in range(len(train)) if outer[j] == f]
                kept: dict[int, tuple[list[list[int]], list[np.ndarray]]] = {}
                pts = temperature_points(inner, [*opts.temperature_folds, k], {}, keep=kept)
                t_fold = next(p["temperature"] for p in pts if p["folds"] == k)
                z_in = np.vstack(kept[k][1])
                y_in = np.tile(np.array([labels.index(y[i]) for i in inner]), len(kept[k][1]))
                p_in = softmax(z_in, t_fold)
                top_params[f] = fit_top_label(p_in.max(axis=1), p_in.argmax(axis=1) == y_in)
                t_curve = temperature_at(temperature_curve([(p["train_dialogues"], p["temperature"]) for p in pts
                                                            if p["folds"] in opts.temperature_folds]), len(inner))
                zs_out[rows_] = decisions(fit(inner, *best_cfg), [train[j] for j in rows_])
                temps[rows_] = (t_fold, t_curve)
            pred = [labels[c] for c in zs_out.argmax(axis=1)]
            st_r = _single_type_metrics([y[i] for i in train], pred, [shares[i] for i in train], labels)
            run: dict[str, Any] = {"single_type_macro_f1": st_r["single_type"]["macro_f1"] if st_r["single_type"] else None,
                                   "accuracy_any": st_r["accuracy_any"]}
            for name_, (col, mapped) in methods.items():
                p_ = np.vstack([softmax(zs_out[j:j + 1], temps[j, col]) for j in range(len(train))])
                if mapped:
                    p_ = np.vstack([apply_top_label(p_[j:j + 1], top_params[outer[j]]) for j in range(len(train))])
                run[name_] = {"ece": expected_calibration_error(p_, y_train_idx)["ece"],
                              "nll": float(-np.mean(np.log(p_[np.arange(len(train)), y_train_idx] + 1e-12))),
                              "temperature": float(temps[:, col].mean())}
            runs.append(run)
            log(f"  nested calibration CV repeat {r + 1}: ECE " + ", ".join(f"{n_} {run[n_]['ece']:.3f}" for n_ in methods))
        calibration_cv = {"outer_folds": k, "repeats": len(runs), "seed": opts.seed + 100, "per_repeat": runs,
                          "single_type_macro_f1": float(np.mean([r_["single_type_macro_f1"] or 0.0 for r_ in runs])),
                          "accuracy_any": float(np.mean([r_["accuracy_any"] for r_ in runs])),
                          **{n_: {key: float(np.mean([r_[n_][key] for r_ in runs])) for key in ("ece", "nll", "temperature")}
                             for n_ in methods}}

    model = fit(train, *best_cfg)
    model.steps[1][1].set_temperature(temperature).set_top_label(top_label)
    fast = _fast(model)

    # held-out: scored the way the pipeline scores (LinearTextModel)
    y_test = [y[i] for i in test]
    proba = np.array([[dict(zip(fast.classes, fast.proba(docs[i]).tolist())).get(lab, 0.0) for lab in labels] for i in test]) \
        if test else np.zeros((0, len(labels)))
    pred = [labels[k_] for k_ in proba.argmax(axis=1)] if test else []
    held_out = classification_metrics(y_test, pred, labels)
    st = _single_type_metrics(y_test, pred, [shares[i] for i in test], labels)
    y_test_idx = np.array([labels.index(v) for v in y_test], dtype=int)
    calibration = expected_calibration_error(proba, y_test_idx)
    conf = proba.max(axis=1).tolist() if test else []
    held_low = _low_confidence_threshold(conf, [p == t for p, t in zip(pred, y_test)], [low_conf["threshold"]], 1.0, 1.0)["table"][0]
    customer_text = {i: "".join(prep.norm(t) for r, t in dialogues[i].turns if r == "customer").lower() for i in test}
    y_train = [y[i] for i in train]
    fallback = Counter(y_train).most_common(1)[0][0]
    keyword_pred = keyword_baseline([customer_text[i] for i in test], taxonomy.keywords(), fallback)
    baselines = {
        "majority": majority_baseline(y_train, y_test, labels),
        "keywords": classification_metrics(y_test, keyword_pred, labels),
    }
    baselines_single = {"keywords": _single_type_metrics(y_test, keyword_pred, [shares[i] for i in test], labels)["single_type"]}

    # the method's figure on every labelled dialogue (the issue's "grouped CV on all labelled real
    # dialogues"): the best configuration, k folds × repeats over train ∪ held out, temperature
    # refitted inside nothing — the training split's curve read at these fold models' size
    cv_all: dict[str, Any] = {}
    if opts.cv_all and test:
        every = train + test
        folds_all = _repeated_folds([dialogues[i].key for i in every], k, max(1, opts.cv_repeats), opts.seed)
        zs = oof_decisions(every, folds_all, best_cfg)
        cv_temperature = temperature_at(curve, fold_sizes(folds_all)) if curve_points else temperature
        y_all = [y[i] for i in every]
        per_repeat = []
        for z in zs:
            p_ = [labels[k_] for k_ in z.argmax(axis=1)]
            s_ = _single_type_metrics(y_all, p_, [shares[i] for i in every], labels)
            per_repeat.append({"macro_f1": classification_metrics(y_all, p_, labels)["macro_f1"],
                               "single_type_macro_f1": s_["single_type"]["macro_f1"] if s_["single_type"] else None,
                               "single_type_per_class_f1": {lab: v["f1"] for lab, v in s_["single_type"]["per_class"].items()} if s_["single_type"] else {},
                               "accuracy_any": s_["accuracy_any"],
                               "ece": expected_calibration_error(apply_top_label(softmax(z, cv_temperature), top_label),
                                                                  np.array([labels.index(v) for v in y_all]))["ece"]})
        cv_all = {"dialogues": len(every), "folds": k, "repeats": len(zs), "temperature": cv_temperature, "per_repeat": per_repeat,
                  **{key: float(np.mean([r[key] for r in per_repeat if r[key] is not None]))
                     for key in ("macro_f1", "single_type_macro_f1", "accuracy_any", "ece")},
                  "single_type_per_class_f1": {lab: float(np.mean([r["single_type_per_class_f1"].get(lab, 0.0) for r in per_repeat])) for lab in labels}}
        log(f"  CV on all {len(every)} labelled dialogues: single-type macro-F1 {cv_all['single_type_macro_f1']:.3f}, "
            f"any-type accuracy {cv_all['accuracy_any']:.3f}, ECE {cv_all['ece']:.3f}")

    diagnostics = {
        "test_dialogues_with_several_types": sum(1 for i in test if len(shares[i]) > 1),
        "test_any_topic_accuracy": st["accuracy_any"],
        "test_single_type_macro_f1": st["single_type"]["macro_f1"] if st["single_type"] else None,
        "test_single_type_n": st["single_type_n"],
        "test_single_type_min_class_f1": st["single_type_min_class_f1"][0],
        "test_single_type_min_class": st["single_type_min_class_f1"][1],
        "test_ece": calibration["ece"],
        "test_macro_f1_without_other": float(
            f1_score(y_test, pred, labels=[lab for lab in labels if lab != taxonomy.other], average="macro", zero_division=0)
        ) if test else 0.0,
    }
    data = {
        **data_info,
        "dialogues_train": len(train),
        "dialogues_test": len(test),
        "reviewer_dialogues": len(extra),
        "extra_labels": extra_used,
        "train_hash": dataset_hash([(dialogues[i].key, y[i]) for i in train]),
        "test_hash": dataset_hash([(dialogues[i].key, y[i]) for i in test]),
        "label_counts_train": dict(Counter(y_train)),
        "label_counts_test": dict(Counter(y_test)),
        "gold_test_dialogues_held_out": sum(d.split == "gold" for d in dialogues),
        "limit": opts.limit,
    }
    report = {
        "name": "issue_type",
        "held_out": held_out,
        "held_out_single_type": st["single_type"],
        "baselines": baselines,
        "baselines_single_type": baselines_single,
        "diagnostics": diagnostics,
        "calibration": {**calibration_info, "held_out": calibration, "out_of_fold": oof_calibration,
                        **({"nested_cv": calibration_cv} if calibration_cv else {})},
        "low_confidence": {**low_conf, "held_out_at_threshold": held_low},
        "cv_all": cv_all,
        "selection": {"grid": rows, "best": best, "cv_folds": k, "cv_repeats": max(1, opts.cv_repeats),
                      "criterion": "mean single-type macro-F1 of repeated CV by dialogue on the training split"},
        "data": data,
        "tokenizer": prep.description,
        "seconds": round(time.time() - t_start, 1),
    }
    metadata = {
        "name": "issue_type",
        "labels": fast.classes,
        "features": opts.features,
        "document": {"roles": opts.roles},
        "params": {"loss": opts.loss, "C": best["C"], "summary_weight": best["summary_weight"], "turn_weight": best["turn_weight"],
                   "soft_labels": opts.soft_labels, "class_weight": opts.class_weight, "min_df": opts.min_df, "seed": opts.seed,
                   "temperature": temperature, "top_label": top_label},
        "calibration": calibration_info,
        "held_out": {"macro_f1": held_out["macro_f1"], "accuracy": held_out["accuracy"], "n": held_out["n"],
                     "single_type_macro_f1": diagnostics["test_single_type_macro_f1"], "single_type_n": st["single_type_n"],
                     "accuracy_any": st["accuracy_any"], "ece": calibration["ece"],
                     "per_class_f1": {k_: v["f1"] for k_, v in held_out["per_class"].items()}},
        "cv_all": {k_: cv_all[k_] for k_ in ("dialogues", "macro_f1", "single_type_macro_f1", "accuracy_any", "ece")} if cv_all else None,
        "low_confidence_below": low_conf["threshold"],
        "baselines": {k_: {"macro_f1": v["macro_f1"], "accuracy": v["accuracy"]} for k_, v in baselines.items()},
        "training_data": {"files": data_info["files"], "train_hash": data["train_hash"], "test_hash": data["test_hash"],
                          "taxonomy_sha256": taxonomy.sha256, "dialogues_train": len(train), "dialogues_test": len(test),
                          "reviewer_dialogues": len(extra), "extra_labels": extra_used,
                          "gold_test_dialogues_held_out": data["gold_test_dialogues_held_out"], "limit": opts.limit},
        "tokenizer": prep.description,
    }
    params = {**{k_: v for k_, v in opts.params().items() if k_ not in ("review_weight", "stc3_weight", "min_review_accuracy")},
              "best_C": best["C"], "best_summary_weight": best["summary_weight"], "best_turn_weight": best["turn_weight"],
              "temperature": temperature, **({"top_label_a": top_label["a"], "top_label_b": top_label["b"]} if top_label else {})}
    metrics = {**flat_metrics("test", held_out), "cv_single_type_macro_f1": best["score"], "cv_macro_f1": best.get("macro_f1", 0.0),
               "temperature": temperature, "out_of_fold_temperature": oof_temperature, "low_confidence_below": low_conf["threshold"],
               "baseline_majority_macro_f1": baselines["majority"]["macro_f1"],
               "baseline_keywords_macro_f1": baselines["keywords"]["macro_f1"],
               "baseline_keywords_accuracy": baselines["keywords"]["accuracy"],
               **{k_: v for k_, v in diagnostics.items() if isinstance(v, (int, float))},
               **({f"cv_all_{k_}": cv_all[k_] for k_ in ("macro_f1", "single_type_macro_f1", "accuracy_any", "ece")} if cv_all else {})}
    figures = {"confusion_matrix.png": confusion_figure(held_out, f"issue_type — held-out ({held_out['n']} dialogues)"),
               "calibration.png": calibration_figure(calibration, f"issue_type — held-out calibration (T = {temperature:.2f})")}
    log(f"issue_type: held-out macro-F1 {held_out['macro_f1']:.3f}, single-type {diagnostics['test_single_type_macro_f1'] or 0:.3f} "
        f"(keywords {baselines_single['keywords']['macro_f1'] if baselines_single['keywords'] else 0:.3f}); any-type accuracy "
        f"{st['accuracy_any']:.3f}; ECE {calibration['ece'] or 0:.3f}")
    return TrainResult("issue_type", model, metadata, params, metrics, report, figures)
