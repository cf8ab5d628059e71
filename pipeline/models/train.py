"""Training: the issue-type and the sentiment classifier, from real data, with honest evaluation.

Both are scikit-learn ``Pipeline([TfidfVectorizer(analyzer=<pipeline tokens>), LogisticRegression])``.

* Model selection: a small grid, scored by cross-validation **inside the training split**
  (folds by dialogue); the held-out split (datasets.split_of) is used once, for the report.
* The report holds per-class precision / recall / F1, macro-F1, accuracy and the confusion matrix
  for the model and for two baselines (majority class, keyword lexicon), plus diagnostics that
  show what limits the figures.
* Evaluation runs the model the way the pipeline does (predict.LinearTextModel).

``train_issue_type`` / ``train_sentiment`` return a :class:`TrainResult`; tracking.py logs it to
MLflow and store.py writes the bundle the pipeline loads.
"""

from __future__ import annotations

import hashlib
import itertools
import time
import warnings
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from .datasets import (
    SENTIMENT_LABELS,
    last_customer_turn_examples,
    load_extra_issue_labels,
    load_extra_sentiment_labels,
    TAXONOMY_PATH,
    DataPaths,
    Taxonomy,
    TextExample,
    dataset_hash,
    issue_type_dialogues,
    jddc_turn_examples,
    load_jddc,
    load_reviews,
    load_stc3,
    stc3_turn_examples,
    unique,
)
from ..io.hashing import sha256_file
from .evaluate import calibration_figure, classification_metrics, confusion_figure, flat_metrics, majority_baseline
from .features import ANALYZERS, TextPrep, conversation_document

MODEL_NAMES = ("issue_type", "sentiment")


@dataclass
class TrainOptions:
    """What a training run may vary. Lists are grids searched by cross-validation."""

    data: DataPaths = field(default_factory=DataPaths)
    taxonomy: Path = TAXONOMY_PATH
    features: str = "tokens"  # an analyzer of features.ANALYZERS
    loss: str = "logistic"  # calibration.SoftmaxLinear: "svm" (LinearSVC) or "logistic"
    C: list[float] = field(default_factory=lambda: [0.5, 1.0, 2.0])
    class_weight: str | None = "balanced"
    min_df: int = 2
    cv_folds: int = 5
    cv_repeats: int = 1  # repeated CV: each repeat draws other folds (by unit)
    seed: int = 0
    limit: int | None = None  # at most this many dialogues / reviews per source (quick runs, tests)
    # folders `zhijian export-labels` wrote: reviewers' labels added to the training split
    extra_labels: list[Path] = field(default_factory=list)
    # model.low_confidence: the threshold under which out-of-fold predictions are right at most this often
    low_confidence_max_accuracy: float = 0.5
    low_confidence_max_share: float = 0.05  # … and sends at most this share of conversations to review
    # issue type
    roles: str = "customer+agent"  # features.conversation_document
    soft_labels: bool = True  # learn every segment's type, weighted by its share of the dialogue
    turn_weight: list[float] = field(default_factory=lambda: [0.0, 0.3])  # JDDC customer turns as extra examples
    summary_weight: list[float] = field(default_factory=lambda: [0.0])  # CSDS segment summaries as extra examples
    cv_all: bool = False  # also CV the chosen configuration on every labelled dialogue (report only)
    # the shipped (refit) model's temperature: read at the training size off a curve of temperatures
    # fitted on the out-of-fold decisions of k-fold CV for each k here (calibration.temperature_curve);
    # empty: the temperature of the selection CV's fold models (v3 before issue 11's ECE fix)
    temperature_folds: list[int] = field(default_factory=list)
    # after the temperature, a top-label map fitted on the out-of-fold confidences (top_label.py):
    # the shape one temperature can't fix (issue 11; chosen by nested CV, docs/MODELS.md)
    top_label: bool = False
    calibration_cv_repeats: int = 0  # > 0: also the nested CV of the calibration methods on the training split (report only; slow)
    train_share: float = 1.0  # learning curves: train on this share of the training dialogues (by hash)
    # sentiment
    review_weight: list[float] = field(default_factory=lambda: [0.0])  # reviews in the chat model (0: own model)
    stc3_weight: list[float] = field(default_factory=lambda: [0.0])
    min_review_accuracy: float = 0.88  # the reviews model's target (and the selection floor when reviews are mixed in)

    def params(self) -> dict[str, Any]:
        d = asdict(self)
        d["data"] = {k: str(v) for k, v in asdict(self.data).items()}
        d["taxonomy"] = str(self.taxonomy)
        d["extra_labels"] = [str(p) for p in self.extra_labels]
        return d


