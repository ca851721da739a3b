"""The error theory of a spec: problem constants, Dutta et al. 2018's bounds, figure 7.

:func:`error_bounds` computes the constants of the spec's training problem (L, c, sigma^2,
M_G, F(w0) - F*; ``simulator.training.constants``) and evaluates, with the spec's
variant, P, K, m, learning rate and compute-time law:

- the step-size limits (Lemma 2, Theorem 3);
- the error bound of the variant (Lemma 2 for synchronous variants, Theorem 3 for
  asynchronous ones; Theorem 5 for non-convex models) as a curve over iterations and, with
  the runtime theory, over simulated time (figure 7);
- Theorem 4 when the rule is eq. (13)'s compensated rate;
- "can stale gradients win?" (p0/2 > gamma) for the asynchronous variants;
- the optimal time complexity of Tyurin & Richtárik 2023 (``simulator.theory.optimal_time``):
  the least time any method needs to reach a level, up to a universal constant C left free
  (values at C = 1), from the learners' mean durations and the same constants.

L is the largest top Hessian eigenvalue at w0, at w* (``ProblemConstants.L_init``,
``L_optimum``) and along the paths of diagnostic replays (``L_path``, from their
``hessian_top`` curves; ``L_at`` names the point that gave L): the theorems assume one L
everywhere.

The asynchronous bounds need gamma and p0, which the theory does not give: gamma defaults
to 0 (its smallest value, so the bound is a best case; measure gamma with
``replay(..., diagnostics=True)``) and p0 to 1/P where Lemma 8 makes that a lower bound
(exponential laws: exact; new-shorter-than-used laws), else to 0, the one value valid for
every law. Both choices are reported as assumptions.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import numpy as np

from distributions import Exponential
from simulator._checks import VARIANT_ALIASES
from simulator.errors import PssimError, PssimTypeError, shown
from simulator.spec import ExperimentSpec
from simulator.theory._bound import Bound, check_nonnegative, check_positive
from simulator.theory.error_bounds import (
    compensated_rate_bound,
    nonconvex_bound,
    step_size_limit,
)
from simulator.theory.error_runtime import (
    ErrorRuntimeCurve,
    error_runtime_curve,
    error_vs_time,
    stale_can_win,
)
from simulator.theory.optimal_time import (
    OptimalTimeCurve,
    optimal_time,
    optimal_time_curve,
    optimal_time_strongly_convex,
    optimal_time_to_error,
)

__all__ = [
    "BoundsReport",
    "bound_curves",
    "error_bounds",
    "mean_durations",
    "optimal_curve",
]

_ASYNC = ("async", "k-async", "k-batch-async")
#: Variants Dutta et al.'s error theory does not cover (besides k-avg's own theory).
_OUTSIDE = ("all-reduce", "rennala", "ringmaster")
#: Most iterations on a bound's curve (the curves are for figures and tables).
MAX_POINTS = 100_000
#: What the bounds read of the problem constants.
_CONSTANTS = ("L", "c", "sigma2", "M_G", "f_star", "loss_init")


@dataclasses.dataclass(frozen=True)
class BoundsReport:
    """The error theory of one spec.

    Attributes:
        spec: the spec.
        constants: ``ProblemConstants`` (L, c, sigma2, M_G, f_star, loss_init, ...).
        initial_error: F(w0) - F* (or F(w0), a bound on F(w0) - F* for non-negative
            losses, when F* is unknown), on the training set.
        curve: the variant's error bound against iterations and expected time (figure 7),
            or None (``k-avg``, rennala, ringmaster and all-reduce, and models that are
            not strongly convex: Theorem 5 then).
        bounds: name -> :class:`~simulator.theory._bound.Bound`, every bound evaluated.
        assumptions: the values the theory needs but does not give, as used.
    """

    spec: ExperimentSpec
    constants: Any
    initial_error: float
    curve: ErrorRuntimeCurve | None
    bounds: dict[str, Bound]
    assumptions: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (spec, constants, bounds, curve, assumptions)."""
        curve = None
        if self.curve is not None:
            curve = {
                "iterations": np.asarray(self.curve.iterations).tolist(),
                "times": np.asarray(self.curve.times).tolist(),
                "errors": np.asarray(self.curve.errors).tolist(),
                "time_relation": self.curve.time_relation,
                "label": self.curve.label(),
            }
        return {
            "spec": self.spec.to_dict(),
            "constants": self.constants.to_dict(),
            "initial_error": self.initial_error,
            "bounds": {name: b.to_dict() for name, b in self.bounds.items()},
            "curve": curve,
            "assumptions": dict(self.assumptions),
        }


