"""A fitted model as one typed object, :class:`Bundle`, and the only code that knows its files.

A bundle folder holds ``model.joblib`` (the fitted fusion and actor identifier, pickled
together) and ``bundle.json`` (classes, feature columns, extractor identities, label map,
settings, scores, provenance and the SHA-256 of ``model.joblib``), plus ``metrics.json`` (the
scores alone, for people and scripts). Files are written atomically, ``bundle.json`` last,
so a reader never sees a half-written bundle, and a write interrupted between two renames
leaves a manifest whose checksum refuses the new model instead of mixing them.

``model.joblib`` is a pickle: load bundles only from sources you trust.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emo._io import atomic_write
from emo._version import __version__
from emo.errors import BundleError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BUNDLE_FORMAT", "UNKNOWN_ACTORS", "Bundle", "BundlePrediction", "package_versions"]

MODEL_FILE = "model.joblib"
META_FILE = "bundle.json"
METRICS_FILE = "metrics.json"
#: Version of the bundle layout itself.
BUNDLE_FORMAT = 2
#: Packages recorded in a bundle -> distribution names that may provide them.
PACKAGES = {
    "lightgbm": ("lightgbm",),
    "xgboost": ("xgboost-cpu", "xgboost"),
    "scikit-learn": ("scikit-learn",),
    "numpy": ("numpy",),
    "pandas": ("pandas",),
    "joblib": ("joblib",),
}


def package_versions() -> dict[str, str]:
    """Versions of Python, emo and the libraries a bundle depends on (``"not installed"``
    for a missing one)."""
    versions = {"python": platform.python_version(), "emo": __version__}
    for name, distributions in PACKAGES.items():
        versions[name] = getattr(sys.modules.get(name), "__version__", None) or "not installed"
        for distribution in distributions:
            try:
                versions[name] = metadata.version(distribution)
                break
            except metadata.PackageNotFoundError:
                continue
    return versions


#: The one group of the clips without an actor when a bundle has no actor identifier.
UNKNOWN_ACTORS = "?unknown"


@dataclass(frozen=True)
class BundlePrediction:
    """What :meth:`Bundle.predict` computes in one pass over the base models.

    Attributes
    ----------
    groups
        The actor (or inferred pseudo-actor) each clip was normalised with, by clip id.
    fused
        Fused class probabilities (index clip id, columns the classes).
    modalities
        Modality -> its own classifier's probabilities on the clips that have it.
    """

    groups: pd.Series
    fused: pd.DataFrame
    modalities: dict[str, pd.DataFrame]


def _excerpt(exc: BaseException, limit: int = 80) -> str:
    """The first ``limit`` characters of an exception's message, on one line."""
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit] + "..."


def _major(version: str) -> str:
    """Major component of a version string (``"1.4.2"`` -> ``"1"``)."""
    return version.split(".", 1)[0]


