"""The example notebook runs headlessly, top to bottom, on the embedded data."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "quickstart.ipynb"


def test_quickstart_notebook_executes(tmp_path):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    folder = tmp_path / "work"
    folder.mkdir()
    # a fresh kernel in a scratch folder; it inherits the test's isolated cache and reports
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(folder)}}).execute()
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code)
    assert not [o for cell in code for o in cell.outputs if o.output_type == "error"]
    last = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "")
                   for o in code[-1].outputs)
    assert "in excess of the cash rate" in last and "sharpe" in last and "60/40" in last
    assert not list(folder.iterdir())  # nothing written where it ran
