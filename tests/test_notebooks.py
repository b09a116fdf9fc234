"""The notebooks run, top to bottom, on a real run (the session's shop: tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def execute(notebook: Path, project: Path) -> nbformat.NotebookNode:
    """Run every cell in ``project/notebooks`` (as a user opening it there would)."""
    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(project / "notebooks")}},
    )
    client.execute()
    return nb


def outputs(nb: nbformat.NotebookNode) -> str:
    text = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            text.append(out.get("text", ""))
            data = out.get("data", {})
            text.append(data.get("text/plain", "") + data.get("text/markdown", ""))
    return "\n".join(text)


def test_there_are_two_notebooks():
    assert [p.name for p in NOTEBOOKS] == [
        "1.0-at-risk-list-walkthrough.ipynb",
        "2.0-review-champion-and-runs.ipynb",
    ]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_on_a_real_run(notebook, dvc_shop):
    nb = execute(notebook, dvc_shop)
    text = outputs(nb)
    assert "Traceback" not in text and "Error" not in text
    if notebook.stem.startswith("2.0"):
        assert "champion" in text
        assert "the champion gives 100% of the current list's probabilities exactly" in text
        assert "## Drivers: share of mean |SHAP|" in text
        assert any(
            "image/png" in out.get("data", {}) for c in nb.cells for out in c.get("outputs", [])
        )
    else:
        assert "of the value at risk" in text and "roc_auc" in text