def error_bounds(
    spec: ExperimentSpec,
    *,
    model: Any = None,
    dataset: Any = None,
    constants: Any = None,
    gamma: float | None = None,
    p0: float | None = None,
    points: int = 101,
    level: float | None = None,
    replays: Any = None,
) -> BoundsReport:
    """Evaluates Dutta et al. 2018's error theory for ``spec`` (see the module docstring).

    Args:
        spec: the experiment (variant, P, K, law, model, data, rule, lr, m, l2, updates).
        model, dataset: override the spec's model and data set (objects).
        constants: precomputed ``ProblemConstants`` (computing them solves for w* and runs
            Lanczos on the Hessian: seconds on MNIST softmax).
        gamma: Theorem 3's staleness constant (asynchronous variants); default 0, reported.
        p0: Lemma 8's p0 (asynchronous variants); default 1/P, reported.
        points: iterations on the curve, spread from 0 to J (2 to 100000).
        level: the level of the optimal-time rows (``optimal_time``, and
            ``optimal_time_sc`` for strongly convex losses): an error ``F - F*`` for
            strongly convex losses, else a gradient level ``||grad F||^2``; default the
            variant's own bound at J (else 1% of ``F(w0) - F*``, or of ``||grad F(w0)||^2``).
        replays: ``ReplayResult`` s of this problem with diagnostics (or one): L is raised
            to the largest Hessian top along their paths where that is larger
            (``training.constants.with_path_smoothness``).

    Returns:
        A :class:`BoundsReport`.

    Raises:
        ValueError: a bad argument, or a spec with per-learner laws or communication (the
            error-runtime theory assumes i.i.d. learners and free communication).

    Example:
        >>> spec = ExperimentSpec(variant="k-sync", num_learners=4, k=2, model="least-squares",
        ...                       data="synthetic:least-squares", lr=0.05)  # doctest: +SKIP
        >>> error_bounds(spec).bounds["lemma2"].extra["floor"]  # doctest: +SKIP
    """
    if not isinstance(spec, ExperimentSpec):
        raise PssimTypeError(
            f"`spec` must be an ExperimentSpec; got {type(spec).__name__}", param="spec"
        )
    if spec.heterogeneous or spec.communication:
        raise PssimError(
            "`spec` must have i.i.d. learners and free communication for the error theory; "
            "got per-learner laws, speeds or communication times",
            param="spec",
        )
    if spec.time_budget is not None:
        raise PssimError(
            "`time_budget` must not be given for the error bounds (they are per iteration); "
            f"give `updates`; got {spec.time_budget:g}",
            param="time_budget",
        )
    if isinstance(points, bool) or not isinstance(points, int) or not 2 <= points <= MAX_POINTS:
        raise PssimError(
            f"`points` must be an integer in [2, {MAX_POINTS}]; got {shown(points)}",
            param="points",
        )
    if constants is not None and not all(hasattr(constants, name) for name in _CONSTANTS):
        raise PssimTypeError(
            f"`constants` must be ProblemConstants (training.constants.problem_constants); "
            f"got {type(constants).__name__}",
            param="constants",
        )
    for name, value in (("gamma", gamma), ("p0", p0)):
        if value is not None:
            check_nonnegative(name, value)
    if level is not None:
        check_positive("level", level)
    from models import build_model, load_dataset
    from simulator.training.constants import problem_constants, with_path_smoothness
    from simulator.training.replayer import replay_keys

    dataset = load_dataset(spec.data) if dataset is None else dataset
    model = build_model(spec.model, dataset, spec.l2) if model is None else model
    if constants is None:
        constants = problem_constants(model, dataset, key=replay_keys(spec.seed)[0])
    constants = with_path_smoothness(constants, replays)
    variant, k = spec.canonical
    p, m, lr = spec.num_learners, spec.batch_size, spec.lr
    j = spec.updates
    iterations = np.unique(np.linspace(0, j, points).round().astype(np.int64))
    convex = constants.f_star is not None
    if abs(constants.c) <= 1e-9 * constants.L:  # a flat direction, up to rounding
        constants = dataclasses.replace(constants, c=0.0)
    initial_error = constants.loss_init - (constants.f_star if convex else 0.0)
    m_g = constants.M_G or 0.0
    assumptions: dict[str, str] = {}
    if spec.rule in ("dc-asgd", "staleness-weight"):
        assumptions["rule"] = (
            f"{spec.rule} read as the fixed rate lr (the theorems analyse fixed, damped and "
            "compensated rates only)"
        )
    if spec.lr_schedule is not None:
        assumptions["lr_schedule"] = (
            f"{spec.lr_schedule} left out: the theorems take a constant rate lr"
        )
    is_async = variant in _ASYNC or spec.variant in _ASYNC
    if is_async:
        if gamma is None:
            gamma = 0.0
            assumptions["gamma"] = (
                "0, its smallest value: a best case (measure gamma with --diagnostics)"
            )
        if p0 is None:
            exact = isinstance(spec.law, Exponential)
            if exact or getattr(spec.law, "aging", None) == "nstu":
                p0 = 1.0 / p
                why = "exact for exponential laws" if exact else "a lower bound (NSTU law)"
                assumptions["p0"] = f"1/P = {p0:.4g} (Lemma 8: {why})"
            else:
                p0 = 0.0
                assumptions["p0"] = (
                    "0 (Lemma 8 gives no lower bound for this law; 0 is valid for every law)"
                )
    if not convex:
        assumptions["F*"] = "0 (F(w0) bounds F(w0) - F* for a non-negative loss)"
    strongly = convex and constants.c > 0
    if convex and not strongly:
        assumptions["c"] = (
            f"{constants.c:.3g}: not strongly convex (softmax's bias is a flat direction: "
            "softmax-nobias is strongly convex), so Theorem 5 applies"
        )
    if constants.M_G is None:
        assumptions["M_G"] = "0 (unknown without w*): the step limits are optimistic"
    bounds: dict[str, Bound] = {"step_limit": step_size_limit(constants.L, m_g, k, m)}
    if not is_async:
        bounds["step_limit"] = step_size_limit(constants.L, m_g, k, m, result="lemma2")
    curve = None
    if variant == "k-avg":
        assumptions["k-avg"] = "outside Dutta et al.'s analysis: see kstep_averaging"
    elif variant in _OUTSIDE:
        assumptions[variant] = "outside Dutta et al.'s analysis: see the optimal-time rows"
    elif not strongly:
        bounds["theorem5"] = nonconvex_bound(
            iterations,
            lr=lr,
            L=constants.L,
            sigma2=constants.sigma2,
            K=k,
            m=m,
            gamma=gamma or 0.0,
            p0=p0 if p0 is not None else 1.0,
            initial_gap=initial_error,
            M_G=m_g,
        )
    else:
        name = spec.variant if spec.variant in VARIANT_ALIASES else variant
        curve = error_runtime_curve(
            name,
            law=spec.law,
            num_learners=p,
            iterations=iterations,
            lr=lr,
            L=constants.L,
            c=constants.c,
            sigma2=constants.sigma2,
            m=m,
            initial_error=initial_error,
            k=None if name in VARIANT_ALIASES else k,
            M_G=m_g,
            gamma=gamma if is_async else None,
            p0=p0 if is_async else None,
        )
        bounds["theorem3" if is_async else "lemma2"] = curve.bound
        if spec.rule == "compensated":  # eq. (13): C defaults to 0.005 eta_max (make_rule)
            bounds["theorem4"] = compensated_rate_bound(
                iterations,
                C=spec.lr_c if spec.lr_c is not None else 0.005 * lr,
                L=constants.L,
                c=constants.c,
                sigma2=constants.sigma2,
                m=m,
                p0=p0 if p0 is not None else 1.0,
                initial_error=initial_error,
                eta_max=lr,
                M_G=m_g,
            )
            # the run uses eq. (13): its curve is Theorem 4's, on the same time axis
            curve = error_vs_time(bounds["theorem4"], iterations, curve.runtime)
    if is_async:
        bounds["stale_can_win"] = stale_can_win(p0, gamma, num_learners=p)
    bounds.update(_optimal_rows(spec, constants, float(initial_error), strongly, bounds, level))
    return BoundsReport(spec, constants, float(initial_error), curve, bounds, assumptions)


