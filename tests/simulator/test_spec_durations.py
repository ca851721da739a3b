"""Measured durations in the experiment spec: identity by content, paths as typed,
relative paths, alternatives with the laws, and one-line refusals."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest

from distributions import Empirical
from simulator import ExperimentSpec, SpecError, SweepSpec, load_spec
from simulator._spec_durations import DurationsFile
from simulator.measured import read_durations
from simulator.studies.sweeps._spec import read_sweep_file

TINY = "worker,step,duration\na,1,1.0\na,2,2.0\nb,1,1.5\nb,2,0.5\nc,1,3.0\nc,2,1.0\n"


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "tiny.csv"
    path.parent.mkdir()
    path.write_text(TINY)
    return path


def test_a_spec_without_durations_keeps_its_form_and_digest():
    spec = ExperimentSpec(variant="k-async", num_learners=8, k=2, law="pareto:2,1")
    d = spec.to_dict()
    assert not {"durations", "durations_mode", "reuse_workers"} & set(d)
    assert "durations" not in spec.to_toml()
    assert spec.num_learners == 8 and spec.measured is None
    # the digests of specs without durations are those of earlier versions (pinned)
    assert ExperimentSpec().digest() == "736e9ac16478f673"


def test_the_digest_is_the_file_content_and_the_dict_keeps_the_path_as_typed(tiny, tmp_path):
    moved = tmp_path / "elsewhere.csv"
    shutil.copy(tiny, moved)
    a = ExperimentSpec(variant="sync", durations=str(tiny))
    b = ExperimentSpec(variant="sync", durations=moved)  # os.PathLike too
    assert a == b and a.digest() == b.digest() and hash(a) == hash(b)
    assert a.to_dict()["durations"] == str(tiny) and b.to_dict()["durations"] == str(moved)
    assert a.identity()["durations"] == "sha256:" + read_durations(tiny).sha256
    assert a.to_dict()["law"] is None and a.to_dict()["laws"] is None
    moved.write_text(TINY.replace("3.0", "3.5"))  # other content, other spec
    c = ExperimentSpec(variant="sync", durations=moved)
    assert c != a and c.digest() != a.digest()
    assert a.replace(durations_mode="resample").digest() != a.digest()


def test_round_trips_through_dict_json_and_toml(tiny, monkeypatch):
    monkeypatch.chdir(tiny.parent)
    spec = ExperimentSpec(
        variant="k-batch-sync",
        k=2,
        durations="tiny.csv",
        durations_mode="resample",
        speeds=[1, 2, 1],
    )
    for back in (
        ExperimentSpec.from_dict(spec.to_dict()),
        ExperimentSpec.from_json(spec.to_json()),
    ):
        assert back == spec and back.to_dict() == spec.to_dict()
    back = ExperimentSpec.from_toml(spec.to_toml())  # the path made absolute, same file
    assert back == spec and back.to_dict() == {**spec.to_dict(), "durations": str(tiny)}
    text = spec.to_toml()  # a TOML that reruns the run from any folder: the absolute path
    assert f'durations = "{tiny}"' in text and 'durations-mode = "resample"' in text
    assert "reuse-workers = false" in text and "laws" not in text and "dist" not in text
    assert repr(spec).startswith("ExperimentSpec(variant='k-batch-sync', num_learners=3, k=2")


def test_a_relative_path_in_a_config_file_is_read_from_the_files_folder(
    tiny, tmp_path, monkeypatch
):
    config = tiny.parent / "run.toml"
    config.write_text('[timing]\nvariant = "sync"\ndurations = "tiny.csv"\niterations = 3\n')
    monkeypatch.chdir(tmp_path)  # not the config's folder
    spec = load_spec(config)
    assert spec.durations == "tiny.csv" and spec.measured.source == "tiny.csv"
    assert spec.to_dict()["durations"] == "tiny.csv"  # as typed
    assert spec == ExperimentSpec(variant="sync", updates=3, durations=str(tiny))
    with pytest.raises(SpecError, match=r"`durations` must be a readable durations file"):
        ExperimentSpec(durations="tiny.csv")  # Python: from the working directory


def test_p_defaults_to_the_workers_and_learners_take_workers_l_mod_w(tiny):
    spec = ExperimentSpec(durations=str(tiny))
    assert spec.num_learners == 3 and spec.law is None and spec.heterogeneous
    assert [law.values.tolist() for law in spec.laws] == [[1.0, 2.0], [1.5, 0.5], [3.0, 1.0]]
    two = ExperimentSpec(durations=str(tiny), num_learners=2)
    assert [law.values.tolist() for law in two.laws] == [[1.0, 2.0], [1.5, 0.5]]
    five = ExperimentSpec(durations=str(tiny), num_learners=5, reuse_workers=True)
    assert five.laws[3] is five.laws[0] and five.laws[4] is five.laws[1]
    assert isinstance(five.laws[0], Empirical)


def test_replace_keeps_the_table_and_makes_law_laws_and_durations_alternatives(tiny):
    spec = ExperimentSpec(variant="sync", durations=str(tiny), updates=4)
    tiny.unlink()  # the table travels with the spec: never read again
    longer = spec.replace(updates=10, variant="k-sync", k=2)
    assert longer.measured is spec.measured and longer.updates == 10
    back = pickle.loads(pickle.dumps(longer))  # a spec sent to a Dask worker
    assert back == longer and back.measured.sha256 == spec.measured.sha256
    assert isinstance(back.durations, DurationsFile) and back.replace(seeds=2).seeds == 2
    laws = spec.replace(laws=["exp:1", "exp:2", "exp:3"])
    assert laws.durations is None and laws.laws[1].spec == "exp:2.0"
    assert "durations" not in laws.to_dict()
    plain = spec.replace(durations=None)
    assert plain.law.spec == "exp:1.0" and plain.laws is None and plain.num_learners == 3
    again = plain.replace(durations=back.durations, durations_mode="resample")
    assert again.durations_mode == "resample" and again.law is None


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(law="exp:1"), r"`durations` and `law` must not both be given"),
        (dict(laws=["exp:1"] * 3), r"`durations` and `laws` must not both be given"),
        (
            dict(num_learners=4),
            r"`num_learners` must be <= the 3 workers of durations file 'tiny.csv' unless "
            r"`reuse_workers` is set \(learner l then takes worker l mod 3\); got 4",
        ),
        (
            dict(num_learners=10**7 + 1, reuse_workers=True),
            r"`num_learners` must be <= 10000000 with durations; got 10000001",
        ),
        (dict(durations_mode="replays"), r"`durations_mode` must be one of replay, resample"),
        (dict(reuse_workers="yes"), r"`reuse_workers` must be true or false; got 'yes'"),
    ],
)
def test_bad_combinations_are_one_line_refusals(tiny, fields, message):
    with pytest.raises(SpecError, match=message) as info:
        ExperimentSpec(durations=str(tiny), **fields)
    assert "\n" not in str(info.value)


def test_the_durations_options_need_a_file_and_resample_refuses_censored_rows(tiny):
    for fields in (dict(durations_mode="resample"), dict(reuse_workers=True)):
        name = next(iter(fields))
        with pytest.raises(SpecError, match=rf"`{name}` applies only with `durations`") as info:
            ExperimentSpec(**fields)
        assert info.value.param == name
    cut = tiny.with_name("cut.csv")
    cut.write_text(TINY.replace("duration", "duration,censored").replace("3.0", "3.0,true"))
    assert ExperimentSpec(durations=str(cut)).measured.any_censored  # replay takes them
    with pytest.raises(SpecError, match=r"cut.csv' has 1 censored rows \(use replay") as info:
        ExperimentSpec(durations=str(cut), durations_mode="resample")
    assert info.value.param == "durations_mode"


@pytest.mark.parametrize(
    "text, message",
    [
        ("worker,step\na,1\n", r"must have columns worker, step, duration; missing duration"),
        ("worker,step,duration\na,1,1\na,2,-2\nb,1,1\nb,2,1\n", r"line 3 has '-2'"),
        ("worker,step,duration\na,1,1\na,2,inf\nb,1,1\nb,2,1\n", r"line 3 has 'inf'"),
        ("worker,step,duration\na,1,1\na,2,2\n", r"must hold at least 2 workers; got 1"),
        ("", r"must hold a header and rows; got an empty file"),
        ("worker,step,duration\na,1,1\na,2,2\nb,1,1\n", r"worker 'b' has 1"),
        (None, r"`durations` must be a readable durations file .* \(No such file"),
    ],
    ids=["column", "negative", "infinite", "one-worker", "empty", "one-step", "missing"],
)
def test_bad_files_are_refused_in_one_line_naming_the_file_and_row(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    if text is not None:
        path.write_text(text)
    with pytest.raises(SpecError, match=message) as info:
        ExperimentSpec(durations=str(path))
    assert info.value.param == "durations" and "\n" not in str(info.value)
    assert "bad.csv" in str(info.value)


@pytest.mark.parametrize("value", ["", "  ", 3, ["a.csv"]])
def test_a_durations_value_that_is_not_a_path_is_refused(value):
    with pytest.raises(SpecError, match=r"`durations` must be a durations file .* or llm-se"):
        ExperimentSpec(durations=value)


SWEEP = """
[timing]
variant = "sync"
iterations = 3
seeds = 2
durations = "{path}"
[grid]
K = [1, 2]
variant = ["k-sync", "k-async"]
"""


def test_a_sweep_reads_its_file_from_its_folder_and_is_identified_by_content(tiny, tmp_path):
    first = tiny.parent / "sweep.toml"
    first.write_text(SWEEP.format(path="tiny.csv").replace('variant = "sync"\n', ""))
    sweep = read_sweep_file(first)
    assert {c.measured.source for c in sweep.configurations()} == {"tiny.csv"}
    # the same sweep with the file elsewhere, by an absolute path: same digest, equal
    other = tmp_path / "moved" / "t.csv"
    other.parent.mkdir()
    shutil.copy(tiny, other)
    second = tmp_path / "s2.toml"
    second.write_text(SWEEP.format(path=other).replace('variant = "sync"\n', ""))
    moved = read_sweep_file(second)
    assert moved == sweep and moved.digest() == sweep.digest()
    assert [c.digest() for c in moved.configurations()] == [
        c.digest() for c in sweep.configurations()
    ]
    # its TOML reads back from any folder (absolute paths), as the same sweep
    assert str(tiny) in sweep.to_toml()
    assert SweepSpec.from_toml(sweep.to_toml()) == sweep
    # a swept durations file
    grid = SweepSpec.from_toml(
        f'[timing]\nvariant = "sync"\niterations = 2\n[grid]\ndurations = ["{tiny}", "{other}"]\n'
    )
    specs = grid.configurations()
    assert len(specs) == 1  # same content: one configuration
    other.write_text(TINY.replace("0.5", "0.25"))
    grid2 = SweepSpec.from_toml(
        f'[timing]\nvariant = "sync"\niterations = 2\n[grid]\ndurations = ["{tiny}", "{other}"]\n'
    )
    assert len(grid2.configurations()) == 2 and grid2.digest() != grid.digest()
    times = [c.measured.durations[1].tolist() for c in grid2.configurations()]
    assert times == [[1.5, 0.5], [1.5, 0.25]]


def test_a_sweep_refuses_a_bad_file_in_one_line(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[timing]\niterations = 2\n[grid]\ndurations = ["nope.csv"]\n')
    with pytest.raises(SpecError, match=r"^\[grid\] `durations` must be a readable") as info:
        read_sweep_file(path)
    assert info.value.param == "durations" and str(tmp_path / "nope.csv") in str(info.value)


def test_a_results_toml_reruns_the_same_spec_from_another_folder(tiny, tmp_path, monkeypatch):
    config = tiny.parent / "run.toml"
    config.write_text('[timing]\nvariant = "sync"\ndurations = "tiny.csv"\niterations = 3\n')
    spec = load_spec(config)
    written = tmp_path / "results" / "spec.toml"
    written.parent.mkdir()
    written.write_text(spec.to_toml())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert load_spec(written) == spec


def test_typed_durations_with_the_files_speeds_are_refused(tiny, tmp_path, capsys):
    from simulator.cli import main

    fitted = tmp_path / "fitted.toml"
    fitted.write_text('[timing]\nlearners = 3\nspeeds = [1.0, 2.0, 1.0]\ndist = "exp:1"\n')
    code = main(["runtime", "--config", str(fitted), "--durations", str(tiny), "-J", "3"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "--durations replaces the law of fitted.toml, whose `speeds` would divide" in err
    assert main(["runtime", "--config", str(fitted), "--durations", str(tiny), "-J", "3",
                 "--speeds", "1", "1", "1", "--json"]) == 0  # fmt: skip
