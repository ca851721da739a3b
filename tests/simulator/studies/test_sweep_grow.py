"""Sweeps that grow: more seeds or more grid values run only what is new, every stored row is
kept, and a store of the previous pssim version is adopted without running it again.

The units a sweep runs are read from the rows each task returns (``variant``, ``k``,
``seed``), so the counts do not depend on how tasks are grouped.
"""

from __future__ import annotations

import hashlib
import json
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from simulator import SpecError, SweepSpec, load_sweep, sweep
from simulator.studies.sweeps import _exec as _sweep_exec
from simulator.studies.sweeps._manifest import schema_fingerprint

#: Three configurations (K-sync with K = 1, 2; async), the smallest timing runs.
TIMING = {"learners": 4, "iterations": 30, "dist": "exp:2"}
GRID = {"variant": ["k-sync", "async"], "K": [1, 2]}


def timing(seeds: int, grid: dict | None = None, **base) -> SweepSpec:
    return SweepSpec(base={**TIMING, "seeds": seeds, **base}, grid=grid or GRID)


@pytest.fixture
def ran(monkeypatch) -> list[tuple[str, int, int]]:
    """The (variant, K, seed) units every task of the sweeps of the test runs."""
    units: list[tuple[str, int, int]] = []
    real = _sweep_exec.run_task

    def recording(task):
        table = real(task)
        frame = table.select(["variant", "k", "seed"]).to_pandas().drop_duplicates()
        units.extend(frame.itertuples(index=False, name=None))
        return table

    monkeypatch.setattr(_sweep_exec, "run_task", recording)
    return units


def hashes(out) -> dict[str, str]:
    """SHA-256 of every file of the results folder, by name."""
    folder = out / "results.parquet"
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def units_of(frame: pd.DataFrame) -> set[tuple[str, int, int]]:
    return set(frame[["variant", "k", "seed"]].drop_duplicates().itertuples(index=False, name=None))


def test_more_seeds_run_only_the_new_seeds_and_keep_every_part(tmp_path, ran):
    first = sweep(timing(2), tmp_path / "run", scheduler="serial")
    before = hashes(tmp_path / "run")
    assert first.complete and len(ran) == 3 * 2
    ran.clear()
    grown = sweep(timing(4), tmp_path / "run", scheduler="serial")
    assert sorted(seed for _, _, seed in ran) == [2, 2, 2, 3, 3, 3]  # the new seeds only
    assert (grown.units, grown.units_skipped, grown.units_ran) == (12, 6, 6)
    assert (grown.ran, grown.skipped, grown.complete) == (3, 0, True) and not grown.ignored
    after = hashes(tmp_path / "run")
    assert {name: after[name] for name in before} == before  # stored parts byte-identical
    fresh = sweep(timing(4), tmp_path / "fresh", scheduler="serial").frame()
    pd.testing.assert_frame_equal(grown.frame(), fresh)
    pd.testing.assert_frame_equal(load_sweep(tmp_path / "run"), fresh)


def test_a_new_grid_value_runs_only_its_configuration(tmp_path, ran):
    sweep(timing(2), tmp_path / "run", scheduler="serial")
    ran.clear()
    wider = {"variant": ["k-sync", "async"], "K": [1, 2, 4]}
    grown = sweep(timing(2, wider), tmp_path / "run", scheduler="serial")
    assert sorted(ran) == [("k-sync", 4, 0), ("k-sync", 4, 1)]
    assert (grown.configurations, grown.ran, grown.skipped, grown.units_ran) == (4, 1, 3, 2)
    fresh = sweep(timing(2, wider), tmp_path / "fresh", scheduler="serial").frame()
    pd.testing.assert_frame_equal(grown.frame(), fresh)


def test_shrinking_keeps_every_row_and_growing_back_runs_nothing(tmp_path, ran):
    out = tmp_path / "run"
    full = sweep(timing(4), out, scheduler="serial").frame()
    stored = hashes(out)
    ran.clear()
    fewer = sweep(timing(2, {"variant": ["k-sync"], "K": [1, 2]}), out, scheduler="serial")
    assert ran == [] and fewer.complete and (fewer.units, fewer.units_skipped) == (4, 4)
    frame = fewer.frame()  # the units of the smaller sweep, its seed count in `seeds`
    assert units_of(frame) == {(v, k, s) for v, k in [("k-sync", 1), ("k-sync", 2)] for s in (0, 1)}
    assert set(frame["seeds"]) == {2}
    assert len(pd.read_parquet(out / "results.parquet")) == len(full)  # every row kept
    assert hashes(out) == stored
    back = sweep(timing(4), out, scheduler="serial")
    assert ran == [] and (back.ran, back.skipped, back.units_ran) == (0, 3, 0) and back.complete
    pd.testing.assert_frame_equal(back.frame(), full)


