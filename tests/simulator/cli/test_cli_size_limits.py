"""Sizes from the command line, a config file and a sweep file: refused before any work in
one line (exit status 2), naming what the user typed; and never for commands that simulate
nothing."""

from __future__ import annotations

import json

import pytest
from cli_process import entries, one_line, pssim

BIG = 2**63 - 1


def test_theory_estimates_no_memory_for_a_million_learners(tmp_path):
    code, out, err = pssim(["theory", "-P", "1000000", "--json"], cwd=tmp_path)
    assert code == 0, err
    assert json.loads(out)["learners"] == 10**6


def test_too_many_iterations_name_iterations(tmp_path):
    many = 2**53  # a count the spec takes, more updates than memory holds
    code, _, err = pssim(["runtime", "--iterations", str(many)], cwd=tmp_path)
    line = one_line(err)
    assert code == 2 and f"--iterations J={many} with P=8" in line and "learners" not in line
    config = tmp_path / "big.toml"
    config.write_text(f"[timing]\niterations = {many}\n")
    code, _, err = pssim(["runtime", "--config", str(config)], cwd=tmp_path)
    assert code == 2 and f"J={many}" in one_line(err)
    code, _, err = pssim(["runtime", "--iterations", str(BIG)], cwd=tmp_path)
    assert code == 2 and one_line(err).endswith(f"--iterations must be <= {many}; got {BIG}")


def test_seeds_beyond_the_cap_are_one_line(tmp_path):
    code, _, err = pssim(["runtime", "--seeds", str(BIG)], cwd=tmp_path)
    assert code == 2 and one_line(err).endswith(f"--seeds must be <= 1000000; got {BIG}")


def test_a_time_budget_beyond_memory_is_one_line(tmp_path):
    code, _, err = pssim(["runtime", "--time-budget", "1e300"], cwd=tmp_path)
    assert code == 2 and "--time-budget 1e+300 means runs of about" in one_line(err)


def test_train_refuses_a_batch_beyond_the_cap_before_data(tmp_path):
    code, _, err = pssim(["train", "--batch", str(BIG), "--out", "res"], cwd=tmp_path)
    assert code == 2 and "--batch must be <= 16777216" in one_line(err)
    assert entries(tmp_path) == []


@pytest.mark.parametrize(
    "table, needle",
    [
        (f"[training]\nbatch = {BIG}\n", "`batch` must be <= 16777216"),
        ("[timing]\ntime-budget = 1e300\n", "1e+300 means runs of about"),
        (f"[timing]\nseeds = {BIG}\n", "`seeds` must be <= 1000000"),
        (f"[timing]\niterations = {BIG}\n", f"`iterations` must be <= {2**53}"),
    ],
)
def test_a_sweep_refuses_sizes_before_any_task(tmp_path, table, needle):
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(f"{table}[grid]\nlearners = [2, 4]\n")
    code, _, err = pssim(
        ["sweep", str(sweep), "--out", "out", "--scheduler", "serial"], cwd=tmp_path
    )
    assert code == 2 and needle in one_line(err)
    assert entries(tmp_path) == ["sweep.toml"]


def test_a_grid_of_a_billion_configurations_is_refused_at_once(tmp_path):
    values = ", ".join(str(i) for i in range(1000))
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(f"[grid]\nseed = [{values}]\nlearners = [{values}]\niterations = [{values}]\n")
    code, _, err = pssim(["sweep", str(sweep), "--out", "out"], cwd=tmp_path, timeout=60)
    assert code == 2 and one_line(err).endswith(
        "[grid] and [[zip]] of sweep.toml make 1000000000 configurations "
        "(seed 1000 x learners 1000 x iterations 1000), more than the cap of 100000; "
        "sweep fewer values"
    )
    assert entries(tmp_path) == ["sweep.toml"]
