"""Studies: replicated runs put beside the theory (runtime study, training comparisons),
and models fitted to a measured cluster (``fit_cluster``)."""

from simulator.studies.comparison import DEFAULT_VARIANTS, Comparison, VariantRun, compare
from simulator.studies.fit import ClusterFit, FitCandidate, fit_cluster
from simulator.studies.runtime import RuntimeSummary, runtime_study

__all__ = [
    "DEFAULT_VARIANTS",
    "ClusterFit",
    "Comparison",
    "FitCandidate",
    "RuntimeSummary",
    "VariantRun",
    "compare",
    "fit_cluster",
    "runtime_study",
]
