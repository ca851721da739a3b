"""The advisor's figure: time to target per candidate with its interval, and time to
target against learner-hours with the Pareto front."""

from __future__ import annotations

import textwrap
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from simulator.errors import PssimTypeError
from simulator.plots._style import TIME_LABEL
from simulator.plots._titles import FIGURE_WIDTHS, TITLE_SIZE, figure_title, spec_settings

__all__ = ["advice_figure"]

#: Figure width (inches): the title wraps to fit it.
WIDTH = FIGURE_WIDTHS["advice"]


def _pareto(points: list[tuple[float, float, int]]) -> list[tuple[float, float, int]]:
    """The points no other point beats in both coordinates (x, then y, both smaller is
    better), sorted by x."""
    front, best_y = [], float("inf")
    for x, y, i in sorted(points):
        if y < best_y:
            front.append((x, y, i))
            best_y = y
    return front


def advice_figure(advice: Any) -> Figure:
    """Left: every simulated candidate's mean time to target with its 95% interval (best
    at the top; candidates that never reach it marked at the right edge). Right: time to
    target against learner-hours, the Pareto front joined and the recommendation marked.

    Args:
        advice: an :class:`~simulator.studies.advise.Advice`.

    Returns:
        A matplotlib Figure (save it with :func:`~simulator.plots.timeline.save_figure`).
    """
    if not all(hasattr(advice, a) for a in ("candidates", "horizon", "settings")):
        raise PssimTypeError(
            f"`advice` must be an Advice (simulator.advise); got {type(advice).__name__}",
            param="advice",
        )
    shown = [c for c in advice.candidates if c.status != "not simulated"]
    height = max(3.5, 0.38 * len(shown) + 1.8)
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(WIDTH, height), gridspec_kw={"width_ratios": [1.35, 1]}
    )
    best = advice.recommendation
    tied = set(advice.tied_with)
    edge = _right_edge(shown, advice.horizon)
    for row, result in enumerate(shown):
        y = len(shown) - 1 - row
        if result.mean is None:
            left.plot([edge], [y], marker=">", color="0.5", ls="none")
            final = "" if result.final_value is None else f", ends at {result.final_value:.3g}"
            left.annotate(
                f"{result.status}{final}  ",
                (edge, y),
                va="center",
                ha="right",
                fontsize=7,
                color="0.4",
            )
            continue
        color = _color(result, best, tied)
        high = result.mean
        if result.ci95 is not None:
            low, high = result.ci95
            left.plot([low, high], [y, y], color=color, lw=3, alpha=0.5, solid_capstyle="butt")
        left.plot([result.mean], [y], marker="o", color=color, ls="none")
        note = f"  {result.reached_seeds}/{result.seeds} seeds"
        if result.status != "reached":
            note += f", {result.status}"
        left.annotate(note, (high, y), va="center", fontsize=7, color="0.3")
    left.set_yticks(
        range(len(shown)), [textwrap.shorten(c.candidate.label, 48) for c in shown][::-1]
    )
    left.tick_params(axis="y", labelsize=8)
    if edge == advice.horizon:
        left.axvline(advice.horizon, color="0.6", ls=":", lw=1)
    left.set_xlim(0, edge * 1.04)
    left.set_xlabel(f"time to target, {TIME_LABEL}")
    left.set_title("mean over seeds, bar: bootstrap 95% interval", fontsize=9)
    handles = [
        Line2D([], [], color=c, marker="o", ls="none", label=t)
        for c, t in (("C3", "recommended"), ("C1", "tied with it"), ("C0", "other"))
        if t != "tied with it" or tied
    ]
    screened = len(advice.candidates) - len(shown)
    if screened:
        handles.append(Line2D([], [], ls="none", label=f"{screened} more screened out by theory"))
    left.legend(handles=handles, fontsize=7, loc="upper right")
    points = [
        (r.learner_hours, r.mean, i)
        for i, r in enumerate(shown)
        if r.mean is not None and r.learner_hours is not None and r.status == "reached"
    ]
    for x, y, i in points:
        right.plot([x], [y], marker="o", color=_color(shown[i], best, tied), ls="none")
    front = _pareto(points)
    if front:
        right.plot(
            [p[0] for p in front],
            [p[1] for p in front],
            color="0.3",
            lw=1,
            marker="o",
            ms=11,
            mfc="none",
            label="Pareto front (ringed)",
        )
        for x, y, i in front:
            right.annotate(
                textwrap.shorten(shown[i].candidate.label, 48),
                (x, y),
                textcoords="offset points",
                xytext=(4, 4),
                fontsize=7,
            )
        right.legend(fontsize=8, loc="best")
    right.set_xlabel("learner-hours (P x time to target, time read as seconds)")
    right.set_ylabel("time to target")
    right.set_title("candidates that reach the target on every seed", fontsize=9)
    s = advice.settings
    sure = "separated" if advice.certainty == "separated" else "tied"
    head = [
        f"Which configuration reaches {s.target_text()} first: {best.candidate.label} ({sure})",
        f"each candidate trained for {advice.horizon:.4g} time units on:",
    ]
    settings = spec_settings(c.candidate.spec for c in advice.candidates)
    title = figure_title("advice", head, settings, skip=("seeds", "time_budget", "updates"))
    fig.suptitle(title, fontsize=TITLE_SIZE)
    fig.tight_layout()
    return fig


def _right_edge(shown, horizon: float) -> float:
    """The left panel's last time: the horizon, or a little past the slowest interval
    where every time is far below it (candidates that never reach are drawn there)."""
    ends = [r.ci95[1] if r.ci95 else r.mean for r in shown if r.mean is not None]
    return min(horizon, 1.3 * max(ends)) if ends else horizon


def _color(result: Any, best: Any, tied: set[str]) -> str:
    if result is best:
        return "C3"
    return "C1" if result.candidate.label in tied else "C0"
