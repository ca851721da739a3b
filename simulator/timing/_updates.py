"""A run of J updates on the engine asked for: the fast path where it applies and can
reproduce the run, else the SimPy reference engine (both give the same trace)."""

from __future__ import annotations

from simulator.errors import PssimError
from simulator.spec import ExperimentSpec
from simulator.timing._k_policy import KPolicy
from simulator.timing._memory import check_timing_memory
from simulator.timing._simpy_engine import simulate_simpy
from simulator.timing.fast import NeedsReference, fast_applies, simulate_fast
from simulator.trace import Trace

__all__ = ["ENGINES", "check_engine", "simulate_updates"]

#: ``auto``: the fast path where it applies, else SimPy; ``simpy``: always the reference
#: engine; ``fast``: the fast path or an error saying why it does not apply.
ENGINES = ("auto", "simpy", "fast")


def check_engine(engine: object) -> None:
    """Raises PssimError unless ``engine`` is one of :data:`ENGINES`."""
    if engine not in ENGINES:
        raise PssimError(
            f"`engine` must be one of {', '.join(ENGINES)}; got {engine!r}", param="engine"
        )


def simulate_updates(
    spec: ExperimentSpec, seed: int, *, engine: str = "auto", policy: KPolicy | None = None
) -> Trace:
    """The trace of ``spec.updates`` updates of one seed (the memory of the fast path is
    checked by the caller; the reference engine's own cost is checked here when the fast
    path hands the run over). A K ``policy`` runs on the SimPy engine."""
    check_engine(engine)
    if policy is not None:
        if engine == "fast":
            raise PssimError(
                "`engine` 'fast' runs K fixed; a K policy runs on engine 'auto' or 'simpy'",
                param="engine",
            )
        return simulate_simpy(spec, seed, policy)
    if engine != "simpy":
        if fast_applies(spec):
            try:
                return simulate_fast(spec, seed)
            except NeedsReference as why:
                if engine == "fast":
                    raise PssimError(
                        f"`engine` 'fast' cannot reproduce this run exactly: {why}; "
                        "use engine='auto' or 'simpy'",
                        param="engine",
                    ) from None
                check_timing_memory(spec, engine="simpy")  # the reference engine's own cost
        elif engine == "fast":
            raise PssimError(
                "`engine` 'fast' applies only without latencies, service_time, failures, "
                "deadlines, slowdowns, bandwidth, all-reduce, Rennala, Ringmaster and a K "
                "policy; use engine='auto' or 'simpy'",
                param="engine",
            )
    return simulate_simpy(spec, seed)
