"""Training: the issue-type and the sentiment classifier, from real data, with honest evaluation.

Both are scikit-learn ``Pipeline([TfidfVectorizer(analyzer=<pipeline tokens>), LogisticRegression])``.

* Model selection: a small grid, scored by cross-validation **inside the training split**
  (folds by dialogue); the held-out split (datasets.split_of) is used once, for the report.
* The report holds per-class precision / recall / F1, macro-F1, accuracy and the confusion matrix
  for the model and for two baselines (majority class, keyword lexicon), plus diagnostics that
  show what limits the figures.
* Evaluation runs the model the way the pipeline does (predict.LinearTextModel).

``train_issue_type`` / ``train_sentiment`` return a :class:`TrainResult`; tracking.py logs it to
MLflow and store.py writes the bundle the pipeline loads. This module is the entry point; the work
is in issue_type_training.py, sentiment_training.py and what they share, training.py.
"""

from __future__ import annotations

from .issue_type_training import train_issue_type
from .sentiment_training import AGGREGATES, _binary_accuracy, aggregate_conversation, lexicon_sentiment, train_sentiment
from .training import (
    HELD_OUT_SPLITS,
    LOW_CONFIDENCE_GRID,
    MODEL_NAMES,
    TrainOptions,
    TrainResult,
    _balanced,
    _fit,
    _fold_of,
    _pipeline,
    _repeated_folds,
    _single_type_metrics,
    default_options,
    keyword_baseline,
)

__all__ = [  # what callers (the CLI, tests, benches, question training) import from here
    "AGGREGATES",
    "HELD_OUT_SPLITS",
    "LOW_CONFIDENCE_GRID",
    "MODEL_NAMES",
    "TRAINERS",
    "TrainOptions",
    "TrainResult",
    "_balanced",
    "_binary_accuracy",
    "_fit",
    "_fold_of",
    "_pipeline",
    "_repeated_folds",
    "_single_type_metrics",
    "aggregate_conversation",
    "default_options",
    "keyword_baseline",
    "lexicon_sentiment",
    "train_issue_type",
    "train_sentiment",
]

TRAINERS = {"issue_type": train_issue_type, "sentiment": train_sentiment}
