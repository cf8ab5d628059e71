"""MLflow tracking and the registry, through the CLI, against a tmp SQLite tracking store:
a training run lands with params, metrics and artifacts and registers a version; promotion moves
the ``champion`` alias and writes the bundle the pipeline loads."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import REPO, SHARED_DATA

pytestmark = pytest.mark.skipif(not (SHARED_DATA / "jddc_uss" / "valid_jddc.txt").exists(), reason="../shared/data not present")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A tmp tracking store, a small real data subset, and one CLI training run with --promote."""
    from pipeline.cli import main
    from pipeline.models.datasets import write_subset

    tmp = tmp_path_factory.mktemp("mlflow")
    old = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp / 'mlruns.db'}"
    data = write_subset(SHARED_DATA, tmp / "data", dialogues=40, reviews=200)
    models = tmp / "models"
    code = main(["train", "issue-type", "--data-dir", str(data), "--C", "1", "--turn-weight", "0.3", "--cv-folds", "2",
                 "--promote", "--models-dir", str(models), "--run-name", "test"])
    assert code == 0
    yield {"tmp": tmp, "data": data, "models": models}
    if old is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = old


def _client():
    import mlflow

    return mlflow.MlflowClient(os.environ["MLFLOW_TRACKING_URI"], os.environ["MLFLOW_TRACKING_URI"])


def test_a_training_run_lands_in_mlflow_with_params_metrics_and_artifacts(store):
    client = _client()
    exp = client.get_experiment_by_name("zhijian-issue_type")
    [run] = client.search_runs([exp.experiment_id])
    p, m = run.data.params, run.data.metrics
    assert p["best_C"] == "1.0" and p["features"] == "tokens+role+chars" and p["seed"] == "0" and p["loss"] == "svm"
    assert 0 < float(p["temperature"]) == m["temperature"]
    for key in ("test_macro_f1", "test_accuracy", "cv_macro_f1", "baseline_majority_macro_f1", "baseline_keywords_macro_f1",
                "test_f1_配送物流", "test_precision_发票", "test_recall_退换货与退款", "cv_single_type_macro_f1",
                "test_single_type_macro_f1", "test_ece", "cv_all_single_type_macro_f1", "low_confidence_below"):
        assert key in m, key
    assert run.data.tags["data.test_hash"] and run.data.tags["data.train_hash"]
    arts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"confusion_matrix.png", "calibration.png", "report.json", "data.json", "bundle"} <= arts
    assert {a.path for a in client.list_artifacts(run.info.run_id, "bundle")} == {
        "bundle/model.joblib", "bundle/metadata.json", "bundle/inference.npz", "bundle/inference.json"}
    local = Path(client.download_artifacts(run.info.run_id, "confusion_matrix.png", str(store["tmp"] / "dl")))
    assert local.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = json.loads(Path(client.download_artifacts(run.info.run_id, "report.json", str(store["tmp"] / "dl"))).read_text(encoding="utf-8"))
    assert report["data"]["files"]["valid_jddc.txt"] and report["baselines"]["keywords"]["per_class"]


def test_the_run_registers_a_version_and_promotion_makes_it_champion(store):
    client = _client()
    [mv] = client.search_model_versions("name='issue_type'")
    assert str(mv.version) == "1"
    assert str(client.get_model_version_by_alias("issue_type", "champion").version) == "1"
    meta = json.loads((store["models"] / "issue_type" / "metadata.json").read_text(encoding="utf-8"))
    assert meta["registered_version"] == "1" and meta["mlflow_run_id"] == mv.run_id


def test_promote_writes_the_artifact_the_pipeline_loads(store, capsys):
    from pipeline.cli import main
    from pipeline.models import ModelsStage
    from pipeline.models.store import sha256_file

    target = store["tmp"] / "models2"
    assert main(["models", "promote", "issue-type", "1", "--models-dir", str(target)]) == 0
    meta = json.loads((target / "issue_type" / "metadata.json").read_text(encoding="utf-8"))
    assert sha256_file(target / "issue_type" / "model.joblib") == meta["sha256"]
    stage = ModelsStage(target)
    assert stage.versions["issue_model"] == f"issue_type@v1:{meta['sha256'][:12]}"
    assert stage.versions["sentiment_model"] is None
    capsys.readouterr()
    assert main(["models", "list", "--models-dir", str(target)]) == 0
    out = capsys.readouterr().out
    assert "issue_type: installed" in out and "champion" in out
    assert main(["models", "promote", "issue_type", "99", "--models-dir", str(target)]) == 2
    assert "version 99 not found" in capsys.readouterr().err


def test_train_sentiment_cli_small(store, capsys):
    from pipeline.cli import main

    code = main(["train", "sentiment", "--data-dir", str(store["data"]), "--C", "1", "--review-weight", "0.05", "--cv-folds", "2"])
    assert code == 0
    out = capsys.readouterr().out
    assert "registered version 1" in out and "reviews accuracy" in out
    client = _client()
    [run] = client.search_runs([client.get_experiment_by_name("zhijian-sentiment").experiment_id])
    for key in ("test_macro_f1", "test_reviews_accuracy", "baseline_lexicon_macro_f1", "empathy_anchor_lexicon_f0.5"):
        assert key in run.data.metrics
