"""Peak memory of one timing run in a fresh interpreter, for the memory-estimate tests.

The growth is read from the process's own peak (``VmHWM`` in ``/proc/self/status``):
``ru_maxrss`` starts at the RSS of the process that started the child (Linux keeps it
across exec), which hides the growth once pytest itself has grown.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

#: Warms every engine on a tiny run (so its imports and caches are not counted), builds
#: the spec, then runs ``sys.argv[2]`` ("study" for a runtime study of its seeds, else an
#: engine for one seed); prints the peak growth and the trace's size in bytes.
PROBE = """
import json, sys
from simulator import ExperimentSpec
from simulator.studies.runtime import runtime_study
from simulator.timing.engine import simulate_spec

def peak():
    with open("/proc/self/status") as f:
        line = next(x for x in f if x.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024

fields, engine = json.loads(sys.argv[1]), sys.argv[2]
for v in ("async", "k-async", "sync", "k-batch-sync", "k-avg", "k-batch-async"):
    tiny = ExperimentSpec(variant=v, num_learners=2, k=None if "-" not in v else 2, updates=3)
    simulate_spec(tiny, 0, engine="simpy" if engine == "simpy" else "auto")
runtime_study(ExperimentSpec(num_learners=2, updates=3, seeds=2))
spec = ExperimentSpec(**fields)
before = peak()
if engine == "study":
    runtime_study(spec)
    size = 0
else:
    trace = simulate_spec(spec, 0, engine=engine)
    size = sum(a.nbytes for a in vars(trace).values() if hasattr(a, "nbytes"))
print(json.dumps([peak() - before, size]))
"""


def measured_peak(fields: dict, engine: str) -> int:
    """Peak growth in bytes of the run of ``ExperimentSpec(**fields)`` on ``engine``."""
    return measured_run(fields, engine)[0]


def measured_run(fields: dict, engine: str) -> tuple[int, int]:
    """(peak growth, bytes of the returned trace's arrays) of the run of
    ``ExperimentSpec(**fields)`` on ``engine`` (``study``: a runtime study, size 0)."""
    if not Path("/proc/self/status").is_file():
        pytest.skip("the peak memory of a process is read from /proc (Linux)")
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(fields), engine],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(done.stdout)
