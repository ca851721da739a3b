"""Rennala and Ringmaster from the command line: the staleness limit is ringmaster's, a
comparison carries it to ringmaster only, and the variants' K follow their rules."""

from __future__ import annotations

import json

from tests.simulator.cli_process import one_line, pssim


def test_a_staleness_limit_with_another_single_variant_is_refused(tmp_path):
    code, _, err = pssim(["runtime", "--variant", "async", "--staleness-limit", "4"], cwd=tmp_path)
    assert code == 2
    assert one_line(err) == (
        "pssim: error: --staleness-limit applies to --variant ringmaster only; got --variant async"
    )


def test_ringmaster_without_a_staleness_limit_is_refused(tmp_path):
    code, _, err = pssim(["runtime", "--variant", "ringmaster"], cwd=tmp_path)
    assert code == 2 and "--staleness-limit R must be given" in one_line(err)


def test_compare_gives_the_limit_to_ringmaster_and_k_to_rennala(tmp_path):
    argv = ["compare", "--variants", "async,ringmaster,rennala", "--staleness-limit", "3"]
    argv += ["-P", "3", "-K", "5", "--iterations", "40", "--seeds", "1", "--json"]
    argv += ["--out", str(tmp_path / "out")]
    code, out, err = pssim(argv, cwd=tmp_path, timeout=300)
    assert code == 0, err
    runs = {run["variant"]: run for run in json.loads(out)["runs"]}
    assert runs["ringmaster"]["spec"]["staleness_limit"] == 3
    assert "staleness_limit" not in runs["async"]["spec"]
    assert runs["rennala"]["spec"]["k"] == 5 and runs["ringmaster"]["spec"]["k"] is None
