"""The faults, slowdowns and network options on the command line and in config files: the
same spec as the API, every refusal one line with exit status 2 naming the options."""

from __future__ import annotations

import json

import pytest
from cli_process import one_line, pssim

from simulator import ExperimentSpec
from simulator.cli import build_parser, main
from simulator.cli.options import build_spec
from simulator.cli.training_commands import COMPARE_FIELDS, TRAIN_FIELDS

FLAGS = [
    "--variant", "k-sync", "-K", "2", "-P", "3", "--failure", "exp:0.01*P", "--repair",
    "weibull:2,5", "--deadline", "2.5", "--slowdown", "0.1,0.5,4", "--slowdown-shared",
    "--model-bytes", "31000", "--bandwidth", "1e9,2e9,3e9", "--server-bandwidth", "5e9",
    "--servers", "2",
]  # fmt: skip
CONFIG = """
[timing]
variant = "k-sync"
K = 2
learners = 3
failure = "exp:0.01*P"
repair = "weibull:2,5"
deadline = 2.5
slowdown = [0.1, 0.5, 4]
slowdown-shared = true
model-bytes = 31000
bandwidth = [1e9, 2e9, 3e9]
server-bandwidth = 5e9
servers = 2
"""
EXPECTED = ExperimentSpec(
    variant="k-sync",
    k=2,
    num_learners=3,
    failure="exp:0.01*P",
    repair="weibull:2,5",
    deadline=2.5,
    slowdown=(0.1, 0.5, 4),
    slowdown_shared=True,
    model_bytes=31000,
    bandwidth=(1e9, 2e9, 3e9),
    server_bandwidth=5e9,
    servers=2,
)
DOWN = "worker,down,up\n0,1,2\n2,0.5,3\n"


def _runtime_json(capsys, *argv) -> dict:
    code = main(["runtime", "-J", "20", "--seeds", "1", *argv, "--json"])
    out = capsys.readouterr().out
    assert code == 0
    return json.loads(out)


def _runtime_spec(capsys, *argv) -> ExperimentSpec:
    obj = _runtime_json(capsys, *argv)
    spec = ExperimentSpec.from_dict(obj["spec"])
    assert spec.digest() == obj["spec_digest"]
    return spec


def test_flags_and_a_config_file_give_the_spec_of_the_api(capsys, tmp_path):
    by_flags = _runtime_spec(capsys, *FLAGS)
    assert by_flags.replace(updates=1000, seeds=10) == EXPECTED
    assert by_flags.slowdown == (0.1, 0.5, 4.0) and by_flags.slowdown_shared
    config = tmp_path / "exp.toml"
    config.write_text(CONFIG)
    assert _runtime_spec(capsys, "--config", str(config)) == by_flags
    # a spec's own TOML is a config file that gives it back
    config.write_text(EXPECTED.to_toml())
    assert _runtime_spec(capsys, "--config", str(config)) == by_flags


@pytest.mark.parametrize(
    ("command", "fields"), [("train", TRAIN_FIELDS), ("compare", COMPARE_FIELDS)]
)
def test_training_commands_take_the_options(command, fields):
    argv = [command, *FLAGS] if command == "train" else [command, *FLAGS[2:], "-K", "2"]
    args = build_parser().parse_args(argv)
    spec = build_spec(
        command, args, fields, **({"variant": "k-sync"} if command == "compare" else {})
    )
    assert spec.slowdown == (0.1, 0.5, 4.0) and spec.servers == 2 and spec.deadline == 2.5
    assert spec.failure.spec == "exp:0.03" and spec.bandwidth == (1e9, 2e9, 3e9)


def test_all_reduce_runs_from_the_command_line(capsys):
    spec = _runtime_spec(capsys, "--variant", "all-reduce", "-P", "4", "--bandwidth", "1e6")
    assert spec.canonical == ("all-reduce", 4) and spec.transfer_bytes == 2600


