"""examples/notebooks/compare.ipynb runs top to bottom in a real Jupyter kernel (nbclient) and
shows a DataFrame and an inline figure."""

from __future__ import annotations

from pathlib import Path

import nbclient
import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "notebooks" / "compare.ipynb"


def test_example_notebook_executes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PCPLAB_DB", str(tmp_path / "nb.sqlite"))
    monkeypatch.delenv("MPLBACKEND", raising=False)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    data = [o.get("data", {}) for o in outputs]
    assert any('class="summary"' in d.get("text/html", "") for d in data)  # the result's repr
    assert any("dataframe" in d.get("text/html", "") for d in data)  # pandas' HTML table
    assert any("image/png" in d for d in data)  # the inline figure
    assert (tmp_path / "nb.sqlite").is_file()  # the runs went where the test said
