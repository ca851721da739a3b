"""Training comparisons: variants on paired seeds, replayed as real SGD, beside the theory.

Every variant is simulated on the same seeds, so learner l's n-th mini-batch takes the same
time X[l, n] in all of them (common random numbers), and the model starts from the same w0.

With a ``time_budget`` T instead of J, every variant runs to the same simulated time: a
variant runs J_v updates on every seed, the most that all its seeds complete by T (see
:func:`simulator.timing.budget_updates`), so its curves end together at or before T.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
from tqdm.auto import tqdm

from simulator._checks import VARIANT_ALIASES, check_batch_rows
from simulator.errors import PssimError
from simulator.spec import COMMAND_DEFAULTS, ExperimentSpec, digest_of
from simulator.studies._common import as_spec, bar_disabled, chosen_j_theory, spec_theory
from simulator.studies._targets import default_level, first_time_at
from simulator.theory.runtime import Prediction
from simulator.timing._budget import budget_updates
from simulator.timing._memory import check_timing_memory
from simulator.timing.engine import simulate_spec
from simulator.timing.wraps import replay_wraps

__all__ = ["DEFAULT_VARIANTS", "Comparison", "VariantRun", "compare", "variant_specs"]

#: The variants of Dutta et al.'s figure 8 comparison.
DEFAULT_VARIANTS = ("sync", "async", "k-sync", "k-async", "k-batch-async")


def _finite(a) -> list[float | None]:
    return [None if not math.isfinite(v) else float(v) for v in a]


@dataclasses.dataclass(frozen=True, eq=False)
class VariantRun:
    """One variant's replicated training run.

    Attributes:
        spec: the variant's experiment spec (variant as the user named it; with a time
            budget it keeps the budget, and :attr:`num_updates` is the J_v it ran).
        k: resolved K.
        result: the replay's ReplayResult ((S, E) curves; ``variant`` as named).
        simulated_time: (S,) time of the J-th update per seed (simulated time units).
        theory: the runtime prediction for J updates (J_v with a time budget).
        staleness: pooled staleness of every contribution over seeds (1-D int array).
        durations: how the runs used a measured durations file (wraps, censored rows),
            a :class:`~simulator.timing.wraps.ReplayWraps`; None without one.
    """

    spec: ExperimentSpec
    k: int
    result: object
    simulated_time: np.ndarray
    theory: Prediction
    staleness: np.ndarray
    durations: object = None

    @property
    def variant(self) -> str:
        return self.spec.variant

    @property
    def num_updates(self) -> int:
        """J, the updates every seed ran: the spec's, or J_v under a time budget."""
        return int(self.result.eval_update[-1])

    @property
    def time_budget(self) -> float | None:
        """The simulated-time budget T every seed ended by (None: J updates were asked)."""
        return self.spec.time_budget

    def mean_curve(self) -> dict[str, np.ndarray]:
        """Mean over non-diverged seeds at the evaluation points: update, time, loss, error.

        ``error`` is loss - F* (NaN where F* is unknown); all NaN when every seed diverged.
        """
        r = self.result
        keep = ~r.diverged
        nan = np.full(r.eval_update.shape, np.nan)
        if not keep.any():
            return {"update": r.eval_update, "time": nan, "loss": nan, "error": nan}
        loss = r.loss[keep].mean(axis=0)
        f_star = r.f_star
        return {
            "update": r.eval_update,
            "time": r.eval_time[keep].mean(axis=0),
            "loss": loss,
            "error": loss - f_star if f_star is not None else nan,
        }

    def target_curve(self) -> np.ndarray:
        """The curve targets are measured on: the error where F* is known, else the loss."""
        curve = self.mean_curve()
        return curve["loss"] if self.result.f_star is None else curve["error"]

    def time_to(self, level: float) -> float | None:
        """Mean simulated time at which :meth:`target_curve` first reaches ``level``."""
        curve = self.mean_curve()
        return first_time_at(curve["update"], curve["time"], self.target_curve(), level)

    @property
    def final_loss(self) -> float | None:
        """Seed-mean final loss over non-diverged seeds (None if all diverged)."""
        loss = self.mean_curve()["loss"][-1]
        return None if not math.isfinite(loss) else float(loss)

    @property
    def diverged_seeds(self) -> int:
        return int(np.sum(self.result.diverged))

    def to_json(self, level: float | None = None) -> dict:
        """The run as JSON (with ``durations`` only where a measured file was used)."""
        curve = self.mean_curve()
        r = self.result
        out = {
            "variant": self.variant,
            "k": self.k,
            "spec": self.spec.to_dict(),
            "spec_digest": self.spec.digest(),
            "updates": self.num_updates,
            "time_budget": self.time_budget,
            "runtime": {
                "simulated": float(self.simulated_time.mean()),
                "theory": self.theory.mean,
                "relation": self.theory.relation,
            },
            "final_loss": self.final_loss,
            "time_to_target": None if level is None else self.time_to(level),
            "diverged_seeds": self.diverged_seeds,
            "diverged_at": [int(d) for d in r.diverged_at],
            "seeds": [int(s) for s in r.seeds],
            "curve": {
                "update": [int(u) for u in curve["update"]],
                "time": _finite(curve["time"]),
                "loss": _finite(curve["loss"]),
                "error": _finite(curve["error"]),
            },
        }
        if self.durations is not None:
            out["durations"] = self.durations.to_json()
        return out


