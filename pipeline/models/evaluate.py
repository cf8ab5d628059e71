"""Evaluation: per-class precision / recall / F1, macro-F1, confusion matrix, baselines.

Everything reported here is computed on the fixed held-out split (datasets.split_of) with a model
fitted on the training split only.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Sequence


def classification_metrics(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    labels = list(labels)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return {
        "n": len(y_true),
        "accuracy": float(accuracy_score(y_true, y_pred)) if len(y_true) else 0.0,
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "per_class": {
            lab: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, lab in enumerate(labels)
        },
        "labels": labels,
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def majority_baseline(y_train: Sequence[str], y_test: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    top = Counter(y_train).most_common(1)[0][0]
    out = classification_metrics(y_test, [top] * len(y_test), labels)
    out["predicts"] = top
    return out


def flat_metrics(prefix: str, m: dict[str, Any]) -> dict[str, float]:
    """MLflow metrics from a classification_metrics dict (label names are kept as they are)."""
    out = {f"{prefix}_macro_f1": m["macro_f1"], f"{prefix}_accuracy": m["accuracy"]}
    for lab, v in m["per_class"].items():
        for k in ("precision", "recall", "f1"):
            out[f"{prefix}_{k}_{lab}"] = v[k]
    return out


def confusion_figure(m: dict[str, Any], title: str):
    """A matplotlib Figure of the confusion matrix (rows: truth, columns: prediction)."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    plt.rcParams["font.sans-serif"] = ["Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Zen Hei", "SimHei", "DejaVu Sans"]
    plt.rcParams["axes.unicode_minus"] = False
    labels = m["labels"]
    cm = np.array(m["confusion"])
    n = len(labels)
    fig, ax = plt.subplots(figsize=(1.0 + 0.7 * n, 0.8 + 0.6 * n), dpi=100)
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(n), labels, rotation=45, ha="right")
    ax.set_yticks(range(n), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    top = cm.max() if cm.size else 0
    for i in range(n):
        for j in range(n):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", color="white" if cm[i, j] > top / 2 else "black", fontsize=8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a missing CJK glyph is not worth a warning here
        fig.tight_layout()
    return fig


def markdown_table(m: dict[str, Any], baselines: dict[str, dict[str, Any]] | None = None) -> str:
    """Per-class P / R / F1 as a Markdown table (docs/MODELS.md), with baselines' F1 beside."""
    baselines = baselines or {}
    head = "| class | support | precision | recall | F1 |" + "".join(f" F1 {b} |" for b in baselines)
    sep = "| --- | ---: | ---: | ---: | ---: |" + " ---: |" * len(baselines)
    rows = [head, sep]
    for lab, v in m["per_class"].items():
        extra = "".join(f" {b['per_class'][lab]['f1']:.2f} |" for b in baselines.values())
        rows.append(f"| {lab} | {v['support']} | {v['precision']:.2f} | {v['recall']:.2f} | {v['f1']:.2f} |{extra}")
    extra = "".join(f" **{b['macro_f1']:.3f}** |" for b in baselines.values())
    rows.append(f"| **macro-F1** | {m['n']} | | | **{m['macro_f1']:.3f}** |{extra}")
    extra = "".join(f" {b['accuracy']:.3f} |" for b in baselines.values())
    rows.append(f"| accuracy | | | | {m['accuracy']:.3f} |{extra}")
    return "\n".join(rows)


def calibration_figure(calibration: dict[str, Any], title: str):
    """A reliability diagram: per confidence bin, the accuracy against the mean confidence (the
    diagonal is perfect calibration), with each bin's count; the ECE in the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bins = calibration.get("bins") or []
    fig, ax = plt.subplots(figsize=(4.8, 4.2), dpi=110)
    ax.plot([0, 1], [0, 1], color="#999", lw=1, ls="--", label="perfect")
    if bins:
        ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker="o", color="#1f5fa8",
                label=f"model (ECE {calibration['ece']:.3f})")
        for b in bins:
            ax.annotate(str(b["n"]), (b["confidence"], b["accuracy"]), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig
