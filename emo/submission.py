"""FG-2020 challenge submissions: a ZIP holding exactly one pickle of ``{descriptor: class}``.

``valid_prediction.pkl`` (validation phase) or ``test_prediction.pkl`` (test phase), at
the top of the archive (no folders), written with pickle protocol 2. Reading back uses a
restricted unpickler that allows only ``dict`` and ``str``, so checking a foreign file
never runs code from it.
"""

from __future__ import annotations

import io
import pickle
import re
import zipfile
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path

from emo._io import atomic_write
from emo.data.labels import CLASSES
from emo.errors import SubmissionError

PICKLES = {"valid": "valid_prediction.pkl", "test": "test_prediction.pkl"}
_DESCRIPTOR = re.compile(r"^frames_(?:TEST\d+|[A-Za-z]+\d+_[A-Z][a-z]\d+)$")
_TEST = re.compile(r"^frames_TEST\d+$")


def expected_ids(ids: Iterable[str], phase: str) -> set[str]:
    """The descriptor names a phase's submission must cover.

    Parameters
    ----------
    ids
        Clip ids of the dataset.
    phase
        ``valid``: every descriptor; ``test``: the unlabelled ``frames_TEST<n>`` ones.

    Returns
    -------
    set of str

    Examples
    --------
    >>> sorted(expected_ids(["frames_F1_An1", "frames_TEST2"], "test"))
    ['frames_TEST2']
    """
    _check_phase(phase)
    ids = list(ids)
    if phase == "test":
        return {i for i in ids if _TEST.match(i)}
    return set(ids)


def _check_phase(phase: str) -> None:
    if phase not in PICKLES:
        raise SubmissionError(f"phase must be 'valid' or 'test', not {phase!r}")


def validate(answers: Mapping[object, object], *, phase: str,
             expected: Collection[str] | None = None, path: str | Path | None = None) -> None:
    """Check a submission dict; raise :class:`SubmissionError` saying exactly what is wrong.

    Parameters
    ----------
    answers
        Descriptor name -> class code.
    phase
        ``valid`` or ``test``.
    expected
        The names that must be present (none missing, none extra), if known.
    path
        The file concerned, for messages.

    Examples
    --------
    >>> validate({"frames_TEST1": "An"}, phase="test")
    >>> validate({"frames_TEST1": "Angry"}, phase="test")
    Traceback (most recent call last):
    ...
    emo.errors.SubmissionError: class 'Angry' of 'frames_TEST1' is not one of An, ..., Su
    """
    _check_phase(phase)
    if not isinstance(answers, dict):
        raise SubmissionError(f"the pickle holds a {type(answers).__name__}, not a dict", path)
    if not answers:
        raise SubmissionError("the submission is empty", path)
    problems = []
    for key, value in answers.items():
        if not isinstance(key, str) or not _DESCRIPTOR.match(key):
            problems.append(f"{key!r} is not a descriptor name (frames_<actor>_<class><take> or "
                            "frames_TEST<n>)")
        elif phase == "test" and not _TEST.match(key):
            problems.append(f"{key!r} is not a test descriptor (frames_TEST<n>)")
        if value not in CLASSES:
            problems.append(f"class {value!r} of {key!r} is not one of {', '.join(CLASSES)}")
    if expected is not None:
        missing = sorted(set(expected) - set(answers))
        extra = sorted(set(answers) - set(expected))
        if missing:
            problems.append(f"{len(missing)} descriptor(s) missing, e.g. {missing[0]!r}")
        if extra:
            problems.append(f"{len(extra)} descriptor(s) not in the data, e.g. {extra[0]!r}")
    if problems:
        more = f" (+{len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise SubmissionError(problems[0] + more, path)


def write_submission(answers: Mapping[str, str], out: str | Path, *, phase: str,
                     expected: Collection[str] | None = None) -> Path:
    """Validate, write the ZIP atomically, re-open it and validate what was written.

    Parameters
    ----------
    answers
        Descriptor name -> class code.
    out
        The ZIP file.
    phase
        ``valid`` or ``test``.
    expected
        Descriptor names that must all be present.

    Returns
    -------
    Path
    """
    out = Path(out)
    answers = {str(k): str(v) for k, v in answers.items()}
    validate(answers, phase=phase, expected=expected, path=out)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(PICKLES[phase], pickle.dumps(dict(sorted(answers.items())), protocol=2))
    atomic_write(out, buffer.getvalue())
    check(out, phase=phase, expected=expected)
    return out


class _SafeUnpickler(pickle.Unpickler):
    """Allows no global at all: dicts and strings need none under protocol 2."""

    def find_class(self, module: str, name: str) -> object:
        raise pickle.UnpicklingError(f"forbidden object {module}.{name} in the pickle")


def check(path: str | Path, *, phase: str | None = None,
          expected: Collection[str] | None = None) -> dict[str, str]:
    """Validate an existing submission ZIP.

    Parameters
    ----------
    path
        The ZIP file.
    phase
        ``valid`` or ``test``; by default taken from the pickle's name.
    expected
        Descriptor names that must all be present.

    Returns
    -------
    dict
        The answers.

    Raises
    ------
    SubmissionError
        Saying exactly what is wrong (not a ZIP, folders, several files, wrong name,
        pickle protocol, content).
    """
    path = Path(path)
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise SubmissionError(f"not a readable ZIP file ({exc})", path) from exc
    with zf:
        names = zf.namelist()
        if len(names) != 1:
            raise SubmissionError(f"the ZIP must hold exactly one file, it holds {len(names)}: "
                                  f"{', '.join(names[:5])}", path)
        name = names[0]
        if "/" in name or "\\" in name:
            raise SubmissionError(f"{name!r} is inside a folder; the pickle must be at the top",
                                  path)
        phases = {v: k for k, v in PICKLES.items()}
        if name not in phases:
            raise SubmissionError(f"the file is called {name!r}, expected "
                                  f"{' or '.join(PICKLES.values())}", path)
        if phase is not None and phases[name] != phase:
            raise SubmissionError(f"{name!r} is for the {phases[name]} phase, not {phase}", path)
        data = zf.read(name)
    if len(data) < 2 or data[0] != 0x80 or data[1] != 2:
        got = data[1] if len(data) > 1 and data[0] == 0x80 else "0 or 1"
        raise SubmissionError(f"the pickle uses protocol {got}, the challenge asks for 2", path)
    try:
        answers = _SafeUnpickler(io.BytesIO(data)).load()
    except Exception as exc:  # noqa: BLE001 - any failure means an invalid pickle
        raise SubmissionError(f"the pickle cannot be read safely: {exc}", path) from exc
    validate(answers, phase=phases[name], expected=expected, path=path)
    return answers
