"""Clip-level functionals of frame-level series: pure NumPy, no I/O.

Frame-level measures (AU intensities per video frame, hand speed per skeleton frame)
become one row per clip through the statistics below. NaN frames (no face, lost
joint) are ignored; a series with no valid frame gives NaN statistics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

#: Default statistics, in column order.
DEFAULT_STATS: tuple[str, ...] = ("mean", "std", "p10", "p50", "p90", "range", "rise", "fall")


def functionals(
    series: Mapping[str, np.ndarray] | np.ndarray,
    names: Sequence[str] | None = None,
    *,
    stats: Sequence[str] = DEFAULT_STATS,
    rate: float = 1.0,
) -> dict[str, float]:
    """Summarise frame-level series over time.

    Parameters
    ----------
    series
        Either a mapping name -> 1-D array, or a 2-D array (frames x measures) with
        ``names`` for its columns.
    names
        Column names when ``series`` is an array.
    stats
        Any of ``mean``, ``std``, ``min``, ``max``, ``p10``, ``p25``, ``p50``, ``p75``,
        ``p90``, ``range`` (p90 - p10, robust), ``rise`` / ``fall`` (mean positive /
        negative slope per second, from frame differences).
    rate
        Frames per second, for the slopes.

    Returns
    -------
    dict
        ``"<name>_<stat>" -> float``.

    Examples
    --------
    >>> out = functionals({"x": np.array([0.0, 1.0, 2.0, np.nan])}, stats=("mean", "rise"))
    >>> out["x_mean"], out["x_rise"]
    (1.0, 1.0)
    """
    if not isinstance(series, Mapping):
        array = np.asarray(series, dtype=float)
        if array.ndim == 1:
            array = array[:, None]
        if names is None or len(names) != array.shape[1]:
            raise ValueError("names must give one name per column")
        series = {n: array[:, i] for i, n in enumerate(names)}
    out: dict[str, float] = {}
    for name, values in series.items():
        for stat, value in zip(stats, _stats(np.asarray(values, dtype=float), stats, rate),
                               strict=True):
            out[f"{name}_{stat}"] = value
    return out


_PERCENTILES = {"p10": 10, "p25": 25, "p50": 50, "p75": 75, "p90": 90}


def _stats(x: np.ndarray, stats: Sequence[str], rate: float) -> list[float]:
    valid = x[np.isfinite(x)]
    if valid.size == 0:
        return [float("nan")] * len(stats)
    q = dict(zip(_PERCENTILES, np.percentile(valid, list(_PERCENTILES.values())), strict=True))
    slopes = np.diff(x) * rate
    slopes = slopes[np.isfinite(slopes)]
    rises, falls = slopes[slopes > 0], slopes[slopes < 0]
    table = {
        "mean": lambda: valid.mean(),
        "std": lambda: valid.std(),
        "min": lambda: valid.min(),
        "max": lambda: valid.max(),
        "range": lambda: q["p90"] - q["p10"],
        "rise": lambda: rises.mean() if rises.size else 0.0,
        "fall": lambda: -falls.mean() if falls.size else 0.0,
    }
    out = []
    for stat in stats:
        if stat in q:
            out.append(float(q[stat]))
        elif stat in table:
            out.append(float(table[stat]()))
        else:
            raise ValueError(f"unknown statistic {stat!r}")
    return out
