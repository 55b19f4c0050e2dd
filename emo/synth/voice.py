"""A small source-filter voice: glottal pulses, syllables, formants, tilt and breath.

The source is a pulse train following an F0 contour (declination, pitch accents, an
optional final rise) with jitter, shimmer and creak, shaped by a glottal low-pass, lip
radiation and a spectral-tilt filter. Syllables are loudness bumps at the speaking rate,
each with a vowel (a cascade of formant resonators) and a short fricative onset; breath
noise runs beside the voicing. Emotion and actor move the parameters.

Pure functions over NumPy arrays; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
from scipy.signal import lfilter

from emo.synth.plan import BySex

#: Formants F1-F4 (Hz) of five vowels of an adult male voice.
VOWELS = np.array([
    [730, 1090, 2440, 3400],
    [530, 1840, 2480, 3500],
    [270, 2290, 3010, 3700],
    [570, 840, 2410, 3300],
    [300, 870, 2240, 3300],
], dtype=float)
#: Formant bandwidths (Hz).
BANDWIDTHS = np.array([80.0, 100.0, 150.0, 200.0])


@dataclass(frozen=True)
class VoiceStyle:
    """Voice parameters that emotions move (the neutral style is the reference).

    Attributes
    ----------
    f0_st
        Mean pitch shift in semitones.
    range_st
        Height of pitch accents in semitones.
    gain_db
        Loudness change in dB.
    tilt
        Spectral tilt: log2 factor of the tilt filter's cut-off (> 0 flatter, brighter).
    rate
        log2 factor of the speaking rate.
    jitter, shimmer
        Relative period and amplitude perturbation per glottal cycle.
    breath
        Aspiration noise level relative to voicing.
    rise_st
        Pitch change over the last third of the utterance in semitones.
    creak
        Probability that a glottal cycle is creaky (long, weak).
    formants
        Relative shift of all formants.
    """

    f0_st: float = 0.0
    range_st: float = 3.0
    gain_db: float = 0.0
    tilt: float = 0.0
    rate: float = 0.0
    jitter: float = 0.0
    shimmer: float = 0.0
    breath: float = 0.0
    rise_st: float = 0.0
    creak: float = 0.0
    formants: float = 0.0


#: Prototypical vocal expression of each emotion.
EMOTION_STYLES: dict[str, VoiceStyle] = {
    "An": VoiceStyle(5.0, 7.0, 9.0, 1.0, 0.3, 0.004, 0.01, -0.02, 0.0, 0.0, 0.03),
    "Di": VoiceStyle(-2.0, 3.5, -1.0, -0.3, -0.3, 0.01, 0.04, 0.02, -1.0, 0.3, -0.01),
    "Fe": VoiceStyle(6.0, 4.0, 1.0, 0.0, 0.4, 0.015, 0.03, 0.08, 1.0, 0.0, 0.0),
    "Ha": VoiceStyle(4.0, 8.0, 4.0, 0.5, 0.15, 0.0, 0.0, 0.0, 1.0, 0.0, 0.04),
    "Ne": VoiceStyle(),
    "Sa": VoiceStyle(-2.5, 1.5, -6.0, -1.0, -0.45, 0.004, 0.02, 0.06, -1.0, 0.1, -0.02),
    "Su": VoiceStyle(3.0, 6.0, 3.0, 0.3, 0.0, 0.0, 0.0, 0.02, 6.0, 0.0, 0.02),
}

#: Standard deviation of take-to-take variation of each style parameter.
TAKE_NOISE = VoiceStyle(1.2, 1.2, 2.0, 0.3, 0.12, 0.002, 0.01, 0.02, 1.0, 0.03, 0.015)

#: Mean pitch of an actor in Hz, by sex.
F0_HZ = BySex(female=(185, 235), male=(100, 135))
#: Vocal-tract scaling of an actor's formants, by sex.
FORMANT_SCALE = BySex(female=(1.1, 1.2), male=(0.95, 1.05))


@dataclass(frozen=True)
class VoiceActor:
    """Per-actor voice.

    Attributes
    ----------
    f0
        Mean pitch in Hz (range by sex: :data:`F0_HZ`).
    formant_scale
        Vocal-tract scaling of all formants (range by sex: :data:`FORMANT_SCALE`).
    gain_db
        Loudness offset.
    tilt_hz
        Cut-off of the tilt low-pass in the neutral style.
    rate
        Syllables per second in the neutral style.
    jitter, shimmer, breath
        Neutral voice quality.
    expressivity
        Multiplier of emotional deviations from neutral.
    """

    f0: float
    formant_scale: float
    gain_db: float
    tilt_hz: float
    rate: float
    jitter: float
    shimmer: float
    breath: float
    expressivity: float

    @classmethod
    def draw(cls, rng: np.random.Generator, female: bool) -> VoiceActor:
        """Draw one actor's voice.

        Parameters
        ----------
        rng
            Random generator.
        female
            Female or male register.

        Returns
        -------
        VoiceActor
        """
        return cls(
            f0=F0_HZ.draw(rng, female),
            formant_scale=FORMANT_SCALE.draw(rng, female),
            gain_db=float(rng.normal(0.0, 2.0)),
            tilt_hz=float(rng.uniform(1000, 1800)),
            rate=float(rng.uniform(3.8, 5.0)),
            jitter=float(rng.uniform(0.004, 0.008)),
            shimmer=float(rng.uniform(0.03, 0.06)),
            breath=float(rng.uniform(0.02, 0.06)),
            expressivity=float(rng.uniform(0.5, 1.2)),
        )


def take_style(label: str, intensity: float, actor: VoiceActor,
               rng: np.random.Generator) -> VoiceStyle:
    """The style of one take: neutral + scaled emotional deviation + take noise.

    Parameters
    ----------
    label
        Emotion code.
    intensity
        How strongly the take is acted.
    actor
        The actor (its expressivity scales the deviation).
    rng
        Random generator.

    Returns
    -------
    VoiceStyle
    """
    neutral, target = EMOTION_STYLES["Ne"], EMOTION_STYLES[label]
    k = intensity * actor.expressivity
    values = {}
    for f in fields(VoiceStyle):
        a, b, s = (getattr(x, f.name) for x in (neutral, target, TAKE_NOISE))
        values[f.name] = a + k * (b - a) + rng.normal(0.0, s)
    style = replace(neutral, **values)
    return replace(style, jitter=max(style.jitter, 0.0), shimmer=max(style.shimmer, 0.0),
                   breath=max(style.breath, 0.0), creak=float(np.clip(style.creak, 0.0, 0.6)))


def syllables(duration: float, rate: float, rng: np.random.Generator,
              ) -> tuple[np.ndarray, np.ndarray]:
    """Syllable onsets and lengths (seconds) filling an utterance.

    Parameters
    ----------
    duration
        Utterance length in seconds.
    rate
        Syllables per second.
    rng
        Random generator.

    Returns
    -------
    onsets, lengths : numpy.ndarray
        Onsets from about 0.05 s, each syllable ending before ``duration``.
    """
    onsets, t = [], 0.05
    while t + 0.6 / rate < duration:
        onsets.append(t)
        t += rng.uniform(0.75, 1.25) / rate * (2.2 if rng.random() < 0.08 else 1.0)
    onsets_a = np.asarray(onsets)
    return onsets_a, 0.75 / rate * rng.uniform(0.8, 1.1, onsets_a.size)


def syllable_envelope(t: np.ndarray, onsets: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Loudness envelope of syllables at sorted times ``t``: smooth bumps, 0 between them."""
    out = np.zeros_like(t, dtype=float)
    for s, d in zip(onsets, lengths, strict=True):
        i, j = np.searchsorted(t, [s, s + d])
        x = (t[i:j] - s) / d
        out[i:j] = np.maximum(out[i:j], np.sin(np.pi * x**0.7) ** 2)
    return out


def f0_contour(t: np.ndarray, onsets: np.ndarray, lengths: np.ndarray, f0: float,
               style: VoiceStyle, rng: np.random.Generator) -> np.ndarray:
    """Pitch (Hz) at times ``t``: declination, accents on some syllables, final rise.

    Parameters
    ----------
    t
        Times in seconds from the utterance start.
    onsets, lengths
        Syllables.
    f0
        The actor's mean pitch in Hz.
    style
        Pitch shift, accent range and final rise.
    rng
        Random generator.

    Returns
    -------
    numpy.ndarray
        F0 in Hz.
    """
    end = float(t[-1]) if t.size else 1.0
    st = style.f0_st - 2.0 * t / end
    for s, d in zip(onsets, lengths, strict=True):
        if rng.random() < 0.4:
            st += style.range_st * rng.uniform(0.5, 1.0) * np.exp(-(((t - s - d / 2) / d) ** 2))
    x = np.clip((t / end - 2 / 3) * 3, 0.0, 1.0)
    st += style.rise_st * x * x * (3 - 2 * x)
    return f0 * 2.0 ** (st / 12.0)


def glottal_pulses(f0: np.ndarray, sr: int, style: VoiceStyle, jitter: float, shimmer: float,
                   rng: np.random.Generator) -> np.ndarray:
    """Impulse train, one impulse per glottal cycle, with jitter, shimmer and creak.

    Parameters
    ----------
    f0
        Pitch in Hz per sample.
    sr
        Sample rate.
    style
        Adds jitter, shimmer and the creak probability.
    jitter, shimmer
        The actor's own perturbation levels.
    rng
        Random generator.

    Returns
    -------
    numpy.ndarray
        Excitation of the same length as ``f0``; fractional positions are split between
        neighbouring samples.
    """
    n = f0.size
    out = np.zeros(n + 2)
    pos = 0.0
    jit, shim = jitter + style.jitter, shimmer + style.shimmer
    while pos < n:
        period = sr / f0[int(pos)] * (1.0 + jit * rng.standard_normal())
        amp = max(0.0, 1.0 + shim * rng.standard_normal())
        if rng.random() < style.creak:
            period *= rng.uniform(1.4, 2.0)
            amp *= 0.5
        i, frac = int(pos), pos - int(pos)
        out[i] += amp * (1.0 - frac)
        out[i + 1] += amp * frac
        pos += max(period, 2.0)
    return out[:n]


