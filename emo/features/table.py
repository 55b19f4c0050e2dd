"""Imported clip-level feature tables (``emo import``): OpenFace AUs, kinematics, any CSV.

``import_table`` normalises a user table once (features prefixed ``<modality>__``,
indexed by clip id) into ``<cache>/imports/<sha>.parquet``; clips then point to it
(``Clip.tables``) and :class:`TableFeatures` serves their rows through the same cache
as extracted features, so ``fit`` and ``predict`` treat them alike.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from emo._io import atomic_write
from emo.data.clip import Clip
from emo.data.labels import normalise_label
from emo.errors import FeatureError, LabelError, LayoutError
from emo.features.base import Extractor, register

log = logging.getLogger("emo")

IMPORTS = "imports"
_FORMAT_ERRORS = (ValueError, TypeError, IndexError, KeyError)


@register
class TableFeatures(Extractor):
    """Serve one modality's features from an imported, normalised table.

    Parameters
    ----------
    modality
        The modality the table holds (``audio``, ``face``, ``body`` or another name).
    """

    name: ClassVar[str] = "table"
    modality: ClassVar[str] = "table"  # the registry's; each instance names its own
    version: ClassVar[str] = "1"
    setting_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, modality: str = "face") -> None:
        self.modality = modality  # type: ignore[misc]

    def applies(self, clip: Clip) -> bool:
        """Whether the clip has an imported table for this modality."""
        return self.modality in clip.tables

    def sources(self, clip: Clip) -> list[Path]:
        """The normalised table file."""
        path = Path(clip.tables[self.modality])
        if not path.is_file():
            raise FeatureError("imported feature table not found (run emo import again)", path)
        return [path]

    def segment(self, clip: Clip) -> list[Any]:
        """The clip's row of the table."""
        return [clip.id]

    def extract(self, clip: Clip) -> dict[str, float]:
        """The clip's row."""
        path = self.sources(clip)[0]
        table = _read(str(path), path.stat().st_mtime_ns)
        if clip.id not in table.index:
            raise FeatureError(f"clip {clip.id!r} is not in the imported table", path)
        return {k: float(v) for k, v in table.loc[clip.id].items()}


@functools.lru_cache(maxsize=4)
def _read(path: str, mtime: int) -> Any:  # noqa: ARG001 - mtime invalidates the memo
    import pandas as pd

    return pd.read_parquet(path)


def import_table(
    path: str | Path,
    cache_root: str | Path,
    *,
    modality: str,
    id_column: str = "id",
    actor_column: str | None = "actor",
    label_column: str | None = "label",
    drop_columns: Sequence[str] = (),
    label_map: Mapping[str, str | None] | None = None,
    actor_format: str | None = None,
) -> list[Clip]:
    """Normalise a clip-level feature table into the cache and return its clips.

    Ids, actors and labels are kept as written, as strings (``01``, ``007``, ``NA``,
    ``1e3``, ``True`` stay so), stripped of surrounding blanks; an empty cell means
    missing. Integer id or actor columns of a Parquet file become their decimal text
    (``1`` -> ``"1"``). Every other column of numbers is a feature; a text column
    (``gender``, ``filename``, a Parquet string column of codes...) is metadata and is
    dropped with a warning that names it.

    Parameters
    ----------
    path
        CSV or Parquet file, one row per clip.
    cache_root
        The cache folder; the normalised table goes to ``imports/`` inside.
    modality
        The modality its features belong to.
    id_column, actor_column, label_column
        Column names; without a label column every clip is unlabelled, without an
        actor column (or with an empty cell) the actor is unknown.
    drop_columns
        Numeric metadata columns that must not become features (e.g. trial duration).
    label_map
        Extra label mapping (see :func:`emo.data.labels.normalise_label`).
    actor_format
        Format applied to actor values, e.g. ``"{:02d}"`` so that RAVDESS actor 1 joins
        the audio layout's ``"01"``; an actor that the format refuses as text is
        formatted as the number it reads as.

    Returns
    -------
    list of Clip
        One per kept row (rows of classes outside the 7 codes are dropped, with a count
        logged), each with ``tables[modality]`` set.

    Raises
    ------
    LayoutError
        Unreadable file, missing id column, empty or duplicate ids, a column mixing
        numbers and text, no numeric feature column.
    """
    import pandas as pd

    path = Path(path)
    frame = _read_frame(path, [c for c in (id_column, actor_column, label_column) if c])
    if id_column not in frame.columns:
        raise LayoutError(f"no id column {id_column!r} (use --id-column)", path)
    ids = frame[id_column]
    empty = [row for row, clip_id in enumerate(ids, start=1) if clip_id is None]
    if empty:
        raise LayoutError(f"empty id in data row {empty[0]}", path)
    if ids.duplicated().any():
        raise LayoutError(f"duplicate ids, e.g. {ids[ids.duplicated()].iloc[0]!r}", path)
    actors: list[str | None] = [None] * len(frame)
    if actor_column and actor_column in frame.columns:
        actors = [_format_actor(actor_format, a, path) for a in frame[actor_column]]
    labels: list[str | None] = [None] * len(frame)
    keep = [True] * len(frame)
    if label_column and label_column in frame.columns:
        labels, keep = _labels(frame[label_column], label_map, path)
    missing = [c for c in drop_columns if c not in frame.columns]
    if missing:
        raise LayoutError(f"--drop-columns names unknown column(s) {', '.join(missing)}", path)
    meta = {id_column, actor_column, label_column, *drop_columns}
    features = _features(frame[[c for c in frame.columns if c not in meta]], path)
    features.columns = [f"{modality}__{c}" for c in features.columns]
    features.index = pd.Index(list(ids), name="id")
    out = _store(features[keep], Path(cache_root))
    return [
        Clip(clip_id, actor=actor, label=label, tables={modality: out}, origin=path)
        for clip_id, actor, label, kept in zip(ids, actors, labels, keep, strict=True) if kept
    ]


