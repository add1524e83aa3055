"""The notebooks execute headlessly on a small runs root (as in CI)."""

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "analysis_notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def one_run(tmp_path_factory):
    """A runs root with a single Edge-Popup run: no second method, no random-mask null."""
    from tests.conftest import search_tiny

    root = tmp_path_factory.mktemp("one_run")
    search_tiny(root, "edge_popup", range(3))
    return root


@pytest.mark.parametrize("root", ["tiny_runs", "one_run"])
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path, root, request, monkeypatch):
    tiny_runs = request.getfixturevalue(root)
    nb = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") for cell in nb.cells if cell.cell_type == "code"), (
        "commit notebooks with outputs stripped"
    )
    monkeypatch.setenv("LANDSCAPE_RUNS", str(tiny_runs))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"
    ]
    assert not errors
    assert os.environ["LANDSCAPE_RUNS"] == str(tiny_runs)
