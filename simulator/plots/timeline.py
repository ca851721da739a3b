"""Timeline (Gantt) of a trace, like figures 3-4 of Dutta et al. 2018, and figure saving.

Runs with faults or a network also show the learners' down periods, their transfers, the
work lost by reason and the rounds a deadline cut short; each gets a legend entry only
where the figure shows one.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from simulator._checks import check_count
from simulator._tempfiles import remove_stale, temp_path
from simulator.errors import PssimError, PssimTypeError, shown
from simulator.plots._style import TIME_LABEL
from simulator.plots._titles import FIGURE_WIDTHS, TITLE_SIZE, figure_title, spec_settings
from simulator.spec import ExperimentSpec
from simulator.trace import Trace

__all__ = ["FORMATS", "MAX_LEARNERS", "check_png_path", "save_figure", "timeline_figure"]

BUSY, CANCELLED, IDLE, UPDATE = "#4c72b0", "#dd8452", "#e8e8e8", "#c44e52"
#: Down periods: grey, cross-hatched.
DOWN = {"facecolor": "0.72", "edgecolor": "0.35", "hatch": "xx", "linewidth": 0.0}
#: Work lost for a reason other than the server's cancellation: (colour, hatch).
LOST = {
    "failure": ("#7b1010", "xx"),
    "deadline": ("#f2b01e", "///"),
    "discarded": ("#8064a2", "\\\\"),
}
#: Transfers, drawn as thin bars across the middle of the learner's row.
TRANSFER = {"push": "#2e9e6a", "pull": "#3fb8d9", "all-reduce": "#8c6d31"}
#: Height of a transfer bar (a computation's bar is 0.6).
TRANSFER_HEIGHT = 0.22
#: Updates of a round that a deadline cut short: dashed, darker and thicker.
CUT = {"color": "#8b0000", "lw": 1.5, "linestyle": (0, (4, 2))}
#: Formats :func:`save_figure` can write.
FORMATS = ("png", "pdf", "svg")
#: Most learners a timeline draws; the others are counted in the title.
MAX_LEARNERS = 40


def check_png_path(path: str | os.PathLike) -> Path:
    """Check that ``path`` names a .png file in an existing folder; return it as a Path."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise PssimError(f"`plot` file must end in .png; got {str(path)!r}", param="plot")
    if not path.parent.is_dir():
        raise PssimError(f"`plot` folder must exist; got {str(path.parent)!r}", param="plot")
    return path


def _check_formats(formats) -> list[str]:
    """The formats to write, PNG first; refuses anything but png, pdf and svg."""
    if formats is None:
        return ["png"]
    if isinstance(formats, str):
        formats = [formats]
    try:
        wanted = [str(f).lower().lstrip(".") for f in formats]
    except TypeError:
        raise PssimTypeError(
            f"`formats` must be a sequence of format names; got {formats!r}", param="formats"
        ) from None
    bad = [f for f in wanted if f not in FORMATS]
    if bad:
        raise PssimError(
            f"`formats` must be among {', '.join(FORMATS)}; got {bad[0]!r}", param="formats"
        )
    return ["png", *(f for f in FORMATS[1:] if f in wanted)]


def save_figure(fig: Figure, path: str | os.PathLike, *, formats=None) -> Path:
    """Write ``fig`` as PNG, and optionally PDF and SVG beside it, atomically; close it.

    Every file is first written under a temporary name and renamed only once all of them
    are written, so a failure leaves no partial file and no mixture of old and new ones.

    Args:
        fig: the figure (closed afterwards, also on failure).
        path: the PNG file; its folder must exist. The other formats get the same stem:
            ``fig.png``, ``fig.pdf``, ``fig.svg``.
        formats: ``None`` for the PNG only, or some of ``"png"``, ``"pdf"``, ``"svg"``
            (the PNG is always written).

    Returns:
        The path of the PNG.

    Example:
        >>> save_figure(fig, "out/timeline.png", formats=("png", "pdf", "svg"))  # doctest: +SKIP
        PosixPath('out/timeline.png')
    """
    try:
        path = check_png_path(path)
        targets = [
            path if fmt == "png" else path.with_suffix(f".{fmt}") for fmt in _check_formats(formats)
        ]  # the PNG keeps the name given (``UP.PNG`` stays ``UP.PNG``)
        remove_stale(path.parent)
        tmps = [temp_path(t, keep_suffix=True) for t in targets]
        try:
            for tmp in tmps:
                fig.savefig(tmp, dpi=130, bbox_inches="tight")
            for tmp, target in zip(tmps, targets, strict=True):
                tmp.replace(target)
        finally:
            for tmp in tmps:
                tmp.unlink(missing_ok=True)
    finally:
        plt.close(fig)
    return path


