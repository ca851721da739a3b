"""pssim's simulator: timing (SimPy) to a Trace, JAX replay, theory, studies and figures.

The public API is one table, :data:`_PUBLIC` (name -> module). Every name loads on first
use, so ``import simulator`` is cheap and timing-only work never pays for JAX start-up. No
public name equals a submodule's name: ``simulator.replay`` is always the function.

Example:
    >>> from simulator import ExperimentSpec, runtime_study
    >>> spec = ExperimentSpec(variant="async", num_learners=4, updates=200, seeds=3)
    >>> runtime_study(spec).theory.relation
    'exact'
"""

from __future__ import annotations

import importlib

#: Every public name and the module that defines it.
_PUBLIC = {
    # the experiment spec and errors
    "ExperimentSpec": "simulator.spec",
    "load_spec": "simulator.spec",
    "PssimError": "simulator.errors",
    "PssimTypeError": "simulator.errors",
    "SpecError": "simulator.errors",
    "USER_ERRORS": "simulator.errors",
    "VARIANTS": "simulator._checks",
    "resolve_variant": "simulator._checks",
    # measured clusters
    "read_durations": "simulator.measured",
    "MeasuredDurations": "simulator.measured",
    # timing and traces
    "simulate": "simulator.timing.engine",
    "budget_updates": "simulator.timing._budget",
    "replay_wraps": "simulator.timing.wraps",
    "ReplayWraps": "simulator.timing.wraps",
    "tasks_per_learner": "simulator.timing.wraps",
    "Trace": "simulator.trace",
    "LOSS_REASONS": "simulator.trace",
    "TRANSFER_KINDS": "simulator.trace",
    "load_trace": "simulator.trace",
    # runtime theory
    "Prediction": "simulator.theory.runtime",
    "Cluster": "simulator.theory.cluster",
    "server_link_rate": "simulator.theory.links",
    "rennala_batch_bounds": "simulator.theory.methods",
    "ringmaster_upper_bound": "simulator.theory.methods",
    "async_staleness": "simulator.theory.runtime",
    "batch_speedup": "simulator.theory.runtime",
    "expected_runtime": "simulator.theory.runtime",
    "independent_order_statistic_mean": "simulator.theory.heterogeneous",
    "predictions": "simulator.theory.runtime",
    "sync_async_speedup": "simulator.theory.runtime",
    # error and scaling theory (the rest in simulator.theory)
    "Bound": "simulator.theory._bound",
    "ksync_error_bound": "simulator.theory.error_bounds",
    "kasync_error_bound": "simulator.theory.error_bounds",
    "compensated_rate_bound": "simulator.theory.error_bounds",
    "nonconvex_bound": "simulator.theory.error_bounds",
    "step_size_limit": "simulator.theory.error_bounds",
    "error_runtime_curve": "simulator.theory.error_runtime",
    "stale_can_win": "simulator.theory.error_runtime",
    "fit_inverse_law": "simulator.theory.minibatch_size",
    "optimal_batch_size": "simulator.theory.minibatch_size",
    "scaling_curve": "simulator.theory.minibatch_size",
    "optimal_k": "simulator.theory.kstep_averaging",
    "kavg_bound": "simulator.theory.kstep_averaging",
    "sgd_bound": "simulator.theory.inefficiency",
    "asgd_bound": "simulator.theory.inefficiency",
    # training (JAX)
    "replay": "simulator.training.replayer",
    "ReplayResult": "simulator.training.replayer",
    "compile_count": "simulator.training.replayer",
    "replay_keys": "simulator.training.replayer",
    "minibatch_indices": "simulator.training.replayer",
    "Diagnostics": "simulator.training.replayer",
    "DIAGNOSTIC_NAMES": "simulator.training.replayer",
    "RULE_NAMES": "simulator.training.rules",
    "ServerRule": "simulator.training.rules",
    "FixedRate": "simulator.training.rules",
    "CompensatedRate": "simulator.training.rules",
    "DampedRate": "simulator.training.rules",
    "DelayCompensatedRate": "simulator.training._rules_stale",
    "StalenessWeightedRate": "simulator.training._rules_stale",
    "OptaxRule": "simulator.training.rules",
    "make_rule": "simulator.training._rule_factory",
    "optimal_loss": "simulator.training.optimum",
    # results
    "History": "simulator.results.history",
    "mean_ci95": "simulator.results.stats",
    # studies
    "RuntimeSummary": "simulator.studies.runtime",
    "runtime_study": "simulator.studies.runtime",
    "compare": "simulator.studies.comparison",
    "Comparison": "simulator.studies.comparison",
    "VariantRun": "simulator.studies.comparison",
    "cosimulate": "simulator.studies.adaptive",
    "speedup_table": "simulator.studies.runtime_tables",
    "runtime_vs_k_table": "simulator.studies.runtime_tables",
    "sweep": "simulator.studies.sweeps",
    "SweepSpec": "simulator.studies.sweeps",
    "SweepResult": "simulator.studies.sweeps",
    "load_sweep": "simulator.studies.sweeps",
    "fit_cluster": "simulator.studies.fit",
    "ClusterFit": "simulator.studies.fit",
    "FitCandidate": "simulator.studies.fit",
    "advise": "simulator.studies.advise",
    "Advice": "simulator.studies.advise",
    # figures
    "error_figure": "simulator.plots.training",
    "staleness_figure": "simulator.plots.training",
    "save_figure": "simulator.plots.timeline",
    "timeline_figure": "simulator.plots.timeline",
    "speedup_figure": "simulator.plots.runtime",
    "runtime_vs_k_figure": "simulator.plots.runtime",
    "curves_figure": "simulator.plots.sweep",
    "target_heatmap_figure": "simulator.plots.sweep",
    "fit_figure": "simulator.plots.fit",
    "advice_figure": "simulator.plots.advise",
    "time_to_target_table": "simulator.results.targets",
    "seed_times_to_target": "simulator.results.targets",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'simulator' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(__all__) | {"__version__"})


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pssim")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


__version__ = _version()
