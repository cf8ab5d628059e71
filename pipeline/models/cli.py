"""``zhijian train issue-type|sentiment`` and ``zhijian models list|promote``.

Only argparse at import time: mlflow, scikit-learn and pandas load inside the commands.
"""

from __future__ import annotations

import sys
from pathlib import Path


def _floats(s: str) -> list[float]:
    try:
        return [float(x) for x in s.split(",") if x.strip()]
    except ValueError:
        raise SystemExit(f"zhijian: error: expected comma-separated numbers, got {s!r}") from None


def _models_dir(args) -> Path:
    from ..config import load_config, resolve_path

    if getattr(args, "models_dir", None):
        return Path(args.models_dir)
    return resolve_path(load_config(getattr(args, "config", None))["paths"]["models"])


def cmd_train(args) -> int:
    from .datasets import DataPaths
    from .train import TRAINERS, default_options

    name = args.model.replace("-", "_")
    data = DataPaths(**{k: v for k, v in {"data_dir": args.data_dir, "csds": getattr(args, "csds", None), "jddc": args.jddc,
                                          "jddc_acts": args.jddc_acts, "stc3": getattr(args, "stc3", None)}.items() if v})
    overrides = {
        "data": data,
        "features": args.features,
        "C": _floats(args.C) if args.C else None,
        "min_df": args.min_df,
        "cv_folds": args.cv_folds,
        "cv_repeats": args.cv_repeats,
        "loss": args.loss,
        "seed": args.seed,
        "limit": args.limit,
        "extra_labels": [Path(p) for p in args.extra_labels] if args.extra_labels else None,
    }
    for option, corpus in (("csds", "CSDS topic file (777 real dialogues)"), ("stc3", "STC-3 DCH file")):
        if getattr(args, option, None):
            print(f"warning: --{option} {getattr(args, option)} REPLACES the {corpus}; to add reviewers' labels to the real "
                  f"corpora use --extra-labels DIR (the folder `zhijian export-labels --out DIR` wrote)", file=sys.stderr)
    if name == "issue_type":
        overrides["turn_weight"] = _floats(args.turn_weight) if args.turn_weight else None
        overrides["summary_weight"] = _floats(args.summary_weight) if args.summary_weight else None
        overrides["roles"] = args.roles
        if args.taxonomy:
            overrides["taxonomy"] = Path(args.taxonomy)
    else:
        overrides["review_weight"] = _floats(args.review_weight) if args.review_weight else None
        overrides["stc3_weight"] = _floats(args.stc3_weight) if args.stc3_weight else None
    opts = default_options(name, **overrides)
    opts.class_weight = None if args.class_weight == "none" else "balanced"

    from ..config import load_config
    from . import tracking

    config = load_config(args.config)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    result = TRAINERS[name](opts, config, log=log)
    cmp = tracking.compare_with_champion(result, _models_dir(args))
    logged = tracking.log_training(result, run_name=args.run_name)
    new = cmp["new"]
    names = {"test_macro_f1": "macro-F1", "test_accuracy": "accuracy", "test_reviews_accuracy": "reviews accuracy",
             "test_single_type_macro_f1": "single-type macro-F1", "test_f1_negative": "negative F1", "test_ece": "ECE"}
    print(f"{name}: MLflow run {logged['run_id']} → registered version {logged['version']} ({tracking.tracking_uri()})")
    print("  held-out " + ", ".join(f"{names[k]} {v:.3f}" for k, v in new.items() if v is not None))
    champ, shipped = cmp["champion"], cmp["shipped"]
    note = "" if cmp["comparable"] else " (other held-out data: not comparable)"
    if champ:
        print(f"  champion v{champ['version']}: " + ", ".join(f"{names[k]} {v:.3f}" for k, v in champ.items() if k in names and v is not None) + note)
    elif shipped:
        print(f"  no champion registered here; the installed model (v{shipped['version']}, {shipped['sha256']}): "
              + ", ".join(f"{names[k]} {v:.3f}" for k, v in shipped.items() if k in names and v is not None) + note)
    else:
        print("  no champion yet, no model installed")
    if args.promote:
        meta = tracking.promote(name, logged["version"], _models_dir(args))
        print(f"  promoted v{logged['version']} → {_models_dir(args) / name} (sha256 {meta['sha256'][:12]})")
    else:
        print(f"  to ship it: zhijian models promote {name} {logged['version']}")
    return 0


