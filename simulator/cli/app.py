"""The ``pssim`` command line: ``runtime``, ``theory``, ``train``, ``compare``, ``bounds``,
``sweep``, ``fit`` and ``advise``.

Bad input prints one line (the option, the rule, the value) on stderr and exits with
status 2; anything that is not a pssim input error is a bug and keeps its traceback. The
line is at most a few hundred characters (:data:`simulator.errors.MAX_LINE`), whatever was
typed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from simulator.cli.advise_command import add_advise_command
from simulator.cli.bounds_command import BOUNDS_FIELDS, add_bounds_options, cmd_bounds
from simulator.cli.fit_command import add_fit_command
from simulator.cli.options import (
    COMMAND_KEYS,
    CliError,
    add_spec_options,
    cli_message,
    read_config,
)
from simulator.cli.outputs import run_command
from simulator.cli.sweep_command import add_sweep_command
from simulator.cli.timing_commands import RUNTIME_FIELDS, THEORY_FIELDS, cmd_runtime, cmd_theory
from simulator.cli.training_commands import (
    COMPARE_FIELDS,
    TRAIN_FIELDS,
    add_training_outputs,
    cmd_compare,
    cmd_train,
)
from simulator.errors import USER_ERRORS, one_line

__all__ = ["build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors in one short line, exit status 2."""

    def error(self, message: str):  # pragma: no cover - exercised through main()
        self.exit(2, f"{self.prog}: error: {one_line(message)}\n")


def build_parser() -> argparse.ArgumentParser:
    from simulator import __version__

    parser = _Parser(
        prog="pssim",
        description="Parameter-server SGD simulator: sync vs async runtime, real training "
        "replayed in JAX, and the theory beside it.",
        epilog="pssim COMMAND -h shows a command's options and defaults.",
    )
    parser.add_argument("--version", action="version", version=f"pssim {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    def command(name, fields, handler, *, help, description):
        """A subcommand with the spec options of ``fields``, ``--config`` and ``--json``."""
        cmd = sub.add_parser(name, help=help, description=description)
        add_spec_options(cmd, name, fields)
        cmd.add_argument("--json", action="store_true", help="print one JSON object on stdout")
        cmd.set_defaults(handler=handler)
        return cmd

    rt = command(
        "runtime",
        RUNTIME_FIELDS,
        cmd_runtime,
        help="simulate a variant's runtime over seeds, beside the theory",
        description="Simulate J updates of one variant over S seeds and print the time of "
        "the J-th update beside its theory (Dutta et al. 2018, Lemmas 3-5).",
    )
    rt.add_argument(
        "--plot",
        default=None,
        help="write a timeline of the first seed (.png, with .pdf and .svg beside it)",
    )
    command(
        "theory",
        THEORY_FIELDS,
        cmd_theory,
        help="runtime predictions of every variant for one law or per-learner laws",
        description="Expected runtime of J iterations for every variant (order statistics, "
        "Lemmas 3-5), the sync/async speedup (Theorem 1) and the async staleness law; for "
        "independent non-identical learners (--laws, --speeds, resampled --durations) their "
        "extensions.",
    )
    tr = command(
        "train",
        TRAIN_FIELDS,
        cmd_train,
        help="train one variant over simulated schedules (real SGD in JAX)",
        description="Simulate one variant's schedules and replay real SGD along them.",
    )
    add_training_outputs(tr)
    cmp = command(
        "compare",
        COMPARE_FIELDS,
        cmd_compare,
        help="several variants on paired seeds (figure 8)",
        description="Train several variants on the same seeds (common random numbers) and "
        "compare error vs simulated wall-clock time.",
    )
    cmp.add_argument(
        "--variants",
        default=None,
        help="comma-separated variants (default: sync,async,k-sync,k-async,k-batch-async)",
    )
    add_training_outputs(cmp)
    bnd = command(
        "bounds",
        BOUNDS_FIELDS,
        cmd_bounds,
        help="error bounds of a spec: problem constants, Lemma 2, Theorems 3-5, figure 7",
        description="Compute the training problem's constants (L, c, sigma^2, M_G, F*) and "
        "evaluate Dutta et al. 2018's error bounds for the spec, each with its conditions.",
    )
    add_bounds_options(bnd)
    add_sweep_command(sub)
    add_fit_command(sub)
    add_advise_command(sub)
    return parser


def _apply_config(args: argparse.Namespace) -> None:
    """Read ``--config``; command keys it holds become defaults of the options not typed.

    A compare file (``variants``) and a single-run file (``variant``) serve both commands:
    ``compare`` runs the file's single variant when it lists no ``variants``, and ``train``
    or ``runtime`` need ``--variant`` to pick one of a file's ``variants``.
    """
    args._config = {} if args.config is None else read_config(args.config)
    for key in COMMAND_KEYS:  # keys of other commands are ignored
        if key in args._config and hasattr(args, key) and getattr(args, key) in (None, False):
            setattr(args, key, args._config[key])
    config, name = args._config, Path(args.config).name if args.config else ""
    if args.command == "compare" and args.variants is None and "variant" in config:
        args.variants = [config["variant"]]
    if args.command in ("train", "runtime") and args.variant is None:
        if "variants" in config and "variant" not in config:
            raise CliError(
                f"`variants` in {name} lists several variants; choose one with --variant"
            )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pssim`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2

    def command() -> int:
        try:
            if hasattr(args, "config"):  # sweep and fit read their own files
                _apply_config(args)
            return args.handler(args)
        except USER_ERRORS as err:  # messages from deeper layers name Python arguments
            text = str(err) if isinstance(err, CliError) else cli_message(err)
            raise CliError(one_line(text)) from None

    return run_command(command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
