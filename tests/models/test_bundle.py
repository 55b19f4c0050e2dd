"""Bundle round trip and the errors of an untrustworthy bundle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emo.errors import BundleError
from emo.models import ModalityClassifier, StackingFusion, load_bundle, save_bundle


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory, synthetic) -> tuple[Path, object, dict]:
    tables, y, groups = synthetic
    fusion = StackingFusion(ModalityClassifier(n_estimators=20), n_splits=3).fit(tables, y, groups)
    path = save_bundle(tmp_path_factory.mktemp("bundle") / "model", fusion,
                       {"extractors": {"audio": "egemaps-1", "face": {"version": "2"}},
                        "cv": {"uar": {"fused": 0.9}}})
    return path, fusion, tables


def test_round_trip(bundle) -> None:
    path, fusion, tables = bundle
    loaded, info = load_bundle(path, expected_extractors={"audio": "egemaps-1", "face": "2"})
    assert info["classes"] == list(fusion.classes_)
    assert info["feature_columns"]["audio"] == list(tables["audio"].columns)
    assert {"emo", "lightgbm", "scikit-learn"} <= set(info["packages"])
    assert info["cv"]["uar"]["fused"] == 0.9
    assert (loaded.predict_proba(tables) == fusion.predict_proba(tables)).all().all()
    assert not list(path.glob("*.tmp"))


def test_extractor_mismatch_names_it(bundle) -> None:
    path, _, _ = bundle
    with pytest.raises(BundleError, match=r"audio: bundle egemaps-1 vs now egemaps-2"):
        load_bundle(path, expected_extractors={"audio": "egemaps-2"})


def test_other_emo_major_version(bundle, tmp_path: Path) -> None:
    path, _, _ = bundle
    copy = tmp_path / "old"
    copy.mkdir()
    (copy / "model.joblib").write_bytes((path / "model.joblib").read_bytes())
    info = json.loads((path / "bundle.json").read_text())
    info["packages"]["emo"] = "99.0.0"
    (copy / "bundle.json").write_text(json.dumps(info))
    with pytest.raises(BundleError, match="emo 99.0.0") as err:
        load_bundle(copy)
    assert "bundle.json" in str(err.value)


def test_missing_files(bundle, tmp_path: Path) -> None:
    path, _, _ = bundle
    with pytest.raises(BundleError, match="bundle.json is missing"):
        load_bundle(tmp_path)
    (tmp_path / "bundle.json").write_text((path / "bundle.json").read_text())
    with pytest.raises(BundleError, match="model.joblib is missing"):
        load_bundle(tmp_path)
    (tmp_path / "model.joblib").write_bytes(b"not a model")
    with pytest.raises(BundleError, match="checksum"):
        load_bundle(tmp_path)
