"""The model files shipped in ``emo/assets``: recorded SHA-256, licence, source, and they load."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
from skimage.data import astronaut

from emo import _native
from emo._native import ASSETS, MODELS, model_path
from emo.errors import FeatureError


def test_every_shipped_model_is_recorded_and_intact() -> None:
    shipped = {p.name for p in ASSETS.glob("*.task")}
    assert shipped == set(MODELS)
    for name, digest in MODELS.items():
        assert hashlib.sha256((ASSETS / name).read_bytes()).hexdigest() == digest
        assert model_path(name) == ASSETS / name


def test_licence_and_source_are_shipped_beside_the_models() -> None:
    assert "Apache License" in (ASSETS / "LICENSE").read_text()
    source = (ASSETS / "SOURCE.md").read_text()
    for name, digest in MODELS.items():
        assert name in source and digest in source


def test_the_wheel_ships_the_assets() -> None:
    import tomllib

    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    data = pyproject["tool"]["setuptools"]["package-data"]["emo"]
    for name in [*MODELS, "LICENSE", "SOURCE.md"]:
        assert any(Path("assets", name).match(pattern) for pattern in data), name


def _mp_image(image: np.ndarray):  # type: ignore[no-untyped-def]
    import mediapipe as mp

    return mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image))


def test_face_model_loads_and_finds_a_face() -> None:
    from emo.features.face.landmarks import new_face_landmarker

    with new_face_landmarker(static=True) as marker:
        result = marker.detect(_mp_image(astronaut()))
    assert len(result.face_landmarks) == 1 and len(result.face_landmarks[0]) == 478
    assert len(result.face_blendshapes[0]) == 52


def test_pose_model_loads_and_finds_a_body() -> None:
    from emo.features.body.pose import N_LANDMARKS, new_pose_landmarker

    with new_pose_landmarker() as marker:
        result = marker.detect_for_video(_mp_image(astronaut()), 33)
    assert len(result.pose_world_landmarks[0]) == N_LANDMARKS
    nose, hip_l, hip_r = (result.pose_landmarks[0][i] for i in (0, 23, 24))
    assert nose.y < min(hip_l.y, hip_r.y)  # the head above the hips in the image


def test_missing_or_damaged_model_is_a_clear_error(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    name = "face_landmarker.task"
    monkeypatch.setattr(_native, "ASSETS", tmp_path)
    check = model_path.__wrapped__  # the uncached check
    with pytest.raises(FeatureError, match="missing") as info:
        check(name)
    assert str(tmp_path / name) in str(info.value)
    damaged = tmp_path / name
    shutil.copyfile(ASSETS / name, damaged)
    with damaged.open("r+b") as handle:
        handle.seek(1000)
        byte = handle.read(1)
        handle.seek(1000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(FeatureError, match="damaged.*reinstall") as info:
        check(name)
    assert str(damaged) in str(info.value)
