"""``pssim advise CONFIG.toml --out DIR``: which configuration reaches a target first.

The advise file is a sweep file (the cluster, the problem, the candidates in ``[grid]`` and
``[[zip]]``) with an ``[advise]`` table (the target and constraints). The command screens
the candidates with theory, trains the best of them as a resumable sweep in ``DIR``,
adds seeds until the leader separates, prints the ranked table and the recommendation
(``--json``: one object), and writes ``DIR/advice.json`` and ``DIR/advice.png``. An
interrupted advice says on stdout how many runs are stored; rerunning it resumes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from simulator.cli._signals import Terminated, deferred
from simulator.cli.options import CliError
from simulator.cli.outputs import write_text_file
from simulator.cli.sweep_command import add_cluster_options, as_typed
from simulator.errors import USER_ERRORS

__all__ = ["add_advise_command", "cmd_advise"]

#: Python arguments of advise() as the command line names them (besides a sweep's).
_AS_TYPED = {"config": "CONFIG.toml", "cluster": "--cluster"}


def add_advise_command(sub) -> argparse.ArgumentParser:
    """The ``advise`` subcommand and its options."""
    cmd = sub.add_parser(
        "advise",
        help="which variant, K, mini-batch size and learning rate reaches a target first",
        description="Rank the candidates of an advise file (a sweep file with an [advise] "
        "table: target = error level, or target-accuracy / target-fraction; optional "
        "time-budget, learner-hours, max-seeds, cluster) by simulated time to the target: "
        "theory screens them, simulated training on paired seeds settles the best, seeds "
        "are added until the leader's 95% interval separates or max-seeds is spent. The "
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
    add_cluster_options(cmd)
    cmd.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    cmd.set_defaults(handler=cmd_advise)
    return cmd


def _interrupted(out: Path) -> None:
    """One line on stdout: how many training runs an interrupted advice left stored (the
    rerun trains only the others). Further stop signals wait until it is written."""
    from simulator.studies.sweeps._manifest import read_manifest
    from simulator.studies.sweeps._store import MANIFEST_NAME

    with deferred():
        try:
            read = read_manifest(out / MANIFEST_NAME)
        except OSError:
            read = None
        runs = len({u for entry in read[0] for u in entry.units}) if read else 0
        with contextlib.suppress(OSError, ValueError):
            print(
                f"interrupted: {runs} training runs are stored in {out}; rerun the same "
                "command to resume (stored runs are not trained again)",
                flush=True,
            )


def cmd_advise(args: argparse.Namespace) -> int:
    from simulator.plots.advise import advice_figure
    from simulator.plots.timeline import save_figure
    from simulator.studies.advise import advise
    from simulator.studies.sweeps import SweepFault

    try:
        try:
            advice = advise(
                args.advise_file,
                args.out,
                cluster=args.cluster,
                scheduler=args.scheduler,
                workers=args.workers,
                progress=True,
            )
        except (KeyboardInterrupt, Terminated):
            _interrupted(Path(args.out))
            raise
    except USER_ERRORS as err:
        raise CliError(as_typed(err, _AS_TYPED)) from None
    except SweepFault as fault:  # the machine's, not the input's: status 1
        print(f"pssim: error: {as_typed(fault, _AS_TYPED)}", file=sys.stderr)
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
