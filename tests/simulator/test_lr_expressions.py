"""Learning rates typed as expressions in K, m and P: resolved per configuration (variant,
compare, sweeps), kept as typed in the dict, TOML, JSON and digest, refused in one line;
``lr_schedule`` in the spec, its rows and titles, and from the command line."""

from __future__ import annotations

import json
import math

import pytest
from cli_process import pssim

from simulator import ExperimentSpec, SweepSpec
from simulator.errors import SpecError
from simulator.plots._titles import setting_phrases
from simulator.studies.comparison import variant_specs
from simulator.studies.sweeps._rows import SPEC_COLUMNS, Task, run_task

S = ExperimentSpec


# ------------------------------------------------------------------------- resolution
@pytest.mark.parametrize(
    ("fields", "lr"),
    [
        (dict(variant="sync", num_learners=6), 0.06),  # K = P
        (dict(variant="async", num_learners=6), 0.01),  # K = 1
        (dict(variant="k-sync", k=3), 0.03),
        (dict(variant="k-batch-async", k=5), 0.05),
        (dict(variant="k-avg", k=7), 0.07),  # K = local steps
        (dict(variant="rennala", k=20, num_learners=4), 0.2),  # K = the batch, may exceed P
        (dict(variant="all-reduce", num_learners=5), 0.05),
        (dict(variant="ringmaster", staleness_limit=3), 0.01),
    ],
)
def test_lr_in_k_is_the_variants_resolved_k(fields, lr):
    spec = S(lr="0.01*K", **fields)
    assert spec.lr == pytest.approx(lr, rel=1e-15)
    assert isinstance(spec.lr, float)
    assert spec.rate_expressions == {"lr": "0.01*K"}
    assert spec.to_dict()["lr"] == "0.01*K"


def test_m_p_and_functions():
    spec = S(lr="0.05*sqrt(m)", batch_size=16)
    assert spec.lr == pytest.approx(0.2)
    assert S(lr="min(0.1, 0.01*K*P/2)", variant="k-sync", k=4, num_learners=8).lr == 0.1
    assert S(lr="max(0.001, 0.1/P)", num_learners=200).lr == 0.001
    assert S(lr="1e-2 * m ** 0.5 / (1 + K)", variant="k-sync", k=3, batch_size=4).lr == 0.005
    spec = S(rule="compensated", lr="0.02*K", lr_c="1e-4*m", variant="k-sync", k=2, batch_size=3)
    assert (spec.lr, spec.lr_c) == (0.04, pytest.approx(3e-4))
    assert spec.rate_expressions == {"lr": "0.02*K", "lr_c": "1e-4*m"}
    spec = S(rule="dc-asgd", dc_lambda="0.01*P", num_learners=4)
    assert spec.dc_lambda == 0.04 and spec.to_dict()["dc_lambda"] == "0.01*P"


def test_replace_resolves_again_and_a_new_lr_drops_the_expression():
    spec = S(variant="k-sync", k=4, num_learners=8, batch_size=2, lr="0.01*K*m/P")
    assert spec.lr == pytest.approx(0.01)
    assert spec.replace(k=8).lr == pytest.approx(0.02)
    assert spec.replace(batch_size=8).lr == pytest.approx(0.04)
    assert spec.replace(num_learners=4).lr == pytest.approx(0.02)
    assert spec.replace(variant="sync", k=None).lr == pytest.approx(0.02)  # K = P = 8
    assert spec.replace(variant="async", k=None).lr == pytest.approx(0.0025)
    assert spec.replace(k=2).rate_expressions == {"lr": "0.01*K*m/P"}
    plain = spec.replace(lr=0.3)
    assert plain.lr == 0.3 and plain.rate_expressions == {} and plain.to_dict()["lr"] == 0.3


def test_compare_gives_each_variant_its_own_rate():
    spec = S(variant="k-async", k=4, num_learners=8, lr="0.01*K")
    specs = variant_specs(spec, ["sync", "async", "k-sync", "k-async", "k-avg"])
    assert [v.lr for v in specs] == pytest.approx([0.08, 0.01, 0.04, 0.04, 0.04])
    assert all(v.to_dict()["lr"] == "0.01*K" for v in specs)


def test_a_sweep_resolves_each_configuration():
    sweep = SweepSpec.from_toml(
        '[timing]\nvariant = "k-sync"\nlearners = 8\niterations = 20\nseeds = 1\n'
        '[training]\nlr = "0.01*K"\n[grid]\nK = [1, 2, 4]\n'
    )
    assert [c.lr for c in sweep.configurations()] == pytest.approx([0.01, 0.02, 0.04])