def default_options(name: str, **overrides: Any) -> TrainOptions:
    base: dict[str, Any] = {}
    if name == "issue_type":
        # issue 11's experiments on real chats (docs/MODELS.md): a linear SVM over tokens + customer
        # character n-grams, soft labels and the segment summaries beat logistic regression over
        # tokens by ~0.1 single-type macro-F1 on 493 held-out dialogues
        base = {"features": "tokens+role+chars", "loss": "svm", "C": [0.3, 0.6], "summary_weight": [0.5],
                "turn_weight": [0.3], "min_df": 3, "cv_folds": 5, "cv_repeats": 2, "cv_all": True,
                # nested CV on the training split (docs/MODELS.md): ECE 0.059 → 0.053, predictions unchanged
                "temperature_folds": [2, 3, 5, 10], "top_label": True}
    elif name == "sentiment":
        # chat turns alone (issue 11): the 75k reviews mixed in at 0.05 cost 0.15 of negative F1 on
        # real chat turns; reviews get their own model. Context (previous turns) measured no better.
        base = {"features": "tokens", "loss": "logistic", "C": [0.25, 0.5, 1.0], "review_weight": [0.0], "cv_folds": 3}
    else:
        raise ValueError(f"unknown model {name!r}; models: {MODEL_NAMES}")
    base.update({k: v for k, v in overrides.items() if v is not None})
    return TrainOptions(**base)


@dataclass
class TrainResult:
    name: str
    model: Any  # the fitted sklearn Pipeline
    metadata: dict[str, Any]  # goes into metadata.json
    params: dict[str, Any]  # MLflow params
    metrics: dict[str, float]  # MLflow metrics
    report: dict[str, Any]  # everything, nested (MLflow artifact report.json, docs/MODELS.md)
    figures: dict[str, Any] = field(default_factory=dict)  # name → matplotlib Figure
    extra_models: dict[str, Any] = field(default_factory=dict)  # file name → fitted model logged beside the bundle


# --------------------------------------------------------------------------- helpers


def _pipeline(features: str, C: float, class_weight: str | None, min_df: int, seed: int, loss: str = "logistic"):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import Pipeline

    from .calibration import SoftmaxLinear

    if features not in ANALYZERS:
        raise ValueError(f"unknown features {features!r}; choose one of {sorted(ANALYZERS)}")
    return Pipeline(
        [
            ("tfidf", TfidfVectorizer(analyzer=ANALYZERS[features], sublinear_tf=True, min_df=min_df, dtype=float)),
            ("clf", SoftmaxLinear(loss=loss, C=C, class_weight=class_weight, random_state=seed)),
        ]
    )


def _fit(pipe, X, y, w):
    import numpy as np

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe.fit(X, y, clf__sample_weight=np.asarray(w, dtype=float))
    vec = pipe.steps[0][1]
    if hasattr(vec, "stop_words_"):  # terms pruned by min_df: not needed to predict, can be large
        vec.stop_words_ = None
        del vec.stop_words_
    return pipe