def cmd_train_emotion(args) -> int:
    """``zhijian train emotion``: the customer-emotion turn model from the gold dev chats' turn labels."""
    from ..config import load_config
    from . import tracking
    from .emotion_training import DEFAULT_C_GRID, EMOTION_GOLD_DIRS, train_emotion

    config = load_config(args.config)
    grid = _floats(args.C) if args.C else DEFAULT_C_GRID

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    result = train_emotion(args.gold or list(EMOTION_GOLD_DIRS), config, C_grid=tuple(grid), seed=args.seed, log=log,
                           gold_weights=tuple(_floats(args.gold_weights)) if args.gold_weights else None)
    logged = tracking.log_training(result, run_name=args.run_name)
    oof = result.metadata["out_of_fold"]
    print(f"emotion: MLflow run {logged['run_id']} → registered version {logged['version']} ({tracking.tracking_uri()})")
    print(f"  out of fold (dev turns): average precision {oof['average_precision']}, P {oof['precision']} R {oof['recall']} "
          f"F1 {oof['f1']} at {oof['threshold']}")
    for gold_dir, held in result.metadata["held_out_by_gold"].items():
        print(f"  held out ({gold_dir} test chats, any emotion shown): P {held['precision']} R {held['recall']} "
              f"F1 {held['f1']}, AUC {held['auc']}")
    if args.promote:
        meta = tracking.promote(result.name, logged["version"], _models_dir(args))
        print(f"  promoted v{logged['version']} → {_models_dir(args) / result.name} (sha256 {meta['sha256'][:12]})")
    else:
        print(f"  to ship it: zhijian models promote {result.name} {logged['version']}")
    return 0


def cmd_models_list(args) -> int:
    from . import MODEL_NAMES, tracking

    rows = tracking.list_models()
    models_dir = _models_dir(args)
    for name in MODEL_NAMES:
        meta = tracking.installed(models_dir, name)
        where = models_dir / name
        if meta:
            print(f"{name}: installed {where} — version {meta.get('registered_version', '?')}, sha256 {meta['sha256'][:12]}, "
                  f"run {meta.get('mlflow_run_id', '?')[:12]}")
        else:
            print(f"{name}: nothing installed in {where}")
    if not rows:
        print(f"no registered versions in {tracking.tracking_uri()}")
        return 0
    print(f"registered versions ({tracking.tracking_uri()}):")
    print(f"  {'name':<11} {'ver':>4}  {'aliases':<10} {'macro-F1':>8} {'accuracy':>8} {'reviews':>8}  test-data  run")
    for r in rows:
        def f(x):
            return f"{x:8.3f}" if isinstance(x, (int, float)) else f"{'':>8}"
        print(f"  {r['name']:<11} {r['version']:>4}  {','.join(r['aliases']):<10} {f(r['test_macro_f1'])} {f(r['test_accuracy'])} "
              f"{f(r['test_reviews_accuracy'])}  {(r['test_hash'] or '')[:8]:<9}  {r['run_id'][:12]}")
    return 0


def cmd_models_promote(args) -> int:
    from . import tracking

    meta = tracking.promote(args.name, args.version, _models_dir(args))
    name = tracking.normalize_name(args.name)
    print(f"{name} v{args.version} is the champion; installed in {_models_dir(args) / name} (sha256 {meta['sha256'][:12]})")
    return 0


def add_gold_training_options(sp, default_C: str) -> None:
    """The options of the models trained on the gold set's people's labels (questions, emotion): the C grid,
    the seed, the MLflow run name, promotion and where it installs, the configuration."""
    sp.add_argument("--C", help=f"inverse regularisation, comma-separated values are a CV grid (default {default_C})")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--run-name", help="MLflow run name")
    sp.add_argument("--promote", action="store_true", help="also make it the champion and install it in models/")
    sp.add_argument("--models-dir", help="where promotion installs the bundle (default: config paths.models)")
    sp.add_argument("--config", help="YAML file overriding pipeline/defaults.yaml")


def add_subcommands(sub) -> None:
    """Register ``train`` and ``models`` on the ``zhijian`` parser's subparsers."""
    tp = sub.add_parser("train", help="train a classifier on real data, log it to MLflow, register a version")
    tsub = tp.add_subparsers(dest="model", required=True)
    for model in ("issue-type", "sentiment"):
        sp = tsub.add_parser(model, help=f"train the {model} classifier (docs/MODELS.md)")
        sp.add_argument("--data-dir", help="folder laid out like ../shared/data/raw (default: that folder)")
        sp.add_argument("--jddc", help="JDDC windowed file (default: DATA_DIR/jddc_uss/valid_jddc.txt)")
        sp.add_argument("--jddc-acts", help="JDDC intent names (default: DATA_DIR/jddc_uss/act_jddc.txt)")
        sp.add_argument("--features", help="analyzer: tokens | tokens+bigrams | tokens+role | tokens+role+chars (default per model)")
        sp.add_argument("--C", help="inverse regularisation, comma-separated values are a CV grid")
        sp.add_argument("--class-weight", choices=["balanced", "none"], help="default balanced")
        sp.add_argument("--min-df", type=int, help="drop tokens seen in fewer documents (default 2)")
        sp.add_argument("--cv-folds", type=int, help="folds of the cross-validation inside the training split")
        sp.add_argument("--cv-repeats", type=int, help="repeats of the cross-validation, each with other folds (default per model)")
        sp.add_argument("--loss", choices=["svm", "logistic"], help="linear model: svm (LinearSVC) or logistic; temperature-calibrated either way")
        sp.add_argument("--extra-labels", action="append", metavar="DIR",
                        help="a folder `zhijian export-labels` wrote: its reviewers' labels are ADDED to the training split (repeatable)")
        sp.add_argument("--seed", type=int, help="random seed (CV folds, solver); default 0")
        sp.add_argument("--limit", type=int, help="at most N dialogues / reviews per source (quick runs)")
        sp.add_argument("--run-name", help="MLflow run name")
        sp.add_argument("--promote", action="store_true", help="also make it the champion and install it in models/")
        sp.add_argument("--models-dir", help="where promotion installs the bundle (default: config paths.models)")
        sp.add_argument("--config", help="YAML file overriding pipeline/defaults.yaml (tokenizer, lexicons)")
        if model == "issue-type":
            sp.add_argument("--csds", help="CSDS topic file (default: DATA_DIR/csds_topic/val.json)")
            sp.add_argument("--taxonomy", help="coarse issue taxonomy (default: data/issue_taxonomy.yaml)")
            sp.add_argument("--roles", choices=["customer", "all", "customer+agent"], help="which turns make the document")
            sp.add_argument("--turn-weight", help="weight of JDDC customer turns as extra examples (grid)")
            sp.add_argument("--summary-weight", help="weight of CSDS segment summaries as extra examples (grid)")
        else:
            sp.add_argument("--stc3", help="STC-3 DCH training file (default: DATA_DIR/stc3_dch/train_data_cn.json.gz)")
            sp.add_argument("--review-weight", help="weight of a review example (grid, e.g. 0.02,0.05,0.1)")
            sp.add_argument("--stc3-weight", help="weight of an STC-3 customer turn (grid; 0 = not used)")
        sp.set_defaults(func=cmd_train, roles=None, taxonomy=None, turn_weight=None, summary_weight=None, review_weight=None, stc3_weight=None)
    from ..questions.cli import add_parser as add_question_parser

    add_question_parser(tsub)
    sp = tsub.add_parser("emotion", help="train the customer-emotion turn model on people's turn labels (docs/MODELS.md)")
    sp.add_argument("--gold", action="append", default=None,
                    help="gold folder with emotion_turns.jsonl: its dev trains, its test is held out; repeat for several, "
                         "e.g. --gold data/gold --gold data/gold_weibo (default data/gold; the first one's test is the model's held_out)")
    sp.add_argument("--gold-weights", help="one training weight per --gold folder, e.g. 1,0.3 (default 1 each)")
    add_gold_training_options(sp, "0.3,1,3,10")
    sp.set_defaults(func=cmd_train_emotion)

    mp = sub.add_parser("models", help="the model registry (MLflow): list versions, promote one to champion")
    msub = mp.add_subparsers(dest="models_command", required=True)
    sp = msub.add_parser("list", help="registered versions with their held-out figures, and what is installed")
    sp.add_argument("--models-dir")
    sp.add_argument("--config")
    sp.set_defaults(func=cmd_models_list)
    sp = msub.add_parser("promote", help="make VERSION the champion and install its bundle in models/NAME/")
    sp.add_argument("name", metavar="NAME", help="issue_type | sentiment | emotion | a question model")
    sp.add_argument("version", metavar="VERSION")
    sp.add_argument("--models-dir")
    sp.add_argument("--config")
    sp.set_defaults(func=cmd_models_promote)
