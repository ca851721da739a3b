"""The ``pssim`` command line: ``runtime``, ``theory``, ``train`` and ``compare``.

Bad input prints one line (parameter, rule, value) on stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from simulator.cli.training_commands import TRAINING_HANDLERS, add_training_commands

__all__ = ["main"]

VARIANT_CHOICES = ("sync", "async", "k-sync", "k-batch-sync", "k-async", "k-batch-async", "k-avg")


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors in one line, exit status 2."""

    def error(self, message: str):  # pragma: no cover - exercised through main()
        self.exit(2, f"pssim: error: {message}\n")


def _add_timing_options(p: argparse.ArgumentParser, *, variant: bool = True) -> None:
    if variant:
        p.add_argument("--variant", default="async", help="one of " + ", ".join(VARIANT_CHOICES))
    p.add_argument("-P", "--learners", type=int, default=8, help="number of learners P")
    p.add_argument("-K", type=int, default=None, help="K (local steps for k-avg)")
    p.add_argument("--dist", default="exp:1", help="compute-time law, e.g. exp:1, pareto:2,1")
    p.add_argument("--iterations", "-J", type=int, default=1000, help="server updates J")
    p.add_argument("--seeds", type=int, default=10, help="replicate seeds S")
    p.add_argument("--seed", type=int, default=0, help="first seed")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pssim", description="Parameter-server SGD simulator")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    rt = sub.add_parser("runtime", help="simulate the runtime of a variant beside theory")
    _add_timing_options(rt)
    rt.add_argument("--plot", default=None, help="write a Gantt timeline PNG of seed 1")

    th = sub.add_parser("theory", help="runtime predictions for every variant")
    th.add_argument("--dist", required=True)
    th.add_argument("-P", "--learners", type=int, required=True)
    th.add_argument("-K", type=int, default=None)
    th.add_argument("--iterations", "-J", type=int, default=1)
    th.add_argument("--json", action="store_true")

    add_training_commands(sub, _add_timing_options)
    return parser


def _fmt(x: float | None, width: int = 12) -> str:
    return f"{'—':>{width}}" if x is None else f"{x:>{width}.4g}"


def cmd_runtime(args: argparse.Namespace) -> int:
    from distributions import parse_law
    from simulator.studies.runtime import runtime_study

    law = parse_law(args.dist)
    if args.plot:
        from simulator.plots.timeline import check_png_path

        check_png_path(args.plot)
    summary = runtime_study(
        args.variant,
        num_learners=args.learners,
        k=args.K,
        law=law,
        iterations=args.iterations,
        seeds=args.seeds,
        seed=args.seed,
        progress=True,
    )
    if args.plot:
        from simulator.plots.timeline import save_figure, timeline_figure

        save_figure(timeline_figure(summary.first_trace), args.plot)
    if args.json:
        print(json.dumps(summary.to_json()))
        return 0
    ci = summary.ci95()
    gap = summary.relative_gap()
    print(
        f"{summary.variant}  P={summary.learners}  K={summary.k}  X ~ {summary.distribution}"
        f"  J={summary.iterations}  seeds={summary.seeds}"
    )
    print(f"{'':24}{'simulated':>12}{'theory':>12}{'gap':>9}  relation")
    print(
        f"{'time of J-th update':24}{_fmt(summary.mean)}{_fmt(summary.theory.mean)}"
        f"{'—' if gap is None else f'{gap:+.2%}':>9}  {summary.theory.relation}"
        f" ({summary.theory.source})"
    )
    if ci is not None:
        print(f"{'95% CI of the mean':24}  [{ci[0]:.4g}, {ci[1]:.4g}]   std {summary.std:.4g}")
    st = summary.staleness
    print(f"{'staleness':24}  mean {st['mean']:.3f}  max {st['max']}  p0 {st['p0']:.3f}")
    if args.plot:
        print(f"timeline written to {args.plot}")
    return 0


def cmd_theory(args: argparse.Namespace) -> int:
    from distributions import parse_law
    from simulator._checks import check_count
    from simulator.theory.runtime import async_staleness, predictions, sync_async_speedup

    law = parse_law(args.dist)
    p = check_count("P", args.learners)
    j = check_count("J", args.iterations)
    preds = predictions(law, p, args.K, j)
    speed = sync_async_speedup(law, p)
    stale = async_staleness(law, p)
    if args.json:
        print(
            json.dumps(
                {
                    "distribution": law.spec,
                    "learners": p,
                    "k": args.K,
                    "iterations": j,
                    "runtime": {
                        v: {"mean": x.mean, "relation": x.relation, "source": x.source}
                        for v, x in preds.items()
                    },
                    "sync_async_speedup": {"mean": speed.mean, "relation": speed.relation},
                    "async_staleness": {
                        n: {"mean": x.mean, "relation": x.relation} for n, x in stale.items()
                    },
                }
            )
        )
        return 0
    print(
        f"X ~ {law.spec}  P={p}  K={args.K}  J={j}   E[X]={law.mean():.4g}"
        f"  aging={law.aging or 'unknown'}"
    )
    print(f"{'variant':15}{'E[T_J]':>12}  relation      source")
    for name, x in preds.items():
        print(f"{name:15}{_fmt(x.mean)}  {x.relation:13} {x.source}")
    print(f"sync/async speedup (Theorem 1): {_fmt(speed.mean, 0)}  {speed.relation}")
    print(
        f"async staleness: p0 {_fmt(stale['p0'].mean, 0)} ({stale['p0'].relation}),"
        f" mean {_fmt(stale['mean'].mean, 0)} ({stale['mean'].relation})"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pssim`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {"runtime": cmd_runtime, "theory": cmd_theory, **TRAINING_HANDLERS}
    try:
        return handlers[args.command](args)
    except (ValueError, TypeError) as err:
        print(f"pssim: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
