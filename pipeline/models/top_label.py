"""Top-label calibration: the shape step after the temperature (issue 11).

One temperature scales every decision alike. On held-out chats the issue-type model's top bin was
still over-confident (0.97 said, 0.85 right) while the middle bins were under-confident
(docs/MODELS.md) — a shape, which a map of the top class's confidence alone can bend
(Gupta & Ramdas, "Top-label calibration", ICLR 2022). numpy only, so inspecting (predict.py,
inference.py) needs neither scikit-learn nor scipy to apply it.
"""

from __future__ import annotations

import math

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


def top_label_row(p: np.ndarray, params: dict[str, float]) -> np.ndarray:
    """One row of probabilities with its top class re-mapped by :func:`fit_top_label`'s parameters
    and the other classes rescaled to fill the rest in their own proportions. The top class stays
    the top (its new value is floored at the largest rescaled other), so no prediction changes.
    Scalar arithmetic: inspecting calls it once per conversation, where numpy's per-call cost on
    eleven numbers would be most of the work."""
    values = p.tolist()
    k = max(range(len(values)), key=values.__getitem__)
    c = values[k]
    rest = 1.0 - c
    if rest <= 0:  # all the mass on one class: nothing to move
        return np.asarray(p, dtype=np.float64)
    x = math.log(min(max(c, 1e-6), 1 - 1e-6)) - math.log1p(-min(max(c, 1e-6), 1 - 1e-6))
    c_new = 1.0 / (1.0 + math.exp(-(params["a"] * x + params["b"])))
    second = max((v for j, v in enumerate(values) if j != k), default=0.0)
    # the smallest top value that keeps the top: c' ≥ second · (1 − c') / (1 − c)
    c_new = max(c_new, second / max(rest + second, 1e-12) * (1 + 1e-9))
    out = np.asarray(p, dtype=np.float64) * ((1.0 - c_new) / rest)
    out[k] = c_new
    return out


def apply_top_label(proba: np.ndarray, params: dict[str, float] | None) -> np.ndarray:
    """:func:`top_label_row` for every row of ``proba`` (n, k); ``proba`` itself without ``params``."""
    proba = np.asarray(proba, dtype=np.float64)
    if not params or proba.size == 0:
        return proba
    return np.vstack([top_label_row(row, params) for row in proba])
