"""The models' inference files (pipeline/models/inference.py): the same predictions as the pickled
scikit-learn pipeline, no scikit-learn import when inspecting, and never used when they don't
belong to the model beside them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = [str(REPO / "data" / "samples" / "conversations.jsonl"), str(REPO / "data" / "samples" / "turns.csv")]


@pytest.fixture()
def models_copy(tmp_path) -> Path:
    dst = tmp_path / "models"
    shutil.copytree(REPO / "models", dst)
    return dst


@pytest.mark.parametrize("name", ["issue_type", "sentiment"])
def test_the_shipped_inference_files_belong_to_the_shipped_models_and_predict_the_same(name):
    from pipeline.models import inference
    from pipeline.models.predict import LinearTextModel
    from pipeline.models.store import load_bundle, read_metadata

    d = REPO / "models" / name
    fast = inference.load(d, read_metadata(d)["sha256"])
    assert fast is not None, f"models/{name}: inference files missing or stale — `zhijian models promote` rewrites them"
    pipeline, _ = load_bundle(d)
    slow = LinearTextModel(pipeline)
    assert fast.classes == slow.classes and fast.vocab == slow.vocab and fast.analyzer is slow.analyzer
    assert np.array_equal(fast.coef_t, slow.coef_t) and np.array_equal(fast.idf, slow.idf)
    docs = [["快递", "怎么", "还", "没到"], ["发票", "抬头", "写错", "了"], ["谢谢", "你", "服务", "很", "好"], []]
    assert np.array_equal(fast.proba_many(docs), slow.proba_many(docs))
    assert np.allclose(fast.proba_many(docs[:3]), pipeline.predict_proba(docs[:3]), atol=1e-9)


def _inspect(tmp_path: Path, models: Path, out: str) -> bytes:
    from pipeline.cli import main

    cfg = tmp_path / f"{out}.yaml"
    cfg.write_text(f"paths:\n  models: {models}\n", encoding="utf-8")
    assert main(["inspect", *SAMPLES, "--out", str(tmp_path / out), "--config", str(cfg), "--quiet", "--workers", "1"]) == 0
    lines = [json.loads(x) for x in (tmp_path / out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    return json.dumps([{k: v for k, v in r.items() if k != "versions"} for r in lines], ensure_ascii=False).encode()


def test_results_are_identical_from_the_arrays_and_from_the_pickle(tmp_path, models_copy):
    from_arrays = _inspect(tmp_path, models_copy, "arrays")
    for name in ("issue_type", "sentiment"):
        for f in ("inference.npz", "inference.json"):
            (models_copy / name / f).unlink()
    from_pickle = _inspect(tmp_path, models_copy, "pickle")
    assert from_arrays == from_pickle


def test_stale_or_edited_inference_files_are_not_used(models_copy):
    from pipeline.models import ModelsStage, inference
    from pipeline.models.store import read_metadata

    d = models_copy / "sentiment"
    sha = read_metadata(d)["sha256"]
    assert inference.load(d, sha) is not None
    assert inference.load(d, "0" * 64) is None  # derived from another model.joblib
    spec = json.loads((d / "inference.json").read_text(encoding="utf-8"))
    (d / "inference.npz").write_bytes((d / "inference.npz").read_bytes() + b"\0")  # arrays edited
    assert inference.load(d, sha) is None
    spec["analyzer"] = "os.system"
    (d / "inference.json").write_text(json.dumps(spec), encoding="utf-8")
    assert inference.load(d, sha) is None
    stage = ModelsStage(models_copy)  # falls back to the verified pickle for that model
    assert stage.loaded["sentiment"].fast.pipeline is not None and stage.loaded["issue_type"].fast.pipeline is None
