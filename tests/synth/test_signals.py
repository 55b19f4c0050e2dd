"""Signal checks of the pure face, voice and skeleton functions of the demo generator."""

from __future__ import annotations

import numpy as np
import pytest

from emo.data.skeleton import KINECT_JOINTS
from emo.features.face.landmarks import image_landmarks
from emo.synth import face, skeleton, voice
from emo.synth.plan import Take
from emo.synth.timeline import envelope

SIZE = (192, 192)
J = {name: i for i, name in enumerate(KINECT_JOINTS)}


def _take(label: str) -> Take:
    return Take("frames_F1_X1", label, 1, 0.0, 2.5, 0.2, 0.6, 2.0, intensity=1.0)


def _render(activations: dict[str, float], seed: int = 0) -> np.ndarray:
    image, landmarks = face.base_face()
    actor = face.face_actor(np.random.default_rng(seed), SIZE, landmarks)
    grid = face.pixel_grid(SIZE)
    fields, window = face.active_window(
        face.au_fields(landmarks, face.output_to_base(actor, landmarks) @ grid), SIZE)
    a = actor.baseline + np.array([activations.get(au, 0.0) for au in face.AUS])
    return face.warp_frame(face.recolour(image, actor), grid, face.output_to_base(actor, landmarks),
                           fields, window, a, SIZE)


def _points(frame: np.ndarray) -> np.ndarray:
    points = image_landmarks(frame)[0][:, :2]
    assert np.isfinite(points).all(), "MediaPipe lost the face"
    return points


def _tilt_free(points: np.ndarray) -> np.ndarray:
    """Landmarks rotated so that the eyes are level, in inter-ocular units."""
    v = points[263] - points[33]
    c, s = v / np.linalg.norm(v)
    return (points - points[168]) @ np.array([[c, -s], [s, c]]) / np.linalg.norm(v)


@pytest.mark.parametrize("seed", [0, 1])
def test_smile_raises_the_lip_corners_and_brow_raise_the_brows(seed: int) -> None:
    rest = _tilt_free(_points(_render({}, seed)))
    happy = _tilt_free(_points(_render(face.EMOTION_AUS["Ha"], seed)))
    surprised = _tilt_free(_points(_render(face.EMOTION_AUS["Su"], seed)))
    corners = [61, 291]
    assert (rest[corners, 1] - happy[corners, 1]).mean() > 0.02
    brows = [105, 334, 70, 300]
    assert (rest[brows, 1] - surprised[brows, 1]).mean() > 0.02
    assert surprised[14, 1] - surprised[13, 1] > rest[14, 1] - rest[13, 1] + 0.02


def test_activations_follow_the_emotion() -> None:
    _, landmarks = face.base_face()
    actor = face.face_actor(np.random.default_rng(0), SIZE, landmarks)
    t = np.arange(0, 2.5, 1 / 15)
    rng = np.random.default_rng(0)
    ha = face.activations(t, [_take("Ha")], actor, np.zeros_like(t), rng)
    ne = face.activations(t, [_take("Ne")], actor, np.zeros_like(t), rng)
    au12 = face.AUS.index("AU12")
    assert ha[:, au12].max() > ne[:, au12].max() + 0.3


def _mean_f0(label: str, female: bool) -> float:
    rng = np.random.default_rng(1)
    actor = voice.VoiceActor.draw(rng, female)
    style = voice.take_style(label, 1.0, actor, rng)
    onsets, lengths = voice.syllables(2.0, actor.rate, rng)
    t = np.arange(32_000) / 16_000
    return float(voice.f0_contour(t, onsets, lengths, actor.f0, style, rng).mean())


def test_pitch_depends_on_sex_and_emotion() -> None:
    assert _mean_f0("Ne", True) > 1.4 * _mean_f0("Ne", False)
    assert _mean_f0("An", True) > _mean_f0("Sa", True) * 1.2


def test_voice_is_voiced_at_the_pitch() -> None:
    rng = np.random.default_rng(2)
    actor = voice.VoiceActor.draw(rng, female=False)
    style = voice.take_style("Ne", 1.0, actor, rng)
    onsets, lengths = voice.syllables(2.0, actor.rate, rng)
    x = voice.render(2.0, 16_000, onsets, lengths, actor, style, rng)
    assert x.size == 32_000 and np.isfinite(x).all()
    voiced = x[int(onsets[0] * 16_000):int((onsets[0] + lengths[0]) * 16_000)]
    ac = np.correlate(voiced, voiced, "full")[voiced.size - 1:]
    lag = np.argmax(ac[40:400]) + 40
    assert 0.6 * actor.f0 < 16_000 / lag < 1.6 * actor.f0


def test_skeleton_geometry_and_gestures() -> None:
    rng = np.random.default_rng(0)
    actor = skeleton.BodyActor.draw(rng, female=True)
    t = np.arange(0, 2.5, 1 / 30)
    hands = {}
    for label in ("Ha", "Sa"):
        pose = skeleton.pose_track(t, [_take(label)], actor, rng)
        joints = skeleton.forward_kinematics(pose, actor.segments)
        bone = np.linalg.norm(joints[:, J["ElbowLeft"]] - joints[:, J["ShoulderLeft"]], axis=1)
        assert np.ptp(bone) < 1e-9
        assert (joints[:, J["ShoulderLeft"], 0] < joints[:, J["ShoulderRight"], 0]).all()
        hands[label] = joints[:, [J["HandLeft"], J["HandRight"]], 1] - joints[:, [J["Head"]], 1]
    apex = envelope(t, _take("Ha")) > 0.9
    assert hands["Ha"][apex].mean() > hands["Sa"][apex].mean() + 0.3
    rotations = skeleton.joint_rotations(skeleton.place(joints, 0.0, 2.5, 0.9, 0.1))
    assert np.abs(rotations).max() <= 180.0
    assert (rotations[:, J["Head"]] == 0).all()