def test_a_sweep_with_nothing_to_run_starts_no_cluster(tmp_path, monkeypatch):
    import dask.distributed

    sweep(timing(2), tmp_path, scheduler="serial")

    def cluster(**kw):
        raise AssertionError("a LocalCluster was started")

    monkeypatch.setattr(dask.distributed, "LocalCluster", cluster)
    for spec in (timing(2), timing(1)):  # the same sweep, then a smaller one
        again = sweep(spec, tmp_path, workers=1)
        assert again.complete and again.units_ran == 0


def test_a_sweep_sharing_no_configuration_is_refused(tmp_path, ran):
    out = tmp_path / "run"
    sweep(timing(2), out, scheduler="serial")
    before = hashes(out)
    for other, why in [
        (timing(2, iterations=31), "no configuration in common"),
        (SweepSpec(base={**TIMING, "seeds": 2}, grid=GRID, kind="training"), "is training"),
    ]:
        with pytest.raises(SpecError, match=f"holds another sweep .*{why}.*choose another folder"):
            sweep(other, out, scheduler="serial")
    assert hashes(out) == before and len(load_sweep(out)) == 6


def test_a_store_without_rows_takes_another_sweep(tmp_path, monkeypatch):
    out = tmp_path / "run"
    monkeypatch.setattr(_sweep_exec, "run_task", lambda task: 1 / 0)
    assert not sweep(timing(1), out, scheduler="serial").complete  # every task failed
    monkeypatch.undo()
    other = sweep(timing(1, iterations=31), out, scheduler="serial")
    assert other.complete and other.units_ran == 3


def test_the_seed_count_is_not_swept():
    with pytest.raises(SpecError, match=r"`seeds` is swept in \[grid\]; set it once"):
        SweepSpec(base=TIMING, grid={"seeds": [2, 4]})


# -- training: stored rows unchanged; a time budget keeps its seeds readable ------------------

TRAINING = {"variant": "k-sync", "learners": 2, "eval-every": 10, "training": {"lr": 0.05}}


def test_a_training_sweep_grows_with_its_stored_rows_unchanged(tmp_path, ran):
    spec = SweepSpec(base={**TRAINING, "iterations": 20, "seeds": 1}, grid={"K": [1, 2]})
    first = sweep(spec, tmp_path / "run", scheduler="serial").frame()
    before = hashes(tmp_path / "run")
    ran.clear()
    spec = SweepSpec(base={**TRAINING, "iterations": 20, "seeds": 2}, grid={"K": [1, 2]})
    grown = sweep(spec, tmp_path / "run", scheduler="serial")
    assert sorted(ran) == [("k-sync", 1, 1), ("k-sync", 2, 1)] and grown.complete
    frame = grown.frame()
    old = frame[frame["seed"] == 0].reset_index(drop=True)
    pd.testing.assert_frame_equal(old.drop(columns="seeds"), first.drop(columns="seeds"))
    assert {name: hashes(tmp_path / "run")[name] for name in before} == before
    assert set(frame["seeds"]) == {2} and len(frame) == 2 * len(first)


def test_a_time_budget_training_sweep_grows_into_one_readable_table(tmp_path, ran):
    from simulator.results import mean_curves
    from simulator.spec import default_eval_every

    base = {"variant": "k-sync", "learners": 2, "time-budget": 100.0, "training": {"lr": 0.05}}
    for seeds in (1, 3):
        spec = SweepSpec(base={**base, "seeds": seeds}, grid={"K": [1, 2]})
        grown = sweep(spec, tmp_path, scheduler="serial")
    frame = grown.frame()
    assert grown.complete and set(frame["seed"]) == {0, 1, 2}
    # the new seeds' J comes from their own run (here one whose default evaluation spacing,
    # about J / 100, is not the stored seed's); they keep the stored seed's spacing
    runs = frame[frame["k"] == 1].groupby("seed")["updates"].first()
    assert default_eval_every(runs[0]) != default_eval_every(runs[1]) and runs[1] == runs[2]
    assert (frame.groupby("k")["eval_every"].nunique() == 1).all()
    assert (frame.groupby(["k", "seed"])["time"].max() <= 100.0).all()
    curves = mean_curves(frame, "k")
    assert set(curves["seeds"]) == {3}


