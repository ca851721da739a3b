"""The package layout's import arrows, checked on the source with ``ast``.

distributions and models import no other project package; inside simulator, cli ->
studies -> (timing, training, theory, results) -> trace, spec, errors; only timing imports
simpy; only training imports jax/optax (and models, which are JAX functions); plots import
no engine, replay or study. Imports under ``if TYPE_CHECKING:`` are ignored.
"""

from __future__ import annotations

import ast
import graphlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUBPACKAGES = ("timing", "training", "theory", "results", "studies", "plots", "cli")
#: simulator part -> the project parts it must not import.
FORBIDDEN = {
    "timing": {"training", "studies", "cli", "plots", "results"},
    "training": {"timing", "studies", "cli", "plots"},
    "theory": {"timing", "training", "studies", "cli", "plots", "results"},
    "results": {"timing", "training", "studies", "cli", "plots"},
    "studies": {"cli", "plots"},
    "plots": {"timing", "training", "studies", "cli"},
    "cli": set(),
    "top": set(SUBPACKAGES),  # trace, spec, errors and private helpers at the top
}


def _imports(path: Path, package: str | None = None) -> list[str]:
    """Absolute module names imported by ``path`` (relative imports resolved)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    if package is None:
        package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for child in node.body for n in ast.walk(child))
    names = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            names.append(mod)
            names += [f"{mod}.{a.name}" for a in node.names]  # from simulator import timing
    return names


def _part(path: Path) -> str:
    rel = path.relative_to(ROOT / "simulator").parts
    return rel[0] if len(rel) > 1 else "top"


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _top(name: str) -> str:
    return name.split(".")[0]


def test_distributions_and_models_import_no_other_project_package():
    for package, others in (
        ("distributions", {"simulator", "models"}),
        ("models", {"simulator", "distributions"}),
    ):
        for path in _sources(package):
            bad = {n for n in _imports(path) if _top(n) in others}
            assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_only_timing_imports_simpy_and_only_training_imports_jax():
    for path in _sources("simulator"):
        tops = {_top(n) for n in _imports(path)}
        part = _part(path)
        if part != "timing":
            assert "simpy" not in tops, f"{path.relative_to(ROOT)} imports simpy"
        if part != "training":
            assert not tops & {"jax", "jaxlib", "optax"}, f"{path.relative_to(ROOT)} imports jax"
    for package in ("distributions", "models"):
        for path in _sources(package):
            assert "simpy" not in {_top(n) for n in _imports(path)}
    for path in _sources("distributions"):
        assert not {_top(n) for n in _imports(path)} & {"jax", "optax"}


def _wrong_arrows(part: str, names: list[str]) -> set[str]:
    used = {
        n.split(".")[1]
        for n in names
        if n.startswith("simulator.") and n.split(".")[1] in SUBPACKAGES
    }
    return (used - {part}) & FORBIDDEN[part]


def test_simulator_arrows_run_one_way():
    for path in _sources("simulator"):
        bad = _wrong_arrows(_part(path), _imports(path))
        assert not bad, f"{path.relative_to(ROOT)} ({_part(path)}) imports {sorted(bad)}"


def test_the_walker_sees_a_wrong_arrow(tmp_path):
    """The check can fail: a plots module importing the engine (relatively) is caught,
    and an import under TYPE_CHECKING is not counted."""
    path = tmp_path / "probe.py"
    path.write_text(
        "from typing import TYPE_CHECKING\nfrom ..timing import engine\n"
        "if TYPE_CHECKING:\n    from simulator.studies import compare\n"
    )
    names = _imports(path, package="simulator.plots")
    assert _wrong_arrows("plots", names) == {"timing"}


@pytest.mark.parametrize(
    "code",
    [
        "import simulator; s = simulator.runtime_study(variant='async', num_learners=4, "
        "updates=50, seeds=2); simulator.predictions('exp:1', 4, 2, 10)",
        "from simulator.cli import main; main(['runtime', '-P', '4', '--iterations', '50', "
        "'--seeds', '2', '--json'])",
    ],
)
def test_timing_only_work_never_loads_jax(code):
    listing = "sorted(m for m in sys.modules if m.split('.')[0] in ('jax', 'optax'))"
    probe = f"{code}\nimport sys\nprint({listing})"
    out = (
        subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    assert out == "[]"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_graph() -> dict[str, set[str]]:
    """Project module -> the project modules it imports anywhere in its source (at the
    top, in a function, or under TYPE_CHECKING: each is an arrow between two modules).
    ``from package import name`` points at the submodule ``package.name`` when there is
    one, else at the package."""
    paths = [p for package in ("simulator", "models", "distributions") for p in _sources(package)]
    modules = {_module_name(p) for p in paths}
    graph = {}
    for path in paths:
        name = _module_name(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                mod = node.module or ""
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    mod = ".".join(base + ([mod] if mod else []))
                found |= {
                    f"{mod}.{a.name}" if f"{mod}.{a.name}" in modules else mod for a in node.names
                }
        graph[name] = (found & modules) - {name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """A cycle of ``graph`` (its modules in order, the first repeated last), or []."""
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as err:
        return list(err.args[1])
    return []


def test_no_two_modules_import_each_other_even_indirectly():
    cycle = _cycle(_module_graph())
    assert not cycle, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_check_sees_an_indirect_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert set(_cycle(graph)) == {"a", "b", "c"}
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []
