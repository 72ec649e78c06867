"""Notebooks are tests: each notebook in nbs/ runs top to bottom, in a fresh kernel, under the `quick` preset.

We use pytest + nbclient rather than `nbdev-test` so that one runner (pytest) reports everything with its usual
summary, each notebook is its own test (pytest-xdist spreads them over the cores), and a failure shows the failing
cell's source and traceback. A cell tagged `#| notest` (nbdev's flag) is skipped, e.g. a cell that starts a
long training run or a download.
"""
import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "nbs").glob("*.ipynb"))


def skip_notest_cells(nb):
    "Blank out cells flagged `#| notest`, as nbdev-test would."
    for cell in nb.cells:
        if cell.cell_type == "code" and any(line.strip().replace(" ", "") == "#|notest"
                                            for line in cell.source.splitlines()):
            cell.source = "# (skipped under test: #| notest)"
    return nb


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path):
    nb = skip_notest_cells(nbformat.read(path, as_version=4))
    env_home = tmp_path / "home"  # downloads/caches of a test run never touch the user's cache
    os.environ["FITLAM_HOME"] = str(env_home)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except CellExecutionError as e:
        pytest.fail(f"{path.name} failed:\n" + re.sub(r"\x1b\[[0-9;]*m", "", str(e)), pytrace=False)


def test_there_are_notebooks():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "00_core.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_states_its_time(path):
    "Every notebook says up front how long it takes: `quick` on a CPU (measured) and `paper` on a GPU."
    intro = nbformat.read(path, as_version=4).cells[0]
    lines = [line for line in intro.source.splitlines() if line.startswith("**Time:**")]
    assert intro.cell_type == "markdown" and len(lines) == 1, f"{path.name}: its first cell needs one **Time:** line"
    assert re.search(r"\*\*Time:\*\* [\d.]+ (s|min) with the `quick` preset on the course's 2-core CPU \(measured\)\. "
                     r"With `paper` on a GPU: ", lines[0]), lines[0]
