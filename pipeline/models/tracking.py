"""MLflow: experiment tracking and the model registry.

* Tracking store: ``$MLFLOW_TRACKING_URI`` if set, else the SQLite file ``mlruns.db`` in the
  repository root (``mlflow ui --backend-store-uri sqlite:///mlruns.db`` lists the runs). Run
  artifacts of a SQLite store go to ``mlruns/`` next to the database file.
* Experiments ``zhijian-issue_type`` and ``zhijian-sentiment``: one run per training, with params,
  per-class P / R / F1 and macro-F1 (model and baselines), the confusion matrix as an image, the
  data hashes, the full report, the bundle the pipeline loads (``bundle/model.joblib`` +
  ``bundle/metadata.json``) and the model in MLflow's sklearn format.
* Registry: registered models ``issue_type`` and ``sentiment``; each run registers a version.
  The alias ``champion`` marks the version whose bundle is in ``models/<name>/`` — only
  :func:`promote` moves it, and it writes that bundle.

mlflow is imported inside the functions: ``zhijian inspect`` never loads it.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ..config import REPO_ROOT, ConfigError
from .store import install_bundle, read_metadata, save_bundle, verify_bundle

CHAMPION = "champion"
DEFAULT_DB = REPO_ROOT / "mlruns.db"


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{DEFAULT_DB}"


def _artifact_root(uri: str) -> str | None:
    if uri.startswith("sqlite:///"):
        db = Path(uri[len("sqlite:///"):])
        return (db.parent / "mlruns").resolve().as_uri()
    return None


def _client():
    import logging

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        import mlflow
    except ImportError:
        raise ConfigError("MLflow is not installed; training and the registry need it: pip install -e '.[train]'") from None

    for name in ("mlflow", "alembic", "mlflow.store.db.utils"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("mlflow.sklearn").setLevel(logging.ERROR)  # the pickle caution: store.py checks sha256 + version
    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return mlflow, mlflow.MlflowClient(uri, uri)


def _experiment(mlflow, client, name: str) -> str:
    exp_name = f"zhijian-{name}"
    exp = client.get_experiment_by_name(exp_name)
    if exp is not None:
        return exp.experiment_id
    return client.create_experiment(exp_name, artifact_location=_artifact_root(tracking_uri()))


QUESTION_MODEL_PREFIX = "question_"  # the models of scorecard questions (pipeline/questions), one per question


def normalize_name(name: str) -> str:
    from . import MODEL_NAMES  # the models the stage loads (issue_type, sentiment, emotion)

    n = name.replace("-", "_")
    if n not in MODEL_NAMES and not n.startswith(QUESTION_MODEL_PREFIX):
        raise ConfigError(f"unknown model {name!r}; models: {', '.join(MODEL_NAMES)}, or question_* (a scorecard question's model)")
    return n


def log_training(result, run_name: str | None = None, register: bool = True) -> dict[str, Any]:
    """Log a TrainResult as one MLflow run; register a model version. Returns run id, version and
    the bundle's metadata (with the run id in it)."""
    mlflow, client = _client()
    exp_id = _experiment(mlflow, client, result.name)
    with mlflow.start_run(experiment_id=exp_id, run_name=run_name) as run:
        run_id = run.info.run_id
        mlflow.log_params({k: _param(v) for k, v in result.params.items()})
        mlflow.log_metrics({_metric_key(k): float(v) for k, v in result.metrics.items() if v is not None})
        mlflow.set_tags({"zhijian.model": result.name, "data.train_hash": result.metadata["training_data"]["train_hash"][:16],
                         "data.test_hash": result.metadata["training_data"]["test_hash"][:16]})
        for fname, fig in result.figures.items():
            mlflow.log_figure(fig, fname)
        mlflow.log_dict(result.report, "report.json")
        mlflow.log_dict(result.report["data"], "data.json")
        with tempfile.TemporaryDirectory() as tmp:
            bundle = Path(tmp) / "bundle"
            meta = save_bundle(result.model, {**result.metadata, "mlflow_run_id": run_id, "tracking_uri": tracking_uri()}, bundle)
            mlflow.log_artifacts(str(bundle), "bundle")
            if result.extra_models:  # e.g. sentiment's reviews model: reported, kept with the run, not installed
                import joblib

                extra_dir = Path(tmp) / "extra_models"
                extra_dir.mkdir()
                for fname, extra_model in result.extra_models.items():
                    joblib.dump(extra_model, extra_dir / fname, compress=3)
                mlflow.log_artifacts(str(extra_dir), "extra_models")
            import mlflow.sklearn

            info = mlflow.sklearn.log_model(
                result.model,
                name="model",
                serialization_format="cloudpickle",
                pip_requirements=[f"scikit-learn=={meta['libraries']['scikit-learn']}", "rjieba", "zhijian"],
                extra_files=[str(bundle / "model.joblib"), str(bundle / "metadata.json")],
                registered_model_name=result.name if register else None,
            )
    version = getattr(info, "registered_model_version", None)
    if register and version is None:  # older MLflow: look it up
        versions = client.search_model_versions(f"name='{result.name}' and run_id='{run_id}'")
        version = max((int(v.version) for v in versions), default=None)
    if version is not None:
        client.set_model_version_tag(result.name, str(version), "held_out", _summary(meta))
    return {"run_id": run_id, "version": str(version) if version is not None else None, "metadata": meta, "experiment_id": exp_id}


