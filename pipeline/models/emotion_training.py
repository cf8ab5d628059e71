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
# the gold folders whose dev turn labels train the shipped model. data/gold_weibo has turn labels too (round 7); adding
# them moved nothing on JD dev out of fold (docs/ACCURACY.md, "Round 7"), so the shipped model is the JD one
EMOTION_GOLD_DIRS = ("data/gold",)


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


def train_emotion(gold_dirs: str | Path | list, config: dict, C_grid: tuple[float, ...] = DEFAULT_C_GRID, seed: int = 0,
                  log: Callable[[str], None] = print, gold_weights: tuple[float, ...] | None = None):
    """Fit the emotion model on the dev chats' turn labels of one or more gold folders (JD, Weibo);
    measure it out of fold and on each folder's test chats. The first folder's test figure is the model's
    ``held_out``; every folder's is in ``held_out_by_gold``. ``gold_weights`` (one per folder, default 1) weighs
    each folder's turns in training."""
    from ..gold.evaluate import gold_files, load_gold
    from .features import TextPrep
    from .training import TrainResult, _fit, _pipeline

    dirs = [Path(gold_dirs)] if isinstance(gold_dirs, (str, Path)) else [Path(d) for d in gold_dirs]
    threshold = float(config["models"]["emotion_anchor_min"])
    labels: dict[str, set[int]] = {}
    dev: list[dict[str, Any]] = []
    dev_chats: dict[str, int] = {}
    weights = list(gold_weights or [1.0] * len(dirs))
    if len(weights) != len(dirs):
        raise ConfigError(f"{len(weights)} gold weights for {len(dirs)} gold folders: give one weight per folder")
    weight_of: dict[str, float] = {}
    for gold_dir, weight in zip(dirs, weights):
        part = load_gold(gold_files(gold_dir, "dev"))
        marked = read_turn_labels(gold_dir)
        missing = [r["id"] for r in part if r["id"] not in marked]
        if missing:
            raise ConfigError(f"{gold_dir / LABELS_FILE}: no turn labels for {len(missing)} dev chats, e.g. {missing[:3]}; "
                              f"every dev chat needs its line (emotion_turns: [] when none)")
        labels.update(marked)
        weight_of.update((r["id"], float(weight)) for r in part)
        dev += part
        dev_chats[str(gold_dir)] = len(part)
    prep = TextPrep(config)
    log(f"emotion: tokenizing the customer turns of {len(dev)} dev chats …")
    X, y, keys = turn_examples(dev, prep, labels)
    truth = [v == "emotion" for v in y]
    if sum(truth) < 20:
        raise ConfigError(f"{', '.join(str(d / LABELS_FILE) for d in dirs)}: {sum(truth)} emotion turns — too few to learn from")
    folds = [_fold(cid, seed) for cid, _ in keys]

    def fit(idx: list[int], C: float):
        return _fit(_pipeline(FEATURES, C, "balanced", 2, seed, loss="logistic"), [X[i] for i in idx], [y[i] for i in idx],
                    [weight_of[keys[i][0]] for i in idx])

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

    held_by: dict[str, dict[str, Any]] = {}
    test_ids: list[str] = []
    for gold_dir in dirs:
        test = load_gold(gold_files(gold_dir, "test"))
        test_ids += [r["id"] for r in test]
        Xt, _, keys_t = turn_examples(test, prep)
        top: dict[str, float] = {}
        for (cid, _), p in zip(keys_t, emotion_proba(model, Xt)):
            top[cid] = max(top.get(cid, 0.0), p)
        shown = [r["gold"]["empathy_missing"] is not None for r in test]
        held_by[str(gold_dir)] = {"what": "chat level: any customer turn ≥ threshold vs the readers' 'the customer showed "
                                          "such emotion' (gold empathy_missing not null)",
                                  **turn_figures(shown, [top.get(r["id"], 0.0) for r in test], threshold)}
        fig = held_by[str(gold_dir)]
        log(f"  held out ({len(test)} {gold_dir} test chats, chat level): P {fig['precision']} R {fig['recall']} "
            f"F1 {fig['f1']} at {threshold}; AUC {fig['auc']}")
    held_out = held_by[str(dirs[0])]

    def digest(items) -> str:
        return hashlib.sha256("\n".join(map(str, sorted(items))).encode()).hexdigest()

    training_data = {"gold_dir": str(dirs[0]), "gold_dirs": [str(d) for d in dirs], "labels_file": LABELS_FILE,
                     "train_split": "dev", "test_split": "test", "train_chats": len(dev), "train_chats_by_gold": dev_chats,
                     "train_turns": len(y), "train_emotion_turns": sum(truth), "test_chats": held_out["n"],
                     "test_chats_by_gold": {d: f["n"] for d, f in held_by.items()},
                     "train_hash": digest(f"{k}\t{v}" for k, v in zip(keys, y)), "test_hash": digest(test_ids)}
    out_of_fold = {k: v for k, v in best.items() if k != "C"}
    metadata = {"name": NAME, "labels": list(CLASSES), "classes": [str(c) for c in model.classes_], "features": FEATURES,
                "turns": "customer", "anchor_min_confidence": threshold, "out_of_fold": out_of_fold, "held_out": held_out,
                "held_out_by_gold": held_by, "training_data": training_data,
                "params": {"C": best["C"], "gold_weights": weights, "class_weight": "balanced", "min_df": 2, "loss": "logistic", "seed": seed}}
    metrics = {"cv_average_precision": best["average_precision"], "cv_auc": best["auc"], "cv_f1": best["f1"],
               "test_chat_f1": held_out["f1"], "test_chat_auc": held_out["auc"]}
    # every dev turn's out-of-fold probability (chosen C): what the anchor threshold is chosen on (docs/ACCURACY.md)
    scores = [[cid, i, round(p, 4)] for (cid, i), p in zip(keys, oof_of[best["C"]])]
    report = {"selection": selection, "out_of_fold": out_of_fold, "held_out": held_out, "held_out_by_gold": held_by,
              "data": training_data,
              "out_of_fold_scores": scores}
    return TrainResult(name=NAME, model=model, metadata=metadata, params=metadata["params"], metrics=metrics, report=report)
