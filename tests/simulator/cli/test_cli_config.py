"""``--config FILE.toml``: the same run as the flags, flags override, heterogeneous runs."""

from __future__ import annotations

import json
import re

import pytest

from simulator import ExperimentSpec
from simulator.cli import build_parser, main

FLAGS = ["--variant", "async", "--learners", "8", "--dist", "exp:1", "--iterations", "1000"]
FILE = 'variant = "async"\nlearners = 8\ndist = "exp:1"\niterations = 1000\nseeds = 5\n'


def run(capsys, *argv):
    try:
        code = main(list(argv))
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def test_a_config_file_runs_exactly_as_its_flags(capsys, tmp_path):
    cfg = tmp_path / "exp.toml"
    cfg.write_text(FILE)
    code_f, by_file, _ = run(capsys, "runtime", "--config", str(cfg), "--json")
    code_o, by_flags, _ = run(capsys, "runtime", *FLAGS, "--seeds", "5", "--json")
    assert code_f == code_o == 0
    assert json.loads(by_file) == json.loads(by_flags)
    # typed options override the file
    code, out, _ = run(capsys, "runtime", "--config", str(cfg), "--seeds", "2", "-P", "4", "--json")
    obj = json.loads(out)
    assert code == 0 and obj["seeds"] == 2 and obj["learners"] == 4 and obj["iterations"] == 1000


def test_tables_dashes_and_underscores(capsys, tmp_path):
    cfg = tmp_path / "t.toml"
    cfg.write_text(
        '[timing]\nvariant = "k-sync"\nlearners = 4\nK = 2\niterations = 50\nseeds = 2\n'
        '[training]\nlr_rule = "fixed"\neval-every = 10\n'
    )
    code, out, _ = run(capsys, "runtime", "--config", str(cfg), "--json")
    obj = json.loads(out)
    assert code == 0 and obj["variant"] == "k-sync" and obj["k"] == 2
    assert obj["spec"]["eval_every"] == 10  # training keys are read (and unused) by runtime


def test_heterogeneous_run_with_latencies_from_flags_and_from_a_file(capsys, tmp_path):
    hetero = [
        "--variant", "k-async", "-P", "4", "-K", "2", "--iterations", "200", "--seeds", "2",
        "--laws", "exp:1", "exp:2", "pareto:3,1", "exp:1",
        "--speeds", "1", "2", "0.5", "1",
        "--push-latency", "exp:20", "--pull-latency", "exp:30", "--service-time", "exp:100",
    ]  # fmt: skip
    code, out, err = run(capsys, "runtime", *hetero, "--json")
    assert code == 0, err
    flags_obj = json.loads(out)
    spec = flags_obj["spec"]
    assert spec["laws"] == ["exp:1.0", "exp:2.0", "pareto:3.0,1.0", "exp:1.0"]
    assert spec["speeds"] == [1.0, 2.0, 0.5, 1.0] and spec["service_time"] == "exp:100.0"
    assert flags_obj["theory"]["relation"] == "none"  # no closed form for these
    cfg = tmp_path / "h.toml"
    cfg.write_text(ExperimentSpec.from_dict(spec).to_toml())
    code, out, _ = run(capsys, "runtime", "--config", str(cfg), "--json")
    assert code == 0 and json.loads(out) == flags_obj
    # communication makes runs slower than the same schedule without it
    code, out, _ = run(capsys, "runtime", *hetero[:20], "--json")
    assert json.loads(out)["simulated"]["mean"] < flags_obj["simulated"]["mean"]


@pytest.mark.parametrize(
    "text,command,needle",
    [
        ("learnres = 8\n", "runtime", "key 'learnres' in bad.toml is not a pssim setting"),
        ("[timing]\nlearners = 0\n", "runtime", "`learners` in bad.toml must be >= 1; got 0"),
        ('dist = "exp:0"\n', "theory", "`dist` in bad.toml: `Exponential.rate` must be > 0"),
        ("learners = [\n", "runtime", "`bad.toml` is not valid TOML"),
        ('variants = ["sync", "async"]\n', "train", "choose one with --variant"),
        ("[training]\nlearners = 3\n", "runtime", "belongs in [timing], not [training]"),
        (
            'lr-c = 0.1\nlr-rule = "fixed"\n',
            "train",
            "`lr-c` in bad.toml applies to the compensated",
        ),
        ("iterations = 5\nJ = 6\n", "runtime", "repeats"),
    ],
)
def test_bad_config_is_one_line_naming_the_key(capsys, tmp_path, text, command, needle):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    code, _, err = run(capsys, command, "--config", str(cfg), "--out", str(tmp_path / "o"))
    if command in ("runtime", "theory"):
        code, _, err = run(capsys, command, "--config", str(cfg))
    assert code == 2 and needle in err, err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "o").exists()


def test_missing_config_file(capsys, tmp_path):
    code, _, err = run(capsys, "runtime", "--config", str(tmp_path / "none.toml"))
    assert code == 2 and "--config must be a readable TOML file" in err


