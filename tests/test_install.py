"""What ``pip install .`` gets: the supported Pythons, upper pins with their reasons, one
OpenCV (read from pyproject.toml, .ci/find-python and the installed metadata)."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
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
