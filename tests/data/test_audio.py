"""Tests of :mod:`emo.data.audio`: formats, rates, channels, segments and every kind of bad file."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from emo.data.audio import END_TOLERANCE, MIN_DURATION, read_audio
from emo.errors import MediaError

QUIRKS = Path("/work/shared/data/tess/quirks")


def _tone(seconds: float, sr: int, freq: float = 440.0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(round(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _steps(sr: int) -> np.ndarray:
    """2 s of 440 Hz tone: amplitude 0.1 in the first second, 0.5 in the second."""
    tone = _tone(2.0, sr, amp=1.0)
    return tone * np.where(np.arange(tone.size) < sr, 0.1, 0.5).astype(np.float32)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def _peak_hz(x: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.argmax(spectrum) * sr / x.size)


def _write_video(path: Path, audio: np.ndarray | None, sr: int = 16000,
                 seconds: float = 2.0) -> Path:
    """A small MPEG-4 video (tiny grey frames), with an AAC track when ``audio`` is given."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("mpeg4", rate=10)
        video.width = video.height = 32
        video.pix_fmt = "yuv420p"
        sound = None if audio is None else out.add_stream("aac", rate=sr, layout="mono")
        for i in range(round(seconds * 10)):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 128, np.uint8), format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if sound is not None:
            step = 1024
            for i in range(0, audio.size, step):
                chunk = av.AudioFrame.from_ndarray(audio[None, i:i + step], format="fltp",
                                                   layout="mono")
                chunk.sample_rate = sr
                chunk.pts = i
                out.mux(sound.encode(chunk))
            out.mux(sound.encode(None))
    return path


@pytest.mark.parametrize(
    ("suffix", "fmt", "subtype", "atol"),
    [
        (".wav", "WAV", "PCM_16", 1e-4),
        (".wav", "WAV", "PCM_24", 1e-6),
        (".wav", "WAV", "FLOAT", 0),
        (".flac", "FLAC", "PCM_16", 1e-4),
        (".aiff", "AIFF", "PCM_16", 1e-4),
        (".wav", "AIFF", "PCM_16", 1e-4),  # AIFF content under a .wav name
        (".ogg", "OGG", "VORBIS", None),
        (".mp3", "MP3", "MPEG_LAYER_III", None),
    ],
)
def test_formats_decode_to_the_written_signal(tmp_path, suffix, fmt, subtype, atol):
    sr = 16000
    x = _tone(1.0, sr)
    path = tmp_path / f"clip{suffix}"
    sf.write(path, x, sr, format=fmt, subtype=subtype)
    y = read_audio(path, sr=sr)
    assert y.dtype == np.float32 and y.ndim == 1
    if atol is not None:
        np.testing.assert_allclose(y, x, atol=atol)
    else:  # lossy codecs: same length (within a codec frame), same pitch and loudness
        assert abs(y.size - x.size) <= 1152
        assert _peak_hz(y, sr) == pytest.approx(440, abs=5)
        assert _rms(y) == pytest.approx(_rms(x), rel=0.1)


@pytest.mark.parametrize("rate", [8000, 22050, 24414, 44100, 48000, 96000])
def test_any_rate_is_resampled_keeping_duration_and_pitch(tmp_path, rate):
    path = tmp_path / "clip.wav"
    sf.write(path, _tone(1.5, rate), rate)
    y = read_audio(path, sr=16000)
    assert abs(y.size - 24000) <= 1
    assert _peak_hz(y, 16000) == pytest.approx(440, abs=2)
    assert _rms(y[1000:-1000]) == pytest.approx(0.3 / np.sqrt(2), rel=0.02)


def test_stereo_is_averaged_unless_mono_is_false(tmp_path):
    sr = 16000
    left = _tone(0.5, sr)
    path = tmp_path / "stereo.flac"
    sf.write(path, np.stack([left, -0.5 * left], axis=1), sr)
    np.testing.assert_allclose(read_audio(path, sr=sr), 0.25 * left, atol=1e-4)
    both = read_audio(path, sr=sr, mono=False)
    assert both.shape == (left.size, 2)
    np.testing.assert_allclose(both[:, 1], -0.5 * left, atol=1e-4)


def test_segment_of_an_audio_file_is_the_matching_slice(tmp_path):
    sr = 16000
    x = _steps(sr)
    path = tmp_path / "clip.flac"
    sf.write(path, x, sr)
    np.testing.assert_allclose(read_audio(path, sr=sr, start=0.25, end=1.5),
                               x[4000:24000], atol=1e-4)
    np.testing.assert_allclose(read_audio(path, sr=sr, start=1.0), x[16000:], atol=1e-4)
    np.testing.assert_allclose(read_audio(path, sr=sr, end=0.5), x[:8000], atol=1e-4)


def test_segment_end_slightly_past_the_file_is_clipped(tmp_path):
    path = tmp_path / "clip.wav"
    sf.write(path, _tone(1.0, 16000), 16000)
    assert read_audio(path, start=0.5, end=1.0 + END_TOLERANCE / 2).size == 8000