# -- a store of the previous version ---------------------------------------------------------


def as_previous_version(out, spec: SweepSpec, *, manifest: bool = True) -> None:
    """Rewrite a store as the previous pssim version wrote it: rows keyed by each
    configuration's spec digest (seed count included), parts named by those digests and
    tagged with the sweep's digest, manifest lines without replicates, no store.json."""
    digests = {(c.variant, c.canonical[1]): c.digest() for c in spec.configurations()}
    results = out / "results.parquet"
    lines = []
    for path in sorted(results.glob("part-*.parquet")):
        table = pq.read_table(path)
        frame = table.select(["variant", "k"]).to_pandas()
        keys = [digests[(v, k)] for v, k in frame.itertuples(index=False, name=None)]
        column = table.schema.get_field_index("config")
        table = table.set_column(column, "config", pa.array(keys, pa.string()))
        metadata = {**table.schema.metadata, b"pssim.sweep": spec.digest().encode()}
        metadata.pop(b"pssim.store", None)
        table = table.replace_schema_metadata(metadata)
        configs = sorted(set(keys))
        name = f"part-{hashlib.sha256(','.join(configs).encode()).hexdigest()[:16]}.parquet"
        path.unlink()
        pq.write_table(table, results / name)
        data = (results / name).read_bytes()
        entry = {
            "part": name,
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
            "rows": table.num_rows,
            "configs": configs,
            "sweep": spec.digest(),
            "schema": schema_fingerprint(spec.kind),
        }
        lines.append(json.dumps(entry) + "\n")
    (out / "manifest.jsonl").write_text("".join(lines))
    if not manifest:
        (out / "manifest.jsonl").unlink()
    (out / "store.json").unlink(missing_ok=True)


@pytest.mark.parametrize("manifest", [True, False], ids=["manifest", "before-manifests"])
def test_a_previous_version_store_is_adopted_and_grows(tmp_path, ran, manifest):
    out = tmp_path / "run"
    sweep(timing(2), out, scheduler="serial")
    as_previous_version(out, timing(2), manifest=manifest)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing ignored
        assert len(load_sweep(out)) == 6  # read as it is, nothing moved
    ran.clear()
    grown = sweep(timing(4), out, scheduler="serial")
    assert sorted(seed for _, _, seed in ran) == [2, 2, 2, 3, 3, 3] and not grown.ignored
    assert (grown.units_skipped, grown.units_ran, grown.complete) == (6, 6, True)
    fresh = sweep(timing(4), tmp_path / "fresh", scheduler="serial").frame()
    pd.testing.assert_frame_equal(grown.frame(), fresh)
    # the earlier parts were rewritten with keys: the raw table has one key per configuration
    raw = pd.read_parquet(out / "results.parquet")
    assert len(raw) == 12 and raw.groupby("config")["variant"].size().to_dict() == {
        c: 4 for c in fresh["config"].unique()
    }
    lines = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    assert all("replicates" in line for line in lines) and not (out / "ignored").exists()


# -- the advisor's pattern: one folder, subsets of candidates, growing seeds ------------------


def test_subsets_of_candidates_with_growing_seeds_run_only_new_units(tmp_path, ran):
    """How a caller that screens candidates and adds seeds to the leaders uses one store:
    each round is a SweepSpec of the candidates still in the race, with more seeds."""
    candidates = [("k-sync", 1), ("k-sync", 2), ("k-sync", 4), ("k-async", 2)]
    out = tmp_path / "advise"

    def round_of(chosen, seeds):
        zipped = {"variant": [v for v, _ in chosen], "K": [k for _, k in chosen]}
        return SweepSpec(base={**TIMING, "seeds": seeds}, grid={}, zips=(zipped,))

    rounds = [(candidates, 2), (candidates[:2], 4), (candidates[1:2], 6)]
    for chosen, seeds in rounds:
        ran.clear()
        result = sweep(round_of(chosen, seeds), out, scheduler="serial")
        assert result.complete and len(ran) == result.units_ran
        frame = result.frame()
        assert units_of(frame) == {(v, k, s) for v, k in chosen for s in range(seeds)}
    assert sorted(ran) == [("k-sync", 2, 4), ("k-sync", 2, 5)]  # the last round: two seeds
    assert len(pd.read_parquet(out / "results.parquet")) == 4 * 2 + 2 * 2 + 2
    assert np.array_equal(np.sort(frame["seed"].unique()), np.arange(6))
