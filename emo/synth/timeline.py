"""Time courses shared by the modalities: expression envelopes, smooth noise, bumps.

Pure functions of time arrays (seconds).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from emo.synth.plan import Take


def envelope(t: np.ndarray, take: Take) -> np.ndarray:
    """Onset-apex-offset time course of a take's expression, 0 outside, 1 at the apex.

    Parameters
    ----------
    t
        Times in seconds on the video time line.
    take
        The take.

    Returns
    -------
    numpy.ndarray
        Values in [0, 1], smooth (cubic smoothstep) ramps.
    """
    rise = np.clip((t - take.onset) / (take.apex - take.onset), 0.0, 1.0)
    fall = np.clip((take.end - t) / (take.end - take.release), 0.0, 1.0)
    x = np.minimum(rise, fall)
    return x * x * (3.0 - 2.0 * x)


def smooth_noise(t: np.ndarray, rng: np.random.Generator, n: int, max_hz: float = 0.8,
                 ) -> np.ndarray:
    """Smooth random signals of unit variance: sums of four sinusoids with random phases.

    Parameters
    ----------
    t
        Times in seconds.
    rng
        Random generator.
    n
        Number of independent signals.
    max_hz
        Highest frequency used (the lowest is 0.05 Hz).

    Returns
    -------
    numpy.ndarray
        (len(t), n).
    """
    freqs = rng.uniform(0.05, max_hz, (4, n))
    phases = rng.uniform(0, 2 * np.pi, (4, n))
    waves = np.sin(2 * np.pi * freqs[None] * t[:, None, None] + phases[None]).sum(axis=1)
    return waves / np.sqrt(2.0)


def bumps(t: np.ndarray, peaks: Sequence[float], rise: float, fall: float) -> np.ndarray:
    """Sum of asymmetric bumps (quadratic rise, exponential decay) at ``peaks``, capped at 1.

    Parameters
    ----------
    t
        Times in seconds.
    peaks
        Times of the maxima.
    rise, fall
        Rise time and decay constant in seconds.

    Returns
    -------
    numpy.ndarray
        Values in [0, 1].

    Examples
    --------
    >>> bumps(np.array([0.0, 1.0, 2.0]), [1.0], 0.5, 0.5).round(3).tolist()
    [0.0, 1.0, 0.135]
    """
    out = np.zeros_like(t, dtype=float)
    for c in peaks:
        x = t - c
        out += np.where(x < 0, np.clip(1 + x / rise, 0, 1) ** 2, np.exp(-np.maximum(x, 0) / fall))
    return np.minimum(out, 1.0)
