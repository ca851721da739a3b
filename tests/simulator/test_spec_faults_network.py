"""The spec's faults, slowdowns and network fields and the all-reduce variant: each rule
refused in one line naming the field(s), the canonical values, the round trips, and the
digests of specs without them unchanged."""

from __future__ import annotations

import pickle

import pytest
import scipy.stats

from simulator import ExperimentSpec
from simulator._checks import VARIANTS, resolve_variant
from simulator.errors import SpecError

#: Digests computed before these fields existed: specs that set none keep them.
OLD_DIGESTS = [
    ({}, "736e9ac16478f673"),
    ({"variant": "sync"}, "db7dd8fb7cbe625c"),
    (
        {"variant": "k-async", "k": 2, "law": "pareto:2,1", "push_latency": "exp:0.1"},
        "7aa75301de6ee95a",
    ),
    (
        {
            "variant": "k-sync",
            "num_learners": 4,
            "k": 2,
            "service_time": "deterministic:0.01",
            "time_budget": 10.0,
        },
        "8c4408b0fc1e9ad3",
    ),
    (
        {
            "variant": "k-avg",
            "k": 3,
            "law": "shifted-exp:0.5*m,1",
            "batch_size": 4,
            "model": "mlp",
            "dtype": "float64",
        },
        "415a9b0e4a023704",
    ),
    (
        {
            "variant": "async",
            "laws": ["exp:1", "exp:2"],
            "num_learners": 2,
            "speeds": [1, 2],
            "diagnostics": True,
        },
        "27e6f60be461ab89",
    ),
]

#: A spec with every new field but availability (which replaces failure/repair).
FULL = dict(
    variant="k-sync",
    num_learners=3,
    k=2,
    failure="exp:0.01*P",
    repair="weibull:2,5",
    deadline=2.5,
    slowdown="0.1, 0.5, 4",
    slowdown_shared=True,
    model_bytes=31_000,
    bandwidth="1e9,2e9,3e9",
    server_bandwidth=5e9,
    servers=2,
)


@pytest.mark.parametrize(("fields", "digest"), OLD_DIGESTS)
def test_specs_without_the_new_fields_keep_their_digest_and_dict(fields, digest):
    spec = ExperimentSpec(**fields)
    assert spec.digest() == digest
    new = {"failure", "repair", "availability", "deadline", "slowdown", "slowdown_shared"}
    new |= {"model_bytes", "bandwidth", "server_bandwidth", "servers"}
    assert not new & set(spec.to_dict())
    assert "failure" not in spec.to_toml() and "servers" not in spec.to_toml()
    # the defaults typed out are the same spec
    same = ExperimentSpec(**fields, servers=1, slowdown_shared=False, failure=None)
    assert same.digest() == digest
    assert not (spec.faults or spec.network)


def test_every_field_round_trips_through_dict_json_toml_and_pickle():
    spec = ExperimentSpec(**FULL)
    assert spec.slowdown == (0.1, 0.5, 4.0) and spec.bandwidth == (1e9, 2e9, 3e9)
    assert spec.failure.spec == "exp:0.03" and spec.law_expressions["failure"] == "exp:0.01*P"
    d = spec.to_dict()
    assert d["slowdown"] == [0.1, 0.5, 4.0] and d["bandwidth"] == [1e9, 2e9, 3e9]
    assert d["failure"] == "exp:0.01*P" and d["repair"] == "weibull:2.0,5.0"
    assert d["slowdown_shared"] is True and d["servers"] == 2 and d["model_bytes"] == 31_000
    for back in (
        ExperimentSpec.from_dict(d),
        ExperimentSpec.from_json(spec.to_json()),
        ExperimentSpec.from_toml(spec.to_toml()),
        pickle.loads(pickle.dumps(spec)),
    ):
        assert back == spec and back.digest() == spec.digest() and back.to_dict() == d
    assert "slowdown-shared = true" in spec.to_toml()
    assert "server-bandwidth = 5000000000.0" in spec.to_toml()


