"""The advisor's scores: each simulated candidate's time to target with its interval, and
the ranking that decides who gets more seeds.

A candidate's status: ``reached`` (every seed reached the target and stayed), ``partly``
(some seeds never did, or diverged), ``never``, ``diverged`` (every seed), ``over
learner-hours`` (reached, beyond the ``[advise]`` cap), ``not simulated`` (screened out by
theory). Candidates rank by status in that order, then by mean time to target (then by
the error they end at, where they have no time). The
*contenders* are the ``reached`` candidates whose 95% interval overlaps the leader's.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from simulator.errors import PssimError
from simulator.results.targets import time_to_target_table
from simulator.studies._advise_screen import Screen
from simulator.studies._advise_spec import AdviseSettings, Candidate

__all__ = ["STATUSES", "CandidateResult", "rank", "results_of"]

#: Statuses in ranking order.
STATUSES = ("reached", "partly", "over learner-hours", "never", "diverged", "not simulated")
#: Seconds per hour: learner-hours read simulated time as seconds.
_HOUR = 3600.0


@dataclasses.dataclass(frozen=True)
class CandidateResult:
    """One candidate's screen and simulation.

    Attributes:
        candidate: the candidate.
        screen: its theory screen.
        status: see the module docstring.
        seeds, reached_seeds, never_seeds, diverged_seeds: seed counts (0 when not
            simulated).
        mean: mean simulated time to target over the seeds that reached it (None: none).
        ci95: bootstrap 95% interval of that mean (None with fewer than 2 such seeds).
        learner_hours: P x mean / 3600 (simulated time read as seconds), or None.
        final_value: the seed-mean error (or accuracy) at the horizon, or None.
        level, level_on: the target level and what it is a level of (``error``, ``loss``,
            ``accuracy``).
    """

    candidate: Candidate
    screen: Screen
    status: str
    seeds: int = 0
    reached_seeds: int = 0
    never_seeds: int = 0
    diverged_seeds: int = 0
    mean: float | None = None
    ci95: tuple[float, float] | None = None
    learner_hours: float | None = None
    final_value: float | None = None
    level: float | None = None
    level_on: str | None = None

    @classmethod
    def screened(cls, candidate: Candidate, screen: Screen) -> CandidateResult:
        """A candidate theory screened out (never simulated)."""
        return cls(candidate, screen, "not simulated")

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.candidate.label,
            "settings": self.candidate.settings(),
            "status": self.status,
            "time_to_target": {
                "mean": self.mean,
                "ci95": None if self.ci95 is None else list(self.ci95),
            },
            "seeds": self.seeds,
            "reached_seeds": self.reached_seeds,
            "never_seeds": self.never_seeds,
            "diverged_seeds": self.diverged_seeds,
            "learner_hours": self.learner_hours,
            "final_value": self.final_value,
            "predicted_time": self.screen.predicted,
            "theory": self.screen.reason,
        }


def _number(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _final_values(frame: pd.DataFrame, on: str) -> dict[int, float | None]:
    """Per candidate, the mean over its non-diverged seeds of the last evaluated value."""
    if on not in frame.columns:
        return {}
    kept = frame[~frame.groupby(["candidate", "seed"])["diverged"].transform("any")]
    last = kept.sort_values("update").groupby(["candidate", "seed"])[on].last()
    return {int(c): _number(v) for c, v in last.groupby(level="candidate").mean().items()}


def _status(row) -> str:
    seeds, reached = int(row["seeds"]), int(row["reached_seeds"])
    if int(row["diverged_seeds"]) == seeds:
        return "diverged"
    if reached == seeds:
        return "reached"
    return "never" if reached == 0 else "partly"


def results_of(
    frame: pd.DataFrame,
    keys: dict[str, Candidate],
    screens: Sequence[Screen],
    settings: AdviseSettings,
) -> list[CandidateResult]:
    """Each simulated candidate's scores from the stored rows.

    Args:
        frame: training rows (one per configuration, seed and evaluation point) whose
            ``config`` column holds the keys of ``keys``.
        keys: configuration key -> candidate.
        screens: the theory screen of every candidate, by candidate index.
        settings: the ``[advise]`` table (target, window).
    """
    frame = frame[frame["config"].isin(keys)].copy()
    if frame.empty:
        raise PssimError("the store holds no rows of the candidates: rerun the advice")
    frame["candidate"] = frame["config"].map(lambda k: keys[k].index)
    table = time_to_target_table(
        frame, "candidate", window=settings.window, **settings.target_arguments()
    )
    finals = _final_values(frame, str(table["target_on"].iloc[0]))
    by_index = {c.index: c for c in keys.values()}
    out = []
    for _, row in table.iterrows():
        index = int(row["candidate"])
        candidate = by_index[index]
        mean = _number(row["time_to_target"])
        low, high = _number(row["ci95_low"]), _number(row["ci95_high"])
        out.append(
            CandidateResult(
                candidate=candidate,
                screen=screens[index],
                status=_status(row),
                seeds=int(row["seeds"]),
                reached_seeds=int(row["reached_seeds"]),
                never_seeds=int(row["never_seeds"]),
                diverged_seeds=int(row["diverged_seeds"]),
                mean=mean,
                ci95=None if low is None or high is None else (low, high),
                learner_hours=None if mean is None else candidate.spec.num_learners * mean / _HOUR,
                final_value=finals.get(index),
                level=_number(row["target"]),
                level_on=str(row["target_on"]),
            )
        )
    return out


def _overlaps(leader: CandidateResult, other: CandidateResult) -> bool:
    """Whether ``other`` cannot be told from ``leader``: an interval missing, or
    ``other``'s starting at or below the end of the leader's."""
    if leader.ci95 is None or other.ci95 is None:
        return True
    return other.ci95[0] <= leader.ci95[1]


def rank(
    results: Sequence[CandidateResult], settings: AdviseSettings
) -> tuple[list[CandidateResult], list[CandidateResult]]:
    """The candidates in ranking order, and the leader's contenders.

    A candidate that reaches the target (on every seed or some) beyond
    ``learner-hours`` becomes ``over learner-hours``.
    """
    cap = settings.learner_hours
    capped = [
        dataclasses.replace(r, status="over learner-hours")
        if r.status in ("reached", "partly")
        and cap is not None
        and r.learner_hours is not None
        and r.learner_hours > cap
        else r
        for r in results
    ]
    order = sorted(
        capped,
        key=lambda r: (
            STATUSES.index(r.status),
            -r.reached_seeds / max(r.seeds, 1),
            math.inf if r.mean is None else r.mean,
            math.inf if r.final_value is None else r.final_value,  # the closest of the rest
            r.candidate.index,
        ),
    )
    leader = order[0]
    if leader.status != "reached":
        return order, []
    contenders = [r for r in order[1:] if r.status == "reached" and _overlaps(leader, r)]
    return order, contenders
