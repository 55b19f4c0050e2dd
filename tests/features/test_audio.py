"""Tests of the audio extractors in :mod:`emo.features.audio` on synthesised voices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from emo.data.clip import Clip
from emo.errors import FeatureError, MediaError
from emo.features.audio import smile, smile_frame, summarise_lld
from emo.features.base import DEFAULTS, get_extractor

SR = 16000
F0_NAME = "audio__F0semitoneFrom27.5Hz_sma3nz_amean"


def _voice(f0: float, seconds: float = 1.0, sr: int = SR, seed: int = 0) -> np.ndarray:
    """A crude vowel: 12 harmonics of ``f0`` with 1/k amplitudes, a little vibrato and noise."""
    t = np.arange(round(seconds * sr)) / sr
    phase = 2 * np.pi * f0 * (t + 0.002 * np.sin(2 * np.pi * 5 * t))
    x = sum(np.sin(k * phase) / k for k in range(1, 13))
    x = x + 0.01 * np.random.default_rng(seed).standard_normal(t.size)
    return (0.2 * x / np.abs(x).max()).astype(np.float32)


def _semitones(hz: float) -> float:
    return 12 * np.log2(hz / 27.5)


def _clip(tmp_path: Path, signal: np.ndarray, name: str = "voice", sr: int = SR,
          **segment: float) -> Clip:
    path = tmp_path / f"{name}.wav"
    sf.write(path, signal, sr)
    return Clip(name, actor="A", label="Ha", audio=path, **segment)


def test_egemaps_gives_88_named_finite_features(tmp_path):
    features = get_extractor("audio", "egemaps").extract(_clip(tmp_path, _voice(200.0)))
    assert len(features) == 88
    assert all(k.startswith("audio__") for k in features)
    assert all(np.isfinite(v) for v in features.values())
    assert features[F0_NAME] == pytest.approx(_semitones(200.0), abs=0.5)


def test_the_default_set_is_egemaps_and_compare_from_one_decoding(tmp_path):
    assert DEFAULTS["audio"] == "egemaps+compare"
    clip = _clip(tmp_path, _voice(200.0))
    both = get_extractor("audio").extract(clip)
    egemaps = get_extractor("audio", "egemaps").extract(clip)
    compare = get_extractor("audio", "compare").extract(clip)
    assert len(both) == 88 + 6373 == len(egemaps) + len(compare)
    assert {k: both[k] for k in egemaps} == egemaps
    assert {k: both[k.replace("audio__", "audio__compare__", 1)] for k in compare} == compare


def test_egemaps_sees_only_the_clip_segment(tmp_path):
    signal = np.concatenate([_voice(150.0), _voice(300.0, seed=1)])
    extractor = get_extractor("audio", "egemaps")
    low = extractor.extract(_clip(tmp_path, signal, start=0.0, end=1.0))
    high = extractor.extract(_clip(tmp_path, signal, start=1.0, end=2.0))
    assert low[F0_NAME] == pytest.approx(_semitones(150.0), abs=0.5)
    assert high[F0_NAME] == pytest.approx(_semitones(300.0), abs=0.5)


def test_rate_of_the_file_does_not_matter(tmp_path):
    extractor = get_extractor("audio", "egemaps")
    at_16k = extractor.extract(_clip(tmp_path, _voice(220.0), "a"))
    at_44k = extractor.extract(_clip(tmp_path, _voice(220.0, sr=44100), "b", sr=44100))
    assert at_44k[F0_NAME] == pytest.approx(at_16k[F0_NAME], abs=0.2)


def test_smile_is_built_once_per_process_and_keeps_no_state():
    assert smile("eGeMAPSv02", "Functionals") is smile("eGeMAPSv02", "Functionals")
    a, b = _voice(180.0), _voice(260.0, seed=3)
    first = smile_frame(a, SR, "eGeMAPSv02", "Functionals")
    smile_frame(b, SR, "eGeMAPSv02", "Functionals")
    again = smile_frame(a, SR, "eGeMAPSv02", "Functionals")
    pd.testing.assert_frame_equal(first, again)


def test_compare_gives_6373_features(tmp_path):
    features = get_extractor("audio", "compare").extract(_clip(tmp_path, _voice(200.0)))
    assert len(features) == 6373
    assert all(k.startswith("audio__") for k in features)


@pytest.mark.parametrize(("name", "smile_set"), [("egemaps", "eGeMAPSv02"),
                                                 ("compare", "ComParE_2016")])
def test_functionals_are_openSMILEs_row_named_and_in_order(tmp_path, name, smile_set):
    """The extractor reads openSMILE's array directly: the same names, order and values as
    the row of ``process_signal``'s DataFrame."""
    from emo.data.audio import read_audio

    clip = _clip(tmp_path, _voice(170.0, seed=4))
    features = get_extractor("audio", name).extract(clip)
    row = smile_frame(read_audio(clip.audio, sr=SR), SR, smile_set, "Functionals").iloc[0]
    assert list(features) == [f"audio__{c}" for c in row.index]
    assert np.array_equal(np.array(list(features.values())), row.to_numpy(float),
                          equal_nan=True)


