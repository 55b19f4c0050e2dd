"""emo: multimodal emotion recognition, from raw clips to a challenge submission.

The public Python API (shared by the command line, the HTTP service and the notebooks)
is re-exported here and imported lazily, so ``import emo`` stays light:

>>> import emo
>>> sorted(emo.__all__)[:3]
['FitConfig', '__version__', 'evaluate']
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from emo._version import __version__

_API = ("index", "extract", "feature_table", "import_table", "fit", "predict", "evaluate",
        "submit", "synthesise", "FitConfig", "load_model")
__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name == "synthesise":
        return import_module("emo.synth").synthesise
    if name in _API:
        return getattr(import_module("emo.api"), name)
    raise AttributeError(f"module 'emo' has no attribute {name!r}")
