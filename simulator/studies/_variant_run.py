"""One variant's replicated training run, as a comparison holds it: its curves, runtime,
theory, staleness, and its seeds' times to a target."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from simulator.errors import PssimError
from simulator.spec import ExperimentSpec
from simulator.studies._targets import TargetTimes, target_times
from simulator.theory.runtime import Prediction

__all__ = ["VariantRun"]


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
        staleness_limit: ringmaster's R as run (``"auto"`` in the spec resolved, see
            :mod:`simulator._staleness_auto`); None for other variants.
        k_curve: None when K never changed; else (S, E) int, the K of the update that
            follows each evaluation point (the last update's at the end), from each trace's
            :meth:`~simulator.trace.Trace.k_per_update`.
    """

    spec: ExperimentSpec
    k: int
    result: object
    simulated_time: np.ndarray
    theory: Prediction
    staleness: np.ndarray
    durations: object = None
    staleness_limit: int | None = None
    k_curve: np.ndarray | None = None

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
        """The seed-mean curve targets are on: the error where F* is known, else the loss."""
        curve = self.mean_curve()
        return curve["loss"] if self.result.f_star is None else curve["error"]

    def seed_values(self, on: str | None = None) -> np.ndarray:
        """(S, E) each seed's ``on`` at the evaluation points: ``"error"`` (loss - F*),
        ``"loss"`` or ``"accuracy"``; default: the error where F* is known, else the loss."""
        r = self.result
        on = on or ("loss" if r.f_star is None else "error")
        if on == "accuracy" and r.accuracy is None:
            raise PssimError(
                f"`on` 'accuracy' needs a model with an accuracy; {r.variant}'s has none",
                param="on",
            )
        if on not in ("error", "loss", "accuracy"):
            raise PssimError(f"`on` must be one of error, loss, accuracy; got {on!r}", param="on")
        return {"error": r.error, "loss": r.loss, "accuracy": r.accuracy}[on]

    def target_times(
        self, level: float | None, *, on: str | None = None, window: float | None = None
    ) -> TargetTimes:
        """Each seed's time to ``level``: the first evaluation point after the start from
        which its ``on`` (see :meth:`seed_values`) stays at or below the level (at or
        above, for ``"accuracy"``) for the rest of the run, or for ``window`` simulated
        time units; with the mean over the seeds that reach it, its bootstrap 95%
        interval and the seeds that never do (:class:`~simulator.results._passage.TargetTimes`).
        Diverged seeds are left out; with ``level`` None every other seed is "never"."""
        r = self.result
        values = self.seed_values(on)
        seeds = [(r.eval_update, r.eval_time[s], values[s]) for s in range(values.shape[0])]
        return target_times(seeds, r.diverged, level, window=window, above=on == "accuracy")

    def time_to(
        self, level: float, *, on: str | None = None, window: float | None = None
    ) -> float | None:
        """Mean simulated time to ``level`` over the seeds that reach it and stay (see
        :meth:`target_times`); None when none does."""
        times = self.target_times(level, on=on, window=window)
        return times.mean if times.reached_seeds else None

    @property
    def final_loss(self) -> float | None:
        """Seed-mean final loss over non-diverged seeds (None if all diverged)."""
        loss = self.mean_curve()["loss"][-1]
        return None if not math.isfinite(loss) else float(loss)

    @property
    def diverged_seeds(self) -> int:
        return int(np.sum(self.result.diverged))

    def to_json(
        self, level: float | None = None, *, on: str | None = None, window: float | None = None
    ) -> dict:
        """The run as JSON (with ``durations`` only where a measured file was used, and
        ``staleness_limit``, R as run, only for ringmaster); its
        time to ``level`` as :meth:`target_times` finds it (``time_to_target`` the mean or
        null, ``time_to_target_ci95`` [low, high] or null, and the seed counts)."""
        curve = self.mean_curve()
        r = self.result
        times = self.target_times(level, on=on, window=window)
        low, high = times.ci95
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
            "time_to_target": times.mean if times.reached_seeds else None,
            "time_to_target_ci95": [low, high] if math.isfinite(low) else None,
            "reached_seeds": times.reached_seeds,
            "never_seeds": times.never_seeds,
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
        if self.staleness_limit is not None:  # R as run (the spec keeps it as typed)
            out["staleness_limit"] = self.staleness_limit
        if self.k_curve is not None:  # K of each seed at the evaluation points
            out["curve"]["k"] = [[int(k) for k in row] for row in self.k_curve]
        if self.durations is not None:
            out["durations"] = self.durations.to_json()
        return out
