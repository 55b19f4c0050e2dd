"""What ``pip install .`` gets: the supported Pythons, upper pins with their reasons, one
OpenCV (read from pyproject.toml, .ci/find-python and the installed metadata); and the
interpreter ``make`` and CI pick (``.ci/find-python``, run on stand-in interpreters)."""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
BASH = shutil.which("bash") or "/bin/bash"
#: The distributions that install the ``cv2`` package.
OPENCV = {"opencv-python", "opencv-contrib-python", "opencv-python-headless",
          "opencv-contrib-python-headless"}


def _requirements() -> list[str]:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    return [*project["dependencies"],
            *(r for extra in project["optional-dependencies"].values() for r in extra)]


def _has_upper_bound(requirement: Requirement) -> bool:
    return any(s.operator in ("<", "<=", "==", "===", "~=") for s in requirement.specifier)


def test_python_311_and_newer_without_an_upper_bound() -> None:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    assert project["requires-python"] == ">=3.11"
    # .ci/find-python looks for the same floor
    assert re.search(r"^MIN=11\b", (ROOT / ".ci" / "find-python").read_text(), re.MULTILINE)


def test_every_upper_pin_says_why() -> None:
    lines = PYPROJECT.read_text().splitlines()
    pinned = [r for r in _requirements() if _has_upper_bound(Requirement(r))]
    for requirement in pinned:
        row = next(i for i, line in enumerate(lines) if f'"{requirement}"' in line)
        commented = "#" in lines[row] or lines[row - 1].strip().startswith("#")
        assert commented, f"pyproject.toml: {requirement} has an upper pin and no comment"


def test_one_opencv_the_one_mediapipe_uses() -> None:
    declared = {canonicalize_name(Requirement(r).name) for r in _requirements()} & OPENCV
    assert len(declared) == 1, f"pyproject.toml declares {sorted(declared)}"
    mediapipe_needs = {canonicalize_name(Requirement(r).name)
                       for r in importlib.metadata.requires("mediapipe") or []} & OPENCV
    assert mediapipe_needs <= declared
    installed = {canonicalize_name(d.metadata["Name"])
                 for d in importlib.metadata.distributions()} & OPENCV
    assert installed == declared, f"installed OpenCV distributions: {sorted(installed)}"


# -- .ci/find-python: which interpreter make and CI use ------------------------------------

def _fake_python(path: Path, minor: int) -> Path:
    """A stand-in interpreter that answers find-python's probe as CPython 3.<minor>."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\necho "{minor} {path}"\n')
    path.chmod(0o755)
    return path


def _find(which: str, path: list[Path], home: Path) -> subprocess.CompletedProcess[str]:
    """Run .ci/find-python with only ``path`` on PATH and pyenv's root under ``home``."""
    env = {"PATH": os.pathsep.join(map(str, path)), "HOME": str(home),
           "PYENV_ROOT": str(home / ".pyenv")}
    return subprocess.run([BASH, str(ROOT / ".ci" / "find-python"), which], env=env,
                          capture_output=True, text=True, timeout=60)


def test_find_python_takes_the_newest_or_oldest_that_really_is_one(tmp_path: Path) -> None:
    bin_ = tmp_path / "bin"
    oldest = _fake_python(bin_ / "python3.11", 11)
    _fake_python(bin_ / "python3.12", 12)
    _fake_python(bin_ / "python3.13", 10)  # a python3.13 that is not 3.13 is skipped
    newest = _fake_python(tmp_path / ".pyenv" / "versions" / "3.14.0" / "bin" / "python3.14", 14)
    assert _find("newest", [bin_], tmp_path).stdout.strip() == str(newest)
    assert _find("oldest", [bin_], tmp_path).stdout.strip() == str(oldest)
    (tmp_path / ".pyenv").rename(tmp_path / "elsewhere")
    assert _find("newest", [bin_], tmp_path).stdout.strip() == str(bin_ / "python3.12")


def test_find_python_refuses_older_pythons_saying_so(tmp_path: Path) -> None:
    _fake_python(tmp_path / "bin" / "python3.10", 10)
    _fake_python(tmp_path / "bin" / "python3.11", 10)
    run = _find("newest", [tmp_path / "bin"], tmp_path)
    assert run.returncode == 1 and run.stdout == ""
    assert "emo needs Python >= 3.11" in run.stderr and "PYTHON=" in run.stderr