# ------------------------------------------------------------------ identity, round trips
#: Digests of specs with plain numbers, computed before rates could be expressions.
DIGESTS = [
    ({}, "736e9ac16478f673"),
    (dict(variant="k-sync", k=4, lr=0.05, batch_size=8), "9c0ce50b97fd5fcb"),
    (dict(rule="compensated", lr=0.02, lr_c=1e-4), "5c6f9349812195e5"),
    (dict(rule="dc-asgd", lr=0.1, dc_lambda=0.1), "101dd88925420e0f"),
    (
        dict(variant="k-avg", k=3, lr=0.2, law="shifted-exp:0.5*m,1", batch_size=4),
        "ebe7950a2c8c26e3",
    ),
    (dict(time_budget=50.0, lr=1), "6047c1fbedec449f"),
]


@pytest.mark.parametrize(("fields", "digest"), DIGESTS)
def test_plain_numbers_keep_their_digest(fields, digest):
    spec = S(**fields)
    assert spec.digest() == digest
    assert "lr_schedule" not in spec.to_dict()
    assert spec.rate_expressions == {}


def test_round_trips_keep_the_expression_and_the_schedule():
    spec = S(
        variant="k-sync",
        k=4,
        rule="compensated",
        lr="0.01*K",
        lr_c="5e-5*sqrt(m)",
        batch_size=4,
        lr_schedule="warmup:10 + cosine:0.1",
    )
    assert spec.lr_schedule == "warmup:10+cosine:0.1"
    for again in (
        S.from_toml(spec.to_toml()),
        S.from_json(spec.to_json()),
        S.from_dict(spec.to_dict()),
    ):
        assert again == spec and again.digest() == spec.digest()
        assert (again.lr, again.lr_c) == (spec.lr, spec.lr_c)
    text = spec.to_toml()
    assert 'lr = "0.01*K"' in text and 'lr-schedule = "warmup:10+cosine:0.1"' in text
    plain = S(variant="k-sync", k=4, rule="compensated", lr=0.04, lr_c=1e-4, batch_size=4)
    assert plain.lr == spec.lr and plain.digest() != spec.replace(lr_schedule=None).digest()
    assert "lr_schedule='warmup:10+cosine:0.1'" in repr(spec) and "lr='0.01*K'" in repr(spec)


def test_a_string_without_symbols_is_the_number():
    assert S(lr="0.25").digest() == S(lr=0.25).digest()
    assert S(lr="1/4").to_dict()["lr"] == 0.25 and S(lr="1/4").rate_expressions == {}


# ------------------------------------------------------------------------- refusals
@pytest.mark.parametrize(
    ("fields", "param", "message"),
    [
        (
            dict(lr="0.01*k"),
            "lr",
            "`lr` must be a number or an expression in K, m and P; got '0.01*k': unknown "
            "name 'k' (names: K, m, P, min, max, sqrt)",
        ),
        (dict(lr="log(m)"), "lr", "got 'log(m)': unknown function 'log' (names: K, m, P,"),
        (
            dict(lr="0.01*(K-4)", variant="k-sync", k=4),
            "lr",
            "`lr` must be a finite number > 0; got 0.0 from '0.01*(K-4)' with K=4, m=1, P=8",
        ),
        (
            dict(lr="0.1-m", batch_size=2),
            "lr",
            "`lr` must be a finite number > 0; got -1.9 from '0.1-m' with K=1, m=2, P=8",
        ),
        (
            dict(lr="1/(P-8)"),
            "lr",
            "`lr` must be a finite number > 0; got no number from '1/(P-8)' with K=1, m=1, "
            "P=8: division by zero",
        ),
        (dict(lr="10**(100*P)"), "lr", "from '10**(100*P)' with K=1, m=1, P=8: overflow"),
        (dict(lr="sqrt(m, 2)"), "lr", "got 'sqrt(m, 2)': sqrt takes one value"),
        (dict(lr="m.real"), "lr", "'m.real' is not allowed"),
        (dict(lr="True"), "lr", "'True' is not a plain decimal number"),
        (dict(lr=""), "lr", "got '': nothing"),
        (dict(lr=[0.1]), "lr", "`lr` must be a number or an expression in K, m and P; got"),
        (dict(lr=float("nan")), "lr", "`lr` must be a finite number > 0; got nan"),
        (
            dict(rule="compensated", lr_c="-m"),
            "lr_c",
            "`lr_c` must be a finite number > 0; got -1.0 from '-m' with K=1, m=1, P=8",
        ),
        (
            dict(rule="dc-asgd", dc_lambda="m-2"),
            "dc_lambda",
            "`dc_lambda` must be a finite number >= 0; got -1.0 from 'm-2'",
        ),
        (dict(dc_lambda="0.1*K"), "dc_lambda", "`dc_lambda` applies to the dc-asgd rule only"),
        (
            dict(lr_schedule="linear"),
            "lr_schedule",
            "`lr_schedule` must be one of step:FACTOR,EVERY, cosine[:ALPHA], warmup:N, or "
            "warmup:N+ either of the first two; got 'linear': 'linear' is not one of them",
        ),
        (dict(lr_schedule="step:1.5,10"), "lr_schedule", "step FACTOR must be in (0, 1]; got"),
        (dict(lr_schedule="step:0.5,0"), "lr_schedule", "step EVERY must be >= 1; got 0"),
        (dict(lr_schedule="cosine:2"), "lr_schedule", "cosine ALPHA must be in [0, 1]; got 2"),
        (dict(lr_schedule="warmup:0"), "lr_schedule", "warm-up N must be >= 1; got 0"),
        (dict(lr_schedule="cosine+warmup:5"), "lr_schedule", "only a warm-up may come before"),
        (dict(lr_schedule="warmup:5+warmup:5"), "lr_schedule", "the warm-up comes first"),
        (dict(lr_schedule=0.5), "lr_schedule", "got 0.5"),
    ],
)
def test_refusals_are_one_line(fields, param, message):
    with pytest.raises(SpecError) as info:
        S(**fields)
    text = str(info.value)
    assert message in text and "\n" not in text and info.value.param == param


