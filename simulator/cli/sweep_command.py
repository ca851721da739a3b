"""``pssim sweep``: a grid of experiments on Dask into a resumable Parquet store.

The sweep file is validated whole before anything runs. Rerunning the command on the same
``--out`` folder resumes the sweep (stored seeds are skipped) and redraws its figures from
the stored table; a sweep file with more seeds or grid values grows the sweep there (only
the new seeds and configurations run). Files in ``OUT/results.parquet`` that the sweep did
not write are moved to ``OUT/ignored`` and reported in one line. A full disk, a lost
scheduler or a LocalCluster that cannot start end the command in one line, exit status 1.
An interrupted sweep (Ctrl-C, SIGTERM) says on stdout what is stored and how to resume.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from simulator._spec_checks import TOML_KEY
from simulator.cli._signals import Terminated, deferred
from simulator.cli.options import CliError
from simulator.errors import USER_ERRORS, PssimError, SpecError
from simulator.results.targets import setting_column

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["add_cluster_options", "add_sweep_command", "as_typed", "cmd_sweep", "draw_figures"]


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
    add_cluster_options(cmd)
    cmd.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    cmd.set_defaults(handler=cmd_sweep)
    return cmd


def add_cluster_options(cmd: argparse.ArgumentParser) -> None:
    """``--scheduler`` and ``--workers``: where a sweep's tasks run."""
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
        help="LocalCluster worker processes (default: one per core; at most 4 per core)",
    )


def cmd_sweep(args: argparse.Namespace) -> int:
    from simulator.studies.sweeps import SweepFault, sweep
    from simulator.studies.sweeps._spec import read_sweep_file

    try:
        spec = read_sweep_file(args.sweep_file)
        try:
            result = sweep(
                spec, args.out, scheduler=args.scheduler, workers=args.workers, progress=True
            )
        except (KeyboardInterrupt, Terminated):
            _interrupted(spec, args)
            raise
    except USER_ERRORS as err:
        raise CliError(as_typed(err)) from None
    except SweepFault as fault:  # the machine's, not the input's: status 1
        print(f"pssim: error: {as_typed(fault)}", file=sys.stderr)
        return 1
    for note in result.notes:
        print(f"pssim sweep: {note}", file=sys.stderr)
    frame = result.frame()
    figures, figure_errors = [], []
    if result.complete:
        figures, figure_errors = draw_figures(spec, frame, Path(args.out))
    if args.json:
        out = {**result.to_json(), "rows": len(frame), "figures": [str(p) for p in figures]}
        out["figure_errors"] = figure_errors
        print(json.dumps(out, indent=2))
    else:
        configs, seeds = result.configurations, result.to_json()["seeds"]
        print(
            f"sweep {spec.digest()} ({spec.kind}): {_count(configs, 'configuration')} x "
            f"{_count(seeds, 'seed')}"
        )
        ran = _count(result.units_ran, "seed")
        if result.ran:
            ran += f" of {_count(result.ran, 'configuration')}"
        print(f"ran {ran}, already stored {result.units_skipped}, failed {result.units_failed}")
        print(f"results: {result.results_path} ({_count(len(frame), 'row')})")
        for path in figures:
            print(f"figure: {path}")
    for configs, error in result.failures:
        for config in configs:
            print(
                f"pssim sweep: configuration ({spec.describe(config)}) failed: {error}",
                file=sys.stderr,
            )
    for error in figure_errors:
        print(f"pssim sweep: {error}", file=sys.stderr)
    if result.failures:
        print(
            "pssim sweep: rerun the same command to retry the failed configurations",
            file=sys.stderr,
        )
    return 1 if result.failures or figure_errors else 0


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _interrupted(spec, args: argparse.Namespace) -> None:
    """Print what an interrupted sweep left stored and how to resume it, on stdout (one
    line, or one JSON object with ``--json``), flushed at once: the program ends without
    the interpreter's own flush. Further stop signals wait until it is written."""
    from simulator.studies.sweeps._store import SweepStore

    with deferred():
        store = SweepStore(args.out)
        total = spec.configurations()
        units = sum(c.seeds for c in total)
        try:
            full, stored = store.count(spec)
        except (*USER_ERRORS, OSError):  # the folder was never claimed
            full = stored = 0
        resume = "rerun the same command to resume"
        if args.json:
            line = json.dumps(
                {
                    "interrupted": True,
                    "complete": False,
                    "results": str(store.results),
                    "configurations": len(total),
                    "configurations_stored": full,
                    "units": units,
                    "units_stored": stored,
                    "resume": resume,
                },
                indent=2,
            )
        else:
            line = (
                f"interrupted: {full} of {len(total)} configurations ({stored} of {units} "
                f"seeds) are stored in {store.results}; {resume}"
            )
        with contextlib.suppress(OSError, ValueError):
            print(line, flush=True)


#: Names of the sweep's own arguments as typed on the command line.
_OPTIONS = {"path": "CONFIG.toml", "out": "--out", "scheduler": "--scheduler"}
_OPTIONS["workers"] = "--workers"


def as_typed(err: Exception, options: dict[str, str] | None = None) -> str:
    """``err``'s message with a field named by its key in the sweep file (``K``,
    ``learners``) and the command's own arguments by their options (``options`` adds or
    replaces some: argument -> option)."""
    text = str(err)
    names = {**{f: f"`{k}`" for f, k in TOML_KEY.items()}, **_OPTIONS, **(options or {})}
    for name, shown in names.items():
        text = text.replace(f"`{name}`", shown)
    return text


def _select(frame: pd.DataFrame, where: dict) -> pd.DataFrame:
    for field, value in where.items():
        column = setting_column(field)
        if column not in frame:
            raise SpecError(f"[[figure]] `where` names {column!r}, not a column of the results")
        frame = frame[frame[column] == value]
        if frame.empty:
            raise SpecError(f"[[figure]] `where` {column} = {value!r} selects no rows")
    return frame


def draw_figures(spec, frame: pd.DataFrame, out: Path) -> tuple[list[Path], list[str]]:
    """Draw the sweep's ``[[figure]]`` tables from its results table into ``out``: the
    paths written, and one line for each figure that could not be drawn."""
    if not spec.figures:
        return [], []
    from simulator.plots.runtime import runtime_vs_k_figure, speedup_figure
    from simulator.plots.sweep import curves_figure, target_heatmap_figure
    from simulator.plots.timeline import save_figure

    paths, errors = [], []
    for figure in spec.figures:
        kind = figure["kind"]
        name = figure.get("name", kind)
        try:
            table = _select(frame, figure.get("where", {}))
            if kind == "speedup":
                fig = speedup_figure(table)
            elif kind == "runtime-vs-k":
                fig = runtime_vs_k_figure(table)
            elif kind == "curves":
                fig = curves_figure(table, setting_column(figure["by"]), value=figure.get("value"))
            else:
                x, y = setting_column(figure["x"]), setting_column(figure["y"])
                swept = {f: v for t in (spec.grid, *spec.zips) for f, v in t.items()}
                fig = target_heatmap_figure(
                    table,
                    x,
                    y,
                    target=figure.get("target"),
                    value=figure.get("value"),
                    order={c: list(swept[c]) for c in (x, y) if c in swept},  # grid order
                )
            paths.append(save_figure(fig, out / f"{name}.png"))
        except PssimError as err:
            errors.append(f"[[figure]] {name} not drawn: {err}")
    return paths, errors
