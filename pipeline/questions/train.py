"""Train a question model from people's answers: ``zhijian train question ID``.

Labels come from the gold set's human readings (``data/gold``: the rule's ``gold_label``, mapped to
its choices by ``gold_map`` — 问题是否解决 reads ``resolved``). Training uses the ``dev`` split only;
the ``test`` split is the held-out figure (macro-F1, accuracy, Cohen's κ against the people, and the
majority-class baseline beside them, because most real chats are resolved). The features are the
pipeline's own (tokens, findings, end mood: :func:`pipeline.questions.question_document`), so the
chats are inspected first. C is chosen by cross-validation on dev, folds by conversation id.

The result is a :class:`pipeline.models.train.TrainResult`: ``zhijian train question`` logs it to
MLflow and registers a version like the other models; ``--promote`` installs it in ``models/``.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Any, Callable

from ..config import ConfigError
from . import question_document, threshold

DEFAULT_C_GRID = (0.1, 0.3, 1.0, 3.0)
CV_FOLDS = 5
LABELS_KEY = "question_answers"  # the field of an exported question_answers.jsonl record (pipeline/workbench/question_labels.py)


def question_rules(config: dict) -> list:
    """The ``question`` rules of the configured rules.yaml."""
    from ..config import resolve_path
    from ..lexicons import LexiconSet
    from ..normalize import Normalizer
    from ..rules import RuleSet

    lexicon_dir = resolve_path(config["paths"]["lexicons"])
    lexicons = LexiconSet.load(lexicon_dir, Normalizer(lexicon_dir / "char_variants.txt"))
    rules = RuleSet.load(resolve_path(config["paths"]["rules"]), lexicons, config).rules
    return [r for r in rules if r.kind == "question"]


def find_rule(config: dict, question_id: str, database: tuple | None = None):
    """``(rule, definition)``: the ``question`` rule ``question_id`` of the configured rules.yaml
    (definition None), else — ``database`` being :func:`pipeline.questions.workbench.read_database`'s
    answer — the workbench's question of that key as the rule rules.yaml lines would make it, and its
    definition (what the bundle carries)."""
    from .workbench import rule_for_training

    questions = question_rules(config)
    for r in questions:
        if r.id == question_id:
            return r, None
    where = config["paths"]["rules"]
    if database is None:
        raise ConfigError(f"no question rule {question_id!r} in {where}; questions: {[r.id for r in questions]}. "
                          f"A question added in the workbench (评分表问题 page) trains from the workbench database: "
                          f"zhijian train question {question_id} --database-url URL")
    definition, _, info = database
    if definition is None:
        raise ConfigError(f"question {question_id!r} is neither a rule of {where} nor a question in the workbench database "
                          f"{info['path']}: add it on the workbench's 评分表问题 page (or as a rule of kind question in "
                          f"rules.yaml), answer it on enough conversations, then train again")
    rule = rule_for_training(definition, config)
    taken = next((r.id for r in questions if r.params.get("model") == rule.params["model"]), None)
    if taken:
        raise ConfigError(f"workbench question {question_id}: its model folder {rule.params['model']} is the model of {taken} "
                          f"in {where}; rename one of the two questions")
    return rule, definition


def _documents(records: list[dict[str, Any]], rule, config: dict, inspector, answer_of) -> tuple[list[list[str]], list[str], list[str]]:
    """``(documents, answers, ids)`` of the records ``answer_of(record)`` gives one of the rule's
    choices for (None or another value: the record is not about this question)."""
    from ..ingest import Validator
    from ..run import Inspector
    from ..schema import Reject

    p = rule.params
    inspector = inspector or Inspector(config)
    validator = Validator(config)
    docs, answers, ids = [], [], []
    for r in records:
        answer = answer_of(r)
        if answer not in p["choices"]:
            continue  # a value the question does not ask about
        conv = validator.validate({k: v for k, v in r.items() if k not in ("gold", "annotations", LABELS_KEY)})
        if isinstance(conv, Reject):
            raise ConfigError(f"conversation {r.get('id')} was rejected: {conv.reason}")
        for _, stage in inspector.stages:
            stage(conv)
        docs.append(question_document(conv, p.get("reads", "whole")))
        answers.append(answer)
        ids.append(r["id"])
    return docs, answers, ids


def labelled(records: list[dict[str, Any]], rule, config: dict, inspector=None) -> tuple[list[list[str]], list[str], list[str]]:
    """``(documents, answers, ids)`` of the gold records that carry the rule's gold label."""
    p = rule.params
    if not p.get("gold_label"):
        raise ConfigError(f"question {rule.id} has no gold_label: name the gold label its answers come from (e.g. resolved)")
    gold_map = p.get("gold_map") or {}

    def answer_of(r: dict[str, Any]):
        value = r["gold"].get(p["gold_label"], "__missing__")
        if value == "__missing__":
            raise ConfigError(f"{r['id']}: gold has no label {p['gold_label']!r}")
        return gold_map.get(value, value)

    return _documents(records, rule, config, inspector, answer_of)


