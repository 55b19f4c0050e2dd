"""FG-2020 challenge submissions: a ZIP holding exactly one pickle of ``{descriptor: class}``.

``valid_prediction.pkl`` (validation phase) or ``test_prediction.pkl`` (test phase), at
the top of the archive (no folders), written with pickle protocol 2.

Checking a foreign file is bounded and runs no code from it: the archive and its member
must be small (:data:`MAX_BYTES`; the declared size is checked before reading, and at most
``MAX_BYTES + 1`` bytes are inflated), and the pickle is not unpickled but read opcode by
opcode (:func:`read_answers`), which accepts only a flat dict of strings: no globals, no
other containers, no nesting, no shared reference to anything but a string. Messages
quote at most :data:`EXCERPT` characters of a key or value.
"""

from __future__ import annotations

import io
import pickle
import pickletools
import re
import zipfile
import zlib
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path

from emo._io import atomic_write
from emo.data.labels import CLASSES
from emo.errors import SubmissionError

PICKLES = {"valid": "valid_prediction.pkl", "test": "test_prediction.pkl"}
_DESCRIPTOR = re.compile(r"^frames_(?:TEST\d+|[A-Za-z]+\d+_[A-Z][a-z]\d+)$")
_TEST = re.compile(r"^frames_TEST\d+$")
#: Largest submission ZIP and pickle read, in bytes (a prediction takes about 30 bytes, so
#: this holds over 100,000 of them).
MAX_BYTES = 4 << 20
#: Characters of a key, value or file name quoted in a message.
EXCERPT = 40
#: What the opcodes that make objects other than str and dict make, for messages.
_MAKES = {
    **dict.fromkeys(["EMPTY_LIST", "LIST", "APPEND", "APPENDS"], "list"),
    **dict.fromkeys(["EMPTY_TUPLE", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3"], "tuple"),
    **dict.fromkeys(["EMPTY_SET", "ADDITEMS", "FROZENSET"], "set"),
    **dict.fromkeys(["INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4"], "int"),
    **dict.fromkeys(["FLOAT", "BINFLOAT"], "float"),
    **dict.fromkeys(["NONE"], "None"),
    **dict.fromkeys(["NEWTRUE", "NEWFALSE"], "bool"),
    **dict.fromkeys(["BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8", "STRING",
                     "BINSTRING", "SHORT_BINSTRING"], "bytes"),
}
_STRINGS = {"BINUNICODE", "SHORT_BINUNICODE", "UNICODE", "BINUNICODE8"}
_PUTS = {"BINPUT", "LONG_BINPUT", "PUT", "MEMOIZE"}
_GETS = {"BINGET", "LONG_BINGET", "GET"}


def excerpt(value: object, limit: int = EXCERPT) -> str:
    """``repr(value)``, cut to at most ``limit`` characters (``...`` marks a cut).

    Examples
    --------
    >>> excerpt("frames_TEST1")
    "'frames_TEST1'"
    >>> excerpt("x" * 100)
    "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx..."
    """
    text = repr(value[:limit + 1]) if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


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
            problems.append(f"{excerpt(key)} is not a descriptor name "
                            "(frames_<actor>_<class><take> or frames_TEST<n>)")
        elif phase == "test" and not _TEST.match(key):
            problems.append(f"{excerpt(key)} is not a test descriptor (frames_TEST<n>)")
        if value not in CLASSES:
            problems.append(f"class {excerpt(value)} of {excerpt(key)} is not one of "
                            f"{', '.join(CLASSES)}")
    if expected is not None:
        missing = sorted(set(expected) - set(answers))
        extra = sorted(set(answers) - set(expected))
        if missing:
            problems.append(f"{len(missing)} descriptor(s) missing, e.g. {excerpt(missing[0])}")
        if extra:
            problems.append(f"{len(extra)} descriptor(s) not in the data, "
                            f"e.g. {excerpt(extra[0])}")
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


def read_answers(data: bytes, path: str | Path | None = None) -> dict[str, str]:
    """Read a pickle that must hold one flat dict of strings, without unpickling it.

    The opcodes are read one by one (:func:`pickletools.genops`) and only those that build
    strings, one dict and its items are followed; a string may be referred to again (the
    pickler shares repeated class codes) but nothing else. So no code runs, no shared
    reference multiplies, no nesting recurses: time and memory stay proportional to the
    pickle's size.

    Parameters
    ----------
    data
        The pickle's bytes.
    path
        The file concerned, for messages.

    Returns
    -------
    dict
        The answers.

    Raises
    ------
    SubmissionError
        Naming what the pickle holds instead (a global, another type, nesting, a shared
        reference) or why it cannot be read.

    Examples
    --------
    >>> read_answers(pickle.dumps({"frames_TEST1": "An", "frames_TEST2": "An"}, protocol=2))
    {'frames_TEST1': 'An', 'frames_TEST2': 'An'}
    >>> read_answers(pickle.dumps({"frames_TEST1": ("An",)}, protocol=2))
    Traceback (most recent call last):
    ...
    emo.errors.SubmissionError: the pickle holds a tuple; a submission is a dict of strings
    """
    def refuse(why: str) -> SubmissionError:
        return SubmissionError(f"the pickle {why}", path)

    answers: dict[str, str] | None = None
    stack: list[object] = []  # strings, the dict, and at most one mark (None)
    memo: dict[int, object] = {}
    try:
        for op, arg, _ in pickletools.genops(io.BytesIO(data)):
            name = op.name
            if name == "PROTO" or name == "FRAME":
                continue
            if name in _STRINGS:
                stack.append(arg)
            elif name == "EMPTY_DICT":
                if answers is not None or stack:
                    raise refuse("holds more than one dict; a submission is a flat dict")
                answers = {}
                stack.append(answers)
            elif name in _PUTS:
                if not stack or stack[-1] is None:
                    raise refuse("is malformed (memo of nothing)")
                memo[len(memo) if arg is None else int(arg)] = stack[-1]
            elif name in _GETS:
                shared = memo.get(int(arg))
                if not isinstance(shared, str):
                    raise refuse("refers twice to one object (a shared reference); a "
                                 "submission is a flat dict of strings")
                stack.append(shared)
            elif name == "MARK":
                if None in stack or answers is None:
                    raise refuse("nests containers; a submission is a flat dict of strings")
                stack.append(None)
            elif name in ("SETITEM", "SETITEMS"):
                _set_items(stack, answers, name == "SETITEMS", refuse)
            elif name == "STOP":
                break
            elif name in ("GLOBAL", "STACK_GLOBAL", "INST", "OBJ", "REDUCE", "BUILD",
                          "NEWOBJ", "NEWOBJ_EX", "EXT1", "EXT2", "EXT4", "PERSID",
                          "BINPERSID"):
                what = f" {excerpt(str(arg).replace(' ', '.'))}" if arg is not None else ""
                raise refuse(f"holds a forbidden object{what}: it would run code")
            else:
                kind = _MAKES.get(name, f"{name} opcode")
                if answers is None:
                    raise refuse(f"holds a {kind}, not a dict")
                raise refuse(f"holds a {kind}; a submission is a dict of strings")
    except (ValueError, UnicodeDecodeError) as exc:
        raise refuse(f"cannot be read: {excerpt(str(exc), 80)}") from None
    if answers is None or stack != [answers]:
        raise refuse("does not hold one dict")
    return answers


def _set_items(stack: list[object], answers: dict[str, str] | None, marked: bool,
               refuse: Callable[[str], SubmissionError]) -> None:
    """Apply a SETITEM or SETITEMS opcode of :func:`read_answers` to ``answers``."""
    if marked:
        if None not in stack:
            raise refuse("is malformed (SETITEMS without MARK)")
        cut = stack.index(None)
        items, stack[cut:] = stack[cut + 1:], []
    else:
        items, stack[-2:] = stack[-2:], []
    if (len(items) % 2 or not stack or stack[-1] is not answers or answers is None
            or not all(isinstance(item, str) for item in items)):
        raise refuse("is malformed (items outside the dict)")
    for key, value in zip(items[::2], items[1::2], strict=True):
        answers[key] = value  # type: ignore[index, assignment]


def _read_member(path: Path) -> tuple[str, bytes]:
    """The name and bytes of the one file of a submission ZIP, read within :data:`MAX_BYTES`."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise SubmissionError(f"the file has {size:,} bytes; a submission ZIP holds a small "
                                  f"dict (at most {MAX_BYTES:,} bytes are read)", path)
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise SubmissionError(f"not a readable ZIP file ({excerpt(str(exc), 80)})",
                              path) from exc
    with zf:
        members = zf.infolist()
        if len(members) != 1:
            raise SubmissionError(f"the ZIP must hold exactly one file, it holds {len(members)}: "
                                  f"{', '.join(excerpt(m.filename) for m in members[:5])}", path)
        member = members[0]
        name = member.filename
        if "/" in name or "\\" in name:
            raise SubmissionError(f"{excerpt(name)} is inside a folder; the pickle must be at "
                                  "the top", path)
        if name not in PICKLES.values():
            raise SubmissionError(f"the file is called {excerpt(name)}, expected "
                                  f"{' or '.join(PICKLES.values())}", path)
        if member.file_size > MAX_BYTES:
            raise SubmissionError(f"{name} inflates to {member.file_size:,} bytes; a submission "
                                  f"holds a small dict (at most {MAX_BYTES:,} bytes)", path)
        try:
            with zf.open(member) as f:
                data = f.read(MAX_BYTES + 1)
        except (OSError, EOFError, RuntimeError, NotImplementedError, zipfile.BadZipFile,
                zlib.error) as exc:
            raise SubmissionError(f"{name} cannot be read from the ZIP "
                                  f"({excerpt(str(exc), 80)})", path) from exc
        if len(data) > MAX_BYTES:
            raise SubmissionError(f"{name} inflates to more than {MAX_BYTES:,} bytes; a "
                                  "submission holds a small dict", path)
    return name, data


def check(path: str | Path, *, phase: str | None = None,
          expected: Collection[str] | None = None) -> dict[str, str]:
    """Validate an existing submission ZIP, within bounded time and memory (see the module
    notes).

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
        Saying exactly what is wrong (not a ZIP, too large, folders, several files, wrong
        name, pickle protocol, content).
    """
    path = Path(path)
    name, data = _read_member(path)
    phases = {v: k for k, v in PICKLES.items()}
    if phase is not None and phases[name] != phase:
        raise SubmissionError(f"{name!r} is for the {phases[name]} phase, not {phase}", path)
    if len(data) < 2 or data[0] != 0x80 or data[1] != 2:
        got = data[1] if len(data) > 1 and data[0] == 0x80 else "0 or 1"
        raise SubmissionError(f"the pickle uses protocol {got}, the challenge asks for 2", path)
    answers = read_answers(data, path)
    validate(answers, phase=phases[name], expected=expected, path=path)
    return answers
