"""The sweep file: grid and zip expansion, kinds, figures, identity, and refusals."""

from __future__ import annotations

import pytest

from simulator import ExperimentSpec, SpecError, SweepSpec

TIMING = """
[timing]
learners = 4
iterations = 50
seeds = 2
"""


def sweep_of(text: str) -> SweepSpec:
    return SweepSpec.from_toml(TIMING + text)


def test_grid_is_a_cartesian_product_in_file_order():
    sweep = sweep_of('[grid]\nvariant = ["k-sync", "k-async"]\nK = [1, 2, 4]\n')
    configs = sweep.configurations()
    assert [(c.variant, c.k) for c in configs] == [
        ("k-sync", 1),
        ("k-sync", 2),
        ("k-sync", 4),
        ("k-async", 1),
        ("k-async", 2),
        ("k-async", 4),
    ]
    assert all(c.num_learners == 4 and c.updates == 50 and c.seeds == 2 for c in configs)
    assert sweep.kind == "timing"
    assert sweep.swept() == ["variant", "k"]


def test_zip_varies_its_keys_together_and_multiplies_the_grid():
    sweep = sweep_of(
        'variant = "k-sync"\n[grid]\nK = [1, 2]\n[[zip]]\nbatch = [1, 4, 16]\n'
        'dist = ["shifted-exp:1,1", '
        '"shifted-exp:4,1", "shifted-exp:16,1"]\n[sweep]\nkind = "timing"\n'
    )
    got = [(c.k, c.batch_size, c.law.spec) for c in sweep.configurations()]
    assert len(got) == 6
    assert {(m, law) for _, m, law in got} == {
        (1, ExperimentSpec(law="shifted-exp:1,1").law.spec),
        (4, ExperimentSpec(law="shifted-exp:4,1").law.spec),
        (16, ExperimentSpec(law="shifted-exp:16,1").law.spec),
    }


def test_sync_and_async_imply_their_k_and_duplicates_are_dropped():
    sweep = sweep_of('[grid]\nvariant = ["sync", "async", "k-sync"]\nK = [1, 2]\n')
    got = [(c.variant, c.canonical[1]) for c in sweep.configurations()]
    assert got == [("sync", 4), ("async", 1), ("k-sync", 1), ("k-sync", 2)]


def test_kind_is_training_with_a_training_table_or_a_swept_training_key():
    assert sweep_of("[training]\nlr = 0.1\n[grid]\nK = [1]\n").kind == "training"
    assert sweep_of("[grid]\nbatch = [1, 2]\n").kind == "training"
    assert sweep_of('[grid]\nbatch = [1, 2]\n[sweep]\nkind = "timing"\n').kind == "timing"


def test_toml_round_trip_and_digest():
    sweep = sweep_of(
        '[grid]\nvariant = ["k-sync", "k-async"]\nK = [1, 2]\n[[zip]]\nseed = [0, 7]\n'
        "lr = [0.1, 0.2]\n"
    )
    again = SweepSpec.from_toml(sweep.to_toml())
    assert again == sweep and again.digest() == sweep.digest()
    assert [c.digest() for c in again.configurations()] == [
        c.digest() for c in sweep.configurations()
    ]
    other = sweep_of('[grid]\nvariant = ["k-sync", "k-async"]\nK = [1, 4]\n')
    assert other.digest() != sweep.digest()


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[grid]\nKK = [1, 2]\n", "[grid] key 'KK'"),
        ("[grid]\nK = []\n", "non-empty list"),
        ("[grid]\nK = 3\n", "non-empty list"),
        ('[grid]\nK = [1, 8]\nvariant = ["k-sync"]\n', "configuration (K=8"),
        ("[grid]\nlearners = [2, 3]\n", "give it once"),
        ("[[zip]]\nK = [1, 2]\nbatch = [1]\n", "one length"),
        ('[sweep]\nkind = "both"\n[grid]\nK = [1]\n', "`kind` must be one of"),
        ("[sweep]\nworkers = 2\n[grid]\nK = [1]\n", "not a sweep setting"),
        ("", "nothing to sweep"),
        ('[grid]\ndist = ["exp:-1"]\n', "configuration (dist='exp:-1')"),
        ('[grid]\nK = [1]\n[[figure]]\nkind = "pie"\n', "`kind` must be one of"),
        ('[grid]\nK = [1]\n[[figure]]\nkind = "curves"\nby = "K"\n', "needs a training sweep"),
        ('[grid]\nbatch = [1]\n[[figure]]\nkind = "curves"\nby = "lr"\n', "must be a swept key"),
        ('[grid]\nbatch = [1]\n[[figure]]\nkind = "heatmap"\nx = "batch"\n', "needs `y`"),
    ],
)
def test_bad_sweep_files_are_refused_with_one_line(text, needle):
    with pytest.raises(SpecError) as err:
        sweep_of(text)
    message = str(err.value)
    assert needle in message and "\n" not in message


def test_figure_columns_are_read_as_field_names():
    sweep = sweep_of(
        'variant = "k-sync"\n[grid]\nK = [1, 2]\nbatch = [1, 4]\n'
        '[[figure]]\nkind = "heatmap"\nx = "K"\n'
        'y = "batch"\nname = "k_by_m"\n[[figure]]\nkind = "curves"\nby = "K"\n'
        "where = { batch = 4 }\n"
    )
    heat, curves = sweep.figures
    assert (heat["x"], heat["y"], heat["name"]) == ("k", "batch_size", "k_by_m")
    assert curves["where"] == {"batch_size": 4}
    bare = sweep_of('variant = "k-sync"\n[grid]\nK = [1, 2]\nbatch = [1, 4]\n')
    assert bare == sweep and bare.digest() == sweep.digest()
