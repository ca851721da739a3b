"""``pssim fit`` as a user runs it: the table and the choice, the config that ``runtime
--config`` reads unchanged, ``--json``, ``--plot``, and one-line refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomllib
from cli_process import one_line, pssim

from distributions import parse_law


def small_log(path: Path, *, workers: int = 3, steps: int = 40) -> Path:
    """Gamma durations with a persistent speed per worker (ids h1, h2, ...: host names)."""
    rng = np.random.default_rng(0)
    speeds = np.linspace(0.7, 1.4, workers)
    x = rng.gamma(6.0, 0.5, size=(workers, steps)) / speeds[:, None]
    pd.DataFrame(
        {
            "worker": np.repeat([f"h{i + 1}" for i in range(workers)], steps),
            "step": np.tile(np.arange(0, 3 * steps, 3), workers),  # sampled steps
            "duration": x.ravel(),
        }
    ).to_csv(path, index=False)
    return path


def test_fit_writes_a_config_that_runtime_reads_unchanged(tmp_path):
    small_log(tmp_path / "log.csv")
    code, out, err = pssim(["fit", "log.csv", "--out", "fitted.toml"], cwd=tmp_path)
    assert code == 0, err
    assert "log.csv: 3 workers, 40 steps, 120 durations (0 censored)" in out
    assert "held out 10 of 40 steps (30 rows" in out
    chosen = next(line for line in out.splitlines() if line.startswith("chosen: "))
    assert "held-out log-likelihood" in chosen
    for assumption in ("identical learners: ", "exponential: ", "new-longer-than-used: "):
        assert any(line.startswith(assumption) for line in out.splitlines()), out
    assert "config written to fitted.toml" in out
    timing = tomllib.loads((tmp_path / "fitted.toml").read_text())["timing"]
    assert timing["learners"] == 3 and ("dist" in timing) != ("laws" in timing)
    args = ["runtime", "--config", "fitted.toml", "--variant", "k-sync", "-K", "2"]
    code, out, err = pssim([*args, "--iterations", "30", "--seeds", "2", "--json"], cwd=tmp_path)
    assert code == 0, err
    spec = json.loads(out)["spec"]
    assert spec["num_learners"] == 3 and spec["speeds"] == timing.get("speeds")
    if "dist" in timing:
        assert parse_law(spec["law"]) == parse_law(timing["dist"])
    else:
        assert spec["laws"] == timing["laws"]


def test_fit_json_and_plot(tmp_path):
    small_log(tmp_path / "log.csv")
    code, out, err = pssim(
        ["fit", "log.csv", "--json", "--plot", "fit.png", "--holdout", "0.3", "--seed", "4"],
        cwd=tmp_path,
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["split"] == {
        "holdout": 0.3,
        "seed": 4,
        "heldout_steps": data["split"]["heldout_steps"],
        "train_rows": 84,
        "heldout_rows": 36,
    }
    assert data["worker_ids"] == ["h1", "h2", "h3"] and data["sha256"]
    names = [c["name"] for c in data["candidates"]]
    assert len(names) == 18 and data["chosen"] in names
    assert set(data["assumptions"]) == {"identical", "independent", "exponential", "nltu"}
    assert data["config"]["learners"] == 3
    for fmt in ("png", "pdf", "svg"):
        assert (tmp_path / f"fit.{fmt}").stat().st_size > 5_000
    assert data["plot"][0] == "fit.png" and data["out"] is None


def _bad(tmp_path: Path, name: str, frame: pd.DataFrame) -> str:
    frame.to_csv(tmp_path / name, index=False)
    return name


@pytest.mark.parametrize(
    ("make", "extra", "message"),
    [
        (
            lambda d: _bad(d, "cols.csv", pd.DataFrame({"worker": [1, 2], "duration": [1, 2]})),
            [],
            "FILE 'cols.csv' must have columns worker, step, duration; missing step",
        ),
        (
            lambda d: _bad(
                d,
                "neg.csv",
                pd.DataFrame(
                    {"worker": [1, 1, 2, 2], "step": [0, 1, 0, 1], "duration": [1, -1, 1, 1]}
                ),
            ),
            [],
            "FILE 'neg.csv' column `duration` must be finite numbers > 0; line 3 has '-1'",
        ),
        (
            lambda d: _bad(
                d, "one.csv", pd.DataFrame({"worker": [1, 1], "step": [0, 1], "duration": [1, 2]})
            ),
            [],
            "FILE 'one.csv' must hold at least 2 workers; got 1",
        ),
        (lambda d: "missing.csv", [], "FILE must be a readable durations file"),
        (
            lambda d: small_log(d / "log.csv").name,
            ["--holdout", "1.5"],
            "--holdout must be a fraction",
        ),
        (lambda d: small_log(d / "log.csv").name, ["--holdout", "x"], "invalid float value: 'x'"),
        (lambda d: small_log(d / "log.csv").name, ["--seed", "-1"], "--seed must be >= 0; got -1"),
        (lambda d: small_log(d / "log.csv").name, ["--out", "fit.txt"], "--out must name a .toml"),
        (
            lambda d: "missing.csv",
            ["--out", "nowhere/fit.toml"],
            "--out must be in an existing folder",
        ),
        (lambda d: "missing.csv", ["--plot", "fit.jpg"], "--plot must name a .png file"),
    ],
)
def test_fit_refusals_are_one_line(tmp_path, make, extra, message):
    code, out, err = pssim(["fit", make(tmp_path), *extra], cwd=tmp_path)
    assert code == 2 and out == ""
    assert message in one_line(err)
    assert not (tmp_path / "nowhere").exists() and not list(tmp_path.glob("*.toml"))


def test_fit_refuses_a_folder_as_out(tmp_path):
    small_log(tmp_path / "log.csv")
    (tmp_path / "fit.toml").mkdir()
    code, out, err = pssim(["fit", "log.csv", "--out", "fit.toml"], cwd=tmp_path)
    assert code == 2 and out == ""
    assert "--out must name a file, not a folder" in one_line(err)


def test_fit_never_loads_jax(tmp_path):
    small_log(tmp_path / "log.csv")
    probe = (
        "import sys\nfrom simulator.cli import main\n"
        "assert main(['fit', 'log.csv', '--json']) == 0\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('jax', 'optax')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"