def test_every_new_field_changes_the_digest():
    spec = ExperimentSpec(**FULL)
    changes = dict(
        failure="exp:0.2",
        repair="exp:3",
        deadline=3.0,
        slowdown=[0.1, 0.5, 5],
        slowdown_shared=False,
        model_bytes=31_001,
        bandwidth=1e9,
        server_bandwidth=4e9,
        servers=3,
    )
    digests = {spec.digest()} | {spec.replace(**{n: v}).digest() for n, v in changes.items()}
    assert len(digests) == len(changes) + 1


def test_the_derived_properties():
    spec = ExperimentSpec(**FULL)
    assert spec.faults and spec.network and spec.communication
    assert spec.transfer_bytes == 31_000
    for fields in (
        {"slowdown": "1,1,2"},
        {"failure": "exp:1", "repair": "exp:1"},
        {"variant": "sync", "deadline": 1.0},
        {"bandwidth": 1e9},
    ):
        assert ExperimentSpec(**fields).communication, fields
    assert not ExperimentSpec(slowdown="1,1,2").network
    assert not ExperimentSpec(slowdown="1,1,2").faults
    assert ExperimentSpec(server_bandwidth=1.0).network


@pytest.mark.parametrize(
    ("fields", "count"),
    [
        ({}, (64 + 1) * 10),  # softmax on digits
        ({"model": "softmax-nobias"}, 64 * 10),
        ({"model": "mlp"}, 64 * 64 + 64 + 64 * 10 + 10),
        ({"model": "least-squares", "data": "synthetic:least-squares,50,7"}, 7),
        ({"data": "synthetic:classes,100,5,3"}, 6 * 3),
    ],
)
def test_transfer_bytes_is_the_parameter_count_times_the_dtype_size(fields, count):
    spec = ExperimentSpec(**fields, bandwidth=1.0)
    assert spec.transfer_bytes == 4 * count
    assert spec.replace(dtype="float64").transfer_bytes == 8 * count


def test_failure_and_repair_take_every_form_of_law():
    frozen = ExperimentSpec(failure=scipy.stats.expon(scale=100), repair="lognormal:0,1")
    assert frozen.failure.mean() == pytest.approx(100)
    assert ExperimentSpec.from_toml(frozen.to_toml()) == frozen
    typed = ExperimentSpec(failure="exp:1/P", repair="exp:1", num_learners=4)
    assert typed.failure.spec == "exp:0.25"
    assert typed.replace(num_learners=2).failure.spec == "exp:0.5"


def test_replace_makes_failure_repair_and_availability_alternatives(tmp_path):
    path = tmp_path / "down.csv"
    path.write_text("worker,down,up\n0,1,2\n")
    spec = ExperimentSpec(failure="exp:1", repair="exp:2")
    assert not spec.replace(failure=None).faults
    assert spec.replace(repair=None).failure is None
    filed = spec.replace(availability=str(path))
    assert filed.failure is None and filed.repair is None and filed.faults
    back = filed.replace(failure="exp:3", repair="exp:4")
    assert back.availability is None and back.failure.spec == "exp:3.0"


def _refused(match: str, **fields) -> SpecError:
    with pytest.raises(SpecError, match=match) as info:
        ExperimentSpec(**fields)
    assert "\n" not in str(info.value)
    return info.value