def test_lld_summary_counts_voiced_frames_only(tmp_path):
    half_voiced = np.concatenate([_voice(200.0), np.zeros(SR, np.float32) + 1e-4 *
                                  np.random.default_rng(2).standard_normal(SR).astype(np.float32)])
    features = get_extractor("audio", "egemaps_lld").extract(_clip(tmp_path, half_voiced))
    assert features["audio__F0semitoneFrom27.5Hz_sma3nz_p50"] == pytest.approx(
        _semitones(200.0), abs=0.5)
    assert 0.3 < features["audio__voiced_fraction"] < 0.7
    assert "audio__Loudness_sma3_mean" in features and "audio__mfcc1_sma3_rise" in features


def test_summarise_lld_known_answer():
    lld = pd.DataFrame({"F0semitone_sma3nz": [0.0, 30.0, 32.0, 34.0, 0.0],
                        "Loudness_sma3": [0.0, 1.0, 2.0, 3.0, 4.0]})
    out = summarise_lld(lld, rate=100.0)
    assert out["F0semitone_sma3nz_mean"] == pytest.approx(32.0)
    assert out["F0semitone_sma3nz_rise"] == pytest.approx(200.0)  # 2 per frame at 100 frames/s
    assert out["Loudness_sma3_mean"] == pytest.approx(2.0)
    assert out["voiced_fraction"] == pytest.approx(0.6)


def test_settings_enter_the_identity_and_are_checked():
    a, b = get_extractor("audio", "egemaps"), get_extractor("audio", "egemaps", sample_rate=8000)
    assert a.identity() != b.identity()
    assert {get_extractor("audio", n).identity()["extractor"]
            for n in ("egemaps", "compare", "egemaps_lld", "egemaps+compare")
            } == {"egemaps", "compare", "egemaps_lld", "egemaps+compare"}
    with pytest.raises(FeatureError, match="sample_rate"):
        get_extractor("audio", "egemaps", sample_rate=1000)
    with pytest.raises(FeatureError, match="bad settings"):
        get_extractor("audio", "egemaps", window=3)


def test_bad_media_raise_clear_errors(tmp_path):
    extractor = get_extractor("audio")
    with pytest.raises(MediaError, match="file not found"):
        extractor.extract(Clip("x", audio=tmp_path / "missing.wav"))
    with pytest.raises(MediaError, match="silence"):
        extractor.extract(_clip(tmp_path, np.zeros(SR, np.float32)))
    with pytest.raises(FeatureError, match="no audio"):
        extractor.extract(Clip("y"))


def test_making_an_audio_extractor_loads_no_heavy_module():
    """A run with every clip cached makes the extractor but never calls it: it must not pay
    for numpy, pandas or openSMILE."""
    import subprocess
    import sys

    code = ("import sys; from emo.features.base import get_extractor; "
            "get_extractor('audio', 'compare').identity(); "
            "print(sorted({'numpy', 'pandas', 'opensmile'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
