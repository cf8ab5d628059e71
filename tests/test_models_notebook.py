"""notebooks/retrain.ipynb executes end to end (nbclient) against a tmp tracking store and a small
real data subset, so it never rots."""

from __future__ import annotations

import json
import os
import sys

import pytest

from conftest import REPO, SHARED_DATA

pytestmark = pytest.mark.skipif(not (SHARED_DATA / "jddc_uss" / "valid_jddc.txt").exists(), reason="../shared/data not present")


def test_retrain_notebook_executes(tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    from pipeline.models.datasets import write_subset

    data = write_subset(SHARED_DATA, tmp_path / "data", dialogues=40, reviews=200)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlruns.db'}")
    monkeypatch.setenv("ZHIJIAN_DATA_DIR", str(data))
    monkeypatch.setenv("ZHIJIAN_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("ZHIJIAN_NOTEBOOK_PROMOTE", "1")
    monkeypatch.setenv("ZHIJIAN_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("PYTHONPATH", str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    nb = nbformat.read(REPO / "notebooks" / "retrain.ipynb", as_version=4)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert not any("def " in c.source or "class " in c.source for c in code_cells)  # imports from pipeline/, no logic
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(REPO)}})
    client.execute()
    errors = [o for c in code_cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []
    for name in ("issue_type", "sentiment"):
        meta = json.loads((tmp_path / "models" / name / "metadata.json").read_text(encoding="utf-8"))
        assert meta["registered_version"] == "1" and meta["mlflow_run_id"]
    assert sys.executable  # the kernel is the python3 kernelspec of this environment
