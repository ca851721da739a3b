"""The notebooks run top to bottom at small size (their code cells, in one namespace)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import pytest

FOLDER = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(FOLDER.glob("*.ipynb"))
DUTTA = FOLDER / "dutta_figures_9_to_14.ipynb"
#: Notebooks whose namespace later tests read: run once, then kept.
_KEPT = {DUTTA.name}
_NAMESPACES: dict[str, dict] = {}


def run_small(path: Path) -> dict:
    """Runs the code cells of ``path`` at small size; returns their namespace."""
    if path.name in _NAMESPACES:
        return _NAMESPACES[path.name]
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = json.loads(path.read_text())["cells"]
    assert all(not c.get("outputs") for c in cells if c["cell_type"] == "code"), "stored outputs"
    namespace: dict = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PSSIM_NOTEBOOK_SMALL", "1")
        for cell in cells:
            if cell["cell_type"] == "code":
                exec(compile("".join(cell["source"]), f"{path.name}", "exec"), namespace)
    plt.close("all")
    if path.name in _KEPT:
        _NAMESPACES[path.name] = namespace
    return namespace


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path):
    run_small(path)


@pytest.mark.slow
def test_dutta_figures_best_k_grows_with_the_time_budget():
    """Which K: the best K at the shortest budget is smaller than at the longest, per mu."""
    ns = run_small(DUTTA)
    short, longest = round(ns["N_TABLE"][0]), round(ns["N_TABLE"][-1])
    for mu in ns["MUS_K"]:
        assert ns["WHICH_K"][mu, short][0] < ns["WHICH_K"][mu, longest][0], ns["which_k"]


@pytest.mark.slow
def test_dutta_figures_fixed_rate_degrades_with_the_curvature_scale():
    """Async at eta = r / lambda_max(E[x x^T]): fine at r = 1, degraded and unstable at 4."""
    table = run_small(DUTTA)["curv_table"]
    degraded, unstable = table.columns[-2], table.columns[-1]
    assert not table.loc[1, degraded] and not table.loc[1, unstable], table
    assert table.loc[4, degraded] and table.loc[4, unstable], table