def _param(v: Any) -> str:
    s = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)
    return s[:6000]


def _metric_key(k: str) -> str:
    return k.replace("(", "_").replace(")", "_")


def _summary(meta: dict[str, Any]) -> str:
    h = meta.get("held_out", {})
    return ", ".join(f"{k}={v:.3f}" for k, v in h.items() if isinstance(v, float))


def champion(name: str) -> dict[str, Any] | None:
    """The champion version of ``name`` with its held-out metrics, or None."""
    _, client = _client()
    try:
        mv = client.get_model_version_by_alias(name, CHAMPION)
    except Exception:  # noqa: BLE001 — no model, no alias
        return None
    run = client.get_run(mv.run_id)
    return {"version": mv.version, "run_id": mv.run_id, "metrics": dict(run.data.metrics), "tags": dict(run.data.tags)}


# metric key of a run → key of metadata.json's ``held_out`` (the shipped model's figures)
SHIPPED_KEYS = {
    "issue_type": {"test_macro_f1": "macro_f1", "test_accuracy": "accuracy", "test_single_type_macro_f1": "single_type_macro_f1",
                   "test_ece": "ece"},
    "sentiment": {"test_macro_f1": "jddc_macro_f1", "test_accuracy": "jddc_accuracy", "test_f1_negative": "negative_f1",
                  "test_reviews_accuracy": "reviews_accuracy", "test_ece": "ece"},
}


def compare_with_champion(result, models_dir: Path | None = None) -> dict[str, Any]:
    """The new result's held-out figures beside the champion's (same held-out data or not); with
    no champion registered (a fresh clone has no tracking store), beside the model installed in
    ``models_dir`` — its metadata carries its held-out figures and data hash."""
    champ = champion(result.name)
    keys = [k for k in SHIPPED_KEYS[result.name] if k in result.metrics]
    out: dict[str, Any] = {"new": {k: result.metrics.get(k) for k in keys}, "champion": None, "comparable": None, "shipped": None}
    if champ:
        out["champion"] = {"version": champ["version"], **{k: champ["metrics"].get(k) for k in keys}}
        out["comparable"] = champ["tags"].get("data.test_hash") == result.metadata["training_data"]["test_hash"][:16]
    elif models_dir is not None and (meta := installed(Path(models_dir), result.name)):
        held = meta.get("held_out") or {}
        out["shipped"] = {"version": meta.get("registered_version", "?"), "sha256": meta.get("sha256", "")[:12],
                          **{k: held.get(SHIPPED_KEYS[result.name][k]) for k in keys}}
        out["comparable"] = (meta.get("training_data") or {}).get("test_hash") == result.metadata["training_data"]["test_hash"]
    return out


def list_models() -> list[dict[str, Any]]:
    """Every registered version of the stage's models, newest first, with its key metrics."""
    from . import MODEL_NAMES

    _, client = _client()
    rows = []
    for name in MODEL_NAMES:
        try:
            versions = client.search_model_versions(f"name='{name}'")
        except Exception:  # noqa: BLE001 — nothing registered yet
            versions = []
        for mv in sorted(versions, key=lambda v: -int(v.version)):
            run = client.get_run(mv.run_id)
            m = run.data.metrics
            rows.append({
                "name": name,
                "version": str(mv.version),
                "aliases": list(client.get_model_version(name, str(mv.version)).aliases or []),  # search omits aliases
                "run_id": mv.run_id,
                "created": mv.creation_timestamp,
                "test_macro_f1": m.get("test_macro_f1"),
                "test_accuracy": m.get("test_accuracy"),
                "test_reviews_accuracy": m.get("test_reviews_accuracy"),
                "test_hash": run.data.tags.get("data.test_hash"),
            })
    return rows


def promote(name: str, version: str | int, models_dir: Path) -> dict[str, Any]:
    """Make ``version`` the champion: verify its bundle, install it as ``models_dir/<name>/``
    (what the pipeline loads) and move the ``champion`` alias to it."""
    name = normalize_name(name)
    _, client = _client()
    try:
        mv = client.get_model_version(name, str(version))
    except Exception as e:  # noqa: BLE001
        raise ConfigError(f"model {name} version {version} not found in {tracking_uri()} ({type(e).__name__}); see `zhijian models list`") from None
    with tempfile.TemporaryDirectory() as tmp:
        local = client.download_artifacts(mv.run_id, "bundle", tmp)
        verify_bundle(Path(local))
        meta = install_bundle(Path(local), Path(models_dir) / name, {"registered_name": name, "registered_version": str(mv.version)})
    client.set_registered_model_alias(name, CHAMPION, str(mv.version))
    return meta


def installed(models_dir: Path, name: str) -> dict[str, Any] | None:
    d = Path(models_dir) / name
    if not (d / "metadata.json").exists():
        return None
    return read_metadata(d)