def _diagnostic_results(comparison: Any) -> list:
    """The results of the comparison's runs that recorded diagnostics (a Hessian path)."""
    return [run.result for run in comparison.runs if getattr(run.result, "diagnostics", None)]


def mean_durations(spec: ExperimentSpec) -> np.ndarray:
    """(P,) each learner's mean compute time per mini-batch, E[X_l], simulated time units.

    The spec's law (or per-learner laws, measured durations included) at its batch size,
    divided by the learner's speed: the times ``tau_l`` of the fixed computation model.
    Communication, faults and slowdowns only add time, so they are left out of a lower bound.
    """
    from simulator.theory._learners import Learner

    p = spec.num_learners
    laws = spec.laws if spec.laws is not None else [spec.law] * p
    speeds = spec.speeds if spec.speeds is not None else [1.0] * p
    return np.array([Learner(law, s).mean() for law, s in zip(laws, speeds, strict=True)])


#: The variant bounds whose value at J is the default level of the optimal-time rows.
_LEVEL_FROM = ("theorem4", "theorem3", "lemma2", "theorem5")


def _default_level(bounds: dict[str, Bound], scale: float) -> float:
    """The variant's bound at J, where finite and > 0; else 1% of ``scale``."""
    for name in _LEVEL_FROM:
        if name in bounds:
            value = np.ravel(np.asarray(bounds[name].value, dtype=float))[-1]
            if np.isfinite(value) and value > 0:
                return float(value)
    return 0.01 * scale


