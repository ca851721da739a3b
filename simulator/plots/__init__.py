"""Figures drawn from traces and result tables only: a plot never simulates or trains."""

from simulator.plots.fit import fit_figure
from simulator.plots.runtime import runtime_vs_k_figure, speedup_figure
from simulator.plots.sweep import curves_figure, target_heatmap_figure
from simulator.plots.timeline import save_figure, timeline_figure
from simulator.plots.training import error_figure, staleness_figure

__all__ = [
    "curves_figure",
    "error_figure",
    "fit_figure",
    "runtime_vs_k_figure",
    "save_figure",
    "speedup_figure",
    "staleness_figure",
    "target_heatmap_figure",
    "timeline_figure",
]
