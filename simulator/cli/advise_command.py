"""``pssim advise CONFIG.toml --out DIR``: which configuration reaches a target first.

The advise file is a sweep file (the cluster, the problem, the candidates in ``[grid]`` and
``[[zip]]``) with an ``[advise]`` table (the target and constraints). The command screens
the candidates with theory, trains the best of them as a resumable sweep in ``DIR``,
adds seeds until the leader separates, prints the ranked table and the recommendation
(``--json``: one object), and writes ``DIR/advice.json`` and ``DIR/advice.png``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from simulator.cli.options import CliError
from simulator.cli.outputs import write_text_file
from simulator.errors import USER_ERRORS

__all__ = ["add_advise_command", "cmd_advise"]

#: Python arguments of advise() as the command line names them.
_AS_TYPED = {"`config`": "CONFIG.toml", "`out`": "--out", "`workers`": "--workers"}
_AS_TYPED["`scheduler`"] = "--scheduler"
_AS_TYPED["`cluster`"] = "--cluster"


def add_advise_command(sub) -> argparse.ArgumentParser:
    """The ``advise`` subcommand and its options."""
    cmd = sub.add_parser(
        "advise",
        help="which variant, K, mini-batch size and learning rate reaches a target first",
        description="Rank the candidates of an advise file (a sweep file with an [advise] "
        "table: target = error level, or target-accuracy / target-fraction; optional "
        "time-budget, learner-hours, max-seeds, cluster) by simulated time to the target: "
        "theory screens them, simulated training on paired seeds settles the best, seeds "
        "are added until the leader's 95%% interval separates or max-seeds is spent. The "
        "runs are a resumable sweep in OUT.",
    )
    cmd.add_argument("advise_file", metavar="CONFIG.toml", help="the advise file")
    cmd.add_argument("--out", required=True, help="the folder of the runs and the advice")
    cmd.add_argument(
        "--cluster",
        default=None,
        metavar="FILE.toml",
        help="a config file describing the cluster (e.g. written by pssim fit --out); "
        "instead of [advise] cluster",
    )
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
    cmd.set_defaults(handler=cmd_advise)
    return cmd


def _as_typed(err: BaseException) -> str:
    text = str(err)
    for name, option in _AS_TYPED.items():
        text = text.replace(name, option)
    return text


def cmd_advise(args: argparse.Namespace) -> int:
    from simulator.plots.advise import advice_figure
    from simulator.plots.timeline import save_figure
    from simulator.studies.advise import advise
    from simulator.studies.sweeps import SweepFault

    try:
        advice = advise(
            args.advise_file,
            args.out,
            cluster=args.cluster,
            scheduler=args.scheduler,
            workers=args.workers,
            progress=True,
        )
    except USER_ERRORS as err:
        raise CliError(_as_typed(err)) from None
    except SweepFault as fault:  # the machine's, not the input's: status 1
        print(f"pssim: error: {_as_typed(fault)}", file=sys.stderr)
        return 1
    out = Path(args.out)
    data = advice.to_json()
    write_text_file(out / "advice.json", json.dumps(data, indent=2) + "\n")
    figure = save_figure(advice_figure(advice), out / "advice.png")
    if args.json:
        print(json.dumps({**data, "figure": str(figure)}, indent=2))
    else:
        print(advice.table())
        print(f"advice: {out / 'advice.json'}, figure: {figure}")
    return 0
