"""Top-label calibration: the shape step after the temperature (issue 11).

One temperature scales every decision alike. On held-out chats the issue-type model's top bin was
still over-confident (0.97 said, 0.85 right) while the middle bins were under-confident
(docs/MODELS.md) — a shape, which a map of the top class's confidence alone can bend
(Gupta & Ramdas, "Top-label calibration", ICLR 2022). numpy only, so inspecting (predict.py,
inference.py) needs neither scikit-learn nor scipy to apply it.
"""

from __future__ import annotations

import numpy as np


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(p) - np.log1p(-p)


def fit_top_label(confidence: np.ndarray, correct: np.ndarray) -> dict[str, float]:
    """Top-label calibration (Gupta & Ramdas, 2021): ``c' = σ(a · logit(c) + b)`` fitted by
    log-likelihood on (confidence of the top class, was it right) pairs — out-of-fold ones. ``a``
    bends the shape (< 1 pulls confident answers down and unsure ones up), ``b`` shifts it."""
    from scipy.optimize import minimize

    x = _logit(confidence)
    t = np.asarray(correct, dtype=np.float64)
    if len(t) == 0 or t.min() == t.max():
        return {"a": 1.0, "b": 0.0}

    def nll(ab: np.ndarray) -> float:
        z = ab[0] * x + ab[1]
        return float(np.mean(np.logaddexp(0.0, z) - t * z))

    res = minimize(nll, np.array([1.0, 0.0]), method="L-BFGS-B", bounds=[(0.05, 20.0), (-20.0, 20.0)])
    return {"a": float(res.x[0]), "b": float(res.x[1])}


def apply_top_label(proba: np.ndarray, params: dict[str, float] | None) -> np.ndarray:
    """``proba`` with each row's top class re-mapped by :func:`fit_top_label`'s parameters and the
    other classes rescaled to fill the rest in their own proportions. The top class stays the top
    (its new value is never below the largest rescaled other), so no prediction changes."""
    proba = np.asarray(proba, dtype=np.float64)
    if not params or proba.size == 0:
        return proba
    top = proba.argmax(axis=1)
    rows = np.arange(len(proba))
    c = proba[rows, top]
    c_new = 1.0 / (1.0 + np.exp(-(params["a"] * _logit(c) + params["b"])))
    rest = 1.0 - c
    second = np.sort(proba, axis=1)[:, -2] if proba.shape[1] > 1 else np.zeros(len(proba))
    # the smallest top value that keeps the top: c' ≥ second · (1 − c') / (1 − c)
    floor = np.where(rest > 0, second / np.maximum(rest + second, 1e-12), 0.0)
    c_new = np.where(rest > 0, np.maximum(c_new, floor * (1 + 1e-9)), c)  # a row with all its mass on one class stays so
    scale = np.where(rest > 0, (1.0 - c_new) / np.maximum(rest, 1e-12), 0.0)
    out = proba * scale[:, None]
    out[rows, top] = c_new
    return out
