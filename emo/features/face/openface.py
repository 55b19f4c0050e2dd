"""OpenFace 2 per-frame CSVs (``FeatureExtraction`` output) -> clip-level face features.

OpenFace writes one row per frame with ``frame, face_id, timestamp, confidence, success``,
gaze, head pose (``pose_Tx..pose_Rz``), landmarks and action units (intensities
``AU01_r`` ... on 0-5, presences ``AU01_c`` ... 0/1); its header names carry a leading
space (``" AU01_r"``), which :func:`read_openface_csv` strips.

**Which CSV belongs to a clip**: the clip's ``video`` path itself when it ends in
``.csv``, else the sibling ``<video stem>.csv`` in the same folder (OpenFace's default
output name for ``FeatureExtraction -f <video> -out_dir <video folder>``). The clip's
``start``/``end`` select rows by the ``timestamp`` column, so the CSV must cover the whole
video, as OpenFace writes it.

Only frames with ``success == 1`` and ``confidence >= min_confidence`` are used; the
share of frames kept is the feature ``face__face_fraction``. Head translation
(``pose_T*``), landmark positions, frame numbers and timestamps are never features (they
encode the position in the room or in the recording); head rotation and gaze angles are.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from emo.data.clip import Clip
from emo.errors import FeatureError, MediaError
from emo.features.base import Extractor, prefixed, register
from emo.features.face.aus import clip_functionals

if TYPE_CHECKING:  # pandas loads when a CSV is read, not when the extractor is made
    import pandas as pd

__all__ = ["OpenFaceExtractor", "csv_for", "read_openface_csv"]

#: Columns every OpenFace CSV read here must have.
REQUIRED: tuple[str, ...] = ("timestamp", "confidence", "success")
#: Angle columns summarised like the AU intensities (when present).
ANGLES: tuple[str, ...] = ("pose_Rx", "pose_Ry", "pose_Rz", "gaze_angle_x", "gaze_angle_y")


def read_openface_csv(path: str | Path) -> pd.DataFrame:
    """Read an OpenFace 2 per-frame CSV, with clean column names and numeric values.

    Parameters
    ----------
    path
        CSV written by OpenFace ``FeatureExtraction`` (or ``FaceLandmarkVidMulti``).

    Returns
    -------
    pandas.DataFrame
        One row per frame (and face), columns as in the file with surrounding spaces
        removed (``frame, face_id, timestamp, confidence, success, pose_Rx, ...,
        AU01_r, ..., AU01_c, ...``), all numeric (unparseable cells become NaN).

    Raises
    ------
    MediaError
        When the file is missing, empty, not CSV, or lacks ``timestamp``, ``confidence``,
        ``success`` or any ``AU.._r`` column.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise MediaError("OpenFace CSV not found", path)
    try:
        table = pd.read_csv(path, skipinitialspace=True)
    except pd.errors.EmptyDataError as exc:
        raise MediaError("empty OpenFace CSV", path) from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise MediaError(f"not a readable OpenFace CSV: {exc}", path) from exc
    table.columns = [str(c).strip() for c in table.columns]
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise MediaError(f"not an OpenFace CSV: no column(s) {', '.join(missing)}", path)
    if not intensity_columns(table):
        raise MediaError("OpenFace CSV has no AU intensity column (AU01_r ...)", path)
    return table.apply(pd.to_numeric, errors="coerce")


def intensity_columns(table: pd.DataFrame) -> list[str]:
    """The AU intensity columns (``AUxx_r``) of an OpenFace table, in file order."""
    return [c for c in table.columns if c.startswith("AU") and c.endswith("_r")]


def presence_columns(table: pd.DataFrame) -> list[str]:
    """The AU presence columns (``AUxx_c``) of an OpenFace table, in file order."""
    return [c for c in table.columns if c.startswith("AU") and c.endswith("_c")]


def csv_for(clip: Clip) -> Path | None:
    """The OpenFace CSV of a clip: its ``video`` if that is a ``.csv``, else ``<stem>.csv``."""
    if clip.video is None:
        return None
    video = Path(clip.video)
    return video if video.suffix.lower() == ".csv" else video.with_suffix(".csv")


