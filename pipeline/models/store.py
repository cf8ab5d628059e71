"""The model store: ``models/<name>/model.joblib`` + ``metadata.json``.

A joblib file is a pickle, and a pickle is code: the loader refuses an artifact unless

* ``metadata.json`` is there and names the artifact's sha256, and the file's bytes hash to it
  (a model file swapped or edited after training is not loaded), and
* the scikit-learn that trained it is the one installed (a pickle from another version may load
  and predict differently without a word).

Both refusals are :class:`~pipeline.config.ConfigError` with the fix in the message, so
``zhijian inspect`` stops at start-up with exit code 2 instead of inspecting with a model it
can't vouch for. No artifact at all is not an error: the stage then predicts nothing.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..config import ConfigError
from ..io.hashing import sha256_file

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
FORMAT = 1  # bump when the bundle layout changes


def library_versions() -> dict[str, str]:
    import joblib
    import numpy
    import scipy
    import sklearn

    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "joblib": joblib.__version__,
    }


def save_bundle(model: Any, metadata: dict[str, Any], directory: Path) -> dict[str, Any]:
    """Write ``model.joblib`` and ``metadata.json`` (with the artifact's sha256 and the library
    versions) into ``directory``; files are written under temporary names and renamed."""
    import joblib

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tmp_model = directory / (MODEL_FILE + ".tmp")
    joblib.dump(model, tmp_model, compress=3)
    meta = dict(metadata)
    meta["format"] = FORMAT
    meta["artifact"] = MODEL_FILE
    meta["sha256"] = sha256_file(tmp_model)
    meta["libraries"] = library_versions()
    os.replace(tmp_model, directory / MODEL_FILE)
    write_metadata(directory, meta)
    write_inference(directory, model, meta["sha256"])
    return meta


def write_inference(directory: Path, model: Any, source_sha256: str) -> None:
    """The inference files (models/inference.py) of ``model``; a model the fast path can't read
    gets none (and stale ones are removed), so it loads from ``model.joblib``."""
    from . import inference
    from .predict import UnsupportedModel

    try:
        inference.export(directory, model, source_sha256)
    except (UnsupportedModel, ValueError):
        for name in (inference.ARRAYS_FILE, inference.SPEC_FILE):
            (Path(directory) / name).unlink(missing_ok=True)


def write_metadata(directory: Path, meta: dict[str, Any]) -> None:
    tmp = Path(directory) / (METADATA_FILE + ".tmp")
    tmp.write_text(json.dumps(meta, ensure_ascii=False, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, Path(directory) / METADATA_FILE)


def read_metadata(directory: Path) -> dict[str, Any]:
    path = Path(directory) / METADATA_FILE
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: missing — a model file without its metadata is not loaded; retrain or promote the model") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid JSON ({e}); retrain or promote the model") from None
    if not isinstance(meta, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    return meta


def verify_bundle(directory: Path) -> dict[str, Any]:
    """Check the sha256 and the scikit-learn version; return the metadata. Raises ConfigError."""
    import sklearn

    directory = Path(directory)
    meta = verify_artifact(directory, read_metadata(directory))
    artifact = directory / meta.get("artifact", MODEL_FILE)
    trained_with = (meta.get("libraries") or {}).get("scikit-learn")
    if trained_with != sklearn.__version__:
        raise ConfigError(
            f"{artifact}: trained with scikit-learn {trained_with}, but {sklearn.__version__} is installed — "
            f"a pickled model may misbehave across versions; install scikit-learn=={trained_with} "
            f"(pip install 'scikit-learn=={trained_with}') or retrain with `zhijian train {directory.name.replace('_', '-')}`"
        )
    return meta


def verify_artifact(directory: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """The artifact is there and its bytes hash to the metadata's sha256 (no scikit-learn needed:
    also checked when the model is served from its inference files). Raises ConfigError."""
    directory = Path(directory)
    artifact = directory / meta.get("artifact", MODEL_FILE)
    if not artifact.exists():
        raise ConfigError(f"{artifact}: missing, but {directory / METADATA_FILE} describes it; retrain or promote the model")
    expected = meta.get("sha256")
    actual = sha256_file(artifact)
    if expected != actual:
        raise ConfigError(
            f"{artifact}: sha256 {actual[:16]}… does not match {expected and expected[:16]}… in {METADATA_FILE} — "
            "the file was changed after training; refusing to load it (a pickle is code). "
            f"Restore it with `zhijian models promote {directory.name} VERSION` or retrain"
        )
    return meta


def load_bundle(directory: Path) -> tuple[Any, dict[str, Any]]:
    """The verified model and its metadata."""
    import joblib

    meta = verify_bundle(directory)
    try:
        model = joblib.load(Path(directory) / meta.get("artifact", MODEL_FILE))
    except Exception as e:  # noqa: BLE001 — any unpickling failure is a start-up error
        raise ConfigError(f"{directory / MODEL_FILE}: could not be loaded ({type(e).__name__}: {e}); retrain the model") from None
    return model, meta


def has_bundle(directory: Path) -> bool:
    d = Path(directory)
    return (d / MODEL_FILE).exists() or (d / METADATA_FILE).exists()


def install_bundle(src: Path, dst: Path, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Copy a verified bundle from ``src`` into ``dst`` (what the pipeline loads), atomically per
    file, adding ``extra`` to its metadata (e.g. the registered version). Returns the metadata."""
    meta = verify_bundle(src)
    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=dst, suffix=".tmp", delete=False) as tmp:
        tmp_path = Path(tmp.name)
    shutil.copyfile(Path(src) / meta.get("artifact", MODEL_FILE), tmp_path)
    if sha256_file(tmp_path) != meta["sha256"]:
        tmp_path.unlink()
        raise ConfigError(f"copying {src} → {dst} changed the artifact's bytes; disk full?")
    os.chmod(tmp_path, 0o644)
    os.replace(tmp_path, dst / MODEL_FILE)
    meta = {**meta, **(extra or {}), "artifact": MODEL_FILE}
    write_metadata(dst, meta)
    import joblib

    write_inference(dst, joblib.load(dst / MODEL_FILE), meta["sha256"])
    return meta