#: Spec fields a timeline's title leaves out: the head says them, or timing ignores them.
_NOT_IN_TITLE = (
    "variant",
    "num_learners",
    "k",
    "updates",
    "time_budget",
    "seeds",
    "batch_size",
    "rule",
    "lr",
    "model",
)


def timeline_figure(
    trace: Trace,
    *,
    max_updates: int = 12,
    max_learners: int = MAX_LEARNERS,
    ax=None,
    spec: ExperimentSpec | None = None,
) -> Figure:
    """Gantt chart of the first ``max_updates`` updates of a trace (figures 3-4).

    Args:
        trace: the run to draw.
        max_updates: draw up to the time of this update (>= 1).
        max_learners: draw at most this many learners (the first ones); the title says how
            many more the trace has.
        ax: draw into this matplotlib Axes instead of a new figure.
        spec: the spec that made the trace; with it the title says what was simulated,
            in words (the law or the learners' own laws, speeds or measured durations,
            latencies).

    Returns:
        The figure, 10 inches wide: learners on the y axis; computations (busy, labelled
        with the version read), cancelled computations (hatched) and idle gaps; vertical
        lines at update instants. Where the trace has them: down periods (grey,
        cross-hatched), work lost to a failure, a deadline or discarded (hatched, one colour
        per reason), transfers (thin bars: push, pull, all-reduce) and, dashed, the updates
        of rounds a deadline cut short. The x axis is simulated time (units of the
        compute-time law), linear: the bars start at 0.

    Example:
        >>> trace = simulate("k-sync", num_learners=3, k=2, law="exp:1", updates=8)
        >>> fig = timeline_figure(trace)  # doctest: +SKIP
    """
    if not isinstance(trace, Trace):
        raise PssimTypeError(f"`trace` must be a Trace; got {shown(trace)}", param="trace")
    max_updates = check_count("max_updates", max_updates)
    max_learners = check_count("max_learners", max_learners)
    if spec is not None and not isinstance(spec, ExperimentSpec):
        raise PssimTypeError(
            f"`spec` must be an ExperimentSpec or None; got {shown(spec)}", param="spec"
        )
    u = min(max_updates, trace.num_updates)
    until = float(trace.update_time[u - 1]) if u else 0.0
    p = min(trace.num_learners, max_learners)
    hidden = trace.num_learners - p
    if ax is None:
        rows_height = 0.45 * p if p <= 16 else 7.2 + 0.22 * (p - 16)  # inches
        fig, ax = plt.subplots(figsize=(FIGURE_WIDTHS["timeline"], rows_height + 1.8))
    else:
        fig = ax.figure
    shown_extra: set[str] = set()  # legend keys of the fault and network artists drawn
    for lrn in range(p):
        for a, b in trace.idle_intervals(lrn, until=until):
            ax.barh(lrn, b - a, left=a, color=IDLE, height=0.6, edgecolor="none")
        if _spans_bar(ax, lrn, trace.down_intervals(lrn), until, gid="down", **DOWN):
            shown_extra.add("down")
        # every computation that started inside the window, clipped at its end
        rows = trace.mask & (trace.learner == lrn) & (trace.start < until)
        for j, s in zip(*rows.nonzero(), strict=True):
            a, b = trace.start[j, s], min(trace.finish[j, s], until)
            ax.barh(lrn, b - a, left=a, color=BUSY, height=0.6, edgecolor="white")
            if p <= 16 and u <= 20 and b - a > 0.03 * until:
                ax.text(
                    (a + b) / 2,
                    lrn,
                    f"w{trace.version[j, s]}",
                    ha="center",
                    va="center",
                    color="white",
                    fontsize=7,
                )
        for a in trace.inflight_start[(trace.inflight_learner == lrn)]:
            if a < until:
                ax.barh(lrn, until - a, left=a, color=BUSY, height=0.6, edgecolor="white")
        for a, b in trace.lost_intervals(lrn, "cancelled"):
            if a < until:
                ax.barh(
                    lrn,
                    min(b, until) - a,
                    left=a,
                    color=CANCELLED,
                    height=0.6,
                    hatch="///",
                    edgecolor="white",
                    linewidth=1.2,  # back-to-back cancelled rounds stay apart
                    alpha=0.8,
                )
        for reason, (color, hatch) in LOST.items():
            iv = trace.lost_intervals(lrn, reason)
            style = {"facecolor": color, "edgecolor": "white", "hatch": hatch, "linewidth": 1.2}
            if _spans_bar(ax, lrn, iv, until, gid=f"lost: {reason}", **style):
                shown_extra.add(f"lost: {reason}")
        for kind, color in TRANSFER.items():
            iv = trace.transfer_intervals(lrn, kind)
            style = {"facecolor": color, "edgecolor": "none", "zorder": 2.5}
            if _spans_bar(ax, lrn, iv, until, height=TRANSFER_HEIGHT, gid=kind, **style):
                shown_extra.add(kind)
    cut = np.isin(np.arange(u), trace.cut_updates())
    for t, short in zip(trace.update_time[:u], cut, strict=True):
        if short:
            ax.axvline(t, **CUT, gid="deadline cut")
            shown_extra.add("deadline cut")
        else:
            ax.axvline(t, color=UPDATE, lw=0.8, alpha=0.7)
    ax.set_yticks(range(p), [f"learner {i}" for i in range(p)], fontsize=10 if p <= 16 else 8)
    ax.set_ylim(p - 0.5, -0.5)
    ax.set_xlim(0, until * 1.01 if until > 0 else 1)
    ax.set_xlabel(TIME_LABEL)
    k_label = "local steps" if trace.variant == "k-avg" else "K"
    k_text = f"{k_label}={trace.k}"
    if trace.update_k.size:  # a policy changed K: the range of the updates shown
        shown_k = trace.update_k[:u]
        k_text = f"K={shown_k.min()} to {shown_k.max()} (a K policy)"
    head = [
        f"{trace.variant}, P={trace.num_learners}, {k_text}: first {u} updates (seed {trace.seed})"
    ]
    if hidden:
        head.append(f"learners 0-{p - 1} shown; {hidden} of {trace.num_learners} not shown")
    settings = spec_settings([spec]) if spec is not None else {}
    ax.set_title(figure_title("timeline", head, settings, skip=_NOT_IN_TITLE), fontsize=TITLE_SIZE)
    ax.legend(
        handles=[
            Patch(color=BUSY, label="computing"),
            Patch(facecolor=CANCELLED, hatch="///", label="cancelled"),
            Patch(color=IDLE, label="idle"),
            Line2D([], [], color=UPDATE, lw=1.2, label="server update"),
            *_extra_handles(shown_extra, trace.variant),
        ],
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
    )
    fig.tight_layout()
    return fig


def _spans_bar(ax, row: int, intervals, until: float, *, height: float = 0.6, **style) -> bool:
    """Draw the [start, stop) ``intervals`` that start before ``until`` (clipped there) as one
    collection on ``row``; True if there was any."""
    spans = [(a, min(b, until) - a) for a, b in intervals if a < until]
    if spans:
        ax.broken_barh(spans, (row - height / 2, height), **style)
    return bool(spans)


def _extra_handles(shown: set[str], variant: str) -> list:
    """Legend entries of the fault and network artists drawn, in a fixed order."""
    quota = "P" if variant == "k-avg" else "K"
    handles = {"down": Patch(**DOWN, label="down")}
    for reason, (color, hatch) in LOST.items():
        key = f"lost: {reason}"
        handles[key] = Patch(facecolor=color, edgecolor="white", hatch=hatch, label=key)
    for kind, color in TRANSFER.items():
        handles[kind] = Patch(color=color, label=f"transfer: {kind}")
    handles["deadline cut"] = Line2D([], [], **CUT, label=f"update cut by deadline (< {quota})")
    return [h for key, h in handles.items() if key in shown]
