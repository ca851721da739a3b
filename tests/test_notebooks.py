"""The notebooks run top to bottom at small size (their code cells, in one namespace)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, monkeypatch):
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setenv("PSSIM_NOTEBOOK_SMALL", "1")
    cells = json.loads(path.read_text())["cells"]
    assert all(not c.get("outputs") for c in cells if c["cell_type"] == "code"), "stored outputs"
    namespace: dict = {}
    for cell in cells:
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), f"{path.name}", "exec"), namespace)
    plt.close("all")