def _optimal_rows(spec, constants, delta, strongly, bounds, level) -> dict[str, Bound]:
    """Tyurin & Richtárik's optimal time to ``level``: of the error ``F - F*`` (via
    ``eps = 2 L e``, and eq. 6's strongly convex form beside it) for strongly convex losses,
    else of ``||grad F||^2``. One stochastic gradient is one mini-batch: variance
    sigma^2 / m."""
    common = dict(mean_durations=mean_durations(spec), L=constants.L)
    sigma2 = constants.sigma2 / spec.batch_size
    scale = delta if strongly else constants.grad_norm2_init
    level = _default_level(bounds, scale) if level is None else float(level)
    rows = {}
    if strongly:
        rows["optimal_time"] = optimal_time_to_error(level, delta=delta, sigma2=sigma2, **common)
        rows["optimal_time_sc"] = optimal_time_strongly_convex(
            level, mu=constants.c, sigma2=sigma2, **common
        )
    else:
        rows["optimal_time"] = optimal_time(level, delta=delta, sigma2=sigma2, **common)
    return {
        name: dataclasses.replace(b, extra={**b.extra, "level": level}) for name, b in rows.items()
    }


def optimal_curve(
    comparison: Any, *, dataset: Any = None, constants: Any = None, points: int = 60
) -> OptimalTimeCurve | None:
    """The optimal time (C = 1) to each error level, for ``error_figure(optimal=...)``.

    For a strongly convex loss, the strongly convex form (Tyurin 2025 eq. 6: the class
    bound that holds the problem); for another convex one, Theorem 6.4 at ``eps = 2 L e``
    (every L-smooth problem: a strongly convex one is solved faster below about
    ``Delta mu / L``, mu = c). Error levels e from just under ``F(w0) - F*`` (or its half)
    down to the smallest mean error of the comparison's runs, with the learners of the
    comparison's spec (:func:`mean_durations`) and the problem's constants.

    Args:
        comparison: a :class:`~simulator.studies.comparison.Comparison`.
        dataset: the data set it trained on (default: loaded from the spec).
        constants: its ``ProblemConstants`` (default: computed); L is raised to the
            largest Hessian top along the runs' paths where they recorded diagnostics.
        points: levels on the curve, >= 2.

    Returns:
        An :class:`~simulator.theory.optimal_time.OptimalTimeCurve`, or None where F* is
        unknown (a non-convex model: no error axis).
    """
    from simulator.training.constants import problem_constants, with_path_smoothness

    spec = comparison.spec
    if constants is None:
        from models import build_model, load_dataset
        from simulator.training.replayer import replay_keys

        dataset = load_dataset(spec.data) if dataset is None else dataset
        model = build_model(spec.model, dataset, spec.l2)
        constants = problem_constants(model, dataset, key=replay_keys(spec.seed)[0])
    constants = with_path_smoothness(constants, _diagnostic_results(comparison))
    if constants.f_star is None:
        return None
    delta = constants.loss_init - constants.f_star
    means = [np.asarray(run.result.error, dtype=float) for run in comparison.runs]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a run whose seeds all diverged
        lows = [np.nanmin(np.nanmean(e, axis=0)) for e in means if e.size]
    lows = [x for x in lows if np.isfinite(x) and x > 0]
    bottom = min(lows) if lows else 1e-4 * delta
    strongly = constants.c > 1e-9 * constants.L  # a flat direction, up to rounding, is 0
    return optimal_time_curve(
        delta,
        min(bottom, 0.25 * delta),
        mean_durations=mean_durations(spec),
        L=constants.L,
        delta=delta,
        sigma2=constants.sigma2 / spec.batch_size,
        mu=constants.c if strongly else None,
        on="strongly-convex" if strongly else "error",
        points=points,
    )


