"""The advisor: which variant, K, mini-batch size and learning rate reaches a target first
on the user's cluster, screened by theory and settled by simulated training.

:func:`advise` reads an advise file (a sweep file plus an ``[advise]`` table, see
:mod:`simulator.studies._advise_spec`) and composes what pssim already has:

1. **Screen** (:mod:`simulator.studies._advise_screen`): every candidate's predicted time
   to the target from the runtime theory and the error bounds with the problem's measured
   constants; candidates theory cannot rank are said so, with the reason.
2. **Simulate**: the screen's best ``finalists`` and every candidate it cannot rank are
   trained as a sweep (on Dask, into the resumable store in ``out``) over the same
   horizon, ``initial-seeds`` seeds each. Each candidate's time to target is the mean over
   its seeds of the first time its error stays at or below the target, with a bootstrap
   95% interval (:func:`~simulator.results.targets.time_to_target_table`).
3. **Settle**: while the leader's interval overlaps another candidate's (the contenders),
   the leader and the contenders get twice the seeds (successive halving on seeds: the
   others are dropped), up to ``max-seeds``; the leader and the runner-up get at least
   :data:`SEPARATION_SEEDS`. The recommendation is *separated* when the leader's interval
   ends below every other's, *tied* (with the candidates it cannot be told from) when the
   seed budget is spent first.

A candidate's runs all train the same number of updates (the fewest that any of
:data:`LENGTH_SEEDS` seeds completes within the horizon), so its rounds share one compiled
program and every run ends by the horizon.

Rerunning the same file on the same ``out`` reuses every stored run: only new (candidate,
seed) runs are trained.

Example:
    >>> advice = advise("examples/advise_digits.toml", "runs/advice")  # doctest: +SKIP
    >>> advice.recommendation.candidate.label  # doctest: +SKIP
    'lr=0.05, variant=async'
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from simulator._spec_policy import refuse_loss_policy
from simulator._staleness_auto import refuse_auto
from simulator.errors import PssimError, PssimTypeError, SpecError
from simulator.studies._advise_rank import CandidateResult, rank, results_of
from simulator.studies._advise_screen import Screen, screen_candidates
from simulator.studies._advise_spec import (
    AdviseSettings,
    Candidate,
    candidates_of,
    read_advise_config,
    split_advise_config,
)
from simulator.studies._advise_text import batch_note, none_reached
from simulator.studies.sweeps import sweep
from simulator.studies.sweeps._exec import check_scheduler
from simulator.studies.sweeps._spec import SweepSpec
from simulator.studies.sweeps._units import config_key

__all__ = ["Advice", "CandidateResult", "advise"]


@dataclasses.dataclass(frozen=True)
class Advice:
    """What :func:`advise` found.

    Attributes:
        sweep: the candidates' sweep (the file without its ``[advise]`` table).
        settings: the ``[advise]`` table.
        out: the folder of the runs (a sweep store) and the advisor's outputs.
        horizon: simulated time every candidate trained for.
        candidates: every candidate, ranked: simulated ones first (best first), then the
            ones theory screened out, by predicted time.
        certainty: ``separated`` (the recommendation's interval ends below every other
            simulated candidate's) or ``tied`` (the seed budget ran out first).
        tied_with: labels of the candidates the recommendation cannot be told from.
        rounds: per round of simulation, ``(labels, seeds)``: who ran with how many seeds.
        trained: (candidate, seed) training runs this call trained (0 when the store
            held them all).
        notes: one-line remarks (excluded candidates, the store).
    """

    sweep: SweepSpec
    settings: AdviseSettings
    out: Path
    horizon: float
    candidates: tuple[CandidateResult, ...]
    certainty: str
    tied_with: tuple[str, ...]
    rounds: tuple[tuple[tuple[str, ...], int], ...]
    trained: int = 0
    notes: tuple[str, ...] = ()

    @property
    def recommendation(self) -> CandidateResult:
        """The candidate that reaches the target first (within the constraints)."""
        return self.candidates[0]

    def screen_gap(self) -> dict[str, Any]:
        """How the theory screen compares with simulation, over the candidates that have
        both: the ratio predicted / simulated time (median, min, max) and Spearman's rank
        correlation (None with fewer than 3 such candidates)."""
        both = [c for c in self.candidates if c.screen.predicted is not None and c.mean is not None]
        if not both:
            return {"candidates": 0, "ratio_median": None, "ratio_range": None, "spearman": None}
        ratios = np.array([c.screen.predicted / c.mean for c in both])
        rho = None
        if len(both) >= 3:
            from scipy.stats import spearmanr

            value = spearmanr([c.screen.predicted for c in both], [c.mean for c in both])[0]
            rho = None if not np.isfinite(value) else float(value)
        return {
            "candidates": len(both),
            "ratio_median": float(np.median(ratios)),
            "ratio_range": [float(ratios.min()), float(ratios.max())],
            "spearman": rho,
        }

    def to_json(self) -> dict[str, Any]:
        """One JSON-ready object: ``recommendation``, ``candidates`` (each with its settings
        and ``time_to_target``: ``mean``, ``ci95``), the target, horizon and rounds."""
        best = self.recommendation
        return {
            "recommendation": {
                **best.to_json(),
                "certainty": self.certainty,
                "tied_with": list(self.tied_with),
            },
            "candidates": [c.to_json() for c in self.candidates],
            "target": {
                "rule": self.settings.target_text(),
                self.settings.target_kind.replace("-", "_"): self.settings.target,
                "level": best.level,
                "on": best.level_on,
            },
            "horizon": self.horizon,
            "settings": {
                "learner_hours": self.settings.learner_hours,
                "max_seeds": self.settings.max_seeds,
                "initial_seeds": self.settings.initial_seeds,
                "finalists": self.settings.finalists,
                "window": self.settings.window,
            },
            "sweep": self.sweep.to_dict(),
            "screen_gap": self.screen_gap(),
            "rounds": [{"candidates": list(c), "seeds": s} for c, s in self.rounds],
            "trained_runs": self.trained,
            "out": str(self.out),
            "sweep_digest": self.sweep.digest(),
            "notes": list(self.notes),
        }

    def table(self) -> str:
        """The ranked table and the recommendation, as the CLI prints them."""
        from simulator.studies._advise_text import advice_text

        return advice_text(self)


def _as_config(config: Any, cluster: Any) -> tuple[SweepSpec, AdviseSettings]:
    if isinstance(config, (str, os.PathLike)):
        return read_advise_config(config, cluster=cluster)
    if isinstance(config, dict):
        return split_advise_config(config, source="config", cluster=cluster)
    raise PssimTypeError(
        f"`config` must be the path of an advise TOML file or its dict; got "
        f"{type(config).__name__}",
        param="config",
    )


def _horizon(sweep: SweepSpec, settings: AdviseSettings, candidates) -> float:
    """The simulated time every candidate trains for (see the module of the settings)."""
    from simulator.timing.engine import simulate_spec

    if settings.time_budget is not None:
        return settings.time_budget
    if sweep.base.get("time_budget") is not None:
        return float(sweep.base["time_budget"])
    return max(simulate_spec(c.spec.replace(seeds=1), c.spec.seed).end_time for c in candidates)


#: Seeds whose timing sets a candidate's run length (a fixed number: raising max-seeds
#: must not change the length, and so the identity, of the runs already stored).
LENGTH_SEEDS = 16


def _run_lengths(candidates, horizon: float, seeds: int = LENGTH_SEEDS) -> dict[int, int]:
    """Per candidate, the updates that each of its first ``seeds`` seeds completes within
    the horizon (the fewest of them; a timing simulation only): its runs train that many
    updates, so they end by the horizon (later seeds about there), and a candidate's runs
    in every round have one length and share one compiled program."""
    from simulator.timing._budget import budget_updates
    from simulator.timing.engine import simulate_spec

    def length(spec) -> int:
        try:
            return budget_updates(spec.replace(time_budget=horizon, seeds=seeds))
        except SpecError as err:
            if "first update" not in str(err):
                raise
            return 0  # a seed's first update comes after the horizon

    lengths = {c.index: length(c.spec) for c in candidates}
    if max(lengths.values()) == 0:
        firsts = {
            c.index: simulate_spec(
                c.spec.replace(updates=1, seeds=1, eval_every=None), c.spec.seed
            ).end_time
            for c in candidates
        }
        fastest = min(candidates, key=lambda c: firsts[c.index])
        raise PssimError(
            f"`time-budget` {horizon:g} is shorter than the first update of every candidate "
            f"(the fastest, {fastest.label}, takes {firsts[fastest.index]:.4g}); raise it",
            param="time-budget",
        )
    return lengths


#: Convex models that are never strongly convex (a flat direction: softmax's bias): the
#: screen's bounds need c > 0, so their constants are not computed.
_FLAT_MODELS = ("softmax",)


def _constants(sweep: SweepSpec):
    """The problem's constants, or None and why: they cannot be computed, or the bounds
    cannot use them (a model that is not convex, or never strongly convex)."""
    from models import build_model, load_dataset
    from simulator.training.constants import problem_constants
    from simulator.training.replayer import replay_keys

    spec = sweep.configurations()[0]
    dataset = load_dataset(spec.data)
    model = build_model(spec.model, dataset, spec.l2)
    if not model.convex:
        return None, f"{spec.model} is not convex: the error bounds do not apply"
    if spec.model in _FLAT_MODELS:
        return None, (
            f"{spec.model} is not strongly convex (its bias is a flat direction; "
            "softmax-nobias is): the error bounds need c > 0"
        )
    try:
        return problem_constants(model, dataset, key=replay_keys(spec.seed)[0]), ""
    except PssimError as err:
        return None, f"the problem constants could not be computed ({err})"


def _round_spec(
    sweep: SweepSpec, chosen: Sequence[Candidate], seeds: int, lengths: dict[int, int]
) -> SweepSpec:
    """The sweep of ``chosen`` candidates with ``seeds`` seeds, each for its run length
    (:func:`_run_lengths`): one ``[[zip]]`` table listing their swept values."""
    base = {k: v for k, v in sweep.base.items() if k not in ("updates", "time_budget")}
    base["seeds"] = seeds
    fields = list(chosen[0].point)
    zipped = {f: [c.point[f] for c in chosen] for f in fields}
    zipped["updates"] = [lengths[c.index] for c in chosen]
    every = base.pop("eval_every", None)
    if every is not None:  # at most one evaluation point per update
        zipped["eval_every"] = [min(every, lengths[c.index]) for c in chosen]
    return SweepSpec(
        base=base,
        grid={},
        zips=(zipped,),
        kind="training",
        source=sweep.source,
        folder=sweep.folder,
    )


def advise(
    config: str | os.PathLike | dict,
    out: str | os.PathLike,
    *,
    cluster: str | os.PathLike | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = False,
) -> Advice:
    """Rank the candidates of an advise file by simulated time to its target.

    Args:
        config: the path of an advise TOML file (a sweep file with an ``[advise]`` table),
            or its parsed dict.
        out: the folder of the runs (a sweep store, resumable) and of the advice.
        cluster: a config file describing the cluster (what ``pssim fit --out`` writes),
            instead of the ``[advise]`` table's ``cluster``.
        scheduler, workers: where the training runs, as for :func:`~simulator.sweep`
            (default: a LocalCluster for each round that has runs to train, so a script
            that calls this needs ``if __name__ == "__main__":``; ``"serial"``: this
            process).
        progress: progress bars on stderr.

    Returns:
        An :class:`Advice`; ``advice.recommendation`` is the best candidate.

    Raises:
        SpecError: a bad file, ``[advise]`` table or configuration (before anything runs).
        PssimError: a time budget shorter than every candidate's first update; no
            candidate reaching the target within the horizon (or within
            ``learner-hours``): the runs stay stored, so a rerun with another target
            trains nothing new.
        SweepFault: the store or the cluster failed (rerun to resume).
    """
    sweep_spec, settings = _as_config(config, cluster)
    scheduler, workers = check_scheduler(scheduler, workers)
    everyone = candidates_of(sweep_spec)
    for c in everyone:  # the advisor sizes every run by timing alone, before training
        refuse_auto(c.spec, "pssim advise")
        refuse_loss_policy(
            c.spec,
            ", and the advisor sizes its runs by timing alone; use k_policy 'schedule' or "
            "compare the policy with pssim compare",
        )
    horizon = _horizon(sweep_spec, settings, everyone)
    if settings.window is not None and settings.window >= horizon:
        raise PssimError(
            f"[advise] `window` must be shorter than the horizon {horizon:g} (every "
            f"candidate trains that long); got {settings.window:g}",
            param="window",
        )
    lengths = _run_lengths(everyone, horizon)
    constants, why = _constants(sweep_spec)
    screens = screen_candidates(everyone, settings, constants, no_constants=why)
    for c in everyone:
        if lengths[c.index] == 0:
            late = f"its first update comes after the horizon {horizon:g}"
            screens[c.index] = Screen(None, screens[c.index].time_per_update, None, late)
    chosen = _finalists([c for c in everyone if lengths[c.index] > 0], screens, settings)
    where = {"scheduler": scheduler, "workers": workers if scheduler is None else None}
    settled = _settle(out, sweep_spec, chosen, screens, settings, lengths, where, progress)
    order, contenders, rounds, trained, notes = settled
    leader = order[0]
    if leader.mean is None or leader.status != "reached":
        raise PssimError(none_reached(order, settings, horizon), param="target")
    unsimulated = [
        CandidateResult.screened(c, screens[c.index])
        for c in sorted(
            (c for c in everyone if c not in chosen),
            key=lambda c: (
                math.inf if screens[c.index].predicted is None else screens[c.index].predicted
            ),
        )
    ]
    notes = (*notes, *batch_note(sweep_spec, everyone))
    return Advice(
        sweep=sweep_spec,
        settings=settings,
        out=Path(out),
        horizon=float(horizon),
        candidates=tuple(order) + tuple(unsimulated),
        certainty="tied" if contenders else "separated",
        tied_with=tuple(c.candidate.label for c in contenders),
        rounds=tuple(rounds),
        trained=trained,
        notes=notes,
    )


def _finalists(runnable, screens, settings: AdviseSettings) -> list[Candidate]:
    """The candidates to simulate, in grid order: the screen's best ``finalists`` and
    every candidate it cannot rank."""
    ranked = sorted(
        (c for c in runnable if screens[c.index].ranked), key=lambda c: screens[c.index].predicted
    )
    chosen = ranked[: settings.finalists] + [c for c in runnable if not screens[c.index].ranked]
    return sorted(chosen, key=lambda c: c.index)


def _settle(out, sweep_spec, chosen, screens, settings, lengths, where, progress):
    """Rounds of simulation: every chosen candidate with ``initial-seeds`` seeds, then the
    leader and its contenders with twice the seeds, until none overlaps the leader or
    ``max-seeds`` is reached. Returns the ranking, the contenders left, the rounds, the
    runs trained and the store's notes."""
    rounds: list[tuple[tuple[str, ...], int]] = []
    trained, seeds, active = 0, settings.initial_seeds, chosen
    while True:
        spec = _round_spec(sweep_spec, active, seeds, lengths)
        result = sweep(spec, out, **where, progress=progress)
        if result.failures:
            configs, error = result.failures[0]
            raise PssimError(
                f"the training of ({spec.describe(configs[0])}) failed: {error}; rerun "
                "the advice to retry it (the other runs are stored)"
            )
        rounds.append((tuple(c.label for c in active), seeds))
        trained += result.units_ran
        scores = _scores(out, sweep_spec, chosen, screens, settings, lengths)
        order, contenders = rank(scores, settings)
        pool = contenders or _runner_up_short_of_seeds(order, settings)
        if not pool or seeds >= settings.max_seeds:
            return order, contenders, rounds, trained, tuple(result.notes)
        seeds = min(2 * seeds, settings.max_seeds)
        active = sorted([order[0].candidate, *(c.candidate for c in pool)], key=lambda c: c.index)


#: Seeds the leader and the runner-up need before they are called separated: a percentile
#: bootstrap of 2 or 3 seeds covers the mean far less often than 95% (about 50% and 75%
#: for normal times), and more rounds cost no compilation (a candidate's runs share one
#: program).
SEPARATION_SEEDS = 6


def _runner_up_short_of_seeds(order, settings: AdviseSettings) -> list[CandidateResult]:
    """[the runner-up] when it or the leader has fewer than :data:`SEPARATION_SEEDS`
    seeds (at most ``max-seeds``), else []."""
    need = min(SEPARATION_SEEDS, settings.max_seeds)
    if len(order) < 2 or order[0].status != "reached" or order[1].status != "reached":
        return []
    return [order[1]] if min(order[0].seeds, order[1].seeds) < need else []


def _scores(out, sweep_spec, chosen, screens, settings, lengths) -> list[CandidateResult]:
    """Every simulated candidate's scores from the rows stored in ``out``."""
    from simulator.studies.sweeps._store import SweepStore

    spec = _round_spec(sweep_spec, chosen, settings.max_seeds, lengths)
    frame = SweepStore(out).read(spec)
    keys = {config_key(c): cand for c, cand in zip(spec.configurations(), chosen, strict=True)}
    return results_of(frame, keys, screens, settings)