def test_a_warmup_may_outlast_the_run():
    assert S(updates=100, lr_schedule="warmup:100").lr_schedule == "warmup:100"
    assert S(time_budget=10.0, lr_schedule="warmup:5000+cosine").lr_schedule is not None


# ------------------------------------------------------------------ rows, titles, CLI
def test_sweep_rows_hold_the_resolved_rate_and_the_schedule():
    specs = (
        S(variant="k-sync", k=2, num_learners=4, updates=5, seeds=1, lr="0.01*K"),
        S(variant="k-sync", k=4, num_learners=4, updates=5, seeds=1, lr_schedule="cosine"),
    )
    table = run_task(Task("timing", specs))
    assert SPEC_COLUMNS["lr"] == "float64" and SPEC_COLUMNS["lr_schedule"] == "string"
    assert table.column("lr").to_pylist() == [0.02, 0.01]
    assert table.column("lr_schedule").to_pylist() == [None, "cosine"]  # null: constant


def test_titles_show_the_rate_as_typed_and_the_schedule():
    phrases = setting_phrases({"rule": "fixed", "lr": "0.01*K", "lr_schedule": "cosine"})
    assert phrases == ["rule=fixed", "lr=0.01*K", "lr schedule cosine"]
    assert setting_phrases({"lr": 0.05}) == ["lr=0.05"]


def test_cli_train_with_an_expression_and_a_schedule(tmp_path):
    args = ["train", "--lr", "0.01*K", "-K", "4", "--variant", "k-sync", "-P", "4"]
    args += ["--lr-schedule", "cosine", "--iterations", "100", "--seeds", "1", "--out", "r"]
    code, _, err = pssim(args, cwd=tmp_path, timeout=600)
    assert code == 0, err
    saved = (tmp_path / "r" / "spec.toml").read_text()
    assert 'lr = "0.01*K"' in saved and 'lr-schedule = "cosine"' in saved
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["experiment"]["lr"] == "0.01*K"
    assert summary["experiment"]["lr_schedule"] == "cosine"
    assert S.from_toml(saved).lr == pytest.approx(0.04)


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["--lr", "0.01*k"],
            "--lr must be a number or an expression in K, m and P; got '0.01*k': unknown name "
            "'k' (names: K, m, P, min, max, sqrt)",
        ),
        (["--lr", "0.01*(K-1)"], "--lr must be a finite number > 0; got 0.0 from"),
        (["--lr", "0"], "--lr must be a finite number > 0; got 0.0"),
        (["--lr-schedule", "cos"], "--lr-schedule must be one of step:FACTOR,EVERY"),
    ],
)
def test_cli_refusals(tmp_path, args, line):
    code, _, err = pssim(["train", "--variant", "async", *args], cwd=tmp_path)
    assert code == 2
    assert line in err and len(err.strip().splitlines()) == 1


def test_cli_plain_number_is_a_float():
    from simulator.cli.options import OPTIONS

    parse = OPTIONS["lr"][1]["type"]
    assert parse("0.05") == 0.05 and parse("1e-3") == 0.001 and parse("0.01*K") == "0.01*K"
    assert math.isnan(parse("nan"))  # a number: the spec refuses it as before
    with pytest.raises(ValueError):
        parse("٠.١")  # digits Python would read, refused as for any number


def test_compare_trains_each_variant_at_its_own_rate_and_schedule():
    from simulator import compare

    spec = ExperimentSpec(
        variant="k-sync", num_learners=4, k=2, lr="0.05*K", updates=40, seeds=1, eval_every=10
    )
    plain = compare(spec, variants=["async", "k-sync", "sync"], f_star=0.0, target=10.0)
    frame = plain.results_frame().drop_duplicates("variant").set_index("variant")
    assert frame["lr"].to_dict() == {"async": 0.05, "k-sync": 0.1, "sync": 0.2}
    scheduled = compare(
        spec.replace(lr_schedule="cosine"),
        variants=["async", "k-sync", "sync"],
        f_star=0.0,
        target=10.0,
    )
    for a, b in zip(plain.runs, scheduled.runs, strict=True):
        assert a.result.loss[0][0] == b.result.loss[0][0]  # the same start
        assert a.result.loss[0][-1] != b.result.loss[0][-1]  # a cosine changes the end
