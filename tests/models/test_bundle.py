"""Bundle: one typed fitted model, its round trip, and the errors of an untrustworthy bundle."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emo.errors import BundleError
from emo.models import Bundle, ModalityClassifier, StackingFusion

IDENTITIES = {"audio": {"extractor": "egemaps", "version": "1", "modality": "audio",
                        "settings": {"sample_rate": 16000}},
              "face": {"extractor": "face_au", "version": "2", "modality": "face",
                       "settings": {"fps": 15.0}}}


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory, synthetic) -> tuple[Path, Bundle, pd.DataFrame]:
    tables, y, groups = synthetic
    X = pd.concat(list(tables.values()), axis=1)
    fusion = StackingFusion(ModalityClassifier(n_estimators=20), n_splits=3)
    bundle = Bundle(fusion.fit(X, y, groups=groups), extractors=IDENTITIES,
                    label_map={"calm": None}, config={"seed": 0},
                    scores={"uar": {"fused": 0.9}}, provenance={"data": {"n_clips": len(y)}})
    folder = bundle.save(tmp_path_factory.mktemp("bundle") / "model")
    return folder, bundle, X


def test_round_trip_keeps_every_part(saved) -> None:
    folder, bundle, X = saved
    loaded = Bundle.load(folder)
    assert loaded.classes == bundle.classes
    assert loaded.modalities == ["audio", "face"]
    assert loaded.feature_columns["audio"] == [c for c in X.columns if c.startswith("audio__")]
    assert loaded.extractors == IDENTITIES
    assert loaded.label_map == {"calm": None}
    assert loaded.scores["uar"]["fused"] == 0.9
    assert {"emo", "lightgbm", "scikit-learn", "python"} <= set(loaded.provenance["packages"])
    assert loaded.provenance["data"] == {"n_clips": len(X)}
    np.testing.assert_allclose(loaded.fusion.predict_proba(X), bundle.fusion.predict_proba(X))
    assert json.loads((folder / "metrics.json").read_text()) == {"uar": {"fused": 0.9}}
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_top_features_per_modality(saved) -> None:
    _, bundle, _ = saved
    top = bundle.top_features(3)
    assert sorted(top) == ["audio", "face"]
    assert all(len(s) == 3 and s.is_monotonic_decreasing for s in top.values())
    assert all(name.startswith("audio__") for name in top["audio"].index)


def test_extractor_version_change_is_named(saved) -> None:
    folder, bundle, _ = saved
    bundle.check_extractors({"audio": "1", "face": "2", "body": "9"}, folder)
    with pytest.raises(BundleError, match=r"audio: bundle egemaps-1 vs now 2") as err:
        bundle.check_extractors({"audio": "2"}, folder)
    assert "bundle.json" in str(err.value)


def _copy(folder: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    return copy


def test_other_emo_major_version(saved, tmp_path: Path) -> None:
    copy = _copy(saved[0], tmp_path)
    info = json.loads((copy / "bundle.json").read_text())
    info["provenance"]["packages"]["emo"] = "99.0.0"
    (copy / "bundle.json").write_text(json.dumps(info))
    with pytest.raises(BundleError, match="emo 99.0.0.*refit") as err:
        Bundle.load(copy)
    assert "bundle.json" in str(err.value)


def test_old_layout_is_refused(saved, tmp_path: Path) -> None:
    copy = _copy(saved[0], tmp_path)
    info = json.loads((copy / "bundle.json").read_text())
    info["format"] = 1
    (copy / "bundle.json").write_text(json.dumps(info))
    with pytest.raises(BundleError, match="layout 1"):
        Bundle.load(copy)


def test_missing_and_altered_files(saved, tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="not a model bundle"):
        Bundle.load(tmp_path)
    (tmp_path / "bundle.json").write_text("{not json")
    with pytest.raises(BundleError, match="unreadable bundle manifest"):
        Bundle.load(tmp_path)
    copy = _copy(saved[0], tmp_path)
    (copy / "model.joblib").unlink()
    with pytest.raises(BundleError, match="model file missing"):
        Bundle.load(copy)
    (copy / "model.joblib").write_bytes(b"not a model")
    with pytest.raises(BundleError, match="checksum"):
        Bundle.load(copy)


def test_read_info_does_not_unpickle(saved, tmp_path: Path) -> None:
    copy = _copy(saved[0], tmp_path)
    (copy / "model.joblib").write_bytes(b"garbage")
    info = Bundle.read_info(copy)
    assert info["classes"] == saved[1].classes and info["actor_identifier"] is None


def test_predict_gives_groups_fused_and_modalities_in_one_pass(saved, synthetic) -> None:
    _, bundle, X = saved
    _, _, actors = synthetic
    known = actors.where(~actors.isin(["a04", "a05"]))  # two actors hidden
    result = bundle.predict(X, known_actors=known)
    fused, singles = bundle.fusion.predict_proba_all(X, groups=result.groups)
    pd.testing.assert_frame_equal(result.fused, fused.set_axis(bundle.classes, axis=1))
    assert sorted(result.modalities) == ["audio", "face"]
    assert list(result.fused.columns) == bundle.classes
    np.testing.assert_allclose(result.fused.sum(axis=1), 1.0)
    shown = ~actors.isin(["a04", "a05"])
    assert (result.groups[shown] == actors[shown]).all()
    hidden = result.groups[~shown]
    assert hidden.str.startswith("?").all() and hidden.nunique() == 1  # no identifier
    alone = bundle.predict(X, known_actors=actors)
    assert (alone.groups == actors).all()


@pytest.mark.parametrize("content", [
    b"garbage",
    b"\x80\x04\x95" + b"\xff" * 40,  # a truncated pickle frame
    pickle.dumps({"x": 1}),  # a pickle of the wrong object
    pickle.dumps(["fusion"]),
])
def test_garbage_with_a_matching_checksum_is_a_model_error(saved, tmp_path: Path,
                                                          content: bytes) -> None:
    import hashlib

    copy = _copy(saved[0], tmp_path)
    (copy / "model.joblib").write_bytes(content)
    info = json.loads((copy / "bundle.json").read_text())
    info["model_sha256"] = hashlib.sha256(content).hexdigest()
    (copy / "bundle.json").write_text(json.dumps(info))
    with pytest.raises(BundleError, match="model file does not (load|hold a fitted)") as err:
        Bundle.load(copy)
    assert "model.joblib" in str(err.value) and len(str(err.value)) < 400