def bound_curves(comparison: Any, *, dataset: Any = None) -> list[ErrorRuntimeCurve | None]:
    """Each run's error bound against iterations and expected time, for ``error_figure``.

    The problem's constants are computed once (the comparison's model, data and l2; L
    raised to the largest Hessian top along the runs' paths where they recorded
    diagnostics) and every variant gets :func:`error_bounds`'s curve for the updates it ran
    (gamma 0 and p0 1/P for the asynchronous ones); None where no curve applies
    (``k-avg``, rennala, ringmaster, all-reduce, the dc-asgd and staleness-weight rules, a
    learning-rate schedule, a loss that is not strongly convex, heterogeneous learners or
    communication times).

    Args:
        comparison: a :class:`~simulator.studies.comparison.Comparison`.
        dataset: the data set it trained on (default: loaded from the spec).

    Returns:
        One entry per run, in the order of ``comparison.runs``.
    """
    from models import build_model, load_dataset
    from simulator.training.constants import problem_constants, with_path_smoothness
    from simulator.training.replayer import replay_keys

    spec = comparison.spec
    dataset = load_dataset(spec.data) if dataset is None else dataset
    model = build_model(spec.model, dataset, spec.l2)
    constants = problem_constants(model, dataset, key=replay_keys(spec.seed)[0])
    # one problem, one L: the largest Hessian top along every run's path (with diagnostics)
    constants = with_path_smoothness(constants, _diagnostic_results(comparison))
    curves: list[ErrorRuntimeCurve | None] = []
    for run in comparison.runs:
        vspec = run.spec
        outside = vspec.rule in ("dc-asgd", "staleness-weight") or vspec.lr_schedule is not None
        if vspec.heterogeneous or vspec.communication or outside:
            curves.append(None)
            continue
        vspec = vspec.replace(updates=run.num_updates)
        report = error_bounds(vspec, model=model, dataset=dataset, constants=constants)
        curves.append(report.curve)
    return curves
