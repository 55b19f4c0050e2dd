"""The seven challenge classes and the normalisation of corpus labels onto them."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

from emo.errors import LabelError

#: The FG-2020 challenge class codes, in canonical order.
CLASSES: tuple[str, ...] = ("An", "Di", "Fe", "Ha", "Ne", "Sa", "Su")

#: Lower-cased names and codes used by common corpora, mapped to challenge codes.
#: ``None`` marks classes that have no challenge equivalent (dropped by default).
ALIASES: dict[str, str | None] = {
    **{c.lower(): c for c in CLASSES},
    "anger": "An", "angry": "An",
    "disgust": "Di", "disgusted": "Di",
    "fear": "Fe", "fearful": "Fe", "afraid": "Fe",
    "happiness": "Ha", "happy": "Ha", "joy": "Ha",
    "neutral": "Ne",
    "sadness": "Sa", "sad": "Sa",
    "surprise": "Su", "surprised": "Su", "ps": "Su", "pleasant_surprise": "Su",
    "pleasant surprise": "Su",
    "calm": None, "boredom": None, "bored": None, "contempt": None,
}


def normalise_label(
    value: object, label_map: Mapping[str, str | None] | None = None
) -> str | None:
    """Map a corpus label onto a challenge code.

    Parameters
    ----------
    value
        The label as found (code, name, any case); empty or NaN means unlabelled.
    label_map
        Optional user mapping (lower-cased keys) applied before the built-in aliases;
        a value of ``None`` drops the class, any other string keeps it under that name.

    Returns
    -------
    str or None
        The class code, or ``None`` when the value is empty or the class is dropped.

    Raises
    ------
    LabelError
        When the label is not known.

    Examples
    --------
    >>> normalise_label("Fearful"), normalise_label("ps"), normalise_label("calm")
    ('Fe', 'Su', None)
    """
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip()
    if not text:
        return None
    key = text.lower()
    if label_map is not None and key in label_map:
        return label_map[key]
    if key in ALIASES:
        return ALIASES[key]
    raise LabelError(f"unknown class label {text!r}; known: {', '.join(CLASSES)}")


def read_label_map(path: str | Path) -> dict[str, str | None]:
    """Read a label-map CSV with columns ``from,to`` (empty ``to`` drops the class).

    Parameters
    ----------
    path
        The CSV file.

    Returns
    -------
    dict
        Lower-cased source label -> target label or ``None``.
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise LabelError(f"cannot read label map: {exc.strerror}", path) from exc
    if not rows or not {"from", "to"} <= set(rows[0]):
        raise LabelError("label map needs the columns 'from' and 'to'", path)
    return {r["from"].strip().lower(): (r["to"].strip() or None) for r in rows}
