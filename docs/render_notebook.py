"""Run a notebook top to bottom at full size and save its figures into docs/.

python docs/render_notebook.py notebooks/dutta_error_runtime.ipynb [more.ipynb ...]

The notebooks are stored without outputs; each saves its figures with ``save_figure`` into
the folder named by ``PSSIM_NOTEBOOK_FIGURES`` when that is set (this script sets it to the
docs/ folder) and prints its closing claim/measured/agrees table.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import matplotlib

HERE = Path(__file__).resolve().parent


def run(path: Path) -> None:
    """Executes the code cells of ``path`` in one namespace."""
    cells = json.loads(path.read_text())["cells"]
    namespace: dict = {"__name__": "__main__"}
    for cell in cells:
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), str(path), "exec"), namespace)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args()
    matplotlib.use("Agg")
    os.environ.pop("PSSIM_NOTEBOOK_SMALL", None)
    os.environ["PSSIM_NOTEBOOK_FIGURES"] = str(HERE)
    import matplotlib.pyplot as plt

    for path in args.notebooks:
        start = time.perf_counter()
        run(path)
        plt.close("all")
        print(f"{path.name}: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
