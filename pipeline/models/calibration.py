"""Calibrated linear classifiers: a linear model whose probabilities are a softmax over its decision
values divided by a fitted temperature.

Why a temperature and not ``CalibratedClassifierCV``: the issue-type model is a linear SVM (the best
of the measured families on real chats, docs/MODELS.md) and has no probabilities of its own;
isotonic / Platt calibration per class on ~600 dialogues hurt accuracy (issue 11), while one
scalar fitted on out-of-fold decision values keeps the ranking — and so every prediction — exactly
as it was, and only makes "0.8" mean "right about 8 times in 10" (Guo et al., 2017).

A temperature belongs to a model trained on a given amount of data: the model refit on 100 % has
larger decision values than the fold models (80 %) whose out-of-fold decisions a temperature is
fitted on, so it needs a larger temperature than theirs. The shipped temperature is read off a
curve of temperatures fitted at several training sizes (:func:`temperature_curve`; chosen by nested
CV on the training split, docs/MODELS.md).

:class:`SoftmaxLinear` stores the temperature inside the model (``coef_`` and ``intercept_`` are the
raw ones divided by it), so the pipeline's fast path (predict.LinearTextModel) and scikit-learn's
``predict_proba`` give the same calibrated probabilities with no extra parameter to carry.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from .top_label import apply_top_label, fit_top_label  # noqa: F401  (fit_top_label: the calibration API in one place)

LOSSES = ("svm", "logistic")


def softmax(z: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of decision values ``z`` (n, k) / ``temperature``; a binary model's single
    column z becomes [1 − σ(z), σ(z)]."""
    z = np.asarray(z, dtype=np.float64)
    if z.ndim == 1:
        z = np.column_stack([-z / 2, z / 2])
    z = z / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(decisions: np.ndarray, y_index: np.ndarray, bounds: tuple[float, float] = (1e-3, 1e3)) -> float:
    """The temperature that minimises the negative log-likelihood of the true classes
    (``y_index``: column of the true class per row) under ``softmax(decisions / T)``."""
    from scipy.optimize import minimize_scalar

    decisions = np.asarray(decisions, dtype=np.float64)
    y_index = np.asarray(y_index, dtype=np.intp)
    if len(y_index) == 0:
        return 1.0

    def nll(log_t: float) -> float:
        p = softmax(decisions, float(np.exp(log_t)))
        return float(-np.mean(np.log(p[np.arange(len(y_index)), y_index] + 1e-12)))

    res = minimize_scalar(nll, bounds=(np.log(bounds[0]), np.log(bounds[1])), method="bounded", options={"xatol": 1e-4})
    return float(np.exp(res.x))


def temperature_curve(points: list[tuple[float, float]]) -> dict[str, Any]:
    """The temperature as a function of the training size: ``log T = a + b · log n``, least
    squares over ``points`` = (mean training units of the fold models, temperature fitted on their
    out-of-fold decisions), e.g. from 2-, 3-, 5- and 10-fold CV (50 / 67 / 80 / 90 % of the data).

    Why: a linear model trained on more data has larger decision values, so the temperature that
    calibrates fold models trained on 80 % is too sharp for the model refit on 100 % (issue 11:
    held-out top bin at 0.97 confidence, 0.86 right). :func:`temperature_at` reads the curve at the
    refit model's size. One point (or one size) gives a flat curve: that temperature everywhere."""
    pts = [(float(n), float(t)) for n, t in points if n > 0 and t > 0]
    if not pts:
        return {"points": [], "intercept": 0.0, "slope": 0.0}
    x = np.log([n for n, _ in pts])
    ly = np.log([t for _, t in pts])
    if len(set(x.round(9).tolist())) < 2:
        return {"points": [list(p) for p in pts], "intercept": float(ly.mean()), "slope": 0.0}
    slope, intercept = np.polyfit(x, ly, 1)
    return {"points": [list(p) for p in pts], "intercept": float(intercept), "slope": float(slope)}


def temperature_at(curve: dict[str, Any], n: float) -> float:
    """The temperature of :func:`temperature_curve` for a model trained on ``n`` units."""
    if not curve.get("points"):
        return 1.0
    return float(np.exp(curve["intercept"] + curve["slope"] * np.log(float(n))))


def expected_calibration_error(proba: np.ndarray, y_index: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """ECE of the top-class confidence in ``bins`` equal-width bins, with the reliability table
    (per bin: n, mean confidence, accuracy) a calibration plot draws."""
    proba = np.asarray(proba, dtype=np.float64)
    y_index = np.asarray(y_index, dtype=np.intp)
    if not len(y_index):
        return {"ece": None, "bins": []}
    conf = proba.max(axis=1)
    ok = proba.argmax(axis=1) == y_index
    table, ece = [], 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        m = (conf > lo) & (conf <= hi) if b else (conf >= lo) & (conf <= hi)
        if not m.any():
            continue
        gap = abs(float(ok[m].mean()) - float(conf[m].mean()))
        ece += float(m.mean()) * gap
        table.append({"from": lo, "to": hi, "n": int(m.sum()), "confidence": float(conf[m].mean()), "accuracy": float(ok[m].mean())})
    return {"ece": ece, "bins": table}


class SoftmaxLinear(ClassifierMixin, BaseEstimator):
    """A linear classifier (``loss="svm"``: LinearSVC, ``"logistic"``: LogisticRegression) whose
    probabilities are ``softmax(decision / temperature)``, then, when set, the top-label map
    (top_label.py). ``set_temperature`` / ``set_top_label`` after fitting; the predictions never
    change with either."""

    def __init__(self, loss: str = "svm", C: float = 1.0, class_weight: Any = None, max_iter: int = 5000,
                 random_state: int | None = 0, temperature: float = 1.0, top_label: dict[str, float] | None = None):
        self.loss = loss
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.random_state = random_state
        self.temperature = temperature
        self.top_label = top_label

    def fit(self, X, y, sample_weight=None):
        from sklearn.linear_model import LogisticRegression
        from sklearn.svm import LinearSVC

        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.loss == "svm":
            base = LinearSVC(C=self.C, class_weight=self.class_weight, max_iter=self.max_iter, random_state=self.random_state)
        else:
            base = LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=self.max_iter, random_state=self.random_state)
        base.fit(X, y, sample_weight=sample_weight)
        self.classes_ = base.classes_
        self.raw_coef_ = np.asarray(base.coef_, dtype=np.float64)
        self.raw_intercept_ = np.asarray(base.intercept_, dtype=np.float64)
        self.n_features_in_ = self.raw_coef_.shape[1]
        return self

    def set_temperature(self, temperature: float) -> "SoftmaxLinear":
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)
        return self

    def set_top_label(self, params: dict[str, float] | None) -> "SoftmaxLinear":
        self.top_label = {"a": float(params["a"]), "b": float(params["b"])} if params else None
        return self

    @property
    def coef_(self) -> np.ndarray:
        return self.raw_coef_ / self.temperature

    @property
    def intercept_(self) -> np.ndarray:
        return self.raw_intercept_ / self.temperature

    def raw_decision_function(self, X) -> np.ndarray:
        z = X @ self.raw_coef_.T + self.raw_intercept_
        return np.asarray(z).ravel() if z.shape[1] == 1 else np.asarray(z)

    def decision_function(self, X) -> np.ndarray:
        return self.raw_decision_function(X) / self.temperature

    def predict_proba(self, X) -> np.ndarray:
        # getattr: a model pickled before the top-label step has no such attribute
        return apply_top_label(softmax(self.raw_decision_function(X), self.temperature), getattr(self, "top_label", None))

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]