def test_an_availability_file_in_a_config_is_read_from_its_folder(capsys, tmp_path, monkeypatch):
    folder = tmp_path / "cluster"
    folder.mkdir()
    (folder / "down.csv").write_text(DOWN)
    config = folder / "exp.toml"
    config.write_text('[timing]\nvariant = "sync"\nlearners = 3\navailability = "down.csv"\n')
    monkeypatch.chdir(tmp_path)
    obj = _runtime_json(capsys, "--config", str(config))
    assert obj["spec"]["availability"] == "down.csv"  # as typed
    read = ExperimentSpec(
        variant="sync", num_learners=3, availability=str(folder / "down.csv"), updates=20, seeds=1
    )
    assert obj["spec_digest"] == read.digest()
    # failure and repair typed on the command line replace the file's availability
    typed = _runtime_spec(
        capsys, "--config", str(config), "--failure", "exp:1", "--repair", "exp:2"
    )
    assert typed.availability is None and typed.failure.spec == "exp:1.0"


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (
            ["--servers", "2"],
            "pssim: error: --servers > 1 needs --server-bandwidth; got servers=2 and no "
            "server_bandwidth",
        ),
        (
            ["--variant", "all-reduce", "-K", "3"],
            "pssim: error: -K must be 4 (or not given) for variant 'all-reduce'; got 3",
        ),
        (
            ["--variant", "all-reduce", "--service-time", "exp:9"],
            "pssim: error: --service-time must not be given with --variant all-reduce",
        ),
        (
            ["--variant", "async", "--deadline", "2"],
            "pssim: error: --deadline applies to the round-based variants only (sync, k-sync, "
            "k-batch-sync, k-avg); got --variant async",
        ),
        (["--failure", "exp:1"], "pssim: error: --failure and --repair must be given together"),
        (["--slowdown", "0.1,0.5,1"], "pssim: error: --slowdown FACTOR must be > 1"),
        (
            ["--model-bytes", "100"],
            "pssim: error: --model-bytes needs --bandwidth or --server-bandwidth",
        ),
        (
            ["--bandwidth", "1e9,2e9"],
            "pssim: error: --bandwidth must have one value or P (4) values, one per learner; got 2",
        ),
        (
            ["--availability", "down.csv", "-P", "2"],
            "pssim: error: --availability file 'down.csv' line 3: worker must be a learner "
            "index in [0, P) with P = 2; got 2",
        ),
    ],
)
def test_each_refusal_is_one_line_with_status_2(tmp_path, argv, line):
    (tmp_path / "down.csv").write_text(DOWN)
    code, _, err = pssim(["runtime", "-P", "4", "-J", "10", "--seeds", "1", *argv], cwd=tmp_path)
    assert code == 2 and one_line(err).startswith(line), err


def test_a_bad_value_in_a_config_file_names_its_key_and_file(tmp_path):
    (tmp_path / "exp.toml").write_text('[timing]\nvariant = "async"\ndeadline = 2\n')
    code, _, err = pssim(["runtime", "--config", "exp.toml"], cwd=tmp_path)
    assert code == 2 and one_line(err).startswith(
        "pssim: error: `deadline` in exp.toml applies to the round-based variants only"
    ), err


def test_model_bytes_may_be_written_in_floating_notation():
    args = build_parser().parse_args(["runtime", "--model-bytes", "3.1e4", "--bandwidth", "1e9"])
    spec = build_spec("runtime", args, ("model_bytes", "bandwidth"))
    assert spec.model_bytes == 31000


def test_theory_uses_a_configs_cluster_and_each_variant_takes_what_applies(capsys, tmp_path):
    config = tmp_path / "cluster.toml"
    config.write_text(
        '[timing]\nlearners = 4\ndeadline = 1.0\nfailure = "exp:0.1"\nrepair = "exp:1"\n'
    )
    code = main(["theory", "--config", str(config), "-K", "3", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["cluster"] == ["failure", "deadline"]
    runtime = out["runtime"]
    # async: the availability-weighted renewal rate (the deadline is not its)
    assert runtime["async"]["relation"] == "asymptotic" and "failure" in runtime["async"]["source"]
    # k-sync: a deadline with failures has no form, and says so
    assert runtime["k-sync"]["relation"] == "none" and "deadline" in runtime["k-sync"]["source"]
