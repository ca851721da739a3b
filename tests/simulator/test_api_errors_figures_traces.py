"""Figures, traces, specs, timing runs and sweep folders refuse wrong arguments in one line
of pssim's family, naming the argument, instead of a raw TypeError, OverflowError or OSError
from below."""

from __future__ import annotations

import pytest

from simulator import (
    USER_ERRORS,
    error_figure,
    load_spec,
    load_sweep,
    runtime_study,
    simulate,
    staleness_figure,
    timeline_figure,
)


@pytest.fixture(scope="module")
def trace():
    return simulate(variant="async", num_learners=2, updates=10)


CASES = {
    "load_sweep of a 100k-character name": (lambda t: load_sweep("x" * 100_000), "`out`"),
    "load_spec(None)": (lambda t: load_spec(None), "`path` must be a path"),
    "staleness_figure(1)": (lambda t: staleness_figure(1), "`runs` must be a sequence"),
    "staleness_figure([1])": (lambda t: staleness_figure([1]), "item 0 (1) has no variant"),
    "error_figure(3)": (lambda t: error_figure(3), "`runs` must be a sequence"),
    "timeline_figure('abc')": (lambda t: timeline_figure("abc"), "`trace` must be a Trace"),
    "Trace.save(None)": (lambda t: t.save(None), "`path` must be a path"),
    "Trace.save in no folder": (lambda t: t.save("/nonexistent/x.npz"), "existing folder"),
    "idle_intervals(until='abc')": (
        lambda t: t.idle_intervals(0, until="abc"),
        "`until` must be a number",
    ),
    "idle_intervals of learner 5 of 2": (lambda t: t.idle_intervals(5), "`learner` must be <= 1"),
    "busy_intervals([0, 1])": (lambda t: t.busy_intervals([0, 1]), "`learner` must be an integer"),
    "simulate updates=10**400": (
        lambda t: simulate(variant="async", num_learners=2, updates=10**400),
        "`updates` must be <= 9007199254740992; got an integer of 401 digits",
    ),
    "runtime_study learners=10**400": (
        lambda t: runtime_study(variant="async", num_learners=10**400, updates=2),
        "`num_learners` must be <= 9007199254740992",
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_a_wrong_argument_is_one_short_line_naming_it(trace, case):
    call, expected = CASES[case]
    with pytest.raises(USER_ERRORS) as err:
        call(trace)
    message = str(err.value)
    assert expected in message and "\n" not in message and len(message) < 300, message
