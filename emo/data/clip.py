"""The :class:`Clip` record and the manifest CSV every dataset layout converts to."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from emo._io import atomic_path
from emo.data.labels import CLASSES
from emo.errors import LayoutError

#: Columns of a manifest CSV, in order. ``table_<modality>`` columns may follow.
MANIFEST_COLUMNS: tuple[str, ...] = (
    "id", "actor", "label", "video", "audio", "skeleton",
    "start", "end", "skeleton_start", "skeleton_end",
)
TABLE_PREFIX = "table_"


@dataclass(frozen=True)
class Clip:
    """One sample: an id, who acted it, its class if known, and where its media lie.

    Parameters
    ----------
    id
        Unique within a dataset (descriptor name, file stem...).
    actor
        Actor / speaker id, the grouping key of every split; ``None`` when unknown.
    label
        Class code (see :data:`emo.data.labels.CLASSES`) or ``None`` when unlabelled.
    video, audio, skeleton
        Media files; the audio track of ``video`` is used when ``audio`` is absent.
    start, end
        Segment on the video/audio time line in seconds (``None``: whole file).
    skeleton_start, skeleton_end
        Segment of the skeleton file as 0-based frame (row) indices, end inclusive.
    tables
        Imported feature tables by modality (``emo import``), each a normalised Parquet
        file indexed by clip id.
    origin
        The file that defined this clip (descriptor, manifest), for error messages.

    Examples
    --------
    >>> c = Clip("frames_F2_An3", actor="F2", label="An", video=Path("v.MP4"))
    >>> c.media_for("audio")
    PosixPath('v.MP4')
    """

    id: str
    actor: str | None = None
    label: str | None = None
    video: Path | None = None
    audio: Path | None = None
    skeleton: Path | None = None
    start: float | None = None
    end: float | None = None
    skeleton_start: int | None = None
    skeleton_end: int | None = None
    tables: Mapping[str, Path] = field(default_factory=dict)
    origin: Path | None = None

    def media_for(self, modality: str) -> Path | None:
        """The media file a modality reads: audio falls back to the video's sound track.

        Parameters
        ----------
        modality
            ``"audio"``, ``"face"`` or ``"body"`` (skeleton file, else video).

        Returns
        -------
        Path or None
        """
        if modality == "audio":
            return self.audio or self.video
        if modality == "face":
            return self.video
        if modality == "body":
            return self.skeleton or self.video
        return None

    @property
    def group(self) -> str:
        """The grouping key for splits: the actor, or a group of its own when unknown."""
        return self.actor if self.actor else f"?{self.id}"


def _opt(value: str, kind: type) -> object:
    text = value.strip()
    if not text:
        return None
    if kind is Path:
        return Path(text)
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"not a finite number: {text!r}")
    return int(number) if kind is int else number


def read_manifest(path: str | Path) -> list[Clip]:
    """Read a manifest CSV into clips.

    Relative media paths are resolved against the manifest's folder.

    Parameters
    ----------
    path
        The CSV file (columns :data:`MANIFEST_COLUMNS`, extra ``table_<modality>``).

    Returns
    -------
    list of Clip
        In the order of the rows; ids, actors and labels as written (stripped), an
        empty cell meaning missing.

    Raises
    ------
    LayoutError
        Missing columns, bad numbers, unknown labels or duplicate ids; the message
        names the file and the line.
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            missing = [c for c in ("id", "actor", "label") if c not in header]
            if missing:
                raise LayoutError(f"manifest lacks the column(s) {', '.join(missing)}", path)
            media = [c for c in ("video", "audio", "skeleton") if c in header]
            tables = [c for c in header if c.startswith(TABLE_PREFIX)]
            if not media and not tables:
                raise LayoutError(
                    "manifest has no media column (video, audio, skeleton or table_*)", path
                )
            rows = list(reader)
    except OSError as exc:
        raise LayoutError(f"cannot read manifest: {exc.strerror}", path) from exc
    except UnicodeDecodeError as exc:
        raise LayoutError("manifest is not UTF-8 text", path) from exc
    base = path.parent
    clips = []
    for line, row in enumerate(rows, start=2):
        clips.append(_row_to_clip(row, base, path, line))
    check_unique(clips, path)
    return clips