@dataclasses.dataclass(frozen=True, eq=False)
class Comparison:
    """Several variants trained on paired seeds; see :func:`compare`.

    Attributes:
        spec: the shared experiment (its ``k`` is the K-variants' K; each run has its own
            spec with its variant).
        runs: one VariantRun per variant, in the order given.
        f_star: F*, the optimal loss on the evaluation set (None when unknown).
        target: the time-to-target level (None when no level is reached after the start).
        target_on: ``"error"`` (F - F*) or ``"loss"``: what ``target`` is a level of.
        model_name, data_name: what was trained, on what.
    """

    spec: ExperimentSpec
    runs: list[VariantRun]
    f_star: float | None
    target: float | None
    target_on: str
    model_name: str
    data_name: str

    @property
    def variants(self) -> list[str]:
        """The variants compared, as named."""
        return [run.variant for run in self.runs]

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
        target and each variant's time to it (where its seed-mean curve first reaches the
        target), and pssim's version (one row per seed and evaluation point)."""
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
        for name in names:
            value = shared[name]
            frame[name] = value if not isinstance(value, list) else ";".join(map(str, value))
        for name in ("durations", "durations_mode", "reuse_workers"):  # with a file only
            if name in shared:
                frame[name] = shared[name]
        frame["base_seed"] = shared["seed"]
        frame["divergence_factor"] = shared["divergence_factor"]
        frame["f_star"] = self.f_star
        frame["target"] = self.target
        frame["target_on"] = self.target_on
        reach = {run.variant: run.time_to(self.target) for run in self.runs if self.target}
        frame["time_to_target"] = frame["variant"].map(lambda v: reach.get(v))
        frame["pssim_version"] = __version__
        return frame

    def to_json(self) -> dict:
        """Everything a result needs to be reproduced and read: spec, version, F*,
        target, and each run's runtime, time to target and mean curve."""
        from simulator import __version__

        return {
            "pssim_version": __version__,
            "experiment": self.experiment(),
            "experiment_digest": self.experiment_digest(),
            "model": self.model_name,
            "data": self.data_name,
            "f_star": self.f_star,
            "target": {"level": self.target, "on": self.target_on},
            "runs": [run.to_json(self.target) for run in self.runs],
        }

    def table(self) -> str:
        """A readable table: runtime beside theory, final loss, time to target, divergence
        (and each variant's J_v under a time budget)."""
        budget = self.spec.time_budget
        j_head = "" if budget is None else f"{'J':>8}"
        head = (
            f"{'variant':15}{'K':>4}{j_head}{'T_J simulated':>15}{'theory':>10}  "
            f"{'relation':12}{'final loss':>12}{'time to target':>16}{'diverged':>10}"
        )
        lines = [head]
        for run in self.runs:
            th = run.theory
            ttl = None if self.target is None else run.time_to(self.target)
            final = run.final_loss
            j_col = "" if budget is None else f"{run.num_updates:>8}"
            lines.append(
                f"{run.variant:15}{run.k:>4}{j_col}{run.simulated_time.mean():>15.4g}"
                f"{'—' if th.mean is None else f'{th.mean:.4g}':>10}  {th.relation:12}"
                f"{'—' if final is None else f'{final:.4g}':>12}"
                f"{'never' if ttl is None else f'{ttl:.4g}':>16}"
                f"{run.diverged_seeds:>7}/{len(run.result.seeds)}"
            )
        if budget is not None:
            lines.append(
                f"time budget T = {budget:.6g}: J = the updates every seed of a variant "
                "completes by T"
            )
        if self.f_star is not None:
            lines.append(f"F* (optimal loss on the evaluation set) = {self.f_star:.6g}")
        if self.target is None:
            lines.append("target: no level is reached after the start (two variants needed)")
        else:
            what = "error F - F*" if self.target_on == "error" else "loss"
            lines.append(f"target: {what} <= {self.target:.4g} (time in simulated units)")
        return "\n".join(lines)


