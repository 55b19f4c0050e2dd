"""Face features: AU geometry with known answers, MediaPipe on a real face, OpenFace CSVs."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage.data import astronaut

from emo.data.clip import Clip
from emo.data.video import iter_frames
from emo.errors import FeatureError, MediaError
from emo.features.base import get_extractor
from emo.features.face import FaceAUExtractor, OpenFaceExtractor, read_openface_csv
from emo.features.face.aus import (
    AU_NAMES,
    MEASURE_NAMES,
    action_units,
    align,
    clip_functionals,
    frame_measures,
    head_frame,
    head_pose,
)
from emo.features.face.landmarks import (
    BLENDSHAPES,
    N_LANDMARKS,
    _largest_face,
    image_landmarks,
    new_face_landmarker,
    track_landmarks,
    upscale,
)
from emo.features.functionals import DEFAULT_STATS
from tests.features._media import face_video


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    """Real MediaPipe landmarks of the astronaut photograph (pixel units, 478 x 3)."""
    return image_landmarks(astronaut())[0]


def test_mediapipe_finds_the_astronaut(face: np.ndarray) -> None:
    assert face.shape == (478, 3) and np.isfinite(face).all()
    # The face lies in the upper middle of the 512 x 512 photograph; eyes above the mouth,
    # the subject's right eye (33) on the image's left.
    nose = face[1]
    assert 170 < nose[0] < 280 and 90 < nose[1] < 170
    assert face[33, 0] < face[263, 0] and face[33, 1] < face[13, 1]


def test_blendshapes_of_the_astronaut_are_scores_in_their_order() -> None:
    import mediapipe as mp

    with new_face_landmarker(static=True) as marker:
        result = marker.detect(mp.Image(image_format=mp.ImageFormat.SRGB,
                                        data=np.ascontiguousarray(astronaut())))
    names = tuple(c.category_name for c in result.face_blendshapes[0])
    assert names == BLENDSHAPES
    _, scores = image_landmarks(astronaut())
    assert scores.shape == (52,) and ((scores >= 0) & (scores <= 1)).all()
    # a calm face: mouth closed, eyes open
    assert scores[BLENDSHAPES.index("jawOpen")] < 0.2
    assert scores[BLENDSHAPES.index("eyeBlinkLeft")] < 0.5
    _, none = image_landmarks(astronaut(), blendshapes=False)
    assert np.isnan(none).all()


def test_still_landmarks_do_not_depend_on_earlier_images(face: np.ndarray) -> None:
    image_landmarks(astronaut()[:, ::-1])  # another face first, through the shared landmarker
    np.testing.assert_array_equal(image_landmarks(astronaut())[0], face)


def _aus(landmarks: np.ndarray) -> dict[str, float]:
    out = action_units(align(landmarks[None]))
    return {k: float(v[0]) for k, v in out.items()}


def _iod(face: np.ndarray) -> float:
    return float(np.linalg.norm(face[263] - face[33]))


def _changes(before: np.ndarray, after: np.ndarray) -> dict[str, float]:
    a, b = _aus(before), _aus(after)
    return {k: b[k] - a[k] for k in AU_NAMES}


def _unrelated(changes: dict[str, float], related: set[str]) -> dict[str, float]:
    return {k: v for k, v in changes.items() if k not in related and abs(v) > 0.01}


def test_raised_lip_corners_raise_au12_only(face: np.ndarray) -> None:
    smile = face.copy()
    lift = 0.1 * _iod(face)
    smile[[61, 291], 1] -= lift  # image y points down
    changes = _changes(face, smile)
    assert changes["AU12"] == pytest.approx(0.1, abs=0.01)
    assert changes["AU15"] == pytest.approx(-0.1, abs=0.01)  # the antagonist
    assert _unrelated(changes, {"AU12", "AU15"}) == {}


def test_jaw_drop_raises_au26_and_au25(face: np.ndarray) -> None:
    opened = face.copy()
    drop = 0.15 * _iod(face)
    mouth_centre = (face[13, 1] + face[14, 1]) / 2
    jaw = face[:, 1] > mouth_centre  # the lower lip, chin and jaw line
    opened[jaw, 1] += drop
    changes = _changes(face, opened)
    assert changes["AU26"] == pytest.approx(0.15, abs=0.02)
    assert changes["AU25"] == pytest.approx(0.15, abs=0.02)
    brows_eyes_nose = {"AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU45"}
    assert {k: v for k, v in changes.items() if k in brows_eyes_nose and abs(v) > 0.01} == {}


def test_closed_eyes_raise_au45(face: np.ndarray) -> None:
    closed = face.copy()
    for upper, lower in [(159, 145), (158, 153), (160, 144), (386, 374), (385, 380), (387, 373)]:
        closed[upper] = face[lower]
    before, after = _aus(face), _aus(closed)
    assert before["AU45"] < 0.3
    assert after["AU45"] > 0.9
    assert after["AU05"] < before["AU05"]
    assert _unrelated(_changes(face, closed), {"AU45", "AU05"}) == {}


def test_brow_raise_and_frown(face: np.ndarray) -> None:
    raised = face.copy()
    brows = [107, 55, 66, 65, 105, 52, 70, 46, 63, 53, 336, 285, 296, 295, 334, 282, 300, 276,
             293, 283]
    raised[brows, 1] -= 0.1 * _iod(face)
    changes = _changes(face, raised)
    assert changes["AU01"] == pytest.approx(0.1, abs=0.01)
    assert changes["AU02"] == pytest.approx(0.1, abs=0.01)
    assert changes["AU04"] == pytest.approx(-0.1, abs=0.01)
    assert _unrelated(changes, {"AU01", "AU02", "AU04"}) == {}


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    y, p, r = np.radians([yaw, pitch, roll])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ ry @ rx


@pytest.mark.parametrize(("yaw", "pitch", "roll", "scale", "shift"),
                         [(0, 0, 30, 2.0, (100, -40, 5)), (25, -10, 0, 0.5, (0, 0, 0)),
                          (-30, 15, -20, 1.3, (-7, 300, 50))])
def test_aus_invariant_to_similarity(face: np.ndarray, yaw: float, pitch: float, roll: float,
                                     scale: float, shift: tuple[float, float, float]) -> None:
    centre = face.mean(axis=0)
    moved = (face - centre) @ _rotation(yaw, pitch, roll).T * scale + centre + shift
    before, after = frame_measures(face[None])[0], frame_measures(moved[None])[0]
    n_aus = len(AU_NAMES) + 2  # AUs, EAR, MAR
    np.testing.assert_allclose(after[:n_aus], before[:n_aus], atol=1e-9)


def test_head_pose_follows_rotation(face: np.ndarray) -> None:
    centre = face.mean(axis=0)
    camera = np.diag([1.0, -1.0, -1.0])  # image axes <-> camera axes (x right, y up, z to us)
    base = head_pose(head_frame(face[None])[0])[0]
    for axis, angle in [(0, 20.0), (1, -15.0), (2, 25.0)]:
        angles = [0.0, 0.0, 0.0]
        angles[axis] = angle
        yaw, pitch, roll = angles
        # Rotate in camera axes: yaw about up, pitch about right, roll about the view axis.
        rot = camera @ _rotation(yaw, -pitch, roll) @ camera
        turned = (face - centre) @ rot.T + centre
        pose = head_pose(head_frame(turned[None])[0])[0]
        assert pose[axis] - base[axis] == pytest.approx(angle, abs=3.0)


def test_missing_face_gives_nan_row(face: np.ndarray) -> None:
    frames = np.stack([face, np.full_like(face, np.nan)])
    out = frame_measures(frames)
    assert out.shape == (2, len(MEASURE_NAMES))
    assert np.isfinite(out[0]).all() and np.isnan(out[1]).all()


def test_clip_functionals_count_faceless_frames() -> None:
    times = np.arange(4) / 10
    values = np.array([[1.0], [3.0], [np.nan], [100.0]])
    valid = np.array([True, True, False, False])
    out = clip_functionals(times, values, ["AU12"], valid)
    assert out["face_fraction"] == 0.5
    assert out["AU12_mean"] == 2.0
    assert out["AU12_rise"] == pytest.approx(20.0)  # (3 - 1) / 0.1 s


# --- the face_au extractor on videos and stills ------------------------------------------


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return face_video(tmp_path_factory.mktemp("face") / "talk.mp4", 30)


def test_face_au_on_video(video: Path) -> None:
    extractor = get_extractor("face", fps=15)
    assert isinstance(extractor, FaceAUExtractor)
    features = extractor.extract(Clip("c1", actor="A", video=video))
    names = extractor.measure_names()
    assert len(names) == len(MEASURE_NAMES) + len(BLENDSHAPES) - 1  # all but _neutral
    assert len(features) == len(names) * len(DEFAULT_STATS) + 1
    assert all(k.startswith("face__") for k in features)
    assert features["face__face_fraction"] == 1.0
    assert np.isfinite(list(features.values())).all()
    # A still face drifting across the image: pose and shape barely change.
    assert abs(features["face__yaw_mean"]) < 15 and features["face__AU26_std"] < 0.05
    # Only shape, pose angles and the face fraction: no time, frame index or image position.
    measures = {k.removeprefix("face__").rsplit("_", 1)[0] for k in features}
    assert measures == {*names, "face"}
    assert 0 <= features["face__bs_jawOpen_p90"] <= 1


def test_blendshapes_setting_drops_their_features(video: Path) -> None:
    clip = Clip("c1", video=video, end=0.5)
    with_bs = FaceAUExtractor().extract(clip)
    without = FaceAUExtractor(blendshapes=False).extract(clip)
    assert FaceAUExtractor(blendshapes=False).identity() != FaceAUExtractor().identity()
    assert {k for k in with_bs if "__bs_" in k} and not {k for k in without if "__bs_" in k}
    assert without == {k: v for k, v in with_bs.items() if "__bs_" not in k}


def test_face_au_segment_and_fresh_state(video: Path) -> None:
    clip = Clip("c1", video=video, start=0.2, end=0.8)
    extractor = FaceAUExtractor(fps=None)
    times = [t for t, _ in iter_frames(video, start=0.2, end=0.8)]
    assert len(times) == 18 and times[0] == pytest.approx(0.2) and times[-1] < 0.8
    first = extractor.extract(clip)
    extractor.extract(Clip("c0", video=video))  # another clip in between
    assert extractor.extract(clip) == first


def test_tracking_state_is_fresh_for_every_clip(video: Path) -> None:
    import mediapipe as mp

    frames = list(iter_frames(video, fps=10))
    with new_face_landmarker(static=False) as marker:  # a new landmarker, public API
        expected = np.stack([
            _largest_face(marker.detect_for_video(
                mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(f)),
                33 * (i + 1)), f.shape[1], f.shape[0])[:N_LANDMARKS * 3]
            for i, (_, f) in enumerate(frames)]).reshape(len(frames), N_LANDMARKS, 3)
    track_landmarks(frames[::-1])  # another clip first
    _, points, scores = track_landmarks(frames)
    np.testing.assert_array_equal(points, expected)
    assert scores.shape == (len(frames), len(BLENDSHAPES)) and np.isfinite(scores).all()


def test_faceless_frames_are_counted(tmp_path: Path) -> None:
    path = face_video(tmp_path / "half.mp4", 20, blank_after=10)
    features = FaceAUExtractor(fps=None).extract(Clip("h", video=path))
    assert features["face__face_fraction"] == pytest.approx(0.5, abs=0.1)


def test_no_face_is_a_feature_error(tmp_path: Path) -> None:
    path = face_video(tmp_path / "empty_room.mp4", 6, blank_after=0)
    with pytest.raises(FeatureError, match="no face") as info:
        FaceAUExtractor().extract(Clip("e", video=path))
    assert str(path) in str(info.value)


def test_bad_video_is_a_media_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(100))
    with pytest.raises(MediaError) as info:
        FaceAUExtractor().extract(Clip("x", video=path))
    assert str(path) in str(info.value)


def test_small_grey_still_is_upscaled(tmp_path: Path) -> None:
    grey = cv2.cvtColor(astronaut()[40:220, 135:315], cv2.COLOR_RGB2GRAY)
    small = cv2.resize(grey, (48, 48), interpolation=cv2.INTER_AREA)
    assert upscale(small).shape == (256, 256, 3)
    path = tmp_path / "S001_001_00000001.png"
    cv2.imwrite(str(path), small)
    features = FaceAUExtractor().extract(Clip("s", video=path))
    assert features["face__face_fraction"] == 1.0
    assert features["face__AU12_std"] == 0.0


def test_ckplus48_faces_are_found(shared_data: Path) -> None:
    paths = sorted((shared_data / "ckplus48" / "happy").glob("*.png"))[::30][:6]
    found = [FaceAUExtractor().extract(Clip(p.stem, video=p))["face__face_fraction"]
             for p in paths]
    assert sum(found) >= 5


# --- OpenFace per-frame CSVs --------------------------------------------------------------

_HEADER = ("frame, face_id, timestamp, confidence, success, pose_Tx, pose_Ty, pose_Tz, "
           "pose_Rx, pose_Ry, pose_Rz, AU01_r, AU12_r, AU01_c, AU12_c")


def _openface_csv(path: Path, rows: list[tuple[float, ...]]) -> Path:
    lines = [_HEADER] + [", ".join(f"{v:g}" for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def _row(i: int, conf: float, success: int, au12: float) -> tuple[float, ...]:
    return (i + 1, 0, i / 30, conf, success, 10.0 * i, 5.0, 600.0, 0.1, -0.2, 0.0,
            0.5, au12, 1.0, float(au12 > 1))


@pytest.fixture
def openface_csv(tmp_path: Path) -> Path:
    rows = [_row(0, 0.98, 1, 1.0), _row(1, 0.97, 1, 3.0), _row(2, 0.0, 0, 0.0),
            _row(3, 0.3, 1, 4.5), _row(4, 0.95, 1, 2.0)]
    return _openface_csv(tmp_path / "take1.csv", rows)


def test_read_openface_csv_strips_header_spaces(openface_csv: Path) -> None:
    table = read_openface_csv(openface_csv)
    assert list(table.columns[:5]) == ["frame", "face_id", "timestamp", "confidence", "success"]
    assert table["AU12_r"].tolist() == [1.0, 3.0, 0.0, 4.5, 2.0]


def test_openface_drops_failed_and_low_confidence_frames(openface_csv: Path) -> None:
    extractor = get_extractor("face", "openface")
    assert isinstance(extractor, OpenFaceExtractor)
    features = extractor.extract(Clip("t", video=openface_csv))
    assert features["face__face_fraction"] == pytest.approx(3 / 5)
    assert features["face__AU12_r_mean"] == pytest.approx(2.0)
    assert features["face__AU12_c_mean"] == pytest.approx(2 / 3)
    assert features["face__pose_Ry_mean"] == pytest.approx(-0.2)
    assert not [k for k in features if "pose_T" in k or "timestamp" in k or "frame" in k]


def test_openface_sibling_csv_and_segment(openface_csv: Path) -> None:
    video = openface_csv.with_suffix(".mp4")  # need not exist: the CSV is what is read
    clip = Clip("t", video=video, start=1 / 30 - 1e-6, end=4 / 30 - 1e-6)
    extractor = OpenFaceExtractor()
    assert extractor.applies(clip) and extractor.sources(clip) == [openface_csv]
    features = extractor.extract(clip)  # frames 1, 2, 3: only frame 1 is usable
    assert features["face__face_fraction"] == pytest.approx(1 / 3)
    assert features["face__AU12_r_mean"] == 3.0


def test_openface_errors(tmp_path: Path) -> None:
    missing = Clip("m", video=tmp_path / "gone.mp4")
    assert not OpenFaceExtractor().applies(missing)
    with pytest.raises(MediaError, match="not found"):
        OpenFaceExtractor().extract(missing)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(MediaError, match="empty") as info:
        read_openface_csv(empty)
    assert str(empty) in str(info.value)
    no_aus = tmp_path / "no_aus.csv"
    no_aus.write_text("frame, timestamp, confidence, success\n1, 0, 0.9, 1\n")
    with pytest.raises(MediaError, match="AU"):
        read_openface_csv(no_aus)
    failed = _openface_csv(tmp_path / "failed.csv", [_row(i, 0.1, 0, 0.0) for i in range(3)])
    with pytest.raises(FeatureError, match="no frame") as info:
        OpenFaceExtractor().extract(Clip("f", video=failed))
    assert str(failed) in str(info.value)


def test_fps_is_a_setting_and_0_means_every_frame() -> None:
    every, none = FaceAUExtractor(fps=0), FaceAUExtractor(fps=None)
    assert every.identity() == none.identity() != FaceAUExtractor().identity()
    assert every.analysis_fps() is None and FaceAUExtractor().analysis_fps() == 10.0
    with pytest.raises(FeatureError, match="fps"):
        FaceAUExtractor(fps=-5)
