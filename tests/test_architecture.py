"""Import rules of the package, read from the source (AST): layers, thin shells, no cycles.

Every import counts: at module level, inside functions, under ``TYPE_CHECKING`` and
``importlib.import_module("emo....")`` with a literal name. An import names a module:
``import emo.data.clip`` and ``from emo.data.clip import Clip`` name ``emo.data.clip``;
``from emo import api`` names the submodule ``emo.api``; ``from emo import __version__``
names the package ``emo`` itself. The packages Python runs on the way (``emo.data``
before ``emo.data.clip``) are not counted as imports, so a package ``__init__`` may
gather names from its own modules as long as none of them imports the package back.
Each failure lists every offending import as ``file:line -> module``.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "emo"

#: The ground floor every layer may use.
GROUND = ("emo._io", "emo.errors", "emo._version", "emo._native")


@dataclass(frozen=True)
class Import:
    """One import statement's target inside ``emo``."""

    source: str
    path: Path
    line: int
    target: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line} -> {self.target}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(module: str, imported: ast.ImportFrom) -> str:
    """The absolute module a ``from ... import`` statement reads from."""
    if not imported.level:
        return imported.module or ""
    package = module.split(".")
    if MODULES[module].name != "__init__.py":
        package.pop()
    base = package[: len(package) - imported.level + 1]
    return ".".join([*base, *([imported.module] if imported.module else [])])


def _targets(module: str, node: ast.AST) -> Iterator[str]:
    """The modules one AST node imports (any module, inside ``emo`` or not)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        base = _resolve(module, node)
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            yield sub if sub in MODULES else base
    elif isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if (name == "import_module" and node.args and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)):
            yield node.args[0].value


def _imports() -> list[Import]:
    found = set()
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            for target in _targets(module, node):
                if target == "emo" or target.startswith("emo."):
                    found.add(Import(module, path, node.lineno, target))
    return sorted(found, key=lambda i: (i.source, i.line, i.target))


IMPORTS = _imports()


def _within(module: str, packages: tuple[str, ...]) -> bool:
    """Whether ``module`` is one of ``packages`` or below one (``"emo"``: the root alone)."""
    return any(module == p or (p != "emo" and module.startswith(p + ".")) for p in packages)


def _breaking(sources: tuple[str, ...], allowed: tuple[str, ...]) -> list[str]:
    return [str(i) for i in IMPORTS
            if _within(i.source, sources) and not _within(i.target, allowed)]


@pytest.mark.parametrize(
    ("sources", "allowed"),
    [
        pytest.param(("emo.models",), ("emo.models", "emo._io", "emo.errors", "emo._version"),
                     id="models-import-no-data-features-or-api"),
        pytest.param(("emo.data",), ("emo.data", *GROUND), id="data-imports-only-data"),
        pytest.param(("emo.features",), ("emo.features", "emo.data", *GROUND),
                     id="features-import-only-data"),
        pytest.param(("emo.synth",), ("emo.synth", "emo.data", *GROUND),
                     id="synth-imports-only-data"),
        pytest.param(("emo.cli",), ("emo", "emo.api", "emo.errors", "emo.serve"),
                     id="cli-is-a-shell"),
        pytest.param(("emo.serve",), ("emo", "emo.api", "emo.errors"), id="serve-is-a-shell"),
    ],
)
def test_layers_import_only_what_lies_below(sources: tuple[str, ...],
                                            allowed: tuple[str, ...]) -> None:
    bad = _breaking(sources, allowed)
    assert not bad, (f"{', '.join(sources)} may import from emo only {', '.join(allowed)}; "
                     f"these imports break the rule:\n  " + "\n  ".join(bad))


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(edges.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return sorted(found)


def test_no_import_cycle_among_emo_modules() -> None:
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for i in IMPORTS:
        if i.target in MODULES and i.target != i.source:
            edges[i.source].add(i.target)
    report = []
    for component in _cycles(edges):
        members = set(component)
        inside = [str(i) for i in IMPORTS if i.source in members and i.target in members
                  and i.target != i.source]
        report.append(f"cycle among {', '.join(component)}:\n    " + "\n    ".join(inside))
    assert not report, "import cycles (an upward import closes each):\n  " + "\n  ".join(report)


def test_the_checker_sees_every_import_and_finds_cycles() -> None:
    source = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from emo.data import clip\n"
              "def f():\n    from . import errors\n    import importlib\n"
              "    return importlib.import_module('emo.api')\n")
    targets = [t for node in ast.walk(ast.parse(source)) for t in _targets("emo.cli", node)]
    assert sorted(targets) == ["emo.api", "emo.data.clip", "emo.errors", "importlib", "typing"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert not _within("emo.data.clip", ("emo",)) and _within("emo.data.clip", ("emo.data",))


def test_api_imports_where_fcntl_does_not_exist() -> None:
    code = ("import sys; sys.modules['fcntl'] = None; "
            "import emo.api, emo._io, emo.features.cache")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, cwd=ROOT, env=env)
    assert run.returncode == 0, run.stderr[-2000:]


#: Calls that train or run an estimator: they belong in ``emo.models``, not in the facade.
ESTIMATOR_CALLS = frozenset({"fit", "predict_proba", "predict_proba_modalities",
                             "predict_proba_all", "cross_validate", "simulate_inference",
                             "fit_transform", "transform"})
#: The estimator classes of ``emo.models``.
ESTIMATORS = frozenset({"ActorIdentifier", "ActorStandardiser", "BlendClassifier",
                        "EnsembleClassifier", "LinearClassifier", "ModalityClassifier",
                        "StackingFusion"})


def _estimator_uses(path: Path) -> list[str]:
    """Calls of an estimator method and uses of an estimator class in one module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ESTIMATOR_CALLS):
            found.append(f"{path.name}:{node.lineno} .{node.func.attr}()")
        elif isinstance(node, ast.Name | ast.alias):
            name = node.id if isinstance(node, ast.Name) else node.name
            if name in ESTIMATORS:
                found.append(f"{path.name}:{getattr(node, 'lineno', '?')} {name}")
    return found


def test_the_api_holds_no_estimator_call() -> None:
    """``emo.api`` orchestrates: training is :func:`emo.models.train.train`, prediction
    :meth:`emo.models.Bundle.predict`."""
    assert _estimator_uses(PACKAGE / "api.py") == []
    assert _estimator_uses(PACKAGE / "models" / "train.py")  # the checker finds them
