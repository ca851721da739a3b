"""The ``pssim`` command line: JSON shapes, plots, and one-line refusals with status 2."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simulator.cli import main


def status(argv) -> int:
    """Exit status of ``pssim argv`` (argparse errors raise SystemExit)."""
    try:
        return main(list(argv))
    except SystemExit as exit_:
        return exit_.code


def run(capsys, *argv):
    code = status(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_runtime_json_matches_the_documented_shape(capsys):
    code, out, _ = run(
        capsys,
        "runtime",
        "--variant",
        "k-async",
        "-P",
        "4",
        "-K",
        "2",
        "--dist",
        "exp:2",
        "--iterations",
        "300",
        "--seeds",
        "6",
        "--json",
    )
    assert code == 0
    obj = json.loads(out)
    assert set(obj) == {
        "pssim_version",
        "spec",
        "spec_digest",
        "variant",
        "learners",
        "k",
        "distribution",
        "iterations",
        "seeds",
        "simulated",
        "theory",
        "staleness",
    }
    assert (obj["variant"], obj["learners"], obj["k"], obj["seeds"]) == ("k-async", 4, 2, 6)
    assert obj["spec"]["law"] == "exp:2.0" and obj["spec"]["updates"] == 300
    assert len(obj["simulated"]["per_seed"]) == 6
    lo, hi = obj["simulated"]["ci95"]
    assert lo < obj["simulated"]["mean"] < hi
    # Lemma 5 with equality: J (H_4 - H_2) / 2
    assert obj["theory"]["mean"] == pytest.approx(300 * (1 / 3 + 1 / 4) / 2)
    assert obj["theory"]["relation"] == "exact"
    assert set(obj["staleness"]) == {"mean", "max", "p0"}


def test_runtime_table_and_timeline_plot(capsys, tmp_path):
    png = tmp_path / "gantt.png"
    code, out, _ = run(
        capsys,
        "runtime",
        "--variant",
        "k-sync",
        "-P",
        "3",
        "-K",
        "2",
        "--iterations",
        "50",
        "--seeds",
        "2",
        "--plot",
        str(png),
    )
    assert code == 0 and "Lemma 3" in out and "gap" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "gantt.pdf").read_bytes()[:5] == b"%PDF-"
    assert b"<svg" in (tmp_path / "gantt.svg").read_bytes()[:2000]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gantt.pdf", "gantt.png", "gantt.svg"]


def test_theory_json_lists_every_variant(capsys):
    code, out, _ = run(capsys, "theory", "--dist", "pareto:2,1", "-P", "8", "-K", "4", "--json")
    obj = json.loads(out)
    assert code == 0
    assert set(obj["runtime"]) == {
        "sync",
        "async",
        "k-sync",
        "k-batch-sync",
        "k-async",
        "k-batch-async",
        "k-avg",
        "all-reduce",
        "rennala",
        "ringmaster",
    }
    assert obj["runtime"]["k-batch-sync"] == {
        "mean": None,
        "relation": "none",
        "source": "no closed form for K-batch-sync beyond exponential laws",
    }
    assert obj["runtime"]["async"]["relation"] == "asymptotic"


@pytest.mark.parametrize(
    "argv,needle",
    [
        (
            ["runtime", "--variant", "k-sync", "-P", "3", "-K", "4"],
            "-K must be <= the number of learners P (3); got 4",
        ),
        (["runtime", "--variant", "k-sync", "-P", "3", "-K", "0"], "-K must be >= 1; got 0"),
        (["runtime", "-P", "0"], "--learners must be >= 1; got 0"),
        (["runtime", "--iterations", "0"], "--iterations must be >= 1; got 0"),
        (["runtime", "--seeds", "0"], "--seeds must be >= 1; got 0"),
        (["runtime", "--dist", "exp:0"], "`Exponential.rate` must be > 0; got 0.0"),
        (["runtime", "--dist", "pareto:2,-1"], "`Pareto.scale`"),
        (["runtime", "--dist", "hyperexp:0.5,1,0.4,2"], "must sum to 1"),
        (["runtime", "--dist", "cauchy:1"], "--dist spec must be one of"),
        (["runtime", "--dist", "exp:1,2"], "--dist"),
        (["runtime", "--dist", "exp:abc"], "must be a number"),
        (["runtime", "--variant", "bogus"], "--variant must be one of"),
        (["runtime", "-P", "two"], "invalid int value"),
        (["runtime", "--dist", "empirical:does-not-exist.csv"], "does-not-exist.csv"),
        (["theory", "--dist", "gamma:0,1", "-P", "2"], "`Gamma.shape`"),
        (["theory", "-P", "4", "-K", "5"], "-K must be <= the number of learners P (4); got 5"),
        (["runtime", "--seed", str(2**63)], "--seed must be <= 9223372036854775807"),
        (["runtime", "--seed", "-1"], "--seed must be >= 0; got -1"),
        (["runtime", "--seed", str(2**63 - 2), "--seeds", "3"], "--seeds must keep every seed"),
        (["runtime", "-P", "3", "--speeds", "1", "2"], "--speeds must have P (3) entries"),
        (["runtime", "-P", "2", "--laws", "exp:1", "exp:-1"], "--laws: `Exponential.rate`"),
        (["runtime", "--push-latency", "exp:0"], "--push-latency: `Exponential.rate`"),
        (["runtime", "-P", "1000000", "--iterations", "1000000000"], "--iterations J=1000000000"),
        (["runtime", "-P", "1000000000", "--iterations", "1"], "--learners P=1000000000"),
        (["runtime", "--plot", "timeline.pdf"], "--plot must name a .png file"),
        (["runtime", "--plot", "no/such/folder/t.png"], "--plot must be in an existing folder"),
    ],
)
def test_bad_input_is_one_line_and_status_2(capsys, argv, needle):
    assert status(argv) == 2
    err = capsys.readouterr().err
    assert needle in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_empty_empirical_file_is_refused(capsys, tmp_path):
    empty = tmp_path / "times.csv"
    empty.write_text("")
    code, _, err = run(capsys, "runtime", "--dist", f"empirical:{empty}")
    assert code == 2 and "empty" in err.lower() and len(err.strip().splitlines()) == 1


def test_empirical_durations_drive_the_engine(capsys, tmp_path):
    path = tmp_path / "times.npy"
    np.save(path, np.array([1.0, 2.0, 3.0]))
    code, out, _ = run(
        capsys,
        "runtime",
        "--variant",
        "sync",
        "-P",
        "2",
        "--dist",
        f"empirical:{path}",
        "--iterations",
        "200",
        "--seeds",
        "3",
        "--json",
    )
    obj = json.loads(out)
    # E[max of two draws from {1, 2, 3}] = (1 + 2*3 + 3*5) / 9 = 22/9
    assert code == 0 and obj["theory"]["mean"] == pytest.approx(200 * 22 / 9)
