"""Train the customer-emotion model from people's turn labels: ``zhijian train emotion``.

The labels are ``data/gold/emotion_turns.jsonl``: for every gold ``dev`` chat, the customer turns in
which two independent readers (and an adjudicator where they differed) saw the customer's own clear
anger, frustration, anxiety or distress — the anchor of ``empathy.missing`` (GOLD_RUBRIC.md). The
lexicon ``negative_emotion`` finds the wordings it was grown on; on chats read after it was grown it
found one such emotion in four or five (docs/ACCURACY.md, rounds 3 and 5). A turn model learns the
rest from the readers' judgements: a binary ``emotion`` / ``none`` classifier over the turn's tokens
and its character 1–3-grams, punctuation included (features.tokens_and_text_chars).

* Training uses the ``dev`` chats only. C is chosen by 5-fold cross-validation, folds by chat, on the
  out-of-fold average precision of the ``emotion`` turns; the out-of-fold figures at the anchor
  threshold (``models.emotion_anchor_min``) are the model's turn-level figures.
* Held out: the gold ``test`` chats have no turn labels, but they say whether the customer showed
  such emotion at all (``empathy_missing`` is ``null`` when not). The held-out figure is that,
  chat by chat: does any customer turn reach the threshold?

The result is a :class:`pipeline.models.training.TrainResult`: the CLI logs it to MLflow, registers a
version, and ``--promote`` installs it in ``models/emotion``, where the models stage loads it and
``empathy.missing`` anchors on it (lexicons/rules.yaml).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Callable

from ..config import ConfigError

NAME = "emotion"
LABELS_FILE = "emotion_turns.jsonl"
CLASSES = ("emotion", "none")
FEATURES = "tokens+text-chars"
DEFAULT_C_GRID = (0.3, 1.0, 3.0, 10.0)
CV_FOLDS = 5


def read_turn_labels(gold_dir: str | Path) -> dict[str, set[int]]:
    """Conversation id → the customer turns labelled as emotion (``emotion_turns.jsonl``)."""
    from ..gold.labels import read_jsonl

    path = Path(gold_dir) / LABELS_FILE
    if not path.exists():
        raise ConfigError(f"{path}: no turn labels — the emotion model trains on people's readings of the gold dev "
                          f"chats (data/gold/README.md, 'Turn labels'); pass the gold folder that holds {LABELS_FILE}")
    out: dict[str, set[int]] = {}
    for n, r in enumerate(read_jsonl(path), 1):
        turns = r.get("emotion_turns")
        if not isinstance(r.get("id"), str) or not isinstance(turns, list) or not all(isinstance(t, int) for t in turns):
            raise ConfigError(f"{path}:{n}: expected {{\"id\": str, \"emotion_turns\": [int, …]}}, got {r!r}")
        out[r["id"]] = set(turns)
    return out


def turn_examples(records: list[dict[str, Any]], prep, labels: dict[str, set[int]] | None = None):
    """The customer turns of ``records`` as (token lists, labels, (chat id, turn) keys); without
    ``labels`` every label is None. A turn with no tokens is left out (the stage predicts nothing there)."""
    X, y, keys = [], [], []
    for r in records:
        marked = (labels or {}).get(r["id"], set())
        for i, t in enumerate(r["turns"]):
            if t.get("role") != "customer":
                continue
            tokens = prep.tokens(str(t.get("text") or ""))
            if not tokens:
                continue
            X.append(tokens)
            y.append(("emotion" if i in marked else "none") if labels is not None else None)
            keys.append((r["id"], i))
    return X, y, keys


def _fold(chat_id: str, seed: int) -> int:
    return int(hashlib.blake2b(f"emotion:{seed}:{chat_id}".encode(), digest_size=8).hexdigest(), 16) % CV_FOLDS


def turn_figures(truth: list[bool], score: list[float], threshold: float) -> dict[str, Any]:
    """Precision, recall and F1 of ``score >= threshold`` against ``truth``, average precision and AUC."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    pred = [s >= threshold for s in score]
    tp = sum(p and t for p, t in zip(pred, truth))
    fp = sum(p and not t for p, t in zip(pred, truth))
    fn = sum(t and not p for p, t in zip(pred, truth))
    prec = tp / (tp + fp) if tp + fp else None
    rec = tp / (tp + fn) if tp + fn else None
    f1 = 2 * prec * rec / (prec + rec) if prec and rec else 0.0
    both = len(set(truth)) == 2
    return {"n": len(truth), "positives": sum(truth), "threshold": threshold, "tp": tp, "fp": fp, "fn": fn,
            "precision": None if prec is None else round(prec, 4), "recall": None if rec is None else round(rec, 4),
            "f1": round(f1, 4), "average_precision": round(float(average_precision_score(truth, score)), 4) if both else None,
            "auc": round(float(roc_auc_score(truth, score)), 4) if both else None}