@pytest.mark.parametrize("suffix", [".mp4", ".mov"])
def test_sound_track_of_a_video_whole_and_segments(tmp_path, suffix):
    sr = 16000
    path = _write_video(tmp_path / f"clip{suffix}", _steps(sr), sr)
    whole = read_audio(path, sr=sr)
    assert abs(whole.size - 2 * sr) <= 2048  # AAC frames of 1024 samples
    quiet = read_audio(path, sr=sr, start=0.2, end=0.8)
    loud = read_audio(path, sr=sr, start=1.2, end=1.8)
    assert abs(quiet.size - 9600) <= 1 and abs(loud.size - 9600) <= 1
    assert _rms(quiet) == pytest.approx(0.1 / np.sqrt(2), rel=0.1)
    assert _rms(loud) == pytest.approx(0.5 / np.sqrt(2), rel=0.1)
    assert _peak_hz(loud, sr) == pytest.approx(440, abs=5)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p, "file not found"),
        (lambda p: (p.write_bytes(b""), p)[1], r"empty \(0 bytes\)"),
        (lambda p: (p.write_bytes(b"just some text, no audio " * 40), p)[1], "not a readable"),
        (lambda p: (p.mkdir(), p)[1], "is a folder"),
    ],
    ids=["missing", "empty", "text", "folder"],
)
def test_unusable_files_raise_media_error_naming_the_file(tmp_path, make, message):
    path = make(tmp_path / "clip.wav")
    with pytest.raises(MediaError, match=message) as info:
        read_audio(path)
    assert info.value.path == path and str(path) in str(info.value)


def test_random_bytes_named_as_video_raise_media_error(tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(np.random.default_rng(0).bytes(4000))
    with pytest.raises(MediaError, match="clip.mp4"):
        read_audio(path)


def test_video_without_audio_track(tmp_path):
    path = _write_video(tmp_path / "silent.mp4", None)
    with pytest.raises(MediaError, match="no audio track"):
        read_audio(path)


@pytest.mark.parametrize(("suffix", "message"), [(".wav", "truncated"), (".flac", "truncated"),
                                                 (".mp3", "truncated")])
def test_truncated_files_are_rejected(tmp_path, suffix, message):
    full = tmp_path / f"full{suffix}"
    sf.write(full, _tone(2.0, 16000), 16000)
    cut = tmp_path / f"cut{suffix}"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError, match=message):
        read_audio(cut)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (3.0, None, "outside the file"),
        (0.5, 2.0 + 2 * END_TOLERANCE, "outside the file"),
        (-1.0, 0.5, "before the file"),
        (0.5, 0.5 + MIN_DURATION / 2, "shorter than"),
        (1.0, 0.5, "shorter than"),
        (float("nan"), None, "not a finite number"),
    ],
)
def test_bad_segments(tmp_path, start, end, message):
    path = tmp_path / "clip.wav"
    sf.write(path, _tone(2.0, 16000), 16000)
    with pytest.raises(MediaError, match=message):
        read_audio(path, start=start, end=end)


def test_file_shorter_than_one_frame(tmp_path):
    path = tmp_path / "blip.wav"
    sf.write(path, _tone(0.03, 16000), 16000)
    with pytest.raises(MediaError, match="shorter than"):
        read_audio(path)


def test_digital_silence_and_nan_samples(tmp_path):
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000, np.float32), 16000)
    with pytest.raises(MediaError, match="silence"):
        read_audio(silent)
    broken = tmp_path / "nan.wav"
    x = _tone(1.0, 16000)
    x[100] = np.nan
    sf.write(broken, x, 16000, subtype="FLOAT")
    with pytest.raises(MediaError, match="NaN"):
        read_audio(broken)


@settings(max_examples=25, deadline=None)
@given(rate=st.integers(8000, 96000), ms=st.integers(70, 700), out=st.sampled_from([8000, 16000]))
def test_output_length_follows_duration_and_rate(tmp_path_factory, rate, ms, out):
    path = tmp_path_factory.mktemp("h") / "clip.wav"
    n = round(ms / 1000 * rate)
    sf.write(path, _tone(n / rate, rate, freq=100), rate)
    assert abs(read_audio(path, sr=out).size - n * out / rate) <= 1


@pytest.mark.skipif(not QUIRKS.is_dir(), reason="real-data pack /work/shared/data absent")
@pytest.mark.parametrize("name", ["OAF_back_angry.wav", "OAF_food_fear.wav",
                                  "OA_bite_neutral.wav", "YAF_neat_fear.wav"])
def test_tess_quirk_files_decode_by_content(name):
    path = QUIRKS / name
    info = sf.info(path)
    y = read_audio(path, sr=16000)
    assert y.dtype == np.float32 and np.isfinite(y).all() and np.any(y)
    assert abs(y.size - info.duration * 16000) <= 1
    assert 0.01 < _rms(y) < 1.0
