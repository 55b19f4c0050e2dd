"""Imported clip-level feature tables (``emo import``): OpenFace AUs, kinematics, any CSV.

``import_table`` normalises a user table once (features prefixed ``<modality>__``,
indexed by clip id) into ``<cache>/imports/<sha>.parquet``; clips then point to it
(``Clip.tables``) and :class:`TableFeatures` serves their rows through the same cache
as extracted features, so ``fit`` and ``predict`` treat them alike.
"""

from __future__ import annotations

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

    Parameters
    ----------
    path
        CSV or Parquet file, one row per clip.
    cache_root
        The cache folder; the normalised table goes to ``imports/`` inside.
    modality
        The modality its features belong to.
    id_column, actor_column, label_column
        Column names; a missing label column means every clip is unlabelled.
    drop_columns
        Metadata columns that must not become features (e.g. trial duration).
    label_map
        Extra label mapping (see :func:`emo.data.labels.normalise_label`).
    actor_format
        Format applied to actor values before they become strings, e.g. ``"{:02d}"`` so
        that RAVDESS actor 1 joins the audio layout's ``"01"``.

    Returns
    -------
    list of Clip
        One per kept row (rows of classes outside the 7 codes are dropped, with a count
        logged), each with ``tables[modality]`` set.

    Raises
    ------
    LayoutError
        Unreadable file, missing id column, duplicate ids, non-numeric feature columns.
    """
    import pandas as pd

    path = Path(path)
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, dtype={id_column: str}, keep_default_na=True)
    except Exception as exc:  # noqa: BLE001 - pandas raises many kinds
        raise LayoutError(f"cannot read feature table: {exc}", path) from exc
    if id_column not in frame.columns:
        raise LayoutError(f"no id column {id_column!r} (use --id-column)", path)
    ids = frame[id_column].astype(str).str.strip()
    if ids.duplicated().any():
        raise LayoutError(f"duplicate ids, e.g. {ids[ids.duplicated()].iloc[0]!r}", path)
    actors = None
    if actor_column and actor_column in frame.columns:
        column = frame[actor_column]
        if actor_format is not None:
            try:
                column = column.map(actor_format.format)
            except (ValueError, TypeError, IndexError, KeyError) as exc:
                raise LayoutError(f"--actor-format {actor_format!r} does not fit the "
                                  f"actor values ({exc})", path) from exc
        actors = column.astype(str).str.strip()
    labels: list[str | None] = [None] * len(frame)
    if label_column and label_column in frame.columns:
        labels, keep = _labels(frame[label_column], label_map, path)
    else:
        keep = [True] * len(frame)
    meta = {id_column, *([actor_column] if actor_column else []),
            *([label_column] if label_column else []), *drop_columns}
    missing = [c for c in drop_columns if c not in frame.columns]
    if missing:
        raise LayoutError(f"--drop-columns names unknown column(s) {', '.join(missing)}", path)
    features = frame[[c for c in frame.columns if c not in meta]]
    text = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    if text:
        raise LayoutError(
            f"non-numeric column(s) {', '.join(map(str, text[:5]))}: drop them with --drop-columns",
            path,
        )
    if features.shape[1] == 0:
        raise LayoutError("the table has no feature column", path)
    features = features.astype("float64")
    features.columns = [f"{modality}__{c}" for c in features.columns]
    features.index = pd.Index(ids, name="id")
    features = features[keep]
    out = _store(features, Path(cache_root))
    clips = []
    for i, clip_id in enumerate(ids):
        if keep[i]:
            actor = None if actors is None else (actors.iloc[i] or None)
            clips.append(Clip(clip_id, actor=actor, label=labels[i], tables={modality: out},
                              origin=path))
    return clips


def _labels(column: Any, label_map: Mapping[str, str | None] | None,
            path: Path) -> tuple[list[str | None], list[bool]]:
    labels, keep, dropped = [], [], 0
    for value in column:
        empty = value is None or (isinstance(value, float) and value != value) or not str(value)
        try:
            label = normalise_label(value, label_map)
        except LabelError as exc:
            raise LabelError(exc.reason + " (use --labels map.csv)", path) from exc
        labels.append(label)
        keep.append(empty or label is not None)
        dropped += not keep[-1]
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
