"""The target of a comparison: its level from the runs (given, a fraction of the start, or
the default every variant stays under) and how the table shows each variant's time to it."""

from __future__ import annotations

import math

import numpy as np

from simulator.studies._targets import TargetChoice, TargetTimes, default_level

__all__ = ["comparison_level", "target_cell", "target_lines"]


def comparison_level(runs, choice: TargetChoice, on: str) -> float | None:
    """The level of ``choice`` over the variants' runs, on ``on`` (error, loss, accuracy).

    A fraction multiplies the mean initial value over every run's seeds (they all start
    from the same model); with no target, :func:`~simulator.results.targets.default_level`
    over every variant's seeds that did not diverge (None when none exists).

    Raises:
        PssimError: a fraction of an initial value that is not positive.
    """
    if choice.kind in ("target", "target_accuracy"):
        return choice.value
    curves = [(run.result, run.seed_values(on)) for run in runs]
    if choice.kind is None:
        return default_level(
            [
                [(r.eval_update, v) for v, gone in zip(values, r.diverged, strict=True) if not gone]
                for r, values in curves
            ]
        )
    starts = np.concatenate([values[:, r.eval_update == 0].ravel() for r, values in curves])
    return choice.fraction_level(starts, on, "the runs")


def target_cell(times: TargetTimes | None) -> str:
    """A variant's time to target as the table shows it: ``12.3 [11.0, 13.9]`` (mean over
    the seeds that reach it, bootstrap 95% interval), ``never 2/5`` for the seeds that
    never do, ``—`` without a target or when every seed diverged."""
    if times is None or not (times.reached_seeds or times.never_seeds):
        return "—"
    never = f"never {times.never_seeds}/{times.seeds}" if times.never_seeds else ""
    if not times.reached_seeds:
        return never
    low, high = times.ci95
    text = f"{times.mean:.4g}" + (f" [{low:.4g}, {high:.4g}]" if math.isfinite(low) else "")
    return f"{text} {never}".rstrip()


def target_lines(cmp) -> list[str]:
    """The table's lines about the target of the :class:`Comparison` ``cmp``."""
    if cmp.target is None:
        return [
            "target: none: no level is reached and stayed under by every variant (the seeds' "
            "last quarters are not all below every variant's start)"
        ]
    what = {"error": "error F - F*", "loss": "loss", "accuracy": "accuracy"}[cmp.target_on]
    sign = ">=" if cmp.target_on == "accuracy" else "<="
    source = ""
    if cmp.target_from is None:
        source = " (the default: every variant's seeds reach it and stay)"
    elif cmp.target_from == "target_fraction":
        source = f" ({cmp.target_fraction:g} x the initial {what})"
    return [
        f"target: {what} {sign} {cmp.target:.4g}{source}; a seed reaches it when it "
        f"{cmp.target_rule}",
        "time to target: mean over the seeds that reach it [bootstrap 95% interval], in "
        "simulated time units; never k/n: k of the n seeds never do",
    ]
