"""``pssim bounds``: the error theory of a spec (constants, Lemma 2, Theorems 3-5, figure 7,
the optimal time complexity)."""

from __future__ import annotations

import argparse
import json
import math

from simulator.cli.options import build_spec

__all__ = ["BOUNDS_FIELDS", "add_bounds_options", "cmd_bounds", "smoothness_line"]

#: The spec fields the error theory reads (i.i.d. learners, free communication, J updates).
BOUNDS_FIELDS = (
    "variant",
    "num_learners",
    "k",
    "law",
    "updates",
    "seed",
    "model",
    "data",
    "rule",
    "lr",
    "lr_c",
    "batch_size",
    "l2",
)


def _fraction(text: str) -> float:
    value = float(text)
    if not (0 <= value <= 1):
        raise argparse.ArgumentTypeError(f"must be in [0, 1]; got {text}")
    return value


def _nonnegative(text: str) -> float:
    value = float(text)
    if not (0 <= value < math.inf):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0; got {text}")
    return value


def _positive(text: str) -> float:
    value = float(text)
    if not (0 < value < math.inf):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0; got {text}")
    return value


def add_bounds_options(p: argparse.ArgumentParser) -> None:
    """The options of ``bounds`` that are not part of the spec."""
    p.add_argument(
        "--gamma",
        type=_nonnegative,
        default=None,
        help="Theorem 3's staleness constant for asynchronous variants (default 0; a "
        "replay's diagnostics measure it)",
    )
    p.add_argument(
        "--p0",
        type=_fraction,
        default=None,
        help="Lemma 8's p0 for asynchronous variants (default 1/P)",
    )
    p.add_argument(
        "--level",
        type=_positive,
        default=None,
        help="the level of the optimal-time rows: an error F - F* for strongly convex "
        "losses, else ||grad F||^2 (default: the variant's bound at J)",
    )


#: What each row's value is, in a few words (the JSON has each bound's own ``quantity``).
_QUANTITY = {
    "step_limit": "largest learning rate allowed",
    "lemma2": "E[F(w_J)] - F* at J",
    "theorem3": "E[F(w_J)] - F* at J",
    "theorem4": "E[F(w_J)] - F* at J (eq. 13 rule)",
    "theorem5": "mean E||grad F||^2 over J",
    "stale_can_win": "gamma' (async vs sync, per iter.)",
}


def _quantity(name: str, bound) -> str:
    level = bound.extra.get("level")
    if level is None:
        return _QUANTITY.get(name, bound.quantity)
    what = "||grad F||^2" if name == "optimal_time" and "grad" in bound.quantity else "F-F*"
    return ("s.c. " if name.endswith("_sc") else "") + f"time to {what} <= {level:.3g}, x C"


def _value(bound) -> float:
    value = bound.value
    return float(value[-1]) if hasattr(value, "shape") and value.shape else float(value)


def smoothness_line(const) -> str:
    """Where L comes from: the Hessian tops at w0 and w*, and along the path when diagnostic
    replays measured one (``L_path``, ``L_at``; ``pssim bounds`` runs none)."""
    at_optimum = "unknown" if const.L_optimum is None else f"{const.L_optimum:.4g}"
    tops = f"L(w0)={const.L_init:.4g}"
    path = getattr(const, "L_path", None)
    if path is None:
        return f"L is the larger Hessian top of {tops} and L(w*)={at_optimum}"
    return (
        f"L is the largest Hessian top of {tops}, L(w*)={at_optimum} and L(path)={path:.4g}"
        f" (diagnostic replays): L_at={const.L_at}"
    )


def cmd_bounds(args: argparse.Namespace) -> int:
    from simulator import __version__
    from simulator.studies.bounds import error_bounds

    spec = build_spec("bounds", args, BOUNDS_FIELDS)
    report = error_bounds(spec, gamma=args.gamma, p0=args.p0, level=args.level)
    if args.json:
        print(json.dumps({"pssim_version": __version__, **report.to_dict()}))
        return 0
    k = spec.canonical[1]
    const = report.constants
    print(
        f"{spec.variant}  P={spec.num_learners}  K={k}  X ~ {spec.to_dict()['law']}"
        f"  J={spec.updates}  {spec.model} on {spec.data}  m={spec.batch_size}"
        f"  eta={spec.lr:g}  rule={spec.rule}"
    )
    f_star = "unknown" if const.f_star is None else f"{const.f_star:.6g}"
    m_g = "—" if const.M_G is None else f"{const.M_G:.4g}"
    print(
        f"constants at {const.point}: L={const.L:.4g}  c={const.c:.4g}  sigma^2={const.sigma2:.4g}"
        f"  M_G={m_g}  F*={f_star}  F(w0)-F*={report.initial_error:.4g}"
    )
    print(smoothness_line(const))
    print(f"{'bound':16}{'value':>11}  {'valid':6} {'of':34} source")
    for name, bound in report.bounds.items():
        valid = "yes" if bound.valid else "NO"
        quantity = _quantity(name, bound)
        print(f"{name:16}{_value(bound):>11.4g}  {valid:6} {quantity:34} {bound.citation}")
        for cond in bound.failed():
            print(f"{'':18}fails: {cond}")
    if report.curve is not None:
        c = report.curve
        print(
            f"figure 7: error bound {float(c.errors[-1]):.4g} at J={int(c.iterations[-1])},"
            f" expected time {float(c.times[-1]):.4g} ({c.time_relation}); {c.label()}"
        )
    for name, text in report.assumptions.items():
        print(f"assumed {name} = {text}")
    print(
        "optimal time: a lower bound on any method's time over every problem with these "
        "constants,\n  up to a universal constant C (values at C = 1); E[F]-F* <= e implies "
        "E||grad F||^2 <= 2 L e"
    )
    print("values at J; the bound curves over iterations and time are in --json")
    return 0