@pytest.mark.parametrize(
    ("fields", "match", "param"),
    [
        (
            {"failure": "exp:1"},
            r"`failure` and `repair` must be given together.*`failure` without",
            "repair",
        ),
        ({"repair": "exp:1"}, r"`repair` without `failure`", "failure"),
        ({"failure": "deterministic:0", "repair": "exp:1"}, r"^`failure`: .*> 0; got 0", "failure"),
        ({"failure": "nope:1", "repair": "exp:1"}, r"^`failure`", "failure"),
        (
            {"variant": "async", "deadline": 1},
            r"`deadline` applies to the round-based .*`variant` async",
            "deadline",
        ),
        ({"variant": "k-async", "k": 2, "deadline": 1}, r"`variant` k-async", "deadline"),
        (
            {"variant": "k-batch-async", "k": 2, "deadline": 1},
            r"`variant` k-batch-async",
            "deadline",
        ),
        (
            {"variant": "all-reduce", "deadline": 1},
            r"`deadline` .*`variant` all-reduce",
            "deadline",
        ),
        (
            {"variant": "sync", "deadline": 0},
            r"`deadline` must be a finite number > 0; got 0",
            "deadline",
        ),
        ({"variant": "sync", "deadline": "soon"}, r"`deadline` must be a number", "deadline"),
        ({"slowdown": "0.1,0.5"}, r"`slowdown` must be RATE_IN,RATE_OUT,FACTOR", "slowdown"),
        ({"slowdown": [0.1, 0.5, 4, 1]}, r"`slowdown` must be RATE_IN", "slowdown"),
        ({"slowdown": "0.1,0,4"}, r"`slowdown` must be a finite number > 0", "slowdown"),
        ({"slowdown": "0.1,0.5,1"}, r"`slowdown` FACTOR must be > 1", "slowdown"),
        ({"slowdown": 4}, r"`slowdown` must be RATE_IN", "slowdown"),
        ({"slowdown_shared": True}, r"`slowdown_shared` needs `slowdown`", "slowdown_shared"),
        (
            {"slowdown": "1,1,2", "slowdown_shared": "yes"},
            r"`slowdown_shared` must be true or false",
            "slowdown_shared",
        ),
        (
            {"model_bytes": 10},
            r"`model_bytes` needs `bandwidth` or `server_bandwidth`",
            "model_bytes",
        ),
        ({"model_bytes": 0, "bandwidth": 1}, r"`model_bytes` must be >= 1; got 0", "model_bytes"),
        ({"model_bytes": 1.5, "bandwidth": 1}, r"`model_bytes` must be an integer", "model_bytes"),
        (
            {"bandwidth": "1e9,2e9"},
            r"`bandwidth` must have one value or P \(8\) values.*got 2",
            "bandwidth",
        ),
        ({"bandwidth": [1e9] * 7}, r"P \(8\) values, one per learner; got 7", "bandwidth"),
        ({"bandwidth": -1}, r"`bandwidth` must be a finite number > 0; got -1", "bandwidth"),
        ({"bandwidth": "fast"}, r"`bandwidth` must be bytes per time unit", "bandwidth"),
        ({"bandwidth": float("inf")}, r"`bandwidth` must be a finite number > 0", "bandwidth"),
        (
            {"server_bandwidth": 0},
            r"`server_bandwidth` must be a finite number > 0",
            "server_bandwidth",
        ),
        (
            {"servers": 2},
            r"^`servers` > 1 needs `server_bandwidth`; got servers=2 and no server_bandwidth$",
            "servers",
        ),
        ({"servers": 0, "server_bandwidth": 1}, r"`servers` must be >= 1; got 0", "servers"),
        (
            {"variant": "all-reduce", "server_bandwidth": 1},
            r"`server_bandwidth` must not be given with `variant` all-reduce",
            "server_bandwidth",
        ),
        (
            {"variant": "all-reduce", "servers": 2, "server_bandwidth": 1},
            r"`server_bandwidth` must not",
            "server_bandwidth",
        ),
        (
            {"variant": "all-reduce", "service_time": "exp:9"},
            r"`service_time` must not be given with `variant` all-reduce.*exp:9",
            "service_time",
        ),
        (
            {"variant": "all-reduce", "pull_latency": "exp:9"},
            r"`pull_latency` must not be given with `variant` all-reduce",
            "pull_latency",
        ),
        (
            {"variant": "all-reduce", "k": 3},
            r"`k` must be 8 \(or not given\) for variant 'all-reduce'; got 3",
            "k",
        ),
    ],
)
def test_each_rule_is_refused_in_one_line_naming_the_field(fields, match, param):
    assert _refused(match, **fields).param == param


