"""Training comparisons: variants on paired seeds, replayed as real SGD, beside the theory.

Every variant is simulated on the same seeds, so learner l's n-th mini-batch takes the same
time X[l, n] in all of them (common random numbers), and the model starts from the same w0.

With a ``time_budget`` T instead of J, every variant runs to the same simulated time: a
variant runs J_v updates on every seed, the most that all its seeds complete by T (see
:func:`simulator.timing.budget_updates`), so its curves end together at or before T.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
from collections.abc import Sequence

import numpy as np
from tqdm.auto import tqdm

from simulator._checks import check_batch_rows
from simulator._spec_checks import CLUSTER_FIELDS
from simulator._spec_policy import READS_LOSS, policy_applies
from simulator.errors import PssimError
from simulator.spec import COMMAND_DEFAULTS, ExperimentSpec, digest_of
from simulator.studies._common import as_spec, bar_disabled, chosen_j_theory, spec_theory
from simulator.studies._compare_notes import k_curve_of, k_now_column, run_setting_lines
from simulator.studies._compare_targets import comparison_level, target_cell, target_lines
from simulator.studies._staleness_limits import resolve_staleness_limits
from simulator.studies._targets import TargetTimes, check_targets, rule_text
from simulator.studies._variant_run import VariantRun
from simulator.studies._variant_specs import for_variant
from simulator.studies.adaptive import cosimulate
from simulator.timing._budget import budget_updates
from simulator.timing._memory import check_timing_memory
from simulator.timing.engine import simulate_spec
from simulator.timing.wraps import replay_wraps

__all__ = ["DEFAULT_VARIANTS", "Comparison", "VariantRun", "compare", "variant_specs"]

#: The variants of Dutta et al.'s figure 8 comparison.
DEFAULT_VARIANTS = ("sync", "async", "k-sync", "k-async", "k-batch-async")
#: Variants simulated (and their replays compiled, in worker threads) ahead of the one
#: being replayed, as long as their traces hold at most ``AHEAD_BYTES`` together.
AHEAD, AHEAD_BYTES = 2, 1 << 28


@dataclasses.dataclass(frozen=True, eq=False)
class Comparison:
    """Several variants trained on paired seeds; see :func:`compare`.

    Attributes:
        spec: the shared experiment (its ``k`` is the K-variants' K; each run has its own
            spec with its variant).
        runs: one VariantRun per variant, in the order given.
        f_star: F*, the optimal loss on the evaluation set (None when unknown).
        target: the time-to-target level (None when no default level exists: none that
            every variant's seeds reach and stay under).
        target_on: ``"error"`` (F - F*), ``"loss"`` or ``"accuracy"``: what ``target`` is a
            level of.
        model_name, data_name: what was trained, on what.
        target_window: simulated time a seed must stay at the target (None: the rest of
            its run).
        target_from: the argument that gave the target (``"target"``,
            ``"target_accuracy"`` or ``"target_fraction"``), None for the default level.
        target_fraction: the fraction of the initial value, with ``target_fraction``.
    """

    spec: ExperimentSpec
    runs: list[VariantRun]
    f_star: float | None
    target: float | None
    target_on: str
    model_name: str
    data_name: str
    target_window: float | None = None
    target_from: str | None = None
    target_fraction: float | None = None

    @property
    def variants(self) -> list[str]:
        """The variants compared, as named."""
        return [run.variant for run in self.runs]

    @property
    def target_rule(self) -> str:
        """How long a seed must stay at the target, e.g. ``stays at or below for the rest
        of the run``."""
        return rule_text(self.target_window, above=self.target_on == "accuracy")

    def target_times(self) -> list[TargetTimes]:
        """Each run's seeds' times to :attr:`target` (see :meth:`VariantRun.target_times`)."""
        return [
            run.target_times(self.target, on=self.target_on, window=self.target_window)
            for run in self.runs
        ]

    def experiment(self) -> dict:
        """The spec shared by the runs with ``variants`` in place of ``variant``: what a
        ``pssim compare`` config holds."""
        d = self.spec.to_dict()
        del d["variant"]
        return {"variants": self.variants, **d}

    def experiment_digest(self) -> str:
        """Stable 16-hex-digit hash of :meth:`experiment` (differs with the variants; a
        durations file counts by its content, as in the spec's digest)."""
        d = self.spec.identity()
        del d["variant"]
        return digest_of({"variants": self.variants, **d})

    def history(self):
        """The tidy :class:`~simulator.results.history.History` of all runs."""
        from simulator.results.history import History

        return History(*(run.result for run in self.runs))

    def results_frame(self):
        """The History table with provenance columns: spec and experiment digests, each
        variant's J (``updates``; J_v under a budget) and the ``time_budget``, laws,
        communication, data, model, lr, l2, dtype, base seed, divergence factor, F*, the
        target and each variant's time to it (the mean over its seeds that reach it and
        stay, see :meth:`VariantRun.target_times`), and pssim's version (one row per seed
        and evaluation point). With ringmaster, ``staleness_limit`` is the R each run used
        (``"auto"`` resolved, as ``lr`` is the rate it ran with) and
        ``staleness_limit_typed`` the value as typed (a string; null for other variants)."""
        from simulator import __version__

        frame = self.history().to_frame()
        per_run = {run.variant: run.spec for run in self.runs}
        frame["spec_digest"] = frame["variant"].map(lambda v: per_run[v].digest())
        updates = {run.variant: run.num_updates for run in self.runs}
        frame["updates"] = frame["variant"].map(updates)
        frame["time_budget"] = self.spec.time_budget
        frame["experiment_digest"] = self.experiment_digest()
        shared = self.spec.to_dict()
        names = ("law", "laws", "speeds", "push_latency", "pull_latency", "service_time")
        names += ("data", "model", "lr", "lr_c", "l2", "dtype")
        optional = ("durations", "durations_mode", "reuse_workers", "lr_schedule")
        optional += CLUSTER_FIELDS
        names += tuple(n for n in optional if n in shared)  # with a file or a cluster feature
        own = {v: spec.to_dict() for v, spec in per_run.items()}  # a variant drops what
        for name in names:  # does not apply to it (a deadline, the server's link)
            column = {v: _cell(d.get(name)) for v, d in own.items()}
            if name in ("lr", "lr_c"):  # the rate each variant ran with, resolved
                column = {v: getattr(per_run[v], name) for v in own}
            frame[name] = frame["variant"].map(column)
        limits = {run.variant: run.staleness_limit for run in self.runs}
        if any(limit is not None for limit in limits.values()):  # ringmaster's R as run,
            typed = {v: d.get("staleness_limit") for v, d in own.items()}  # and as typed
            frame["staleness_limit"] = frame["variant"].map(limits)
            frame["staleness_limit_typed"] = frame["variant"].map(
                {v: None if t is None else str(t) for v, t in typed.items()}
            )
        if any(run.k_curve is not None for run in self.runs):
            policies = {run.variant: run.spec.k_policy for run in self.runs}
            frame["k_policy"] = frame["variant"].map(policies)
            frame["k_now"] = k_now_column(self.runs, frame)
        frame["base_seed"] = shared["seed"]
        frame["divergence_factor"] = shared["divergence_factor"]
        frame["f_star"] = self.f_star
        frame["target"] = self.target
        frame["target_on"] = self.target_on
        reach = {
            run.variant: times.mean
            for run, times in zip(self.runs, self.target_times(), strict=True)
        }
        frame["time_to_target"] = frame["variant"].map(reach).astype(float)
        frame["pssim_version"] = __version__
        return frame

    def to_json(self) -> dict:
        """Everything a result needs to be reproduced and read: spec, version, F*, the
        target (its ``level``, what it is ``on``, the ``rule`` a seed meets, its ``window``
        and the argument it came ``from``, ``"default"`` for the default level), and each
        run's runtime, time to target (mean and interval, seeds that reach it or never do)
        and mean curve."""
        from simulator import __version__

        return {
            "pssim_version": __version__,
            "experiment": self.experiment(),
            "experiment_digest": self.experiment_digest(),
            "model": self.model_name,
            "data": self.data_name,
            "f_star": self.f_star,
            "target": self._target_json(),
            "runs": [
                run.to_json(self.target, on=self.target_on, window=self.target_window)
                for run in self.runs
            ],
        }

    def _target_json(self) -> dict:
        out = {
            "level": self.target,
            "on": self.target_on,
            "rule": self.target_rule,
            "window": self.target_window,
            "from": self.target_from or "default",
        }
        if self.target_fraction is not None:
            out["fraction"] = self.target_fraction
        return out

    def table(self) -> str:
        """A readable table: runtime beside theory, final loss, time to target (mean
        [bootstrap 95% interval], seeds that never reach it), divergence (and each
        variant's J_v under a time budget)."""
        budget = self.spec.time_budget
        j_head = "" if budget is None else f"{'J':>8}"
        cells = [target_cell(t) for t in self.target_times()] if self.target is not None else []
        width = max([16, *(len(c) + 2 for c in cells)])
        head = (
            f"{'variant':15}{'K':>4}{j_head}{'T_J simulated':>15}{'theory':>10}  "
            f"{'relation':12}{'final loss':>12}{'time to target':>{width}}{'diverged':>10}"
        )
        lines = [head]
        for i, run in enumerate(self.runs):
            th = run.theory
            ttl = cells[i] if cells else "—"
            final = run.final_loss
            j_col = "" if budget is None else f"{run.num_updates:>8}"
            lines.append(
                f"{run.variant:15}{run.k:>4}{j_col}{run.simulated_time.mean():>15.4g}"
                f"{'—' if th.mean is None else f'{th.mean:.4g}':>10}  {th.relation:12}"
                f"{'—' if final is None else f'{final:.4g}':>12}"
                f"{ttl:>{width}}"
                f"{run.diverged_seeds:>7}/{len(run.result.seeds)}"
            )
        if budget is not None:
            lines.append(
                f"time budget T = {budget:.6g}: J = the updates every seed of a variant "
                "completes by T"
            )
        lines += run_setting_lines(self.runs)
        if self.f_star is not None:
            lines.append(f"F* (optimal loss on the evaluation set) = {self.f_star:.6g}")
        lines += target_lines(self)
        return "\n".join(lines)


def _cell(value):
    """A setting as one results-frame cell (a list joined with ``;``)."""
    return value if not isinstance(value, list) else ";".join(map(str, value))


def _trace_bytes(traces: Sequence) -> int:
    """Bytes held by the arrays of ``traces``."""
    return sum(a.nbytes for t in traces for a in vars(t).values() if isinstance(a, np.ndarray))


def _variant_run(vspec: ExperimentSpec, run_spec: ExperimentSpec, traces: list, result):
    """The VariantRun of one replayed variant."""
    return VariantRun(
        spec=vspec,
        k=vspec.canonical[1],
        # K as the variant names it (K_0 under a policy; the traces' rows are wider)
        result=dataclasses.replace(result, variant=vspec.variant, k=vspec.canonical[1]),
        simulated_time=np.array([t.end_time for t in traces]),
        theory=(
            spec_theory(run_spec)
            if vspec.time_budget is None
            else chosen_j_theory(spec_theory(run_spec))
        ),
        staleness=np.concatenate([t.staleness()[t.mask] for t in traces]),
        durations=replay_wraps(run_spec, traces),
        staleness_limit=run_spec.staleness_limit,
        k_curve=k_curve_of(traces, result.eval_update),
    )


def variant_specs(spec: ExperimentSpec, variants: Sequence[str]) -> list[ExperimentSpec]:
    """One validated spec per variant (:func:`for_variant`: ``spec`` with the variant, its
    ``k`` for the K-variants, and the deadline and server settings where they apply).

    Each is checked to fit the timing memory budget with all its seeds' traces kept (the
    replay takes them together).

    Raises:
        PssimError: no variants; SpecError: a variant's rules, or its timing (see
            :func:`simulator.timing._memory.check_timing_memory`).
    """
    if isinstance(variants, str) or not variants:
        raise PssimError(
            f"`variants` must be a non-empty list of variant names; got {variants!r}",
            param="variants",
        )
    specs = [for_variant(spec, v) for v in variants]
    for vspec in specs:
        check_timing_memory(vspec, kept=vspec.seeds)
    return specs


def compare(
    spec: ExperimentSpec | None = None,
    *,
    variants: Sequence[str] = DEFAULT_VARIANTS,
    model=None,
    dataset=None,
    rule=None,
    target: float | None = None,
    target_accuracy: float | None = None,
    target_fraction: float | None = None,
    target_window: float | None = None,
    f_star: float | str | None = "auto",
    progress: bool = False,
    **fields,
) -> Comparison:
    """Train every variant on the same seeds and put the results beside the theory.

    Args:
        spec: the experiment (its ``k`` applies to the K-variants; ``sync`` and ``async``
            imply theirs); keyword ``fields`` override it. Without a spec, the defaults
            of ``pssim compare`` apply (the paper's figure 8 setting).
        variants: the variants to compare, e.g. ``["sync", "async", "k-async"]``.
        model, dataset, rule: objects to use instead of the spec's named model, dataset
            and rule (e.g. a custom model; see ``models.Model``).
        target: the time-to-target level of the error F - F* (of the loss when F* is
            unknown). Give at most one of it, ``target_accuracy`` and
            ``target_fraction``; with none, the default is a level every variant's seeds
            reach and stay under (see :func:`~simulator.results.targets.default_level`),
            or none when no such level exists (the table says so).
        target_accuracy: instead, an accuracy in (0, 1] (reached at or above it; the
            model must have an accuracy).
        target_fraction: instead, a fraction in (0, 1) of the initial error (loss): the
            mean over every variant's seeds at update 0.
        target_window: simulated time units (> 0): a seed reaches the target at the first
            evaluation point after the start from which it stays there for this long (or
            to the end of its run); default: for the rest of its run. Each variant's time
            to target is the mean over its seeds that reach it, with a bootstrap 95%
            interval; seeds that never reach it are counted (see
            :meth:`VariantRun.target_times`).
        f_star: F* (the optimal loss on the evaluation set) if already known; ``"auto"``
            computes it for convex models, None leaves the error unknown.
        progress: show a progress bar on stderr.

    With ``time_budget=T`` (in the spec or the fields; it replaces the default J) every
    variant runs J_v updates on every seed, the most that all its seeds complete by
    simulated time T, so all curves end within the same time window; the theory beside
    it is for J_v updates and ``eval_every`` defaults to about J_v / 100.

    A ringmaster ``staleness_limit`` of ``"auto"`` or ``"auto:EPS"`` runs the paper's R for
    this model and data (:mod:`simulator._staleness_auto`), resolved before the timing
    run; each run's R is its ``staleness_limit``.

    Everything is validated before anything runs.

    Example:
        >>> cmp = compare(variants=["sync", "async"], updates=500, seeds=2)  # doctest: +SKIP
        >>> print(cmp.table())  # doctest: +SKIP
        >>> cmp = compare(variants=["sync", "async"], time_budget=100.0)  # doctest: +SKIP
        >>> [run.num_updates for run in cmp.runs]  # J_v of each  # doctest: +SKIP
    """
    from simulator.training import make_rule, replay
    from simulator.training.constants import problem_constants
    from simulator.training.optimum import optimal_loss
    from simulator.training.replayer import compile_replay

    choice = check_targets(
        target=target,
        target_accuracy=target_accuracy,
        target_fraction=target_fraction,
        window=target_window,
        window_name="target_window",
    )
    spec = as_spec(spec, fields, COMMAND_DEFAULTS["compare"])
    specs = variant_specs(spec, variants)
    if dataset is None or model is None:
        from models import build_model, load_dataset

        dataset = load_dataset(spec.data) if dataset is None else dataset
        model = build_model(spec.model, dataset, spec.l2) if model is None else model
    check_batch_rows(dataset, spec.batch_size)
    run_specs = resolve_staleness_limits(specs, model, dataset)  # ringmaster's "auto" R
    if choice.kind == "target_accuracy" and getattr(model, "accuracy", None) is None:
        name = getattr(model, "name", type(model).__name__)
        raise PssimError(
            f"`target_accuracy` needs a model with an accuracy; {name} has none (give "
            "`target` or `target_fraction`)",
            param="target_accuracy",
        )
    rules = [  # each variant's own rates (an lr typed in K, m or P follows its variant)
        make_rule(v.rule, v.lr, v.lr_c, v.dc_lambda) if rule is None else rule for v in specs
    ]
    runs, given_f_star, f_star = [], f_star, None
    bar = tqdm(
        total=len(specs) * (spec.seeds + 1),
        disable=bar_disabled(progress),
        delay=1.0,
        desc="compare",
        unit="step",
    )
    options = dict(
        batch_size=spec.batch_size,
        dtype=spec.dtype,
        divergence_factor=spec.divergence_factor,
        diagnostics=spec.diagnostics,
    )
    ahead: collections.deque = collections.deque()  # simulated, compiling, not replayed yet
    with bar, concurrent.futures.ThreadPoolExecutor(1, "pssim-f-star") as pool:
        # F* (its solver's compilation included) runs beside the simulations and replays
        solve = pool.submit(optimal_loss, model, dataset) if given_f_star == "auto" else None
        for i, vspec in enumerate(specs):
            bar.set_postfix_str(f"{vspec.variant}: timing")
            run_spec, eval_every = run_specs[i], spec.eval_every
            if vspec.time_budget is not None:  # J_v updates, all within the budget
                j_v = budget_updates(run_spec)
                run_spec = run_spec.replace(updates=j_v, eval_every=None)
                eval_every = None if eval_every is None else min(eval_every, j_v)
            traces, constants = [], None  # the theory policy's, computed once per variant
            for s in vspec.seed_list:
                if run_spec.k_policy in READS_LOSS and policy_applies(run_spec):
                    known = given_f_star if solve is None else solve.result()
                    if run_spec.k_policy == "theory" and known is not None and constants is None:
                        constants = problem_constants(model, dataset)
                    trace, _ = cosimulate(
                        run_spec, s, model=model, dataset=dataset, rule=rules[i], f_star=known,
                        constants=constants,
                    )  # fmt: skip
                    traces.append(trace)
                else:
                    traces.append(simulate_spec(run_spec, s))
                bar.update()
            if (ahead or i + 1 < len(specs)) and _trace_bytes(traces) <= AHEAD_BYTES:
                # compiled in a worker thread while the next variants are simulated and the
                # earlier ones replayed (a lone variant has nothing to overlap with)
                compile_replay(
                    traces, model, dataset, eval_every=eval_every, rule=rules[i],
                    lr_schedule=vspec.lr_schedule, **options,
                )  # fmt: skip
            ahead.append((vspec, run_spec, eval_every, traces, rules[i]))
            while ahead and (
                len(ahead) > AHEAD
                or sum(_trace_bytes(a[3]) for a in ahead) > AHEAD_BYTES
                or i + 1 == len(specs)
            ):
                vspec_a, run_spec_a, eval_every_a, traces_a, rule_a = ahead.popleft()
                bar.set_postfix_str(f"{vspec_a.variant}: training")
                result = replay(
                    traces_a,
                    model,
                    dataset,
                    eval_every=eval_every_a,
                    f_star=given_f_star if solve is None else None,
                    rule=rule_a,
                    lr_schedule=vspec_a.lr_schedule,
                    **options,
                )
                if solve is not None:  # what replay's f_star="auto" gives
                    value = solve.result()
                    result = dataclasses.replace(
                        result, f_star=None if value is None else float(value)
                    )
                bar.update()
                f_star = result.f_star
                runs.append(_variant_run(vspec_a, run_spec_a, traces_a, result))
    target_on = "accuracy" if choice.above else "loss" if f_star is None else "error"
    level = comparison_level(runs, choice, target_on)
    return Comparison(
        spec=spec,
        runs=runs,
        f_star=f_star,
        target=None if level is None else float(level),
        target_on=target_on,
        model_name=str(getattr(model, "name", type(model).__name__)),
        data_name=str(getattr(dataset, "name", type(dataset).__name__)),
        target_window=choice.window,
        target_from=choice.kind,
        target_fraction=choice.value if choice.kind == "target_fraction" else None,
    )