def _fold_of(key: str, k: int, seed: int) -> int:
    d = hashlib.blake2b(f"fold:{seed}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(d, "big") % k


def _limit(items: list, limit: int | None, source: Callable[[Any], str]) -> list:
    """At most ``limit`` per source, keeping the file order (and so each unit's split)."""
    if not limit:
        return items
    seen: Counter[str] = Counter()
    out = []
    for it in items:
        s = source(it).split(":")[0]
        if seen[s] < limit:
            seen[s] += 1
            out.append(it)
    return out


def _fast(pipe):
    from .predict import LinearTextModel

    return LinearTextModel(pipe)


def _selection_table(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: -r["score"])


# --------------------------------------------------------------------------- issue type


def keyword_baseline(texts: list[str], keywords: dict[str, list[str]], fallback: str) -> list[str]:
    """Most keyword hits in the customer's text wins (ties: taxonomy order); none → ``fallback``."""
    out = []
    for text in texts:
        best, best_n = fallback, 0
        for label, words in keywords.items():
            n = sum(text.count(w) for w in words)
            if n > best_n:
                best, best_n = label, n
        out.append(best)
    return out


HELD_OUT_SPLITS = ("test", "gold")  # never trained on: the corpora's test split and the gold set's test chats


def _balanced(labels: list[str], weights: list[float]) -> list[float]:
    """Sample weights × (total mass / (classes × the class's mass)): scikit-learn's "balanced"
    over weighted (soft-label) examples."""
    mass: Counter[str] = Counter()
    for lab, w in zip(labels, weights):
        mass[lab] += w
    total, k = sum(mass.values()), len(mass)
    return [w * total / (k * mass[lab]) for lab, w in zip(labels, weights)]


def _repeated_folds(keys: list[str], k: int, repeats: int, seed: int) -> list[list[int]]:
    """Fold of each unit for each repeat: by the unit's key (a dialogue never straddles folds)."""
    return [[_fold_of(key, k, seed + r) for key in keys] for r in range(repeats)]


def _single_type_metrics(y_true: list[str], y_pred: list[str], types: list[dict[str, float]], labels: list[str]) -> dict[str, Any]:
    """Figures on the dialogues whose segments are all of one type (their label is not a
    tie-break), plus the share of all predictions that are one of the dialogue's types."""
    single = [i for i, t in enumerate(types) if len(t) == 1]
    m = classification_metrics([y_true[i] for i in single], [y_pred[i] for i in single], labels) if single else None
    present = [lab for lab in labels if m and m["per_class"][lab]["support"]]
    return {
        "single_type": m,
        "single_type_n": len(single),
        # classes with no single-type dialogue in the data say nothing either way
        "single_type_macro_f1_present": float(sum(m["per_class"][lab]["f1"] for lab in present) / len(present)) if present else None,
        "single_type_min_class_f1": min(((m["per_class"][lab]["f1"], lab) for lab in present), default=(None, None)),
        "accuracy_any": float(sum(p in t for p, t in zip(y_pred, types)) / len(types)) if types else 0.0,
    }


LOW_CONFIDENCE_GRID = [round(0.15 + 0.025 * i, 3) for i in range(23)]  # 0.15 … 0.70


def _low_confidence_threshold(conf: list[float], correct: list[bool], grid: list[float], max_accuracy: float,
                              max_share: float) -> dict[str, Any]:
    """The threshold of the ``model.low_confidence`` review flag, chosen on out-of-fold
    predictions: the largest one under which predictions are right at most ``max_accuracy`` of
    the time (an item more likely wrong than right) and which sends at most ``max_share`` of the
    conversations to review (a model's doubt must not flood the queue: issue 10). 0 = none fits."""
    table = []
    for th in grid:
        below = [ok for c, ok in zip(conf, correct) if c < th]
        table.append({"below": th, "share": len(below) / len(conf) if conf else 0.0,
                      "accuracy": sum(below) / len(below) if below else None})
    ok = [r["below"] for r in table if r["accuracy"] is not None and r["accuracy"] <= max_accuracy and r["share"] <= max_share]
    return {"threshold": max(ok) if ok else 0.0, "table": table, "max_accuracy_below": max_accuracy, "max_share": max_share}


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
        methods = ("fold_models_temperature", "temperature_curve", "temperature_curve+top_label")
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
            for m_, name_ in enumerate(methods):
                p_ = np.vstack([softmax(zs_out[j:j + 1], temps[j, min(m_, 1)]) for j in range(len(train))])
                if name_.endswith("+top_label"):
                    p_ = np.vstack([apply_top_label(p_[j:j + 1], top_params[outer[j]]) for j in range(len(train))])
                run[name_] = {"ece": expected_calibration_error(p_, y_train_idx)["ece"],
                              "nll": float(-np.mean(np.log(p_[np.arange(len(train)), y_train_idx] + 1e-12))),
                              "temperature": float(temps[:, min(m_, 1)].mean())}
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


# --------------------------------------------------------------------------- sentiment


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


TRAINERS = {"issue_type": train_issue_type, "sentiment": train_sentiment}
