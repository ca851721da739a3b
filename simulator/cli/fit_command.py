"""``pssim fit FILE``: fit worker models to a measured log and write the chosen one as a
config file that ``runtime``, ``compare``, ``train`` and sweeps read with ``--config``.

Timing-free and JAX-free: it reads the log, fits with scipy.stats, and writes a TOML file
(``--out``, atomically, checked before any work) and a figure (``--plot``).
"""

from __future__ import annotations

import argparse
import json

from simulator.cli.options import CliError
from simulator.cli.outputs import check_plot_file, check_toml_file, write_text_file
from simulator.errors import USER_ERRORS

__all__ = ["add_fit_command", "cmd_fit"]

#: Python arguments of fit_cluster as the command line names them (in this order).
_AS_TYPED = {"`source` file ": "FILE ", "`source`": "FILE", "`holdout`": "--holdout"}
_AS_TYPED["`seed`"] = "--seed"


def add_fit_command(sub) -> argparse.ArgumentParser:
    """The ``fit`` subcommand and its options."""
    cmd = sub.add_parser(
        "fit",
        help="fit worker models to measured durations; write the best as a config",
        description="Fit (a) one law for every worker, (b) a speed per worker times one "
        "law and (c) one law per worker, each for the exponential, shifted-exponential, "
        "gamma, log-normal, Weibull and Pareto families, by maximum likelihood on the "
        "training steps; choose the one with the fewest parameters within one standard "
        "error of the highest log-likelihood on the held-out steps, say which of the "
        "papers' assumptions the data support, and write the choice as a config file "
        "(--out) for runtime, compare, train and sweeps.",
    )
    cmd.add_argument(
        "file",
        metavar="FILE",
        help="durations table, CSV or Parquet: columns worker, step, duration (and "
        "optionally censored)",
    )
    cmd.add_argument(
        "--out",
        default=None,
        metavar="FILE.toml",
        help="write the chosen model as a config file (learners, speeds + dist or laws)",
    )
    cmd.add_argument(
        "--holdout",
        type=float,
        default=0.25,
        metavar="FRACTION",
        help="fraction of the steps held out to score the candidates (default: 0.25)",
    )
    cmd.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the random choice of held-out steps (default: 0)",
    )
    cmd.add_argument(
        "--plot",
        default=None,
        metavar="FILE.png",
        help="write the figure: per-worker box plots of measured vs fitted durations, the "
        "QQ plot of the pooled residuals, the candidates' scores (.png, with .pdf, .svg)",
    )
    cmd.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    cmd.set_defaults(handler=cmd_fit)
    return cmd


def _as_typed(err: Exception) -> str:
    text = str(err)
    for name, option in _AS_TYPED.items():
        text = text.replace(name, option)
    return text


def cmd_fit(args: argparse.Namespace) -> int:
    from simulator import __version__
    from simulator.studies.fit import fit_cluster

    out = None if args.out is None else check_toml_file(args.out)
    plot = None if args.plot is None else check_plot_file(args.plot)
    try:
        fit = fit_cluster(args.file, holdout=args.holdout, seed=args.seed)
    except USER_ERRORS as err:
        raise CliError(_as_typed(err)) from None
    if out is not None:
        write_text_file(out, fit.to_toml())
    if plot is not None:
        from simulator.cli.outputs import save_plot
        from simulator.plots.fit import fit_figure

        save_plot(fit_figure(fit), plot)
    if args.json:
        files = [] if plot is None else [plot, plot.with_suffix(".pdf"), plot.with_suffix(".svg")]
        extra = {"out": None if out is None else str(out), "plot": [str(f) for f in files]}
        print(json.dumps({"pssim_version": __version__, **fit.to_json(), **extra}))
        return 0
    print(fit.summary())
    if out is not None:
        print(f"config written to {out}: pssim runtime --config {out} (or compare, sweep)")
    else:
        print("--out FILE.toml writes the chosen model as a config file")
    if plot is not None:
        print(f"figure written to {plot} (and .pdf, .svg)")
    return 0
