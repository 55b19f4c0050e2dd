"""Dataset layouts: each turns a folder (or file) into :class:`~emo.data.clip.Clip` records.

A layout module has a ``NAME``, ``detect(path) -> bool`` and
``read(path, *, problems=None, **options) -> list[Clip]``. :func:`load_clips` tries them
in :data:`LAYOUTS` order; a ``.csv`` file is a manifest.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from emo.data.clip import Clip, check_unique, merge_clips, read_manifest
from emo.errors import EmoError, LayoutError

#: Layout modules in detection order (most specific first).
LAYOUTS: tuple[str, ...] = ("challenge", "ravdess", "emodb", "tess", "folders")


def layout_module(name: str) -> ModuleType:
    """Import the module of a layout by name.

    Parameters
    ----------
    name
        A layout name from :data:`LAYOUTS`.

    Returns
    -------
    module
        With ``NAME``, ``detect(path)`` and ``read(path, *, problems, **options)``.
    """
    if name not in LAYOUTS:
        raise LayoutError(f"unknown layout {name!r}; known: {', '.join(LAYOUTS)}")
    return importlib.import_module(f"emo.data.layouts.{name}")


def detect_layout(path: str | Path) -> str:
    """Name the layout of a dataset folder or file.

    Parameters
    ----------
    path
        A folder, or a manifest CSV.

    Returns
    -------
    str
        ``"manifest"`` or one of :data:`LAYOUTS`.

    Raises
    ------
    LayoutError
        When the path does not exist or no layout matches.
    """
    path = Path(path)
    if not path.exists():
        raise LayoutError("no such file or folder", path)
    if path.is_file():
        if path.suffix.lower() == ".csv":
            return "manifest"
        raise LayoutError("expected a dataset folder or a manifest .csv", path)
    for name in LAYOUTS:
        if layout_module(name).detect(path):
            return name
    raise LayoutError(
        "not a known dataset layout (challenge descriptors/, RAVDESS, EMO-DB, TESS, "
        "<label>/<file> folders) and not a manifest CSV", path
    )


def load_clips(
    data: str | Path | Sequence[str | Path],
    *,
    layout: str | None = None,
    problems: list[EmoError] | None = None,
    **options: object,
) -> list[Clip]:
    """Read one or several datasets into clips, joined by id.

    Parameters
    ----------
    data
        A dataset folder or manifest CSV, or a sequence of them; clips with the same id
        in several sources are joined (media from one, an imported table from another).
    layout
        Force a layout instead of detecting it.
    problems
        When given, per-item problems (a malformed descriptor...) are appended here and
        the item is skipped; otherwise they raise.
    **options
        Layout options (e.g. ``label_map``, ``speaker_pattern``, ``kinect_base``); each
        layout takes the ones it knows.

    Returns
    -------
    list of Clip
    """
    sources = [data] if isinstance(data, (str, Path)) else list(data)
    if not sources:
        raise LayoutError("no dataset given")
    read = []
    for source in sources:
        name = layout or detect_layout(source)
        if name == "manifest":
            clips = read_manifest(source)
        else:
            module = layout_module(name)
            accepted = inspect.signature(module.read).parameters
            kwargs = {k: v for k, v in options.items() if k in accepted and v is not None}
            clips = module.read(Path(source), problems=problems, **kwargs)
            check_unique(clips, source)
        read.append(clips)
    return merge_clips(read)
