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
        Either a mapping name -> 1-D array (all of one length), or a 2-D array
        (frames x measures) with ``names`` for its columns.
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
    if isinstance(series, Mapping):
        names = list(series)
        columns = [np.asarray(v, dtype=float) for v in series.values()]
        array = np.column_stack(columns) if columns else np.zeros((0, 0))
    else:
        array = np.asarray(series, dtype=float)
        if array.ndim == 1:
            array = array[:, None]
        if names is None or len(names) != array.shape[1]:
            raise ValueError("names must give one name per column")
    table = _stats(array, stats, rate)
    return {f"{name}_{stat}": float(value) for name, row in zip(names, table, strict=True)
            for stat, value in zip(stats, row, strict=True)}


_PERCENTILES = {"p10": 10, "p25": 25, "p50": 50, "p75": 75, "p90": 90}
_KNOWN = {*_PERCENTILES, "mean", "std", "min", "max", "range", "rise", "fall"}


def _stats(array: np.ndarray, stats: Sequence[str], rate: float) -> np.ndarray:
    """``(columns, stats)`` statistics of the columns of ``(frames, columns)``.

    Columns with the same missing frames are reduced together, each along its own
    contiguous row, so every value equals that of the column reduced alone.
    """
    unknown = [s for s in stats if s not in _KNOWN]
    if unknown:
        raise ValueError(f"unknown statistic {unknown[0]!r}")
    out = np.full((array.shape[1], len(stats)), np.nan)
    finite = np.isfinite(array)
    groups: dict[bytes, list[int]] = {}
    for column in range(array.shape[1]):
        groups.setdefault(finite[:, column].tobytes(), []).append(column)
    slopes = np.diff(array, axis=0) * rate
    rising = np.isfinite(slopes) & (slopes > 0)
    falling = np.isfinite(slopes) & (slopes < 0)
    for columns in groups.values():
        valid = np.ascontiguousarray(array[finite[:, columns[0]]][:, columns].T)
        if valid.shape[1] == 0:
            continue
        q = dict(zip(_PERCENTILES, np.percentile(valid, list(_PERCENTILES.values()), axis=1),
                     strict=True))
        q["range"] = q["p90"] - q["p10"]
        for i, stat in enumerate(stats):
            if stat in q:
                out[columns, i] = q[stat]
            elif stat == "rise":
                out[columns, i] = _mean_slope(slopes, rising, columns)
            elif stat == "fall":
                out[columns, i] = -_mean_slope(slopes, falling, columns)
            else:  # mean, std, min, max
                out[columns, i] = getattr(valid, stat)(axis=1)
    return out


def _mean_slope(slopes: np.ndarray, chosen: np.ndarray, columns: list[int]) -> np.ndarray:
    """Mean of the chosen slopes of each column (0 where none is chosen)."""
    means = []
    for column in columns:
        picked = slopes[chosen[:, column], column]
        means.append(picked.mean() if picked.size else 0.0)
    return np.asarray(means)