@dataclass
class Bundle:
    """A fitted model and everything needed to use it later, or to refuse it.

    Parameters
    ----------
    fusion
        The fitted fusion model (:class:`~emo.models.fusion.StackingFusion`).
    identifier
        The fitted actor identifier that groups clips without an actor into pseudo-actors
        (:class:`~emo.models.identity.ActorIdentifier`), or None.
    extractors
        Modality -> extractor identity (``extractor``, ``version``, ``modality``,
        ``settings``) the features were computed with.
    label_map
        The label map the training labels went through (``from -> to``; ``None`` drops).
    config
        The fit settings (``FitConfig.model_dump()``).
    scores
        Cross-validated scores (``CVResult.to_dict()``), timings, the actor-inference
        simulation and clip counts; also written as ``metrics.json``.
    provenance
        Training-data fingerprint and the machine; :meth:`save` adds the creation time and
        package versions.

    Examples
    --------
    >>> import tempfile, numpy as np, pandas as pd
    >>> from emo.models import ModalityClassifier, StackingFusion
    >>> y = pd.Series(np.tile(["An", "Ha"], 20), index=[f"c{i}" for i in range(40)])
    >>> X = pd.DataFrame({"audio__f0": (y == "Ha") * 2.0 + np.arange(40) % 3}, index=y.index)
    >>> groups = pd.Series(np.repeat(["a", "b", "c", "d"], 10), index=y.index)
    >>> fusion = StackingFusion(ModalityClassifier(n_estimators=5), n_splits=2)
    >>> bundle = Bundle(fusion.fit(X, y, groups=groups), scores={"uar": {"fused": 0.5}})
    >>> folder = bundle.save(tempfile.mkdtemp())
    >>> Bundle.load(folder).classes
    ['An', 'Ha']
    """

    fusion: Any
    identifier: Any = None
    extractors: dict[str, dict[str, Any]] = field(default_factory=dict)
    label_map: dict[str, str | None] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def classes(self) -> list[str]:
        """Class codes, the column order of the probabilities."""
        return [str(c) for c in self.fusion.classes_]

    @property
    def modalities(self) -> list[str]:
        """Modalities the fusion was fitted on."""
        return list(self.fusion.modalities_)

    @property
    def feature_columns(self) -> dict[str, list[str]]:
        """Feature columns of each modality's classifier."""
        return {m: list(c) for m, c in self.fusion.feature_columns_.items()}

    def top_features(self, n: int = 15) -> dict[str, Any]:
        """The ``n`` most important features of each modality (a Series, sorted, summing to
        at most 1)."""
        return {m: est.feature_importances_.sort_values(ascending=False).head(n)
                for m, est in self.fusion.estimators_.items()}

    def groups(self, X: pd.DataFrame, known_actors: pd.Series | None = None) -> pd.Series:
        """Actor of each clip; clips without one are grouped into pseudo-actors by the
        actor identifier (label-free), or form the one group :data:`UNKNOWN_ACTORS` when the
        bundle has none.

        Parameters
        ----------
        X
            Feature matrix (index clip id).
        known_actors
            Actor by clip id; missing, None or empty where unknown (None: all unknown).

        Returns
        -------
        pandas.Series
            Group of every row of ``X`` (strings, index ``X.index``).
        """
        import pandas as pd

        known = pd.Series(known_actors if known_actors is not None else {}, dtype=object)
        known = known.reindex(X.index).where(lambda s: s.astype(str) != "")
        if not known.isna().any():
            return known.astype(str).rename("group")
        if self.identifier is None:
            return known.fillna(UNKNOWN_ACTORS).astype(str).rename("group")
        return self.identifier.predict(X, groups=known).astype(str).rename("group")

    def predict(self, X: pd.DataFrame, known_actors: pd.Series | None = None
                ) -> BundlePrediction:
        """Groups, fused and per-modality probabilities of every clip, running each base
        model once.

        Parameters
        ----------
        X
            Feature matrix (index clip id, columns ``<modality>__<feature>``); every row
            needs a value of at least one of the bundle's modalities.
        known_actors
            Actor by clip id where known (see :meth:`groups`).

        Returns
        -------
        BundlePrediction
        """
        groups = self.groups(X, known_actors)
        fused, modalities = self.fusion.predict_proba_all(X, groups=groups)
        fused.columns = self.classes
        for proba in modalities.values():
            proba.columns = self.classes
        return BundlePrediction(groups, fused, modalities)

    def check_extractors(self, installed: Mapping[str, str], folder: str | Path = "") -> None:
        """Refuse the bundle when an installed extractor's version differs from the one
        the features were computed with.

        Parameters
        ----------
        installed
            Modality -> version of the extractor that would compute features now.
        folder
            The bundle folder, for the message.

        Raises
        ------
        BundleError
        """
        differ = [f"{m}: bundle {self.extractors[m]['extractor']}-"
                  f"{self.extractors[m]['version']} vs now {version}"
                  for m, version in sorted(installed.items())
                  if m in self.extractors and str(self.extractors[m]["version"]) != str(version)]
        if differ:
            raise BundleError("feature extractor versions differ from those the model was "
                              f"trained with ({'; '.join(differ)}); refit the model",
                              Path(folder) / META_FILE)

    # -- files ------------------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """Write the bundle to ``folder`` (created; existing bundle files are replaced).

        Returns
        -------
        pathlib.Path
            The folder.
        """
        import joblib

        folder = Path(folder)
        buffer = io.BytesIO()
        joblib.dump({"fusion": self.fusion, "identifier": self.identifier}, buffer)
        model = buffer.getvalue()
        atomic_write(folder / MODEL_FILE, model)
        atomic_write(folder / METRICS_FILE, json.dumps(self.scores, indent=2, default=float))
        provenance = {**self.provenance, "packages": package_versions(),
                      "created": datetime.now(UTC).isoformat(timespec="seconds")}
        info = {
            "format": BUNDLE_FORMAT,
            "classes": self.classes,
            "modalities": self.modalities,
            "feature_columns": self.feature_columns,
            "extractors": self.extractors,
            "label_map": self.label_map,
            "config": self.config,
            "scores": self.scores,
            "provenance": provenance,
            "actor_identifier": type(self.identifier).__name__ if self.identifier else None,
            "model_sha256": hashlib.sha256(model).hexdigest(),
        }
        atomic_write(folder / META_FILE, json.dumps(info, indent=2, sort_keys=True, default=str))
        self.provenance = provenance
        return folder

    @staticmethod
    def read_info(folder: str | Path) -> dict[str, Any]:
        """The manifest (``bundle.json``) of a bundle, without loading the model.

        Raises
        ------
        BundleError
            When the folder is not a bundle, the manifest is unreadable, of another
            layout or of another emo major version.
        """
        path = Path(folder) / META_FILE
        if not path.is_file():
            hint = "not a model bundle (no bundle.json); run emo fit"
            raise BundleError(hint, folder)
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise BundleError(f"unreadable bundle manifest ({exc})", path) from None
        if not isinstance(info, dict) or info.get("format") != BUNDLE_FORMAT:
            found = info.get("format") if isinstance(info, dict) else None
            raise BundleError(f"bundle layout {found!r}, this emo reads layout {BUNDLE_FORMAT}; "
                              "refit the model", path)
        saved = str(info.get("provenance", {}).get("packages", {}).get("emo", "?"))
        if _major(saved) != _major(__version__):
            raise BundleError(f"bundle made by emo {saved}, incompatible with the installed "
                              f"emo {__version__} (major versions differ); refit the model", path)
        return info

    @classmethod
    def load(cls, folder: str | Path) -> Bundle:
        """Read a bundle written by :meth:`save`, checking that it can be trusted.

        Raises
        ------
        BundleError
            Naming the file and the problem: not a bundle, missing or altered model file
            (checksum), a model file that does not unpickle into a fusion model, another
            layout or emo major version.

        Notes
        -----
        The checksum guards against damage, not tampering: whoever can write the folder can
        update ``bundle.json`` too, and unpickling ``model.joblib`` runs code. Load bundles
        only from sources you trust (see ``docs/bundle.md``).
        """
        import joblib

        folder = Path(folder)
        info = cls.read_info(folder)
        path = folder / MODEL_FILE
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise BundleError(f"model file missing or unreadable ({exc.strerror})", path) from None
        if hashlib.sha256(data).hexdigest() != info.get("model_sha256"):
            raise BundleError("model file does not match bundle.json (checksum differs); "
                              "refit the model", path)
        try:
            objects = joblib.load(io.BytesIO(data))
        except Exception as exc:  # noqa: BLE001 - any failure to unpickle: an unusable model
            raise BundleError(f"model file does not load ({type(exc).__name__}: "
                              f"{_excerpt(exc)}); refit the model", path) from None
        fusion = objects.get("fusion") if isinstance(objects, dict) else None
        if not callable(getattr(fusion, "predict_proba_all", None)):
            raise BundleError("model file does not hold a fitted fusion model; refit the model",
                              path)
        return cls(fusion=fusion, identifier=objects.get("identifier"),
                   extractors=info["extractors"], label_map=info["label_map"],
                   config=info["config"], scores=info["scores"],
                   provenance=info["provenance"])
