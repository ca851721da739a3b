"""Studies: replicated runs put beside the theory (runtime study, training comparisons)."""

from simulator.studies.comparison import DEFAULT_VARIANTS, Comparison, VariantRun, compare
from simulator.studies.runtime import RuntimeSummary, runtime_study

__all__ = [
    "DEFAULT_VARIANTS",
    "Comparison",
    "RuntimeSummary",
    "VariantRun",
    "compare",
    "runtime_study",
]