def read_extra_labels(path: str | Path, question_id: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The records of an exported ``question_answers.jsonl`` (``zhijian export-labels``) that answer
    ``question_id``, and the file's description for the metadata (path, sha256, rows)."""
    import orjson

    path = Path(path)
    if path.is_dir():  # the --out folder of zhijian export-labels, as `train issue-type --extra-labels labels/` takes it
        path = path / "question_answers.jsonl"
    if not path.is_file():
        raise ConfigError(f"--extra-labels {path}: no such file; write one with `zhijian export-labels --out DIR` "
                          f"(DIR/question_answers.jsonl)")
    data = path.read_bytes()
    records = []
    for n, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            r = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            raise ConfigError(f"{path}:{n}: not valid JSON ({e}); export the file again with zhijian export-labels") from None
        if not isinstance(r, dict) or not isinstance(r.get(LABELS_KEY), dict) or "id" not in r:
            raise ConfigError(f"{path}:{n}: no '{LABELS_KEY}' — is this the question_answers.jsonl zhijian export-labels writes?")
        if question_id in r[LABELS_KEY]:
            records.append(r)
    return records, {"path": str(path), "sha256": hashlib.sha256(data).hexdigest(), "rows": len(records)}


def _people_answer(question_id: str):
    return lambda r: (r[LABELS_KEY].get(question_id) or {}).get("answer")


def _extra_split(cid: str, percent: int) -> bool:
    """A question with no gold label is held out on its people's answers: ``percent`` % of the
    conversations (``questions.held_out_percent``; by a hash of the id: a conversation stays on its
    side from one training to the next)."""
    return int.from_bytes(hashlib.blake2b(f"qheld:{cid}".encode(), digest_size=8).digest(), "big") % 100 < percent


def _fold(cid: str, seed: int) -> int:
    return int.from_bytes(hashlib.blake2b(f"qfold:{seed}:{cid}".encode(), digest_size=8).digest(), "big") % CV_FOLDS


def figures(truth: list[str], pred: list[str], classes: list[str]) -> dict[str, Any]:
    """Macro-F1, accuracy, κ and per-class precision / recall / F1 of predicted answers."""
    from ..stats import cohen_kappa

    per = {}
    for c in classes:
        tp = sum(t == c and p == c for t, p in zip(truth, pred))
        fp = sum(t != c and p == c for t, p in zip(truth, pred))
        fn = sum(t == c and p != c for t, p in zip(truth, pred))
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        per[c] = {"n": tp + fn, "precision": round(prec, 4), "recall": round(rec, 4),
                  "f1": round(2 * prec * rec / (prec + rec), 4) if prec + rec else 0.0}
    present = [c for c in classes if per[c]["n"]]
    kappa = cohen_kappa(truth, pred)
    return {"n": len(truth), "macro_f1": round(sum(per[c]["f1"] for c in present) / max(len(present), 1), 4),
            "accuracy": round(sum(t == p for t, p in zip(truth, pred)) / max(len(truth), 1), 4),
            "kappa": None if kappa is None else round(kappa, 4), "per_class": per}


def train_question(question_id: str, gold_dir: str | Path, config: dict, C_grid: tuple[float, ...] = DEFAULT_C_GRID,
                   seed: int = 0, log: Callable[[str], None] = print, extra_labels: tuple[str | Path, ...] = (),
                   database_url: str | None = None):
    """Fit the question's model. ``extra_labels``: exported workbench answers (question_answers.jsonl)
    added to the **training** data only — a conversation of the held-out test split is never trained
    on (left out and counted), nor one the gold set already labels. ``database_url``: the workbench
    database, read straight (the same records, no export step): people's answers as another source
    like ``extra_labels``, and the question itself when rules.yaml has no rule of that id (a question
    a QA lead added in the workbench; its bundle then carries the definition: ``metadata.definition``).
    A question with no ``gold_label`` trains on people's answers alone, held out on a fixed share of
    them (:func:`_extra_split`), and needs ``questions.min_answers`` answered conversations."""
    import numpy as np

    from ..gold.evaluate import gold_files, load_gold
    from ..models.train import TrainResult, _fit, _pipeline
    from ..run import Inspector
    from .workbench import DEFINITION_KEY, read_database

    settings = config["questions"]
    percent = int(settings["held_out_percent"])
    database = read_database(database_url, question_id) if database_url else None
    rule, definition = find_rule(config, question_id, database)
    p = rule.params
    inspector = Inspector(config)
    extra = [read_extra_labels(f, question_id) for f in extra_labels] + ([database[1:]] if database else [])
    sources = ", ".join(info["path"] for _, info in extra)
    if p.get("gold_label"):
        log(f"{question_id}: inspecting the gold chats for their features …")
        X, y, ids = labelled(load_gold(gold_files(gold_dir, "dev")), rule, config, inspector)
        Xt, yt, ids_t = labelled(load_gold(gold_files(gold_dir, "test")), rule, config, inspector)
        splits = {"train_split": "dev", "test_split": "test"}
    elif extra:
        X, y, ids, Xt, yt, ids_t = [], [], [], [], [], []
        splits = {"train_split": f"people's answers ({100 - percent} % by conversation id)",
                  "test_split": f"people's answers ({percent} % by conversation id)"}
    else:
        raise ConfigError(f"question {question_id} has no gold_label, no --database-url and no --extra-labels: answer it in "
                          f"the workbench and pass --database-url URL (the workbench's database), or export the answers "
                          f"(zhijian export-labels --out DIR) and pass --extra-labels DIR/question_answers.jsonl")
    held_out, known = set(ids_t), set(ids)
    extra_meta = []
    for records, info in extra:
        use = [r for r in records if r["id"] not in held_out and r["id"] not in known]
        docs, answers, rids = _documents(use, rule, config, inspector, _people_answer(question_id))
        info.update(skipped_held_out=sum(r["id"] in held_out for r in records),
                    skipped_in_gold=sum(r["id"] in known and r["id"] not in held_out for r in records),
                    used=0, held_out_here=0, answers=dict(Counter(answers)))
        for doc, answer, cid in zip(docs, answers, rids):
            to_test = not p.get("gold_label") and _extra_split(cid, percent)
            for bucket, value in zip((Xt, yt, ids_t) if to_test else (X, y, ids), (doc, answer, cid)):
                bucket.append(value)
            info["held_out_here" if to_test else "used"] += 1
        known.update(rids)
        extra_meta.append(info)
        log(f"  {info['path']}: {info['used']} answers added to training"
            + (f", {info['held_out_here']} held out" if info["held_out_here"] else "")
            + (f"; left out: {info['skipped_held_out']} of the held-out test" if info["skipped_held_out"] else "")
            + (f", {info['skipped_in_gold']} already labelled (the gold set or a source above)" if info["skipped_in_gold"] else ""))
    more = (f"answer {question_id} on more conversations in the workbench (its 待标注 queue: /questions/{question_id}/queue) "
            f"and train again")
    if not p.get("gold_label") and len(y) + len(yt) < int(settings["min_answers"]):
        raise ConfigError(f"{question_id}: {len(y) + len(yt)} conversations answered by people in {sources or 'no source'}; "
                          f"training needs at least {settings['min_answers']} (questions.min_answers): {more}")
    if len(set(y)) < 2:
        raise ConfigError(f"{question_id}: the training answers in {sources or 'the gold set'} hold one class only "
                          f"({dict(Counter(y))}) — nothing to learn; {more}")
    if not yt:
        raise ConfigError(f"{question_id}: no held-out answers in {sources or 'the gold set'} to measure the model on; {more}")
    classes = [c for c in p["choices"] if c in set(y)]
    folds = [_fold(i, seed) for i in ids]

    def fit(idx: list[int], C: float):
        return _fit(_pipeline("tagged", C, "balanced", 2, seed, loss="logistic"), [X[i] for i in idx], [y[i] for i in idx],
                    [1.0] * len(idx))

    selection = []
    for C in C_grid:
        oof = [None] * len(X)
        for k in range(CV_FOLDS):
            train_idx = [i for i, f in enumerate(folds) if f != k]
            test_idx = [i for i, f in enumerate(folds) if f == k]
            if not test_idx:
                continue
            model = fit(train_idx, C)
            for i, pred in zip(test_idx, model.predict([X[i] for i in test_idx])):
                oof[i] = str(pred)
        row = {"C": C, **figures(y, oof, classes)}
        selection.append(row)
        log(f"  C={C}: CV macro-F1 {row['macro_f1']:.3f}, accuracy {row['accuracy']:.3f}")
    best = max(selection, key=lambda r: (r["macro_f1"], -r["C"]))
    model = fit(list(range(len(X))), best["C"])
    proba = model.predict_proba(Xt) if Xt else np.zeros((0, len(classes)))
    model_classes = [str(c) for c in model.classes_]
    pred = [model_classes[int(j)] for j in proba.argmax(axis=1)] if len(Xt) else []
    conf = proba.max(axis=1).tolist() if len(Xt) else []
    held_out = figures(yt, pred, classes)
    majority = Counter(y).most_common(1)[0][0]
    baseline = figures(yt, [majority] * len(yt), classes)
    min_conf = threshold(p, config, "min_confidence")
    answered = [i for i, c in enumerate(conf) if c >= min_conf]
    held_out["answered_share"] = round(len(answered) / max(len(conf), 1), 4)
    held_out["answered_accuracy"] = round(sum(pred[i] == yt[i] for i in answered) / max(len(answered), 1), 4)
    floor = threshold(p, config, "accuracy_floor")
    log(f"  held out ({len(yt)} {'gold test chats' if p.get('gold_label') else 'people-answered conversations'}): macro-F1 {held_out['macro_f1']:.3f}, accuracy {held_out['accuracy']:.3f}, "
        f"κ {held_out['kappa']}; majority «{majority}» macro-F1 {baseline['macro_f1']:.3f}, accuracy {baseline['accuracy']:.3f}; "
        f"{'正式' if held_out['macro_f1'] >= floor else '试运行'} (floor {floor})")

    def digest(keys: list[str], labels: list[str]) -> str:
        return hashlib.sha256("\n".join(f"{k}\t{v}" for k, v in sorted(zip(keys, labels))).encode()).hexdigest()

    name = p["model"]
    training_data = {"gold_dir": str(gold_dir) if p.get("gold_label") else None, "gold_label": p.get("gold_label"), **splits,
                     "train_n": len(y), "test_n": len(yt), "train_hash": digest(ids, y), "test_hash": digest(ids_t, yt),
                     "train_answers": dict(Counter(y)), "test_answers": dict(Counter(yt)),
                     "extra_labels": extra_meta}  # the workbench label files trained on (path, sha256, counts)
    metadata = {"name": name, "question_id": question_id, "question": p["question"], "classes": model_classes,
                "document": {"features": "tagged", "builder": "pipeline.questions.question_document", "reads": p.get("reads", "whole")},
                "held_out": held_out, "majority_baseline": {"answer": majority, **baseline},
                "min_confidence": min_conf, "accuracy_floor": floor, "training_data": training_data,
                **({DEFINITION_KEY: definition} if definition else {}),  # a workbench question: the bundle is self-contained
                "params": {"C": best["C"], "class_weight": "balanced", "min_df": 2, "loss": "logistic", "seed": seed,
                           **({"extra_labels": [e["path"] for e in extra_meta]} if extra_meta else {})}}
    metrics = {"test_macro_f1": held_out["macro_f1"], "test_accuracy": held_out["accuracy"],
               "test_kappa": held_out["kappa"], "cv_macro_f1": best["macro_f1"],
               "baseline_macro_f1": baseline["macro_f1"], "test_answered_share": held_out["answered_share"]}
    report = {"question": question_id, "selection": selection, "held_out": held_out, "baseline": baseline,
              "data": training_data}
    return TrainResult(name=name, model=model, metadata=metadata, params=metadata["params"], metrics=metrics, report=report)
