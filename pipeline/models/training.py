"""What the trainings share: the options a run may vary, the result it returns, the estimator
(tf-idf over the pipeline's tokens → :class:`~pipeline.models.calibration.SoftmaxLinear`), folds by
dialogue, baselines and the low-confidence threshold.

The trainings themselves: :mod:`pipeline.models.issue_type_training` and
:mod:`pipeline.models.sentiment_training`; :mod:`pipeline.models.train` is the entry point
(``TRAINERS``, ``default_options``).
"""

from __future__ import annotations

import hashlib
import warnings
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from .datasets import (
    TAXONOMY_PATH,
    DataPaths,
)
from .evaluate import classification_metrics
from .features import ANALYZERS

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