def _row_to_clip(row: Mapping[str, str], base: Path, path: Path, line: int) -> Clip:
    kinds = {"video": Path, "audio": Path, "skeleton": Path, "start": float, "end": float,
             "skeleton_start": int, "skeleton_end": int}
    values: dict[str, object] = {}
    try:
        for col, kind in kinds.items():
            values[col] = _opt(row.get(col) or "", kind)
    except ValueError as exc:
        raise LayoutError(f"line {line}: {exc}", path) from exc
    for col in ("video", "audio", "skeleton"):
        if values[col] is not None:
            values[col] = base / values[col]  # type: ignore[operator]
    clip_id = (row.get("id") or "").strip()
    if not clip_id:
        raise LayoutError(f"line {line}: empty id", path)
    label = (row.get("label") or "").strip() or None
    if label is not None and label not in CLASSES:
        raise LayoutError(
            f"line {line}: unknown class code {label!r} (use one of {', '.join(CLASSES)})", path
        )
    tables = {
        col[len(TABLE_PREFIX):]: base / row[col].strip()
        for col in row
        if col and col.startswith(TABLE_PREFIX) and (row[col] or "").strip()
    }
    return Clip(
        id=clip_id, actor=(row.get("actor") or "").strip() or None, label=label,
        tables=tables, origin=path, **values,  # type: ignore[arg-type]
    )


def check_unique(clips: Sequence[Clip], path: str | Path | None = None) -> None:
    """Raise :class:`LayoutError` when two clips share an id.

    Parameters
    ----------
    clips
        The clips to check.
    path
        The file or folder they came from, for the message.
    """
    seen: set[str] = set()
    dupes = sorted({c.id for c in clips if c.id in seen or seen.add(c.id)})  # type: ignore[func-returns-value]
    if dupes:
        shown = ", ".join(dupes[:5]) + (" ..." if len(dupes) > 5 else "")
        raise LayoutError(f"duplicate clip id(s): {shown}", path)


def _fmt(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def write_manifest(clips: Iterable[Clip], path: str | Path) -> Path:
    """Write clips as a manifest CSV, atomically.

    Parameters
    ----------
    clips
        The clips.
    path
        Destination CSV; media paths are written absolute.

    Returns
    -------
    Path
        The written file.
    """
    clips = list(clips)
    path = Path(path)
    modalities = sorted({m for c in clips for m in c.tables})
    header = [*MANIFEST_COLUMNS, *(TABLE_PREFIX + m for m in modalities)]
    with atomic_path(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for c in clips:
            row = [_fmt(getattr(c, col)) for col in MANIFEST_COLUMNS]
            for col in ("video", "audio", "skeleton"):
                value = getattr(c, col)
                row[MANIFEST_COLUMNS.index(col)] = "" if value is None else str(
                    Path(value).absolute()
                )
            row += [str(Path(c.tables[m]).absolute()) if m in c.tables else ""
                    for m in modalities]
            writer.writerow(row)
    return path


def merge_clips(sources: Sequence[Sequence[Clip]]) -> list[Clip]:
    """Join clips of several datasets by id (e.g. media from one, an imported table from another).

    Media, segments and tables missing in one source are filled from the others;
    a label or actor given differently by two sources is an error.

    Parameters
    ----------
    sources
        One list of clips per DATA argument.

    Returns
    -------
    list of Clip
        In order of first appearance.

    Raises
    ------
    LayoutError
        On conflicting labels or actors for the same id.
    """
    merged: dict[str, Clip] = {}
    for clips in sources:
        for clip in clips:
            old = merged.get(clip.id)
            merged[clip.id] = clip if old is None else _merge_pair(old, clip)
    return list(merged.values())


def _merge_pair(a: Clip, b: Clip) -> Clip:
    updates: dict[str, object] = {}
    for name in ("actor", "label"):
        va, vb = getattr(a, name), getattr(b, name)
        if va and vb and va != vb:
            padded = name == "actor" and va.lstrip("0") == vb.lstrip("0")  # "01" vs "1"
            raise LayoutError(
                f"clip {a.id!r} has {name} {va!r} in one source, {vb!r} in another"
                + (" (write it the same way in both; emo import --actor-format '{:02d}' pads "
                   "numbers)" if padded else ""), b.origin)
        updates[name] = va or vb
    for name in ("video", "audio", "skeleton", "start", "end", "skeleton_start", "skeleton_end"):
        if getattr(a, name) is None:
            updates[name] = getattr(b, name)
    updates["tables"] = {**b.tables, **a.tables}
    return replace(a, **updates)
