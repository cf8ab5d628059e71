"""Inference files next to each model: what :class:`~pipeline.models.predict.LinearTextModel` needs,
as arrays — so inspecting loads neither scikit-learn (~1.1 s of imports per process) nor a pickle.

``models/<name>/inference.npz`` holds the idf vector, the (calibrated) coefficients and the
intercept; ``inference.json`` the vocabulary in feature order, the classes, the tf-idf options,
the top-label map when the model has one (top_label.py), the analyzer by name (a function of :mod:`pipeline.models.features`) and two sha256s: of
``model.joblib`` it was derived from, and of the ``.npz``. They are written whenever a bundle is
saved or installed (train, promote). At load they are used only when both hashes match — the
model's ``metadata.json`` and the arrays on disk — else the stage falls back to ``model.joblib``
(verified as before), so a stale or edited file can't change a prediction. The predictions are
the same numbers either way (tested).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..io.hashing import sha256_file

ARRAYS_FILE = "inference.npz"
SPEC_FILE = "inference.json"
FORMAT = 1
ANALYZER_MODULE = "pipeline.models.features"  # the only place an analyzer may be named from


def export(directory: Path, model: Any, source_sha256: str) -> dict[str, Any]:
    """Write the inference files of ``model`` (a fitted pipeline) into ``directory``; returns the spec."""
    from .predict import LinearTextModel

    directory = Path(directory)
    fast = LinearTextModel(model)
    analyzer = fast.analyzer
    if getattr(analyzer, "__module__", None) != ANALYZER_MODULE:
        raise ValueError(f"analyzer {analyzer!r} is not a function of {ANALYZER_MODULE}: no inference files")
    tmp_arrays = directory / (ARRAYS_FILE + ".tmp.npz")
    np.savez_compressed(tmp_arrays, idf=fast.idf, coef_t=fast.coef_t, intercept=fast.intercept)
    vocab = [None] * len(fast.vocab)
    for token, j in fast.vocab.items():
        vocab[j] = token
    spec = {"format": FORMAT, "source_sha256": source_sha256, "arrays_sha256": sha256_file(tmp_arrays),
            "analyzer": analyzer.__name__, "classes": fast.classes, "sublinear": fast.sublinear, "l2": fast.l2,
            "vocab": vocab, **({"top_label": fast.top_label} if fast.top_label else {})}
    tmp_spec = directory / (SPEC_FILE + ".tmp")
    tmp_spec.write_text(json.dumps(spec, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    os.replace(tmp_arrays, directory / ARRAYS_FILE)
    os.replace(tmp_spec, directory / SPEC_FILE)
    return spec


def load(directory: Path, source_sha256: str | None):
    """The model from its inference files, or None when they are missing or don't belong to the
    ``model.joblib`` whose sha256 is ``source_sha256`` (then the caller loads the joblib)."""
    import importlib

    from .predict import LinearTextModel

    directory = Path(directory)
    spec_path, arrays_path = directory / SPEC_FILE, directory / ARRAYS_FILE
    if not source_sha256 or not spec_path.exists() or not arrays_path.exists():
        return None
    try:
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if (not isinstance(spec, dict) or spec.get("format") != FORMAT or spec.get("source_sha256") != source_sha256
            or spec.get("arrays_sha256") != sha256_file(arrays_path)):
        return None
    analyzer = getattr(importlib.import_module(ANALYZER_MODULE), str(spec.get("analyzer")), None)
    if not callable(analyzer):
        return None
    with np.load(arrays_path, allow_pickle=False) as arrays:
        idf, coef_t, intercept = arrays["idf"], np.ascontiguousarray(arrays["coef_t"]), arrays["intercept"]
    return LinearTextModel.from_arrays(analyzer=analyzer, vocab={t: j for j, t in enumerate(spec["vocab"])}, idf=idf,
                                       coef_t=coef_t, intercept=intercept, classes=list(spec["classes"]),
                                       sublinear=bool(spec["sublinear"]), l2=bool(spec["l2"]), top_label=spec.get("top_label"))
