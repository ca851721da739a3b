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
   others are dropped), up to ``max-seeds``. The recommendation is *separated* when the
   leader's interval ends below every other's, *tied* (with the candidates it cannot be
   told from) when the seed budget is spent first.

Rerunning the same file on the same ``out`` reuses every stored run: only new (candidate,
seed) runs are trained.

Example:
    >>> advice = advise("examples/advise_digits.toml", "runs/advice")  # doctest: +SKIP
    >>> advice.recommendation.candidate.label  # doctest: +SKIP
    'variant=k-sync, K=4, lr=0.1'
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from simulator.errors import PssimError, PssimTypeError
from simulator.studies._advise_rank import CandidateResult, rank, results_of
from simulator.studies._advise_screen import screen_candidates
from simulator.studies._advise_spec import (
    AdviseSettings,
    Candidate,
    candidates_of,
    read_advise_config,
    split_advise_config,
)
from simulator.studies._sweep_exec import check_scheduler
from simulator.studies._sweep_spec import SweepSpec
from simulator.studies._sweep_units import config_key
from simulator.studies.sweeps import sweep

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
                self.settings.target_kind: self.settings.target,
                "window": self.settings.window,
                "level": best.level,
                "on": best.level_on,
            },
            "horizon": self.horizon,
            "constraints": {
                "learner-hours": self.settings.learner_hours,
                "max-seeds": self.settings.max_seeds,
            },
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
        horizon = settings.time_budget
    elif sweep.base.get("time_budget") is not None:
        horizon = float(sweep.base["time_budget"])
    else:
        horizon = max(
            simulate_spec(c.spec.replace(seeds=1), c.spec.seed).end_time for c in candidates
        )
    firsts = {
        c.index: simulate_spec(
            c.spec.replace(updates=1, seeds=1, eval_every=None), c.spec.seed
        ).end_time
        for c in candidates
    }
    if min(firsts.values()) > horizon:
        fastest = min(candidates, key=lambda c: firsts[c.index])
        raise PssimError(
            f"`time-budget` {horizon:g} is shorter than the first update of every candidate "
            f"(the fastest, {fastest.label}, takes {firsts[fastest.index]:.4g}); raise it",
            param="time-budget",
        )
    return horizon


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


def _round_spec(sweep: SweepSpec, chosen: Sequence[Candidate], seeds: int, horizon: float):
    """The sweep of ``chosen`` candidates with ``seeds`` seeds over the horizon: one
    ``[[zip]]`` table listing their swept values."""
    base = {k: v for k, v in sweep.base.items() if k not in ("updates", "time_budget")}
    base.update(time_budget=horizon, seeds=seeds)
    fields = list(chosen[0].point)
    zipped = {f: [c.point[f] for c in chosen] for f in fields}
    return SweepSpec(
        base=base,
        grid={},
        zips=(zipped,),
        kind="training",
        source=sweep.source,
        folder=sweep.folder,
    )


@contextlib.contextmanager
def _scheduler(scheduler: str | None, workers: int) -> Iterator[str | None]:
    """One LocalCluster for every round (its workers keep their compiled programs), or the
    scheduler given."""
    if scheduler is not None:
        yield scheduler
        return
    from simulator.studies._sweep_exec import _client

    with _client(None, workers) as client:
        yield client.scheduler.address


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
            (default: one LocalCluster for every round; ``"serial"``: this process).
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
    candidates = candidates_of(sweep_spec)
    horizon = _horizon(sweep_spec, settings, candidates)
    constants, why = _constants(sweep_spec)
    screens = screen_candidates(candidates, settings, constants, no_constants=why)
    ranked_by_theory = sorted(
        (c for c in candidates if screens[c.index].ranked),
        key=lambda c: screens[c.index].predicted,
    )
    chosen = ranked_by_theory[: settings.finalists]
    chosen += [c for c in candidates if not screens[c.index].ranked]
    chosen.sort(key=lambda c: c.index)
    rounds: list[tuple[tuple[str, ...], int]] = []
    trained = 0
    seeds = settings.initial_seeds
    active = chosen
    with _scheduler(scheduler, workers) as address:
        while True:
            spec = _round_spec(sweep_spec, active, seeds, horizon)
            result = sweep(spec, out, scheduler=address, progress=progress)
            if result.failures:
                configs, error = result.failures[0]
                raise PssimError(
                    f"the training of ({spec.describe(configs[0])}) failed: {error}; rerun "
                    "the advice to retry it (the other runs are stored)"
                )
            rounds.append((tuple(c.label for c in active), seeds))
            trained += result.units_ran
            results = _scores(out, sweep_spec, chosen, screens, settings, horizon)
            order, contenders = rank(results, settings)
            leader = order[0]
            pool = [leader.candidate, *(c.candidate for c in contenders)]
            if not contenders or seeds >= settings.max_seeds:
                break
            seeds = min(2 * seeds, settings.max_seeds)
            active = sorted(pool, key=lambda c: c.index)
    if leader.mean is None or leader.status != "reached":
        raise PssimError(_none_reached(order, settings, horizon), param="target")
    unsimulated = [
        CandidateResult.screened(c, screens[c.index], settings)
        for c in sorted(
            (c for c in candidates if c not in chosen),
            key=lambda c: screens[c.index].predicted,
        )
    ]
    notes = tuple(result.notes)
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


def _scores(out, sweep_spec, chosen, screens, settings, horizon) -> list[CandidateResult]:
    """Every simulated candidate's scores from the rows stored in ``out``."""
    from simulator.studies._sweep_store import SweepStore

    spec = _round_spec(sweep_spec, chosen, settings.max_seeds, horizon)
    frame = SweepStore(out).read(spec)
    keys = {config_key(c): cand for c, cand in zip(spec.configurations(), chosen, strict=True)}
    return results_of(frame, keys, screens, settings)


def _none_reached(order, settings: AdviseSettings, horizon: float) -> str:
    """The one line of an advice that has no candidate to recommend."""
    over = [r for r in order if r.status == "over learner-hours"]
    if over:
        return (
            f"no candidate reaches {settings.target_text()} within learner-hours "
            f"{settings.learner_hours:g} (the cheapest that reaches it, {over[0].candidate.label}, "
            f"uses {min(r.learner_hours for r in over):.3g}); raise learner-hours"
        )
    best = min(order, key=lambda r: r.final_value if r.final_value is not None else math.inf)
    final = "" if best.final_value is None else f" (the best ends at {best.final_value:.4g})"
    return (
        f"no candidate reaches and stays at {settings.target_text()} within the horizon "
        f"{horizon:g}{final}; raise time-budget or the target"
    )