@pytest.mark.parametrize("command", ["runtime", "theory", "train", "compare"])
def test_help_shows_the_spec_defaults(command, capsys):
    code, out, _ = run(capsys, command, "-h")
    assert code == 0 and "--config" in out
    text = re.sub(r"\s+", " ", out)
    spec = ExperimentSpec()
    learners = rf"number of learners (\([^)]*\) )?\(default: {spec.num_learners}\)"
    assert re.search(learners, text), text
    if command in ("train", "compare"):
        assert f"mini-batch size m (default: {spec.batch_size})" in text
        assert "--push-latency" in text and "--divergence-factor" in text


def test_usage_version_and_theory_help(capsys):
    from simulator import __version__

    code, out, err = run(capsys)
    assert code == 2 and "usage: pssim" in err and "compare" in err
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"pssim {__version__}"
    code, out, _ = run(capsys, "theory", "-h")
    assert code == 0 and "Expected runtime of J iterations" in out


def test_every_parser_option_is_a_spec_field_or_a_command_option():
    from simulator.cli.options import COMMAND_KEYS, OPTIONS

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, command in sub.choices.items():
        if name == "sweep":  # its spec is the sweep file: no spec options, no --config
            dests = {a.dest for a in command._actions} - {"help"}
            assert dests == {"sweep_file", "out", "scheduler", "workers", "json"}
            continue
        if name == "fit":  # reads a durations file and writes a config: no spec options
            dests = {a.dest for a in command._actions} - {"help"}
            assert dests == {"file", "out", "holdout", "seed", "plot", "json"}
            continue
        if name == "advise":  # its spec is the advise file, as a sweep's
            dests = {a.dest for a in command._actions} - {"help"}
            assert dests == {"advise_file", "out", "cluster", "scheduler", "workers", "json"}
            continue
        dests = {a.dest for a in command._actions} - {"help", "config"}
        assert dests <= set(OPTIONS) | set(COMMAND_KEYS), (name, dests - set(OPTIONS))


def test_typed_options_override_the_file_even_across_alternatives(capsys, tmp_path):
    cfg = tmp_path / "h.toml"
    cfg.write_text('learners = 2\nlaws = ["exp:1", "exp:2"]\niterations = 50\nseeds = 2\n')
    code, out, err = run(capsys, "runtime", "--config", str(cfg), "--dist", "exp:3", "--json")
    assert code == 0, err
    spec = json.loads(out)["spec"]
    assert spec["law"] == "exp:3.0" and spec["laws"] is None
    cfg.write_text('variants = ["sync", "async"]\nlearners = 2\niterations = 50\nseeds = 2\n')
    code, out, err = run(capsys, "runtime", "--config", str(cfg), "--variant", "async", "--json")
    assert code == 0 and json.loads(out)["variant"] == "async", err


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["--variants", "sync,sync"], "--variants must not repeat a variant"),
        (["--variants", "sync,,async"], "--variants must list names from"),
        (["--variants", "sync,bogus"], "--variants must list names from"),
        (["--target", "-1"], "argument --target: must be a finite number > 0; got -1"),
        (["--eval-every", "100", "--iterations", "50"], "--eval-every must be <= updates (50)"),
        (["--lr-c", "0.1"], "--lr-c applies to the compensated rule only"),
    ],
)
def test_conflicting_compare_options_are_refused(capsys, tmp_path, argv, needle):
    code, _, err = run(capsys, "compare", *argv, "--out", str(tmp_path / "o"))
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o").exists()


def test_a_written_spec_toml_reruns_the_same_experiment_with_its_target(capsys, tmp_path):
    small = ["--variants", "sync,async", "-P", "4", "--iterations", "120", "--seeds", "2"]
    first = tmp_path / "a"
    code, out, err = run(
        capsys, "compare", *small, "--target", "0.9", "--out", str(first), "--json"
    )
    assert code == 0, err
    spec_toml = (first / "spec.toml").read_text()
    assert "target = 0.9" in spec_toml and 'variants = ["sync", "async"]' in spec_toml
    again = tmp_path / "b"
    code, out2, err = run(
        capsys, "compare", "--config", str(first / "spec.toml"), "--out", str(again), "--json"
    )
    assert code == 0, err
    a, b = json.loads(out), json.loads(out2)
    assert a["experiment_digest"] == b["experiment_digest"] and a["runs"] == b["runs"]
    assert (first / "results.csv").read_bytes() == (again / "results.csv").read_bytes()
    # a single-variant train file drives compare with that variant
    train_cfg = tmp_path / "t.toml"
    train_cfg.write_text('variant = "async"\nlearners = 4\niterations = 60\nseeds = 1\n')
    code, out, err = run(
        capsys, "compare", "--config", str(train_cfg), "--out", str(tmp_path / "c"), "--json"
    )
    assert code == 0 and [r["variant"] for r in json.loads(out)["runs"]] == ["async"], err
