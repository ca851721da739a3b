"""The notebooks run top to bottom at small size in a real Jupyter kernel.

Each notebook is executed by nbclient in a fresh ``python3`` kernel (ipykernel, the
interpreter that runs the tests) started in the notebook's folder, as ``jupyter lab
notebooks/`` would, with ``PSSIM_NOTEBOOK_SMALL=1`` in its environment (the notebooks read it
to shrink their sizes). A failing cell fails the test with that cell and its traceback.
"""

from __future__ import annotations

import pickle
import re
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

FOLDER = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(FOLDER.glob("*.ipynb"))
DUTTA = FOLDER / "dutta_figures_9_to_14.ipynb"
#: The kernel the notebooks name in their metadata (ipykernel installs its spec).
KERNEL = "python3"
#: Hang guards only (no speed assertion): seconds for one cell, and for the kernel to start.
CELL_TIMEOUT_S = 1200
STARTUP_TIMEOUT_S = 300
#: Variables of a notebook's namespace that later tests read: the notebook runs once.
_KEPT = {
    DUTTA.name: ("N_TABLE", "MUS_K", "WHICH_K", "which_k", "curv_table"),
}
_NAMESPACES: dict[str, dict] = {}
#: Terminal colour codes of the kernel's tracebacks (left out of a failure's message).
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _dump_cell(names: tuple[str, ...], target: Path):
    """A code cell that pickles the kernel's variables ``names`` to ``target``."""
    return nbformat.v4.new_code_cell(
        "import pickle as _pickle\n"
        f"with open({str(target)!r}, 'wb') as _file:\n"
        f"    _pickle.dump({{_k: globals()[_k] for _k in {names!r}}}, _file)"
    )


def run_small(path: Path, keep: tuple[str, ...] = ()) -> dict:
    """Executes ``path`` at small size in a fresh kernel started in its folder.

    Returns:
        The variables ``keep`` of the kernel's namespace at the end (pickled out of it).
    """
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.get("outputs") for c in code), f"{path.name}: stored outputs"
    with tempfile.TemporaryDirectory(prefix="pssim-notebook-") as tmp:
        dump = Path(tmp) / "namespace.pickle"
        if keep:
            nb.cells.append(_dump_cell(keep, dump))
        client = NotebookClient(
            nb,
            kernel_name=KERNEL,
            timeout=CELL_TIMEOUT_S,
            startup_timeout=STARTUP_TIMEOUT_S,
            resources={"metadata": {"path": str(path.parent)}},
        )
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("PSSIM_NOTEBOOK_SMALL", "1")  # inherited by the kernel
            try:
                client.execute()
            except CellExecutionError as err:
                shown = _ANSI.sub("", str(err))
                pytest.fail(f"{path.name}: a cell failed in the kernel\n{shown}", pytrace=False)
        if not keep:
            return {}
        with dump.open("rb") as file:
            return pickle.load(file)


def run_kept(path: Path) -> dict:
    """:func:`run_small` of a notebook whose namespace later tests read: run once."""
    if path.name not in _NAMESPACES:
        _NAMESPACES[path.name] = run_small(path, keep=_KEPT[path.name])
    return _NAMESPACES[path.name]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path):
    if path.name in _KEPT:
        run_kept(path)
    else:
        run_small(path)


def _notebook(folder: Path, *sources: str) -> Path:
    """A notebook of code cells ``sources`` (no outputs) written in ``folder``."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Python 3", "language": "python"}
    path = folder / "probe.ipynb"
    nbformat.write(nb, path)
    return path


def test_notebooks_run_in_a_kernel_of_the_test_interpreter(tmp_path):
    """IPython syntax works, and the kernel is this interpreter, in the notebook's folder, small."""
    path = _notebook(
        tmp_path,
        "import os, sys\nEXE, CWD = sys.executable, os.getcwd()",
        "%env PROBE=1\nSHELL = type(get_ipython()).__name__",
        "SMALL = os.environ.get('PSSIM_NOTEBOOK_SMALL')",
    )
    ns = run_small(path, keep=("EXE", "CWD", "SHELL", "SMALL"))
    assert Path(ns["EXE"]).samefile(sys.executable), ns
    assert Path(ns["CWD"]).samefile(tmp_path), ns
    assert ns["SHELL"] == "ZMQInteractiveShell" and ns["SMALL"] == "1", ns


def test_a_failing_cell_fails_the_test_with_its_error(tmp_path):
    path = _notebook(tmp_path, "x = 1", "def f():\n    raise ValueError('probe-7 failed')\nf()")
    with pytest.raises(pytest.fail.Exception) as info:
        run_small(path)
    message = str(info.value)
    assert "probe.ipynb: a cell failed in the kernel" in message, message
    assert "raise ValueError('probe-7 failed')" in message, message  # the cell's source
    assert "ValueError: probe-7 failed" in message, message  # and its error


@pytest.mark.slow
def test_dutta_figures_best_k_grows_with_the_time_budget():
    """Which K: the best K at the shortest budget is smaller than at the longest, per mu."""
    ns = run_kept(DUTTA)
    short, longest = round(ns["N_TABLE"][0]), round(ns["N_TABLE"][-1])
    for mu in ns["MUS_K"]:
        assert ns["WHICH_K"][mu, short][0] < ns["WHICH_K"][mu, longest][0], ns["which_k"]


@pytest.mark.slow
def test_dutta_figures_fixed_rate_degrades_with_the_curvature_scale():
    """Async at eta = r / lambda_max(E[x x^T]): fine at r = 1, degraded and unstable at 4."""
    table = run_kept(DUTTA)["curv_table"]
    degraded, unstable = table.columns[-2], table.columns[-1]
    assert not table.loc[1, degraded] and not table.loc[1, unstable], table
    assert table.loc[4, degraded] and table.loc[4, unstable], table
