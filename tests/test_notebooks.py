"""The notebooks run and the API reference's examples hold.

``01_quickstart`` and ``02_features`` are executed with nbclient in their small setting
(``EMO_NB_SMALL=1``), writing only into a temporary folder (``EMO_NB_WORK``);
``03_real_corpora`` belongs to the benchmarks and is only checked to skip cleanly when the
real-data pack is absent. ``docs/api.md`` is run as a doctest file.
"""

from __future__ import annotations

import doctest
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from emo.submission import check

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
NAMES = ("01_quickstart.ipynb", "02_features.ipynb", "03_real_corpora.ipynb")


def _execute(nb: nbformat.NotebookNode, folder: Path, timeout: int = 300) -> None:
    """Run every cell in a fresh ``python3`` kernel started in ``folder``."""
    NotebookClient(nb, kernel_name="python3", timeout=timeout,
                   resources={"metadata": {"path": str(folder)}}).execute()


def _run(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
         **env: str) -> tuple[nbformat.NotebookNode, Path]:
    """Execute a notebook of the repository in its small setting; return it and its work
    folder."""
    work = tmp_path / "work"
    monkeypatch.setenv("EMO_NB_SMALL", "1")
    monkeypatch.setenv("EMO_NB_WORK", str(work))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    _execute(nb, tmp_path)
    return nb, work


def _outputs(nb: nbformat.NotebookNode, kind: str) -> list:
    """Every output of a MIME type (``image/png``...) or stream text (``stdout``)."""
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("name") == kind:
                found.append(out["text"])
            elif kind in out.get("data", {}):
                found.append(out["data"][kind])
    return found


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_stored_without_outputs(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{name}: strip the outputs before committing")
    settings = next(c for c in nb.cells if c.cell_type == "code").source
    assert "EMO_NB_WORK" in settings, f"{name}: the first code cell must hold the settings"


def test_kernel_is_the_running_python(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import sys, emo; print(sys.prefix); "
                                          "print(emo.__file__)")]
    _execute(nb, tmp_path, timeout=60)
    prefix, package = nb.cells[0].outputs[0]["text"].split()
    assert prefix == sys.prefix
    assert Path(package).resolve().is_relative_to(ROOT)


def test_quickstart_runs_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = sorted(NOTEBOOKS.iterdir())
    nb, work = _run("01_quickstart.ipynb", tmp_path, monkeypatch)
    answers = check(work / "submission.zip", phase="test")
    assert answers and all(key.startswith("frames_TEST") for key in answers)
    with zipfile.ZipFile(work / "submission.zip") as zf:
        assert zf.namelist() == ["test_prediction.pkl"]
    assert (work / "model" / "metrics.json").is_file()
    assert len(_outputs(nb, "image/png")) == 4  # confusion matrices: audio, body, face, fused
    assert any("test UAR" in text for text in _outputs(nb, "stdout"))
    assert sorted(NOTEBOOKS.iterdir()) == before, "the notebook wrote into the repository"


def test_features_notebook_draws_every_modality(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    nb, work = _run("02_features.ipynb", tmp_path, monkeypatch)
    assert len(_outputs(nb, "image/png")) == 6  # audio, face x3, body x2
    table = _outputs(nb, "text/plain")[-1]
    for prefix in ("audio__", "face__", "body__"):
        assert prefix in table
    assert (work / "data" / "descriptors").is_dir()


def test_real_corpora_notebook_skips_without_the_data(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    absent = tmp_path / "no-data-here"
    nb, work = _run("03_real_corpora.ipynb", tmp_path, monkeypatch,
                    EMO_SHARED_DATA=str(absent), EMO_CACHE=str(tmp_path / "cache"))
    assert any("SKIPPED" in text and str(absent) in text for text in _outputs(nb, "stdout"))
    assert not work.exists() and not (tmp_path / "cache").exists()


def test_api_reference_examples_hold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the examples write relative paths: keep them out of the repo
    result = doctest.testfile(str(ROOT / "docs" / "api.md"), module_relative=False,
                              optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                              verbose=False)
    assert result.failed == 0
    assert result.attempted >= 30