def variant_specs(spec: ExperimentSpec, variants: Sequence[str]) -> list[ExperimentSpec]:
    """One validated spec per variant: ``spec`` with the variant, and its ``k`` for the
    K-variants (``sync`` and ``async`` imply theirs).

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
    specs = [spec.replace(variant=v, k=None if v in VARIANT_ALIASES else spec.k) for v in variants]
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
            unknown); default: see :mod:`simulator.studies._targets`.
        f_star: F* (the optimal loss on the evaluation set) if already known; ``"auto"``
            computes it for convex models, None leaves the error unknown.
        progress: show a progress bar on stderr.

    With ``time_budget=T`` (in the spec or the fields; it replaces the default J) every
    variant runs J_v updates on every seed, the most that all its seeds complete by
    simulated time T, so all curves end within the same time window; the theory beside
    it is for J_v updates and ``eval_every`` defaults to about J_v / 100.

    Everything is validated before anything runs.

    Example:
        >>> cmp = compare(variants=["sync", "async"], updates=500, seeds=2)  # doctest: +SKIP
        >>> print(cmp.table())  # doctest: +SKIP
        >>> cmp = compare(variants=["sync", "async"], time_budget=100.0)  # doctest: +SKIP
        >>> [run.num_updates for run in cmp.runs]  # J_v of each  # doctest: +SKIP
    """
    from simulator.training import make_rule, replay

    spec = as_spec(spec, fields, COMMAND_DEFAULTS["compare"])
    specs = variant_specs(spec, variants)
    if target is not None and not (
        isinstance(target, (int, float)) and not isinstance(target, bool) and math.isfinite(target)
    ):
        raise PssimError(f"`target` must be a finite number; got {target!r}", param="target")
    if dataset is None or model is None:
        from models import build_model, load_dataset

        dataset = load_dataset(spec.data) if dataset is None else dataset
        model = build_model(spec.model, dataset, spec.l2) if model is None else model
    check_batch_rows(dataset, spec.batch_size)
    rule = make_rule(spec.rule, spec.lr, spec.lr_c) if rule is None else rule
    runs, given_f_star, f_star = [], f_star, None
    bar = tqdm(
        total=len(specs) * (spec.seeds + 1),
        disable=bar_disabled(progress),
        delay=1.0,
        desc="compare",
        unit="step",
    )
    with bar:
        for vspec in specs:
            bar.set_postfix_str(f"{vspec.variant}: timing")
            run_spec, eval_every = vspec, spec.eval_every
            if vspec.time_budget is not None:  # J_v updates, all within the budget
                j_v = budget_updates(vspec)
                run_spec = vspec.replace(updates=j_v, eval_every=None)
                eval_every = None if eval_every is None else min(eval_every, j_v)
            traces = []
            for s in vspec.seed_list:
                traces.append(simulate_spec(run_spec, s))
                bar.update()
            bar.set_postfix_str(f"{vspec.variant}: training")
            result = replay(
                traces,
                model,
                dataset,
                batch_size=spec.batch_size,
                rule=rule,
                eval_every=eval_every,
                dtype=spec.dtype,
                divergence_factor=spec.divergence_factor,
                f_star=given_f_star,
                diagnostics=spec.diagnostics,
            )
            bar.update()
            f_star = result.f_star
            runs.append(
                VariantRun(
                    spec=vspec,
                    k=vspec.canonical[1],
                    result=dataclasses.replace(result, variant=vspec.variant),
                    simulated_time=np.array([t.end_time for t in traces]),
                    theory=(
                        spec_theory(run_spec)
                        if vspec.time_budget is None
                        else chosen_j_theory(spec_theory(run_spec))
                    ),
                    staleness=np.concatenate([t.staleness()[t.mask] for t in traces]),
                    durations=replay_wraps(run_spec, traces),
                )
            )
    target_on = "loss" if f_star is None else "error"
    if target is None:
        target = default_level([(r.mean_curve()["update"], r.target_curve()) for r in runs])
    return Comparison(
        spec=spec,
        runs=runs,
        f_star=f_star,
        target=None if target is None else float(target),
        target_on=target_on,
        model_name=str(getattr(model, "name", type(model).__name__)),
        data_name=str(getattr(dataset, "name", type(dataset).__name__)),
    )
