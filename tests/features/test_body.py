"""Body features: known answers on synthetic motions, joint mapping, the extractor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emo.data.clip import Clip
from emo.data.skeleton import KINECT_JOINTS
from emo.errors import FeatureError, MediaError
from emo.features.base import get_extractor
from emo.features.body.kinect import KINECT_TO_COMMON
from emo.features.body.kinematics import (
    COMMON_JOINTS,
    clip_features,
    derivatives,
    prominences,
    rhythm_features,
)
from emo.features.body.pose import MEDIAPIPE_TO_COMMON, mediapipe_to_common

RATE = 30.0
J = {name: i for i, name in enumerate(COMMON_JOINTS)}
TRUNK = 0.5  # pelvis-to-neck distance of the template, metres

# A person standing 2.5 m from the sensor, facing it (Kinect axes: x the person's right, y up).
_LEFT = {"shoulder_l": (-0.18, 1.4), "elbow_l": (-0.2, 1.12), "wrist_l": (-0.2, 0.88),
         "hand_l": (-0.2, 0.8), "hip_l": (-0.1, 0.9), "knee_l": (-0.1, 0.5),
         "ankle_l": (-0.1, 0.1)}
_XY = {"pelvis": (0.0, 0.9), "spine": (0.0, 1.15), "neck": (0.0, 0.9 + TRUNK), "head": (0.0, 1.6),
       **_LEFT, **{k[:-1] + "r": (-x, y) for k, (x, y) in _LEFT.items()}}
STANDING = np.array([[*_XY[j], 2.5] for j in COMMON_JOINTS])


def still(n: int = 90) -> np.ndarray:
    return np.repeat(STANDING[None], n, axis=0)


def raise_arms(n: int = 90, sides: tuple[str, ...] = ("l", "r"), height: float = 0.4
               ) -> np.ndarray:
    """Forearms and hands of the given sides rise and fall once (a smooth bump)."""
    joints = still(n)
    bump = height * np.sin(np.pi * np.arange(n) / (n - 1)) ** 2
    for side in sides:
        for part in ("wrist", "hand"):
            joints[:, J[f"{part}_{side}"], 1] += bump
    return joints


def test_constant_speed_gives_that_speed_and_no_acceleration_or_jerk():
    joints = still()
    v = 0.3  # m/s forward, both hands
    for hand in ("hand_l", "hand_r"):
        joints[:, J[hand], 2] -= v * np.arange(len(joints)) / RATE
    f = clip_features(joints, RATE)
    for stat in ("mean", "p10", "p90"):
        assert f[f"hand_speed_{stat}"] == pytest.approx(v / TRUNK, rel=1e-6)
    assert f["hand_speed_std"] == pytest.approx(0.0, abs=1e-6)
    assert f["hand_acc_p90"] == pytest.approx(0.0, abs=1e-6)
    assert f["hand_jerk_p90"] == pytest.approx(0.0, abs=1e-5)
    assert f["head_speed_p90"] == pytest.approx(0.0, abs=1e-9)
    assert f["root_speed_p90"] == pytest.approx(0.0, abs=1e-9)


def test_whole_body_translation_rotation_and_size_change_nothing():
    t = np.arange(90)[:, None, None] / RATE
    phase = np.arange(len(J) * 3).reshape(1, len(J), 3)
    joints = raise_arms(sides=("r",)) + 0.02 * np.sin(2 * np.pi * 0.7 * t + phase)
    base = clip_features(joints, RATE)
    angle = np.radians(35)  # turned about the vertical axis, moved, and 20 % taller
    rot = np.array([[np.cos(angle), 0, np.sin(angle)], [0, 1, 0],
                    [-np.sin(angle), 0, np.cos(angle)]])
    moved = 1.2 * joints @ rot.T + np.array([1.5, -0.2, 0.7])
    other = clip_features(moved, RATE)
    assert other.keys() == base.keys()
    np.testing.assert_allclose([other[k] for k in base], list(base.values()), rtol=1e-7,
                               atol=1e-7)


def test_symmetric_gesture_is_more_symmetric_than_one_sided():
    both = clip_features(raise_arms(sides=("l", "r")), RATE)
    one = clip_features(raise_arms(sides=("r",)), RATE)
    assert both["arm_symmetry_p10"] == pytest.approx(1.0, abs=1e-9)
    assert one["arm_symmetry_p10"] < 0.8
    assert one["arm_symmetry_mean"] < both["arm_symmetry_mean"]


def test_bowed_head_increases_head_bow_and_forward_lean_increases_trunk_lean():
    upright = clip_features(still(), RATE)
    bowed = still()
    bowed[:, J["head"]] = bowed[:, J["neck"]] + [0.0, 0.14, -0.14]  # 45 deg toward the sensor
    f = clip_features(bowed, RATE)
    assert upright["head_bow_mean"] == pytest.approx(0.0, abs=1e-9)
    assert f["head_bow_mean"] == pytest.approx(45.0, abs=1e-6)
    leaning = still()
    upper = [J[n] for n in ("neck", "head", "shoulder_l", "shoulder_r", "elbow_l", "elbow_r",
                            "wrist_l", "wrist_r", "hand_l", "hand_r")]
    leaning[:, upper, 2] -= 0.2  # upper body toward the sensor: forward
    g = clip_features(leaning, RATE)
    assert g["trunk_lean_mean"] == pytest.approx(np.degrees(np.arctan2(0.2, TRUNK)), abs=1e-6)
    assert g["head_bow_mean"] == pytest.approx(-g["trunk_lean_mean"], abs=1e-6)


def test_raised_hands_are_higher_and_further_from_the_body():
    f, g = clip_features(still(), RATE), clip_features(raise_arms(height=0.4), RATE)
    assert g["hand_height_p90"] > f["hand_height_p90"] + 0.7  # 0.4 m / 0.5 m trunk
    assert g["hand_head_distance_p10"] < f["hand_head_distance_p10"]
    assert g["bounding_volume_mean"] == pytest.approx(f["bounding_volume_mean"])


def test_rhythm_of_a_periodic_gesture_and_of_stillness():
    joints = still(120)
    t = np.arange(120) / RATE
    joints[:, J["hand_r"], 0] += 0.1 * np.sin(2 * np.pi * 2.0 * t)
    f = clip_features(joints, RATE)
    assert f["movement_frequency"] == pytest.approx(4.0, abs=0.3)  # speed peaks twice a cycle
    s = clip_features(still(120), RATE)
    assert s["pause_fraction"] == 1.0 and s["pause_mean_s"] == pytest.approx(4.0)
    assert s["movement_peaks_per_s"] == 0.0
    r = rhythm_features(np.r_[np.zeros(30), np.ones(30), np.zeros(9), np.ones(21)], RATE)
    assert r["pause_fraction"] == pytest.approx(39 / 90) and r["pause_mean_s"] == pytest.approx(
        (30 + 9) / 2 / RATE)


def test_lost_joints_are_ignored_not_fatal():
    joints = raise_arms()
    joints[40:60, J["hand_l"]] = np.nan
    f = clip_features(joints, RATE)
    assert np.isfinite(f["hand_speed_mean"]) and np.isfinite(f["arm_symmetry_mean"])


@pytest.mark.parametrize(("joints", "message"), [
    (np.zeros((3, len(COMMON_JOINTS), 3)), "too few"),
    (np.zeros((10, 25, 3)), "shape"),
    (np.full((10, len(COMMON_JOINTS), 3), np.nan), "trunk"),
])
def test_bad_joint_arrays_raise_value_error(joints, message):
    with pytest.raises(ValueError, match=message):
        clip_features(joints, RATE)


# -- mapping ------------------------------------------------------------------------------
def _mediapipe_world(common: np.ndarray, visibility: float = 1.0) -> np.ndarray:
    """MediaPipe world landmarks (x image-right, y down) whose averages give ``common``."""
    world = np.zeros((len(common), 33, 4))
    world[..., 3] = visibility
    for name, idx in MEDIAPIPE_TO_COMMON.items():
        if len(idx) == 1:
            world[:, idx[0], :3] = common[:, J[name]] * [-1, -1, 1]
    hips, shoulders = common[:, [J["hip_l"], J["hip_r"]]], common[:, [J["shoulder_l"],
                                                                       J["shoulder_r"]]]
    for joint, (a, b) in (("head", (7, 8)), ("hand_l", (17, 19)), ("hand_r", (18, 20))):
        spread = np.array([0.02, 0.0, 0.0])
        world[:, a, :3] = (common[:, J[joint]] + spread) * [-1, -1, 1]
        world[:, b, :3] = (common[:, J[joint]] - spread) * [-1, -1, 1]
    assert np.allclose(hips.mean(1), common[:, J["pelvis"]])
    assert np.allclose(shoulders.mean(1), common[:, J["neck"]])
    return world


def test_mediapipe_maps_onto_common_joints_in_kinect_axes():
    common = STANDING - STANDING[J["pelvis"]]  # MediaPipe's origin is the hip centre
    common[J["spine"]] = (common[J["pelvis"]] + common[J["neck"]]) / 2
    out = mediapipe_to_common(_mediapipe_world(common[None]))
    np.testing.assert_allclose(out[0], common, atol=1e-12)
    assert out[0, J["shoulder_l"], 0] < 0 < out[0, J["shoulder_r"], 0]  # x: the person's right
    assert out[0, J["head"], 1] > out[0, J["pelvis"], 1]  # y: up


def test_mediapipe_hidden_limbs_are_missing_but_the_trunk_is_kept():
    world = _mediapipe_world(STANDING[None], visibility=0.1)
    world = np.concatenate([world, np.full((1, 33, 4), np.nan)])  # a frame without a body
    out = mediapipe_to_common(world)
    assert np.isnan(out[0, J["hand_l"]]).all() and np.isnan(out[0, J["knee_r"]]).all()
    for name in ("pelvis", "neck", "head", "shoulder_l", "hip_r", "spine"):
        assert np.isfinite(out[0, J[name]]).all()
    assert np.isnan(out[1]).all()


def test_the_same_motion_gives_the_same_features_from_kinect_and_from_video_pose():
    joints = raise_arms(sides=("r",))
    joints[:, J["spine"]] = (joints[:, J["pelvis"]] + joints[:, J["neck"]]) / 2
    kinect = np.zeros((len(joints), len(KINECT_JOINTS), 3))
    for name, kinect_name in KINECT_TO_COMMON.items():
        kinect[:, KINECT_JOINTS.index(kinect_name)] = joints[:, J[name]]
    from emo.features.body.kinect import kinect_to_common

    video = mediapipe_to_common(_mediapipe_world(joints - joints[:, [J["pelvis"]]]))
    a, b = clip_features(kinect_to_common(kinect), RATE), clip_features(video, RATE)
    np.testing.assert_allclose([b[k] for k in a], list(a.values()), rtol=1e-7, atol=1e-7)


# -- extractor ----------------------------------------------------------------------------
def _kinect_file(path: Path, joints: np.ndarray) -> Path:
    kinect = np.zeros((len(joints), len(KINECT_JOINTS), 6))
    for name, kinect_name in KINECT_TO_COMMON.items():
        kinect[:, KINECT_JOINTS.index(kinect_name), :3] = joints[:, J[name]]
    kinect[:, [KINECT_JOINTS.index(n) for n in KINECT_JOINTS if n not in
               KINECT_TO_COMMON.values()], :3] = joints[:, [J["head"]]]
    rows = [";".join(f"{v:.6f}" for v in (1000 * i / RATE, 0, *k.ravel())) + ";"
            for i, k in enumerate(kinect)]
    path.write_text("\n".join(rows).replace(".", ",") + "\n")
    return path


def test_extractor_reads_a_kinect_segment(tmp_path):
    joints = np.concatenate([still(30), raise_arms(60), still(30)])
    path = _kinect_file(tmp_path / "session.txt", joints)
    clip = Clip("frames_F1_Ha1", actor="F1", label="Ha", video=tmp_path / "absent.mp4",
                skeleton=path, skeleton_start=30, skeleton_end=89)
    extractor = get_extractor("body")  # auto: Kinect when there is a skeleton file
    assert extractor.applies(clip) and extractor.sources(clip) == [path]
    assert extractor.segment(clip) == ["kinect", 30, 89]
    features = extractor.extract(clip)
    assert all(k.startswith("body__") for k in features)
    expected = clip_features(raise_arms(60), RATE)
    assert features["body__hand_speed_p90"] == pytest.approx(expected["hand_speed_p90"], rel=1e-5)


def test_extractor_source_selection_and_errors(tmp_path):
    video_only = Clip("c", video=tmp_path / "v.mp4", start=1.0, end=2.5)
    auto, kinect = get_extractor("body", source="auto"), get_extractor("body", source="kinect")
    assert auto.segment(video_only) == ["video", 1.0, 2.5]
    assert not kinect.applies(video_only) and auto.applies(video_only)
    with pytest.raises(MediaError, match=r"v\.mp4: file not found"):
        auto.sources(video_only)
    with pytest.raises(FeatureError, match="source must be one of"):
        get_extractor("body", source="mocap")
    short = Clip("s", skeleton=_kinect_file(tmp_path / "k.txt", still(10)), skeleton_start=0,
                 skeleton_end=2)
    with pytest.raises(FeatureError, match=r"k\.txt: clip 's': 3 frames are too few"):
        kinect.extract(short)
    assert auto.settings() != get_extractor("body", source="video").settings()


def _astronaut_video(path, n_frames: int = 15):
    """A 15 fps video made of a real photograph (scikit-image's astronaut), panned."""
    av = pytest.importorskip("av")
    data = pytest.importorskip("skimage.data")
    image = data.astronaut()[::2, ::2]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=15)
        stream.width, stream.height, stream.pix_fmt = image.shape[1], image.shape[0], "yuv420p"
        for i in range(n_frames):
            frame = av.VideoFrame.from_ndarray(np.roll(image, 2 * i, axis=1), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def test_video_pose_end_to_end_on_a_real_photo(tmp_path):
    """MediaPipe on a short video made of a real photograph (scikit-image's astronaut)."""
    path = _astronaut_video(tmp_path / "astronaut.mp4")
    clip = Clip("a", video=path)
    extractor = get_extractor("body", source="video", rate=15.0)
    joints = extractor.joints(clip)
    assert joints.shape[1:] == (len(COMMON_JOINTS), 3) and len(joints) >= 13
    assert np.nanmedian(joints[:, J["shoulder_l"], 0]) < np.nanmedian(joints[:, J["shoulder_r"], 0])
    assert np.nanmedian(joints[:, J["head"], 1]) > np.nanmedian(joints[:, J["pelvis"], 1])
    features = extractor.extract(clip)
    assert np.isfinite(features["body__trunk_lean_mean"])


def test_video_pose_takes_in_one_pass_equal_takes_alone(tmp_path):
    """Every take starts a new Pose Landmarker: no tracking state crosses takes."""
    from emo.features.frames import analyse

    path = _astronaut_video(tmp_path / "astronaut.mp4", 30)
    extractor = get_extractor("body", source="video", rate=15.0, pose_fps=0)
    takes = [Clip("a", video=path, start=0.0, end=1.0), Clip("b", video=path, start=1.0)]
    together = dict(analyse([(extractor, clip) for clip in takes]))
    for i, clip in enumerate(takes):
        alone = extractor.extract(clip)
        assert list(together[i]) == list(alone)
        np.testing.assert_array_equal(list(together[i].values()), list(alone.values()))
    assert together[0]["body__hand_speed_mean"] != together[1]["body__hand_speed_mean"]


def test_pose_fps_is_a_setting_and_0_means_every_frame():
    every, none, default = (get_extractor("body", pose_fps=0), get_extractor("body", pose_fps=None),
                            get_extractor("body"))
    assert every.identity() == none.identity() != default.identity()
    assert (every.analysis_fps(), default.analysis_fps()) == (None, 10.0)
    with pytest.raises(FeatureError, match="pose_fps"):
        get_extractor("body", pose_fps=-1)


def test_prominences_match_scipy_find_peaks() -> None:
    from scipy.signal import find_peaks

    rng = np.random.default_rng(0)
    for _ in range(300):  # coarse values: many plateaus and ties
        x = np.round(rng.random(rng.integers(3, 80)) * 6) / 2
        expected = find_peaks(x, prominence=0)[1]["prominences"]
        np.testing.assert_allclose(prominences(x), expected)


@pytest.mark.parametrize("window", [5, 7, 15])
def test_derivatives_match_scipy_savgol_filter(window: int) -> None:
    from scipy.signal import savgol_filter

    rng = np.random.default_rng(window)
    x = np.cumsum(rng.normal(size=(40, 3, 2)), axis=0)
    for order, got in enumerate(derivatives(x, 30.0, window), start=1):
        expected = savgol_filter(x, window, 3, deriv=order, delta=1 / 30.0, axis=0)
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6 * 30.0**order)
