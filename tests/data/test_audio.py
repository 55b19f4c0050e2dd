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
    # a segment is the same stretch of the sound track as in the whole decode (a decoder's
    # pre-roll after the seek is not lost)
    np.testing.assert_allclose(loud, whole[19200:19200 + loud.size], atol=1e-3)
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


@pytest.mark.parametrize("name", ["clip.mp4", "clip.wav"])
def test_random_bytes_raise_media_error_without_error_numbers(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(np.random.default_rng(0).bytes(4000))
    with pytest.raises(MediaError, match=r"not a readable audio or video file \(.*FFmpeg: "
                       r"Invalid data found when processing input\)$") as info:
        read_audio(path)
    assert str(path) in str(info.value) and "Errno" not in str(info.value)


@pytest.mark.parametrize("name", ["clip.wav", "clip.mp3", "clip.flac"])
def test_a_misnamed_video_is_decoded_by_content(tmp_path, name):
    video = _write_video(tmp_path / "clip.mp4", _steps(16000))
    misnamed = tmp_path / name
    misnamed.write_bytes(video.read_bytes())
    np.testing.assert_array_equal(read_audio(misnamed, start=1.2, end=1.8),
                                  read_audio(video, start=1.2, end=1.8))


def _flac_streaminfo(path: Path, *, rate: int | None = None, total: int | None = None) -> Path:
    """Overwrite the sample rate (20 bits) or total samples (36 bits) of a FLAC header."""
    data = bytearray(path.read_bytes())
    bits = int.from_bytes(data[18:26], "big")  # rate, channels, bits per sample, total
    if rate is not None:
        bits = bits & ~(((1 << 20) - 1) << 44) | rate << 44
    if total is not None:
        bits = bits & ~((1 << 36) - 1) | total
    data[18:26] = bits.to_bytes(8, "big")
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(("write", "rate"), [
    (lambda p: sf.write(p, _tone(1.0, 16000), 100, format="WAV"), 100),
    (lambda p: _flac_streaminfo((sf.write(p, _tone(1.0, 16000), 16000, format="FLAC"), p)[1],
                                rate=1), 1),
], ids=["wav", "flac"])
def test_an_implausible_sample_rate_is_refused_before_resampling(tmp_path, write, rate):
    path = tmp_path / "clip"
    write(path)
    with pytest.raises(MediaError, match=rf"sample rate {rate} Hz is outside 4000-768000 Hz"):
        read_audio(path)


def test_flac_of_unknown_length_decodes_whole(tmp_path):
    x = _tone(1.0, 16000)
    path = tmp_path / "stream.flac"
    sf.write(path, x, 16000)
    _flac_streaminfo(path, total=0)  # "unknown", as streaming encoders write
    np.testing.assert_allclose(read_audio(path), x, atol=1e-4)


def test_header_promising_far_more_samples_costs_no_memory(tmp_path):
    import tracemalloc

    path = tmp_path / "liar.flac"
    sf.write(path, _tone(1.0, 16000), 16000)
    _flac_streaminfo(path, total=2**35)  # 24 days: 128 GiB if allocated up front
    tracemalloc.start()
    with pytest.raises(MediaError, match=r"liar\.flac: corrupt or truncated audio data \("):
        read_audio(path)
    assert tracemalloc.get_traced_memory()[1] < 50e6
    tracemalloc.stop()


def test_audio_track_without_usable_codec_or_index(tmp_path):
    data = _write_video(tmp_path / "clip.mp4", _steps(16000)).read_bytes()
    unknown = tmp_path / "codec.mp4"  # no codec description: PyAV has no codec context
    unknown.write_bytes(data.replace(b"mp4a", b"zzzz").replace(b"esds", b"zzzz"))
    with pytest.raises(MediaError, match=r"codec\.mp4: the audio track's codec is unknown"):
        read_audio(unknown)
    damaged = bytearray(data)
    damaged[damaged.rfind(b"stsz") + 2] = ord("w")  # the audio's sample-size table is lost
    no_index = tmp_path / "index.mp4"  # seeking fails: decoded from the start instead
    no_index.write_bytes(bytes(damaged))
    with pytest.raises(MediaError, match=r"index\.mp4: no audio samples could be decoded in "
                       r"the segment 1\.200-1\.800 s"):
        read_audio(no_index, start=1.2, end=1.8)
    with pytest.raises(MediaError, match=r"no audio samples could be decoded in the file"):
        read_audio(no_index)


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


@pytest.mark.parametrize("name", ["OAF_back_angry.wav", "OAF_food_fear.wav",
                                  "OA_bite_neutral.wav", "YAF_neat_fear.wav"])
def test_tess_quirk_files_decode_by_content(shared_data, name):
    path = shared_data / "tess" / "quirks" / name
    info = sf.info(path)
    y = read_audio(path, sr=16000)
    assert y.dtype == np.float32 and np.isfinite(y).all() and np.any(y)
    assert abs(y.size - info.duration * 16000) <= 1
    assert 0.01 < _rms(y) < 1.0