def test_a_failure_law_with_no_up_time_is_refused():
    class Zero:  # a law whose mean is 0: learners never up
        spec = "zero"

        def mean(self):
            return 0.0

    from simulator._spec_network import _failure_laws

    with pytest.raises(SpecError, match=r"^`failure` must keep learners up for a mean time > 0"):
        _failure_laws({"failure": Zero(), "repair": Zero()})


def test_all_reduce_is_a_variant_with_k_equal_to_p():
    assert "all-reduce" in VARIANTS
    assert resolve_variant("all-reduce", 6, None) == ("all-reduce", 6)
    spec = ExperimentSpec(variant="all-reduce", num_learners=6)
    assert spec.canonical == ("all-reduce", 6) and spec.k is None
    assert ExperimentSpec(variant="all-reduce", num_learners=6, k=6) == spec  # K = P is K
    allowed = spec.replace(push_latency="exp:10", bandwidth=1e9, failure="exp:1", repair="exp:1")
    assert ExperimentSpec.from_toml(allowed.to_toml()) == allowed
    assert "\nK = " not in allowed.to_toml()  # K is P: never written


def test_bandwidth_forms_are_canonical():
    assert ExperimentSpec(bandwidth="1e9").bandwidth == 1e9
    assert ExperimentSpec(bandwidth=2).bandwidth == 2.0
    assert ExperimentSpec(bandwidth=" 1e9 , 2e9", num_learners=2).bandwidth == (1e9, 2e9)
    one = ExperimentSpec(bandwidth=[3], num_learners=4)  # a one-entry list is one value
    assert one.bandwidth == 3.0 and one.to_dict()["bandwidth"] == 3.0
    assert ExperimentSpec(slowdown=(1, 2, 3)).slowdown == (1.0, 2.0, 3.0)


def test_transfer_bytes_reads_the_shapes_of_data_on_disk(tmp_path):
    import numpy as np

    path = tmp_path / "tiny.npz"
    rng = np.random.default_rng(0)
    np.savez(path, x=rng.normal(size=(12, 5)).astype(np.float32), y=np.arange(12) % 3)
    spec = ExperimentSpec(data=f"npz:{path}", bandwidth=1.0)
    assert spec.transfer_bytes == 4 * (5 + 1) * 3
    missing = ExperimentSpec(data=f"npz:{tmp_path / 'missing.npz'}", bandwidth=1.0)
    with pytest.raises(SpecError, match=r"^`data` must give the model's size") as info:
        _ = missing.transfer_bytes
    assert info.value.param == "data" and "\n" not in str(info.value)


def test_model_bytes_written_as_a_whole_float_is_taken_as_its_int():
    spec = ExperimentSpec(model_bytes=1e6, bandwidth=1e9)
    assert spec.model_bytes == 1_000_000 and isinstance(spec.model_bytes, int)
    assert spec == ExperimentSpec(model_bytes=1_000_000, bandwidth=1e9)
    with pytest.raises(SpecError, match=r"`model_bytes` must be an integer; got 1\.5"):
        ExperimentSpec(model_bytes=1.5, bandwidth=1e9)


def test_a_transfer_that_would_take_forever_is_refused():
    with pytest.raises(SpecError, match=r"`model_bytes` / `bandwidth` must be a transfer time"):
        ExperimentSpec(num_learners=2, model_bytes=10**15, bandwidth=1e-300)
    with pytest.raises(SpecError, match=r"`model_bytes` / `server_bandwidth` must be"):
        ExperimentSpec(num_learners=2, model_bytes=10**15, server_bandwidth=1e-300)


def test_a_whole_float_beyond_the_count_limit_is_refused_by_its_limit():
    with pytest.raises(SpecError, match=r"`model_bytes` must be <= "):
        ExperimentSpec(model_bytes=1e30, bandwidth=1.0)
    with pytest.raises(SpecError, match=r"`model_bytes` must be >= 1; got 0"):
        ExperimentSpec(model_bytes=0.0, bandwidth=1.0)