def _main_face(table: pd.DataFrame) -> pd.DataFrame:
    """Rows of the face with the most successful frames (all rows when no ``face_id``)."""
    if "face_id" not in table.columns or table["face_id"].nunique() <= 1:
        return table
    counts = table.loc[table["success"] == 1, "face_id"].value_counts()
    best = counts.index[0] if len(counts) else table["face_id"].iloc[0]
    return table[table["face_id"] == best]


def openface_features(table: pd.DataFrame, *, min_confidence: float = 0.8,
                      start: float | None = None, end: float | None = None) -> dict[str, float]:
    """Clip functionals of an OpenFace per-frame table (no I/O).

    Parameters
    ----------
    table
        From :func:`read_openface_csv`.
    min_confidence
        Frames below this tracking confidence (or with ``success != 1``) are dropped.
    start, end
        Segment ``[start, end)`` in seconds on the ``timestamp`` column.

    Returns
    -------
    dict
        ``AUxx_r_<stat>`` and angle functionals, ``AUxx_c_mean`` (share of kept frames
        with the AU present), ``face_fraction`` (kept / all frames of the segment).

    Raises
    ------
    ValueError
        When the segment holds no frame or no frame passes the confidence test.
    """
    table = _main_face(table).sort_values("timestamp")
    times = table["timestamp"].to_numpy(dtype=float)
    inside = np.ones(len(table), dtype=bool)
    if start is not None:
        inside &= times >= start
    if end is not None:
        inside &= times < end
    table, times = table[inside], times[inside]
    if table.empty:
        raise ValueError("no frame in the segment")
    valid = ((table["success"] == 1) & (table["confidence"] >= min_confidence)).to_numpy()
    if not valid.any():
        raise ValueError(f"no frame with success and confidence >= {min_confidence:g} "
                         f"among {len(table)}")
    series = intensity_columns(table) + [c for c in ANGLES if c in table.columns]
    out = clip_functionals(times, table[series].to_numpy(dtype=float), series, valid)
    for col in presence_columns(table):
        out[f"{col}_mean"] = float(table.loc[valid, col].mean())
    return out


@register
class OpenFaceExtractor(Extractor):
    """Face features from a clip's OpenFace 2 per-frame CSV (see the module docstring).

    Parameters
    ----------
    min_confidence : float, default=0.8
        Frames with a lower OpenFace tracking confidence are dropped (and counted in
        ``face__face_fraction``).

    Examples
    --------
    >>> OpenFaceExtractor().settings()
    {'min_confidence': 0.8}
    """

    name = "openface"
    version = "1"
    modality = "face"
    setting_names = ("min_confidence",)

    def __init__(self, min_confidence: float = 0.8) -> None:
        self.min_confidence = float(min_confidence)

    def applies(self, clip: Clip) -> bool:
        """Whether the clip's OpenFace CSV exists."""
        path = csv_for(clip)
        return path is not None and path.is_file()

    def sources(self, clip: Clip) -> list[Path]:
        """The clip's OpenFace CSV.

        Raises
        ------
        MediaError
            When the clip has no video path or its CSV is missing.
        """
        path = csv_for(clip)
        if path is None:
            raise MediaError(f"clip {clip.id!r} has no video (nor OpenFace CSV)", clip.origin)
        if not path.is_file():
            named = f" (named by {clip.origin})" if clip.origin else ""
            raise MediaError(f"OpenFace CSV not found{named}", path)
        return [path]

    def extract(self, clip: Clip) -> dict[str, float]:
        """OpenFace features of one clip.

        Raises
        ------
        MediaError
            Missing or malformed CSV.
        FeatureError
            No usable frame in the clip's segment.
        """
        path = self.sources(clip)[0]
        table = read_openface_csv(path)
        try:
            features = openface_features(table, min_confidence=self.min_confidence,
                                         start=clip.start, end=clip.end)
        except ValueError as exc:
            raise FeatureError(str(exc), path) from exc
        return prefixed("face", features)
