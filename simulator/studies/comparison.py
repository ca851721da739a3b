"""Training comparisons: variants on paired seeds, replayed as real SGD, beside the theory.

Every variant is simulated on the same seeds, so learner l's n-th mini-batch takes the same
time X[l, n] in all of them (common random numbers), and the model starts from the same w0.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
from tqdm.auto import tqdm

from distributions import law_from
from simulator._checks import check_count, check_positive, resolve_variant
from simulator.results.stats import seed_list
from simulator.theory.runtime import Prediction, expected_runtime
from simulator.timing.engine import simulate

__all__ = ["DEFAULT_VARIANTS", "Comparison", "VariantRun", "compare"]

#: The variants of Dutta et al.'s figure 8 comparison.
DEFAULT_VARIANTS = ("sync", "async", "k-sync", "k-async", "k-batch-async")


@dataclasses.dataclass(frozen=True, eq=False)
class VariantRun:
    """One variant's replicated training run.

    Attributes:
        variant: the name the user gave; ``k``: resolved K.
        result: the replay's :class:`~simulator.training.replayer.ReplayResult` ((S, E) curves).
        simulated_time: (S,) time of the J-th update per seed (simulated time units).
        theory: the runtime prediction for J updates.
        staleness: pooled staleness of every contribution over seeds (1-D int array).
    """

    variant: str
    k: int
    result: object
    simulated_time: np.ndarray
    theory: Prediction
    staleness: np.ndarray

    def mean_curve(self) -> dict[str, np.ndarray]:
        """Mean over non-diverged seeds at the evaluation points: update, time, loss."""
        r = self.result
        keep = ~r.diverged
        if not keep.any():
            return {
                "update": r.eval_update,
                "time": np.full(r.eval_update.shape, np.nan),
                "loss": np.full(r.eval_update.shape, np.nan),
            }
        return {
            "update": r.eval_update,
            "time": r.eval_time[keep].mean(axis=0),
            "loss": r.loss[keep].mean(axis=0),
        }

    def time_to_loss(self, target: float) -> float | None:
        """Mean simulated time at which the seed-mean loss first reaches ``target``."""
        curve = self.mean_curve()
        hit = np.flatnonzero(curve["loss"] <= target)
        return None if hit.size == 0 else float(curve["time"][hit[0]])

    @property
    def final_loss(self) -> float | None:
        """Seed-mean final loss over non-diverged seeds (None if all diverged)."""
        loss = self.mean_curve()["loss"][-1]
        return None if not math.isfinite(loss) else float(loss)

    @property
    def diverged_seeds(self) -> int:
        return int(np.sum(self.result.diverged))

    def to_json(self) -> dict:
        curve = self.mean_curve()
        r = self.result

        def finite(a):
            return [None if not math.isfinite(v) else float(v) for v in a]

        return {
            "variant": self.variant,
            "k": self.k,
            "learners": r.num_learners,
            "seeds": len(r.seeds),
            "runtime": {
                "simulated": float(self.simulated_time.mean()),
                "theory": self.theory.mean,
                "relation": self.theory.relation,
            },
            "final_loss": self.final_loss,
            "diverged_seeds": self.diverged_seeds,
            "curve": {
                "update": [int(u) for u in curve["update"]],
                "time": finite(curve["time"]),
                "loss": finite(curve["loss"]),
            },
        }


@dataclasses.dataclass(frozen=True, eq=False)
class Comparison:
    """Several variants trained on paired seeds; see :func:`compare`."""

    runs: list[VariantRun]
    f_star: float | None
    target: float | None

    def history(self):
        """The tidy :class:`~simulator.results.history.History` of all runs."""
        from simulator.results.history import History

        return History(*(run.result for run in self.runs))

    def to_json(self) -> dict:
        return {"runs": [run.to_json() for run in self.runs]}

    def table(self) -> str:
        """A readable table: runtime beside theory, final loss, time to target, divergence."""
        target = self.target
        head = (
            f"{'variant':15}{'K':>4}{'T_J simulated':>15}{'theory':>10}  {'relation':12}"
            f"{'final loss':>12}{'time to ' + (f'{target:.4g}' if target else '—'):>16}"
            f"{'diverged':>10}"
        )
        lines = [head]
        for run in self.runs:
            th = run.theory
            ttl = None if target is None else run.time_to_loss(target)
            final = run.final_loss
            lines.append(
                f"{run.variant:15}{run.k:>4}{run.simulated_time.mean():>15.4g}"
                f"{'—' if th.mean is None else f'{th.mean:.4g}':>10}  {th.relation:12}"
                f"{'—' if final is None else f'{final:.4g}':>12}"
                f"{'never' if ttl is None else f'{ttl:.4g}':>16}"
                f"{run.diverged_seeds:>7}/{len(run.result.seeds)}"
            )
        if self.f_star is not None:
            lines.append(f"F* (optimal loss on the evaluation set) = {self.f_star:.6g}")
        return "\n".join(lines)


def default_target(runs: Sequence[VariantRun]) -> float | None:
    """The loss every non-diverged variant reaches: the largest of their best mean losses."""
    best = [np.nanmin(r.mean_curve()["loss"]) for r in runs if r.final_loss is not None]
    return float(max(best)) if best else None


def compare(
    variants: Sequence[str] = DEFAULT_VARIANTS,
    *,
    model,
    dataset,
    rule,
    num_learners: int = 8,
    k: int | None = 4,
    law="exp:1",
    iterations: int = 2000,
    seeds: int = 5,
    seed: int = 0,
    batch_size: int = 1,
    eval_every: int | None = None,
    target: float | None = None,
    dtype: str = "float32",
    progress: bool = False,
) -> Comparison:
    """Train every variant on the same seeds and put the results beside the theory.

    ``k`` applies to the K-variants (``sync`` and ``async`` imply theirs). All arguments are
    validated before anything runs.

    Example:
        >>> from models import load_dataset, build_model  # doctest: +SKIP
        >>> data = load_dataset("digits"); model = build_model("softmax", data, 0.01)
        >>> cmp = compare(model=model, dataset=data, rule=make_rule("fixed", 0.01))
        >>> print(cmp.table())
    """
    from simulator.training.replayer import replay

    if isinstance(variants, str) or not variants:
        raise ValueError(f"`variants` must be a non-empty list of variant names; got {variants!r}")
    resolved = [
        (v, *resolve_variant(v, num_learners, None if v in ("sync", "async") else k))
        for v in variants
    ]
    law = law_from(law)
    iterations = check_count("J", iterations)
    seeds_ = seed_list(seeds, seed)
    batch_size = check_count("batch", batch_size)
    if eval_every is not None:
        eval_every = check_count("eval-every", eval_every)
    if target is not None:
        target = check_positive("target", target)
    runs, f_star = [], None
    bar = tqdm(
        total=len(resolved) * (len(seeds_) + 1),
        disable=not progress,
        delay=1.0,
        desc="compare",
        unit="step",
    )
    with bar:
        for name, canonical, kk in resolved:
            bar.set_postfix_str(f"{name}: timing")
            traces = []
            for s in seeds_:
                traces.append(
                    simulate(
                        canonical,
                        num_learners=num_learners,
                        k=kk,
                        law=law,
                        updates=iterations,
                        seed=s,
                    )
                )
                bar.update()
            bar.set_postfix_str(f"{name}: training")
            result = replay(
                traces,
                model,
                dataset,
                batch_size=batch_size,
                rule=rule,
                eval_every=eval_every,
                dtype=dtype,
            )
            bar.update()
            f_star = result.f_star
            runs.append(
                VariantRun(
                    variant=name,
                    k=kk,
                    result=result,
                    simulated_time=np.array([t.end_time for t in traces]),
                    theory=expected_runtime(
                        canonical, num_learners=num_learners, k=kk, law=law, updates=iterations
                    ),
                    staleness=np.concatenate([t.staleness()[t.mask] for t in traces]),
                )
            )
    return Comparison(
        runs=runs, f_star=f_star, target=target if target is not None else default_target(runs)
    )
