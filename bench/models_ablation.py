"""The measurements behind the model choices in docs/MODELS.md.

    python bench/models_ablation.py [--data-dir ../shared/data/raw] [--only features,sources,curve,speed]

* features — issue type: jieba-token TF-IDF vs character 1–3-gram TF-IDF (CV macro-F1 inside the
  training split, held-out macro-F1) and how fast each transforms + predicts a 20-turn conversation.
* sources  — sentiment: which training sources (JDDC turns, reviews, STC-3 turns), scored on
  held-out JDDC customer turns (macro-F1) and held-out reviews (accuracy).
* curve_v3 — the same for the shipped (v3) recipe: single-type macro-F1, any-type accuracy, ECE.
* curve    — issue type (v1 recipe): held-out macro-F1 against the share of training dialogues used, and on
  the dialogues whose segments are all one type (what limits the figure).
* speed    — the models stage alone: conversations/s of sklearn's predict_proba vs the fast path.

Every figure uses the fixed held-out split of pipeline/models/datasets.py; choices are made on
the CV column, the held-out column is reported.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
warnings.filterwarnings("ignore")


def _issue_data(data_dir):
    from pipeline.models.datasets import DataPaths, Taxonomy, issue_type_dialogues
    from pipeline.models.features import TextPrep, conversation_document

    tax = Taxonomy.load()
    dialogues, _ = issue_type_dialogues(DataPaths(data_dir), tax)
    prep = TextPrep()
    docs = [conversation_document([(r, prep.tokens(t)) for r, t in d.turns], "customer+agent") for d in dialogues]
    chars = [" ".join(prep.norm(t) for r, t in d.turns if r in ("customer", "agent")) for d in dialogues]
    return tax, dialogues, docs, chars, prep


def _cv_and_test(make, X, y, train, test, folds=5):
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedKFold

    ytr = [y[i] for i in train]
    oof = [None] * len(train)
    for a, b in StratifiedKFold(folds, shuffle=True, random_state=0).split(train, ytr):
        m = make().fit([X[train[j]] for j in a], [ytr[j] for j in a])
        for j, p in zip(b, m.predict([X[train[j]] for j in b])):
            oof[j] = p
    m = make().fit([X[i] for i in train], ytr)
    pred = m.predict([X[i] for i in test])
    return f1_score(ytr, oof, average="macro"), f1_score([y[i] for i in test], pred, average="macro"), m


def features(data_dir):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from pipeline.models.features import ANALYZERS

    tax, dialogues, docs, chars, _ = _issue_data(data_dir)
    y = [d.issue_type for d in dialogues]
    train = [i for i, d in enumerate(dialogues) if d.split == "train"]
    test = [i for i, d in enumerate(dialogues) if d.split == "test"]
    print("\n## features (issue type, LogisticRegression C=2, balanced; no turn augmentation)")
    print("| features | CV macro-F1 | held-out macro-F1 | vocabulary | conversations/s (sklearn transform+predict, batch of 1) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    rows = [
        ("jieba tokens (customer + agent-tagged)", docs, lambda: make_pipeline(TfidfVectorizer(analyzer=ANALYZERS["tokens+role"], sublinear_tf=True, min_df=2), LogisticRegression(C=2, max_iter=3000, class_weight="balanced"))),
        ("jieba tokens + bigrams", docs, lambda: make_pipeline(TfidfVectorizer(analyzer=ANALYZERS["tokens+bigrams"], sublinear_tf=True, min_df=2), LogisticRegression(C=2, max_iter=3000, class_weight="balanced"))),
        ("char 1–3-grams", chars, lambda: make_pipeline(TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2), LogisticRegression(C=2, max_iter=3000, class_weight="balanced"))),
    ]
    for name, X, make in rows:
        cv, te, m = _cv_and_test(make, X, y, train, test)
        sample = [X[i] for i in test[:200]]
        t0 = time.perf_counter()
        for x in sample:
            m.predict_proba([x])
        rate = len(sample) / (time.perf_counter() - t0)
        print(f"| {name} | {cv:.3f} | {te:.3f} | {len(m[0].vocabulary_):,} | {rate:,.0f} |")


def curve(data_dir):
    from sklearn.metrics import f1_score

    from pipeline.models.predict import LinearTextModel
    from pipeline.models.train import _fit, _pipeline

    tax, dialogues, docs, _, _ = _issue_data(data_dir)
    y = [d.issue_type for d in dialogues]
    train = [i for i, d in enumerate(dialogues) if d.split == "train"]
    test = [i for i, d in enumerate(dialogues) if d.split == "test"]
    types = {i: {tax.coarse(t) for t in dialogues[i].fine_topics if t and t != "OTHER"} - {tax.other} for i in test}
    single = [i for i in test if len(types[i]) <= 1]
    print("\n## learning curve (issue type, C=4, no turn augmentation; held-out)")
    print(f"| training dialogues | macro-F1 (all {len(test)}) | macro-F1 (single-type, {len(single)}) | any-topic accuracy |")
    print("| ---: | ---: | ---: | ---: |")
    rng = random.Random(0)
    order = train[:]
    rng.shuffle(order)
    for share in (0.25, 0.5, 0.75, 1.0):
        idx = order[: int(len(order) * share)]
        fast = LinearTextModel(_fit(_pipeline("tokens+role", 4.0, "balanced", 2, 0), [docs[i] for i in idx], [y[i] for i in idx], [1.0] * len(idx)))
        pred = {i: fast.predict(docs[i])[0] for i in test}
        f_all = f1_score([y[i] for i in test], [pred[i] for i in test], average="macro", labels=tax.labels, zero_division=0)
        f_single = f1_score([y[i] for i in single], [pred[i] for i in single], average="macro", zero_division=0)
        anyok = sum(pred[i] in (types[i] or {tax.other}) for i in test) / len(test)
        print(f"| {len(idx)} | {f_all:.3f} | {f_single:.3f} | {anyok:.3f} |")


def curve_v3(data_dir):
    """The shipped recipe (train.default_options) on a share of the training dialogues, scored on
    the held-out ones (corpus test split + gold test chats)."""
    from pipeline.models.datasets import DataPaths
    from pipeline.models.train import default_options, train_issue_type

    print("\n## learning curve (issue type, the v3 recipe at C=0.6; held-out: corpus test split + gold test chats)")
    print("| training dialogues | single-type macro-F1 | any-type accuracy | macro-F1 (all) | ECE |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for share in (0.25, 0.5, 0.75, 1.0):
        r = train_issue_type(default_options("issue_type", data=DataPaths(data_dir), C=[0.6], cv_repeats=1, cv_all=False,
                                             train_share=share), log=lambda m: None)
        h = r.metadata["held_out"]
        print(f"| {r.metadata['training_data']['dialogues_train']} | {h['single_type_macro_f1']:.3f} | {h['accuracy_any']:.3f} | "
              f"{h['macro_f1']:.3f} | {h['ece']:.3f} |")


def sources(data_dir):
    import itertools

    from sklearn.metrics import f1_score

    from pipeline.models.datasets import DataPaths, jddc_turn_examples, load_jddc, load_reviews, load_stc3, stc3_turn_examples, unique
    from pipeline.models.features import TextPrep
    from pipeline.models.predict import LinearTextModel
    from pipeline.models.train import _binary_accuracy, _fit, _pipeline

    paths = DataPaths(data_dir)
    prep = TextPrep()
    jt = jddc_turn_examples(unique(load_jddc(paths.jddc, paths.jddc_acts)))
    rv, _ = load_reviews(paths.data_dir)
    st = stc3_turn_examples(unique(load_stc3(paths.stc3)))
    tok = {id(e): prep.tokens(e.text) for e in itertools.chain(jt, rv, st)}
    tr = lambda xs: [e for e in xs if e.split == "train"]  # noqa: E731
    te = lambda xs: [e for e in xs if e.split == "test"]  # noqa: E731
    print("\n## training sources (sentiment, LogisticRegression C=1, balanced; held-out)")
    print("| training data (weight per example) | JDDC turns macro-F1 | reviews accuracy | STC-3 turns macro-F1 (weak labels) |")
    print("| --- | ---: | ---: | ---: |")
    combos = [
        ("JDDC turns", [(tr(jt), 1.0)]),
        ("reviews", [(tr(rv), 1.0)]),
        ("STC-3 turns", [(tr(st), 1.0)]),
        ("JDDC + reviews ×0.02", [(tr(jt), 1.0), (tr(rv), 0.02)]),
        ("JDDC + reviews ×0.05", [(tr(jt), 1.0), (tr(rv), 0.05)]),
        ("JDDC + reviews ×0.1", [(tr(jt), 1.0), (tr(rv), 0.1)]),
        ("JDDC + reviews ×0.05 + STC-3 ×0.1", [(tr(jt), 1.0), (tr(rv), 0.05), (tr(st), 0.1)]),
        ("JDDC + reviews ×0.05 + STC-3 ×0.3", [(tr(jt), 1.0), (tr(rv), 0.05), (tr(st), 0.3)]),
    ]
    for name, parts in combos:
        ex = [(e, w) for xs, w in parts for e in xs]
        fast = LinearTextModel(_fit(_pipeline("tokens", 1.0, "balanced", 2, 0), [tok[id(e)] for e, _ in ex], [e.label for e, _ in ex], [w for _, w in ex]))
        pred = lambda xs: [fast.predict(tok[id(e)])[0] for e in xs]  # noqa: E731
        jf = f1_score([e.label for e in te(jt)], pred(te(jt)), average="macro", labels=["negative", "neutral", "positive"], zero_division=0)
        ra = _binary_accuracy([fast.proba(tok[id(e)]) for e in te(rv)], fast.classes, [e.label for e in te(rv)])
        sf = f1_score([e.label for e in te(st)], pred(te(st)), average="macro", labels=["negative", "neutral", "positive"], zero_division=0)
        print(f"| {name} | {jf:.3f} | {ra:.3f} | {sf:.3f} |")


def speed(data_dir):
    from pipeline.config import resolve_path
    from pipeline.models import ModelsStage
    from pipeline.models.features import conversation_document

    from bench.generate import generate
    from pipeline.ingest import read_inputs
    from pipeline.config import load_config
    from pipeline.run import Inspector
    import tempfile

    cfg = load_config()
    stage = ModelsStage(resolve_path("models"), cfg)
    insp = Inspector(cfg)
    with tempfile.TemporaryDirectory() as tmp:
        path = generate(Path(tmp) / "c.jsonl", 2000)
        convs = [c for c in read_inputs([str(path)], cfg) if hasattr(c, "turns")]
    for c in convs:
        insp.normalizer(c)
        insp.segmenter(c)
    t0 = time.perf_counter()
    for c in convs:
        stage(c)
    fast_rate = len(convs) / (time.perf_counter() - t0)
    issue, sent = stage.loaded["issue_type"], stage.loaded["sentiment"]
    t0 = time.perf_counter()
    for c in convs[:300]:
        issue.fast.pipeline.predict_proba([conversation_document(((t.role, t.tokens) for t in c.turns), "customer+agent")])
        sent.fast.pipeline.predict_proba([t.tokens for t in c.turns if t.role == "customer"])
    sk_rate = 300 / (time.perf_counter() - t0)
    print("\n## models stage speed (20-turn conversations, one core)")
    print("| inference | conversations/s |")
    print("| --- | ---: |")
    print(f"| scikit-learn predict_proba (1 issue doc + 1 batch of customer turns) | {sk_rate:,.0f} |")
    print(f"| fast path (predict.LinearTextModel), incl. `because` | {fast_rate:,.0f} |")


def main():
    from pipeline.models.datasets import DEFAULT_DATA_DIR

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    ap.add_argument("--only", default="features,sources,curve,curve_v3,speed")
    args = ap.parse_args()
    for name in args.only.split(","):
        {"features": features, "sources": sources, "curve": curve, "curve_v3": curve_v3, "speed": speed}[name](args.data_dir)


if __name__ == "__main__":
    main()
