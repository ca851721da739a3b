"""pssim simulator: SimPy timing engine, traces, runtime theory, JAX replay, results, plots.

Timing-only names import without JAX; the training names (``replay``, rules, ``History``,
``optimal_loss``) and the plotting helpers are loaded on first use.
"""

from __future__ import annotations

import importlib

from simulator.config import VARIANTS, resolve_variant
from simulator.engine import simulate
from simulator.runtime_study import RuntimeSummary, runtime_study
from simulator.theory import (
    Prediction,
    async_staleness,
    batch_speedup,
    expected_runtime,
    predictions,
    sync_async_speedup,
)
from simulator.trace import Trace, load_trace

_LAZY = {
    "replay": "simulator.replay",
    "ReplayResult": "simulator.replay",
    "compile_count": "simulator.replay",
    "replay_keys": "simulator.replay",
    "minibatch_indices": "simulator.replay",
    "RULE_NAMES": "simulator.rules",
    "ServerRule": "simulator.rules",
    "FixedRate": "simulator.rules",
    "CompensatedRate": "simulator.rules",
    "DampedRate": "simulator.rules",
    "OptaxRule": "simulator.rules",
    "make_rule": "simulator.rules",
    "optimal_loss": "simulator.optimum",
    "History": "simulator.history",
    "compare": "simulator.comparison",
    "Comparison": "simulator.comparison",
    "error_figure": "simulator.plots_training",
    "staleness_figure": "simulator.plots_training",
    "save_figure": "simulator.plots",
    "timeline_figure": "simulator.plots",
    "speedup_figure": "simulator.plots_runtime",
    "runtime_vs_k_figure": "simulator.plots_runtime",
}

__all__ = [
    "VARIANTS",
    "Prediction",
    "RuntimeSummary",
    "Trace",
    "async_staleness",
    "batch_speedup",
    "expected_runtime",
    "load_trace",
    "predictions",
    "resolve_variant",
    "runtime_study",
    "simulate",
    "sync_async_speedup",
    *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'simulator' has no attribute {name!r}")
