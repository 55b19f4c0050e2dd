"""Save and load a fitted fusion model with the metadata needed to trust it later.

A bundle is a folder holding ``model.joblib`` (the fitted :class:`StackingFusion`) and
``bundle.json`` (classes, feature columns, extractor versions, package versions, CV scores and
the SHA-256 of ``model.joblib``). Both are written to temporary files and renamed into place,
``bundle.json`` last, so a reader never sees a half-written bundle.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import tempfile
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import joblib

from emo.errors import BundleError
from emo.models.fusion import StackingFusion

__all__ = ["BUNDLE_FORMAT", "BundleError", "load_bundle", "package_versions", "save_bundle"]

MODEL_FILE = "model.joblib"
META_FILE = "bundle.json"
#: Version of the bundle layout itself.
BUNDLE_FORMAT = 1
#: Packages recorded in a bundle -> distribution names that may provide them.
PACKAGES = {
    "emo": ("emo-fusion", "emo"),
    "lightgbm": ("lightgbm",),
    "xgboost": ("xgboost-cpu", "xgboost"),
    "scikit-learn": ("scikit-learn",),
    "numpy": ("numpy",),
    "pandas": ("pandas",),
    "joblib": ("joblib",),
}


def package_versions() -> dict[str, str]:
    """Installed versions of emo and the libraries a bundle depends on (plus Python).

    ``emo`` falls back to ``emo.__version__`` when the package is not installed as a
    distribution; a missing library is reported as ``"not installed"``.
    """
    versions = {"python": platform.python_version()}
    for name, distributions in PACKAGES.items():
        versions[name] = getattr(sys.modules.get(name), "__version__", None) or "not installed"
        for distribution in distributions:
            try:
                versions[name] = metadata.version(distribution)
                break
            except metadata.PackageNotFoundError:
                continue
    return versions


def _extractor_version(identity: object) -> str:
    """Version of an extractor recorded either as a string or as an identity dict."""
    return str(identity.get("version") if isinstance(identity, dict) else identity)


def _major(version: str) -> str:
    """Major component of a version string (``"1.4.2"`` -> ``"1"``)."""
    return version.split(".", 1)[0]


def _sha256(path: Path) -> str:
    """Hex SHA-256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_atomic(path: Path, write: object) -> None:
    """Call ``write(tmp_path)`` then rename the temporary file onto ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_bundle(path: str | Path, fusion: StackingFusion, meta: dict | None = None) -> Path:
    """Write a fitted fusion model and its metadata to the folder ``path``.

    Parameters
    ----------
    path : str or pathlib.Path
        Bundle folder (created if needed; existing bundle files are replaced).
    fusion : StackingFusion
        Fitted model.
    meta : dict or None
        JSON-able extras recorded in ``bundle.json``. The key ``extractors`` (modality ->
        extractor version, or -> identity dict with a ``version`` key) is checked by
        :func:`load_bundle`; ``cv`` (e.g. :meth:`CVResult.to_dict` plus ``timings``) and
        ``machine`` are shown by :func:`emo.factsheet.write_factsheet`.

    Returns
    -------
    pathlib.Path
        The bundle folder.
    """
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    meta = dict(meta or {})
    _write_atomic(folder / MODEL_FILE, lambda tmp: joblib.dump(fusion, tmp))
    info = {
        **meta,
        "format": BUNDLE_FORMAT,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "classes": [str(c) for c in fusion.classes_],
        "modalities": list(fusion.modalities_),
        "feature_columns": fusion.feature_columns_,
        "extractors": meta.get("extractors", {}),
        "cv": meta.get("cv", {}),
        "params": {k: repr(v) for k, v in fusion.get_params(deep=False).items()},
        "packages": package_versions(),
        "model_sha256": _sha256(folder / MODEL_FILE),
    }
    text = json.dumps(info, indent=2, sort_keys=True, default=str)
    _write_atomic(folder / META_FILE, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return folder


def read_bundle_info(path: str | Path) -> dict:
    """Read and return ``bundle.json`` of the bundle folder ``path``.

    Raises
    ------
    emo.errors.BundleError
        If the file is missing or not valid JSON.
    """
    file = Path(path) / META_FILE
    if not file.is_file():
        raise BundleError("not a model bundle: bundle.json is missing", path=file)
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise BundleError(f"unreadable bundle metadata ({err})", path=file) from err


def load_bundle(
    path: str | Path, expected_extractors: dict[str, str] | None = None
) -> tuple[StackingFusion, dict]:
    """Load a bundle written by :func:`save_bundle`, checking that it can be trusted.

    Parameters
    ----------
    path : str or pathlib.Path
        Bundle folder.
    expected_extractors : dict of str to str or None
        Extractor name -> version the caller will compute features with; each one the bundle
        also records must match.

    Returns
    -------
    (StackingFusion, dict)
        The fitted model and the contents of ``bundle.json``.

    Raises
    ------
    emo.errors.BundleError
        Naming the file and the problem: missing files, a model file that does not match its
        metadata, another emo major version, or extractor versions that differ.
    """
    folder = Path(path)
    info = read_bundle_info(folder)
    model_file = folder / MODEL_FILE
    if not model_file.is_file():
        raise BundleError("model.joblib is missing", path=model_file)
    if _sha256(model_file) != info.get("model_sha256"):
        raise BundleError("model.joblib does not match bundle.json (checksum differs)", model_file)
    saved = info.get("packages", {}).get("emo", "not installed")
    current = package_versions()["emo"]
    if _major(saved) != _major(current):
        raise BundleError(
            f"bundle made by emo {saved}, incompatible with the installed emo {current} "
            "(major versions differ); refit the model",
            path=folder / META_FILE,
        )
    recorded = info.get("extractors", {})
    differ = [
        f"{name}: bundle {_extractor_version(recorded[name])} vs now {version}"
        for name, version in sorted((expected_extractors or {}).items())
        if name in recorded and _extractor_version(recorded[name]) != str(version)
    ]
    if differ:
        raise BundleError(
            "feature extractor versions differ from those the model was trained with ("
            + "; ".join(differ) + "); refit the model or use matching extractors",
            path=folder / META_FILE,
        )
    model = joblib.load(model_file)
    if not isinstance(model, StackingFusion):
        raise BundleError(f"model.joblib holds a {type(model).__name__}", path=model_file)
    return model, info
