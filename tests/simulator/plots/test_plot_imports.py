"""Plots draw traces and tables only: no module of simulator.plots imports a simulating layer."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import simulator.plots

PLOTS = Path(simulator.plots.__file__).resolve().parent
FORBIDDEN = ("simulator.timing", "simulator.training", "simulator.studies")


def imported_modules(path: Path) -> list[str]:
    """Every module an ``import`` or ``from ... import`` names anywhere in the file."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import"
            names += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return names


@pytest.mark.parametrize("path", sorted(PLOTS.glob("*.py")), ids=lambda p: p.name)
def test_plots_import_no_simulation(path):
    bad = [m for m in imported_modules(path) if m.startswith(FORBIDDEN)]
    assert not bad, f"{path.name} imports {bad}"


def test_walker_sees_imports_inside_functions(tmp_path):
    source = tmp_path / "x.py"
    source.write_text("def f():\n    from simulator.timing.engine import simulate\n")
    assert "simulator.timing.engine" in imported_modules(source)
