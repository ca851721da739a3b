"""``pssim sweep``: a grid of experiments on Dask into a resumable Parquet store.

The sweep file is validated whole before anything runs. Rerunning the command on the same
``--out`` folder resumes the sweep (finished configurations are skipped) and redraws its
figures from the stored table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from simulator._spec_checks import TOML_KEY
from simulator.cli.options import CliError
from simulator.errors import PssimError, SpecError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["add_sweep_command", "cmd_sweep", "draw_figures"]


def add_sweep_command(sub) -> argparse.ArgumentParser:
    """The ``sweep`` subcommand and its options."""
    cmd = sub.add_parser(
        "sweep",
        help="a grid of experiments on Dask, into a resumable Parquet store",
        description="Run every configuration of a sweep file ([grid] and [[zip]] tables "
        "over an experiment spec) on Dask and store one row per configuration and seed "
        "(timing) or per evaluation point (training) in OUT/results.parquet. Rerun the same "
        "command to resume after an interruption.",
    )
    cmd.add_argument("sweep_file", metavar="CONFIG.toml", help="the sweep file")
    cmd.add_argument("--out", required=True, help="the sweep folder (created if missing)")
    cmd.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="a running Dask scheduler (tcp://host:8786), or 'serial' to run in this "
        "process (default: a LocalCluster on this machine)",
    )
    cmd.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="LocalCluster worker processes (default: one per core)",
    )
    cmd.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    cmd.set_defaults(handler=cmd_sweep)
    return cmd


def cmd_sweep(args: argparse.Namespace) -> int:
    from simulator.studies._sweep_spec import read_sweep_file
    from simulator.studies.sweeps import sweep

    try:
        spec = read_sweep_file(args.sweep_file)
        result = sweep(
            spec, args.out, scheduler=args.scheduler, workers=args.workers, progress=True
        )
    except PssimError as err:
        raise CliError(_as_typed(err)) from None
    frame = result.frame()
    figures = draw_figures(spec, frame, Path(args.out)) if result.complete else []
    if args.json:
        out = {**result.to_json(), "rows": len(frame), "figures": [str(p) for p in figures]}
        print(json.dumps(out, indent=2))
    else:
        configs = result.configurations
        seeds = result.to_json()["seeds"]
        print(f"sweep {spec.digest()} ({spec.kind}): {configs} configurations x {seeds} seeds")
        print(
            f"ran {result.ran}, already stored {result.skipped}, failed "
            f"{sum(len(c) for c, _ in result.failures)}"
        )
        print(f"results: {result.results_path} ({len(frame)} rows)")
        for path in figures:
            print(f"figure: {path}")
    for configs, error in result.failures:
        print(f"pssim sweep: configurations {', '.join(configs)} failed: {error}")
    if result.failures:
        print("pssim sweep: rerun the same command to retry them")
        return 1
    return 0


#: Names of the sweep's own arguments as typed on the command line.
_OPTIONS = {"path": "CONFIG.toml", "out": "--out", "scheduler": "--scheduler"}
_OPTIONS["workers"] = "--workers"


def _as_typed(err: PssimError) -> str:
    """``err``'s message with a field named by its key in the sweep file (``K``,
    ``learners``) and the command's own arguments by their options."""
    text = str(err)
    for name, shown in {**{f: f"`{k}`" for f, k in TOML_KEY.items()}, **_OPTIONS}.items():
        text = text.replace(f"`{name}`", shown)
    return text


def _select(frame: pd.DataFrame, where: dict) -> pd.DataFrame:
    for column, value in where.items():
        if column not in frame:
            raise SpecError(f"[[figure]] `where` names {column!r}, not a column of the results")
        frame = frame[frame[column] == value]
        if frame.empty:
            raise SpecError(f"[[figure]] `where` {column} = {value!r} selects no rows")
    return frame


def draw_figures(spec, frame: pd.DataFrame, out: Path) -> list[Path]:
    """Draw the sweep's ``[[figure]]`` tables from its results table into ``out``."""
    if not spec.figures:
        return []
    from simulator.plots.runtime import runtime_vs_k_figure, speedup_figure
    from simulator.plots.sweep import curves_figure, target_heatmap_figure
    from simulator.plots.timeline import save_figure

    paths = []
    for figure in spec.figures:
        table = _select(frame, figure.get("where", {}))
        kind = figure["kind"]
        if kind == "speedup":
            fig = speedup_figure(table)
        elif kind == "runtime-vs-k":
            fig = runtime_vs_k_figure(table)
        elif kind == "curves":
            fig = curves_figure(table, figure["by"], value=figure.get("value"))
        else:
            fig = target_heatmap_figure(
                table,
                figure["x"],
                figure["y"],
                target=figure.get("target"),
                value=figure.get("value"),
            )
        paths.append(save_figure(fig, out / f"{figure.get('name', kind)}.png"))
    return paths
