"""``zhijian train question ID``: train the model that answers a scorecard question, log it to
MLflow, register a version, and (``--promote``) install it in ``models/``. ID is a rule of
rules.yaml or, with ``--database-url``, a question added in the workbench (its answers are read
from the database too; pipeline/questions/workbench.py)."""

from __future__ import annotations

import sys
from pathlib import Path


def cmd_train_question(args) -> int:
    from ..config import load_config, resolve_path
    from ..models import tracking
    from .train import DEFAULT_C_GRID, train_question

    config = load_config(args.config)
    grid = tuple(float(c) for c in args.C.split(",")) if args.C else DEFAULT_C_GRID

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    result = train_question(args.question_id, args.gold, config, C_grid=grid, seed=args.seed, log=log,
                            extra_labels=tuple(args.extra_labels or ()), database_url=args.database_url)
    logged = tracking.log_training(result, run_name=args.run_name)
    extra = result.metadata["training_data"]["extra_labels"]
    if extra and logged["version"] is not None:
        _tag_label_files(result.name, logged["version"], extra)
    h = result.metadata["held_out"]
    b = result.metadata["majority_baseline"]
    print(f"{args.question_id} ({result.name}): MLflow run {logged['run_id']} → registered version {logged['version']}")
    print(f"  held out: macro-F1 {h['macro_f1']:.3f}, accuracy {h['accuracy']:.3f}, κ {h['kappa']}; "
          f"majority «{b['answer']}»: macro-F1 {b['macro_f1']:.3f}, accuracy {b['accuracy']:.3f}")
    models_dir = Path(args.models_dir) if args.models_dir else resolve_path(config["paths"]["models"])
    if args.promote:
        meta = tracking.promote(result.name, logged["version"], models_dir)
        print(f"  promoted v{logged['version']} → {models_dir / result.name} (sha256 {meta['sha256'][:12]})")
        if result.metadata.get("definition"):
            print(f"  zhijian inspect answers {args.question_id} from this bundle (its definition is in metadata.json)")
    else:
        print(f"  to ship it: zhijian models promote {result.name} {logged['version']}")
    return 0


def _tag_label_files(name: str, version: str, extra: list[dict]) -> None:
    """The registered version names the workbench label files it was trained on (also in its
    metadata.json: ``training_data.extra_labels``)."""
    import json

    import mlflow

    from ..models import tracking

    client = mlflow.MlflowClient(tracking.tracking_uri(), tracking.tracking_uri())
    files = [{"path": e["path"], "sha256": e["sha256"], "used": e["used"]} for e in extra]
    client.set_model_version_tag(name, str(version), "extra_labels", json.dumps(files, ensure_ascii=False))


def add_parser(tsub) -> None:
    from ..models.cli import add_gold_training_options

    sp = tsub.add_parser("question", help="train the model that answers a scorecard question (docs/QUESTIONS.md)")
    sp.add_argument("question_id", metavar="ID", help="a rule of kind question in lexicons/rules.yaml, e.g. question.resolved, "
                                                      "or (with --database-url) a question added in the workbench")
    sp.add_argument("--gold", default="data/gold", help="gold folder with people's answers: dev trains, test is held out (default data/gold)")
    sp.add_argument("--extra-labels", action="append", metavar="FILE",
                    help="people's answers exported from the workbench (zhijian export-labels --out DIR → DIR/question_answers.jsonl; "
                         "DIR itself will do), "
                         "added to the training data only — never to the held-out test (repeatable)")
    sp.add_argument("--database-url", metavar="URL",
                    help="the workbench database (SQLAlchemy URL): people's answers read straight from it (as export-labels "
                         "writes them; --extra-labels may be given too), and the question itself when rules.yaml has no rule ID")
    add_gold_training_options(sp, "0.1,0.3,1,3")
    sp.set_defaults(func=cmd_train_question)