def train_emotion(gold_dir: str | Path, config: dict, C_grid: tuple[float, ...] = DEFAULT_C_GRID, seed: int = 0,
                  log: Callable[[str], None] = print):
    """Fit the emotion model on the gold dev chats' turn labels; measure it out of fold and on the test chats."""
    from ..gold.evaluate import gold_files, load_gold
    from .features import TextPrep
    from .training import TrainResult, _fit, _pipeline

    threshold = float(config["models"]["emotion_anchor_min"])
    labels = read_turn_labels(gold_dir)
    dev = load_gold(gold_files(gold_dir, "dev"))
    missing = [r["id"] for r in dev if r["id"] not in labels]
    if missing:
        raise ConfigError(f"{Path(gold_dir) / LABELS_FILE}: no turn labels for {len(missing)} dev chats, e.g. {missing[:3]}; "
                          f"every dev chat needs its line (emotion_turns: [] when none)")
    prep = TextPrep(config)
    log(f"emotion: tokenizing the customer turns of {len(dev)} dev chats …")
    X, y, keys = turn_examples(dev, prep, labels)
    truth = [v == "emotion" for v in y]
    if sum(truth) < 20:
        raise ConfigError(f"{Path(gold_dir) / LABELS_FILE}: {sum(truth)} emotion turns — too few to learn from")
    folds = [_fold(cid, seed) for cid, _ in keys]

    def fit(idx: list[int], C: float):
        return _fit(_pipeline(FEATURES, C, "balanced", 2, seed, loss="logistic"), [X[i] for i in idx], [y[i] for i in idx],
                    [1.0] * len(idx))

    def emotion_proba(model, docs) -> list[float]:
        col = [str(c) for c in model.classes_].index("emotion")
        return model.predict_proba(docs)[:, col].tolist() if docs else []

    selection, oof_of = [], {}
    for C in C_grid:
        oof = [0.0] * len(X)
        for k in range(CV_FOLDS):
            train_idx = [i for i, f in enumerate(folds) if f != k]
            test_idx = [i for i, f in enumerate(folds) if f == k]
            for i, p in zip(test_idx, emotion_proba(fit(train_idx, C), [X[i] for i in test_idx])):
                oof[i] = p
        row = {"C": C, **turn_figures(truth, oof, threshold)}
        selection.append(row)
        oof_of[C] = oof
        log(f"  C={C}: out-of-fold average precision {row['average_precision']}, AUC {row['auc']}, "
            f"at {threshold}: P {row['precision']} R {row['recall']} F1 {row['f1']}")
    best = max(selection, key=lambda r: (r["average_precision"], -r["C"]))
    model = fit(list(range(len(X))), best["C"])

    test = load_gold(gold_files(gold_dir, "test"))
    Xt, _, keys_t = turn_examples(test, prep)
    proba_t = emotion_proba(model, Xt)
    top: dict[str, float] = {}
    for (cid, _), p in zip(keys_t, proba_t):
        top[cid] = max(top.get(cid, 0.0), p)
    shown = [r["gold"]["empathy_missing"] is not None for r in test]
    held_out = {"what": "chat level: any customer turn ≥ threshold vs the readers' 'the customer showed such emotion' "
                        "(gold empathy_missing not null)", **turn_figures(shown, [top.get(r["id"], 0.0) for r in test], threshold)}
    log(f"  held out ({len(test)} gold test chats, chat level): P {held_out['precision']} R {held_out['recall']} "
        f"F1 {held_out['f1']} at {threshold}; AUC {held_out['auc']}")

    def digest(items) -> str:
        return hashlib.sha256("\n".join(map(str, sorted(items))).encode()).hexdigest()

    training_data = {"gold_dir": str(gold_dir), "labels_file": LABELS_FILE, "train_split": "dev", "test_split": "test",
                     "train_chats": len(dev), "train_turns": len(y), "train_emotion_turns": sum(truth), "test_chats": len(test),
                     "train_hash": digest(f"{k}\t{v}" for k, v in zip(keys, y)), "test_hash": digest(r["id"] for r in test)}
    out_of_fold = {k: v for k, v in best.items() if k != "C"}
    metadata = {"name": NAME, "labels": list(CLASSES), "classes": [str(c) for c in model.classes_], "features": FEATURES,
                "turns": "customer", "anchor_min_confidence": threshold, "out_of_fold": out_of_fold, "held_out": held_out,
                "training_data": training_data,
                "params": {"C": best["C"], "class_weight": "balanced", "min_df": 2, "loss": "logistic", "seed": seed}}
    metrics = {"cv_average_precision": best["average_precision"], "cv_auc": best["auc"], "cv_f1": best["f1"],
               "test_chat_f1": held_out["f1"], "test_chat_auc": held_out["auc"]}
    # every dev turn's out-of-fold probability (chosen C): what the anchor threshold is chosen on (docs/ACCURACY.md)
    scores = [[cid, i, round(p, 4)] for (cid, i), p in zip(keys, oof_of[best["C"]])]
    report = {"selection": selection, "out_of_fold": out_of_fold, "held_out": held_out, "data": training_data,
              "out_of_fold_scores": scores}
    return TrainResult(name=NAME, model=model, metadata=metadata, params=metadata["params"], metrics=metrics, report=report)
