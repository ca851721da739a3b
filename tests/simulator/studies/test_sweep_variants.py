"""A sweep over variants keeps, for each, only the settings that apply to it, as compare
does: the deadline for the round-based ones, the server link for the server variants, the
staleness limit for ringmaster, K where the variant does not imply it."""

from __future__ import annotations

import pytest

from simulator import SweepSpec
from simulator.errors import SpecError


def _by_variant(sweep: SweepSpec) -> dict:
    return {spec.variant: spec for spec in sweep.configurations()}


def test_each_variant_of_a_sweep_keeps_what_applies_to_it():
    base = dict(num_learners=4, k=3, deadline=1.0, staleness_limit=2, model_bytes=1000)
    base.update(server_bandwidth=1e5, updates=20, seeds=1)
    variants = ["sync", "k-sync", "async", "ringmaster", "all-reduce", "rennala"]
    got = _by_variant(SweepSpec(base=base, grid={"variant": variants}, kind="timing"))
    assert got["sync"].deadline == 1.0 and got["k-sync"].deadline == 1.0
    assert got["k-sync"].k == 3 and got["rennala"].k == 3 and got["sync"].k is None
    assert got["async"].deadline is None and got["ringmaster"].deadline is None
    assert got["ringmaster"].staleness_limit == 2 and got["k-sync"].staleness_limit is None
    assert got["all-reduce"].server_bandwidth is None and got["all-reduce"].model_bytes is None
    assert got["async"].server_bandwidth == 1e5


def test_a_swept_setting_no_variant_uses_collapses_to_one_configuration():
    base = dict(num_learners=4, updates=20, seeds=1)
    sweep = SweepSpec(base=base, grid={"variant": ["async"], "deadline": [1.0, 2.0]})
    assert len(sweep.configurations()) == 1  # async has no deadline: both points are one


def test_a_setting_refused_for_every_variant_is_still_refused():
    with pytest.raises(SpecError, match="servers"):
        SweepSpec(base=dict(num_learners=4, servers=2), grid={"variant": ["sync", "async"]})