def _read_frame(path: Path, text_columns: Sequence[str]) -> Any:
    """Read a CSV or Parquet table; ``text_columns`` become text as written (``None``: empty)."""
    import pandas as pd

    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, dtype=dict.fromkeys(text_columns, str))
            present = [c for c in text_columns if c in frame.columns]
            if present:  # again without guessing missing values: "NA" and "nan" are ids
                frame[present] = pd.read_csv(path, usecols=present, dtype=str,
                                             keep_default_na=False)[present]
    except Exception as exc:  # noqa: BLE001 - pandas raises many kinds
        raise LayoutError(f"cannot read feature table: {exc}", path) from exc
    for column in text_columns:
        if column in frame.columns:
            frame[column] = pd.Series([_text(v) for v in frame[column]], index=frame.index,
                                      dtype=object)
    return frame


def _text(value: object) -> str | None:
    """An identifier cell as text: stripped, integers in decimal, ``None`` when empty.

    Examples
    --------
    >>> _text(" 01 "), _text(7), _text(3.0), _text(True), _text(" "), _text(float("nan"))
    ('01', '7', '3', 'True', None, None)
    """
    import pandas as pd

    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # an integer column with gaps, as pandas stores it
    return str(value).strip() or None


def _format_actor(actor_format: str | None, actor: str | None, path: Path) -> str | None:
    """Apply ``--actor-format`` to an actor: to its text, else to the number it reads as."""
    if actor is None or actor_format is None:
        return actor
    with contextlib.suppress(*_FORMAT_ERRORS):
        return actor_format.format(actor)
    try:
        return actor_format.format(_number(actor))
    except _FORMAT_ERRORS as exc:
        raise LayoutError(f"--actor-format {actor_format!r} does not fit the actor {actor!r} "
                          f"({exc})", path) from exc


def _number(text: str) -> int | float | str:
    """``text`` as an int (also when written ``1.0``), else a float, else unchanged.

    Examples
    --------
    >>> _number("07"), _number("1.0"), _number("2.5"), _number("F01")
    (7, 1, 2.5, 'F01')
    """
    with contextlib.suppress(ValueError):
        number = float(text)
        return int(number) if number.is_integer() else number
    return text


def _features(frame: Any, path: Path) -> Any:
    """The columns of numbers as float64 features; text columns dropped, with a warning.

    A column is text when its type is not a number type (a CSV column pandas did not
    read as numbers, a Parquet string column even of digit codes such as ``"05"``).

    Raises
    ------
    LayoutError
        For a text column where some values are numbers and others are not (most likely
        a feature column with a bad value), or when no column of numbers is left.
    """
    import pandas as pd

    numeric, text = [], []
    for name, column in frame.items():
        if pd.api.types.is_numeric_dtype(column):
            numeric.append(name)
            continue
        given = column.notna()
        words = given & pd.to_numeric(column, errors="coerce").isna()
        if words.any() and words.sum() < given.sum():
            row = int(words.to_numpy().argmax())
            raise LayoutError(
                f"column {name!r} mixes numbers and text ({column.iloc[row]!r} in data row "
                f"{row + 1}): fix the value, or name the column in --drop-columns", path)
        text.append(str(name))
    if text:
        log.warning("%s: dropped non-numeric column(s) %s (metadata, not features; name them "
                    "in --drop-columns to silence this)", path, ", ".join(text))
    if not numeric:
        raise LayoutError("the table has no numeric feature column"
                          + (f" (text only: {', '.join(text)})" if text else ""), path)
    return frame[numeric].astype("float64")


def _labels(column: Any, label_map: Mapping[str, str | None] | None,
            path: Path) -> tuple[list[str | None], list[bool]]:
    """Normalised labels, and which rows to keep (unlabelled or of a kept class)."""
    labels, keep = [], []
    for value in column:
        try:
            label = normalise_label(value, label_map)
        except LabelError as exc:
            raise LabelError(exc.reason + " (use --labels map.csv)", path) from exc
        labels.append(label)
        keep.append(value is None or label is not None)
    dropped = keep.count(False)
    if dropped:
        log.info("%s: dropped %d row(s) of classes outside the 7 challenge codes", path, dropped)
    return labels, keep


def _store(features: Any, cache_root: Path) -> Path:
    import io

    buffer = io.BytesIO()
    features.to_parquet(buffer)
    data = buffer.getvalue()
    out = cache_root / IMPORTS / f"{hashlib.sha256(data).hexdigest()[:32]}.parquet"
    if not out.is_file():
        atomic_write(out, data)
    return out