def shape_source(pulses: np.ndarray, sr: int, tilt_hz: float) -> np.ndarray:
    """Glottal low-pass (two poles), lip radiation (difference) and a tilt low-pass."""
    g = np.exp(-2 * np.pi * 100.0 / sr)
    x = lfilter([1.0], [1.0, -2 * g, g * g], pulses)
    x = np.diff(x, prepend=0.0)
    a = np.exp(-2 * np.pi * tilt_hz / sr)
    return lfilter([1.0 - a], [1.0, -a], x)


def formant_filter(x: np.ndarray, formants: np.ndarray, bandwidths: np.ndarray,
                   sr: int) -> np.ndarray:
    """Cascade of two-pole resonators with unit gain at 0 Hz (Klatt style)."""
    for f, b in zip(formants, bandwidths, strict=True):
        if f >= sr / 2:
            continue
        r = np.exp(-np.pi * b / sr)
        c1, c2 = 2 * r * np.cos(2 * np.pi * f / sr), -r * r
        x = lfilter([1.0 - c1 - c2], [1.0, -c1, -c2], x)
    return x


def render(duration: float, sr: int, onsets: np.ndarray, lengths: np.ndarray,
           actor: VoiceActor, style: VoiceStyle, rng: np.random.Generator) -> np.ndarray:
    """Synthesise one utterance.

    Parameters
    ----------
    duration
        Length in seconds.
    sr
        Sample rate.
    onsets, lengths
        Syllables (see :func:`syllables`).
    actor
        The voice.
    style
        The take's style (see :func:`take_style`).
    rng
        Random generator.

    Returns
    -------
    numpy.ndarray
        Mono float signal, RMS of the voiced part about ``0.03 * 10 ** (gain_db / 20)``.
    """
    n = int(round(duration * sr))
    t = np.arange(n) / sr
    env = syllable_envelope(t, onsets, lengths)
    f0 = f0_contour(t, onsets, lengths, actor.f0, style, rng)
    voiced = shape_source(glottal_pulses(f0, sr, style, actor.jitter, actor.shimmer, rng), sr,
                          actor.tilt_hz * 2.0**style.tilt)
    voiced /= np.std(voiced) + 1e-12
    breath = (actor.breath + style.breath) * lfilter([1.0, -0.5], [1.0], rng.standard_normal(n))
    excitation = (voiced + 2.0 * breath) * env
    out = np.zeros(n)
    scale = actor.formant_scale * (1.0 + style.formants)
    for s, d in zip(onsets, lengths, strict=True):
        i0, i1 = int(s * sr), min(n, int((s + d) * sr) + 1)
        vowel = VOWELS[rng.integers(len(VOWELS))] * scale * rng.uniform(0.95, 1.05, 4)
        bw = BANDWIDTHS * (1.0 + 3.0 * (actor.breath + style.breath))
        out[i0:i1] += formant_filter(excitation[i0:i1], vowel, bw, sr)
        burst = min(i1 - i0, int(0.03 * sr))
        out[i0:i0 + burst] += 0.15 * np.diff(rng.standard_normal(burst + 1)) * np.hanning(burst)
    level = np.sqrt(np.mean(out[env > 0.3] ** 2)) if np.any(env > 0.3) else 1.0
    return out * (0.03 * 10.0 ** ((actor.gain_db + style.gain_db) / 20.0) / (level + 1e-12))


def background(n: int, rng: np.random.Generator, level: float = 0.0015) -> np.ndarray:
    """Low room noise (red-tinted), ``n`` samples of RMS about ``level``."""
    x = lfilter([1.0], [1.0, -0.9], rng.standard_normal(n))
    return x * level / (np.std(x) + 1e-12)
