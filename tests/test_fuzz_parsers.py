"""Random input thrown at every parser finds no traceback.

Random bytes, random TOML (deep nesting, huge and odd numbers, dates, unicode, the real
keys with wrong values), random law strings and random durations tables go to the config,
sweep-file and measured-durations readers,
``ExperimentSpec.from_toml``/``from_json``/``from_dict``, ``parse_law`` and the CLI's
``--dist``. Each either succeeds or fails with one of ``simulator.USER_ERRORS``, in one
short line.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from distributions import parse_law
from simulator import USER_ERRORS, ExperimentSpec
from simulator._spec_checks import KEY_ALIASES
from simulator.cli import main
from simulator.cli.options import COMMAND_KEYS, read_config
from simulator.errors import MAX_LINE
from simulator.studies.sweeps._spec import SweepSpec, read_sweep_file

#: Longest message a refusal may have (its fixed text plus short quotes of the input).
MAX_MESSAGE = 600
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- law strings ---------------------------------------------------------------------------

_LAW_NAMES = [
    "exp", "shifted-exp", "pareto", "gamma", "weibull", "lognormal", "deterministic",
    "hyperexp", "scipy", "Exp", "", " exp ", "exp\u00a0",
]  # fmt: skip
_ATOMS = [
    "1", "0", "-1", "0.5", "1e999", "1e-999", "nan", "inf", "m", "P", "m*P", "max(m, 4)",
    "min(1)", "2**1000", "10**10**10", "(", ")", "()", "1/0", "(-1)**0.5", "1_0", "0x10",
    "\u0661", "\uff11", "\uff4d", "\u00b2", "1\u00a0", "__import__('os')", "a.b", "x[0]",
    "lambda: 1", "True", "'1'", "1" * 400, "9" * 5000, "expon(scale=2)", "gamma(a=2)",
    "norm()", "gamma(a=m)",
]  # fmt: skip
_VALUES = st.one_of(
    st.sampled_from(_ATOMS),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**400), max_value=10**400).map(str),
    st.text(max_size=12),
)
LAW_STRINGS = st.one_of(
    st.builds(
        lambda name, sep, values: name + sep + ",".join(values),
        st.sampled_from(_LAW_NAMES),
        st.sampled_from([":", " : ", "", "::"]),
        st.lists(_VALUES, max_size=5),
    ),
    st.text(max_size=60),
    st.sampled_from(["exp:" + "1" * 100_000 + "x", "x" * 100_000, "hyperexp:" + "1," * 5000]),
)
SYMBOLS = st.one_of(st.none(), st.integers(-3, 10**400), st.floats(allow_nan=True))

# -- TOML documents ------------------------------------------------------------------------

_KEYS = sorted({*KEY_ALIASES, *COMMAND_KEYS, "dist", "learners", "iterations", "batch"})


def _toml_float(x: float) -> str:
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return repr(x)


_SCALARS = st.one_of(
    st.integers(min_value=-(10**25), max_value=10**25).map(str),
    st.floats().map(_toml_float),
    st.booleans().map(lambda b: "true" if b else "false"),
    st.text(max_size=20).map(json.dumps),
    LAW_STRINGS.filter(lambda s: len(s) < 2000).map(json.dumps),
    st.sampled_from(
        [
            "0x" + "f" * 20,
            "9" * 5000,
            "-" + "9" * 400,
            "1e999",
            "1979-05-27T07:32:00Z",
            "1979-05-27",
            "07:32:00",
            "'literal'",
            '"""multi\nline"""',
            '"exp:1"',
            '"k-async"',
            '"digits"',
            '"synthetic:classes"',
            "[1, 2, 4]",
            '["exp:1", "exp:2"]',
        ]
    ),
)
_KEY_TEXT = st.one_of(
    st.sampled_from(_KEYS), st.text(max_size=12).map(json.dumps), st.just("a.b.c")
)
_VALUES_TOML = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.lists(st.tuples(_KEY_TEXT, inner), max_size=3).map(
            lambda kv: "{" + ", ".join(f"{k} = {v}" for k, v in kv) + "}"
        ),
    ),
    max_leaves=8,
)
_DEEP = st.builds(
    lambda n, kind: ("[" * n + "]" * n) if kind else ("{a = " * n + "1" + "}" * n),
    st.integers(1, 3000),
    st.booleans(),
)
_LINES = st.one_of(
    st.tuples(_KEY_TEXT, st.one_of(_VALUES_TOML, _DEEP)).map(lambda kv: f"{kv[0]} = {kv[1]}"),
    st.sampled_from(
        ["[timing]", "[training]", "[grid]", "[[zip]]", "[[figure]]", "[sweep]", "[a.b]", "[["]
    ),
    st.text(max_size=20),
)
TOML_TEXT = st.lists(_LINES, max_size=10).map("\n".join)


def _one_line(err: BaseException, limit: int = MAX_MESSAGE) -> None:
    text = str(err)
    assert text and "\n" not in text and "\r" not in text, repr(text[:200])
    assert len(text) <= limit, (len(text), text[:200])


def _refused_or_fine(call) -> None:
    """Run ``call``; a failure must be a pssim input error in one short line."""
    try:
        call()
    except USER_ERRORS as err:
        _one_line(err)


@pytest.fixture(scope="module")
def folder():
    with tempfile.TemporaryDirectory(prefix="pssim-fuzz-") as name:
        yield Path(name)


def _file(folder: Path, data: bytes | str) -> Path:
    path = folder / "input.toml"
    path.write_bytes(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
    return path


# -- the properties ------------------------------------------------------------------------


@FUZZ
@given(spec=LAW_STRINGS, m=SYMBOLS, p=SYMBOLS)
@example(spec="exp:m", m=10**400, p=None)
@example(spec="exp:\u0661", m=None, p=None)
def test_random_law_strings_are_parsed_or_refused_in_one_line(spec, m, p):
    _refused_or_fine(lambda: parse_law(spec, m=m, P=p))


@FUZZ
@given(data=st.one_of(st.binary(max_size=600), TOML_TEXT))
def test_random_files_are_read_or_refused_in_one_line(folder, data):
    path = _file(folder, data)
    _refused_or_fine(lambda: read_config(str(path)))
    _refused_or_fine(lambda: read_sweep_file(path))


_CELLS = st.one_of(
    st.sampled_from(["0", "1", "2", "-1", "1.5", "nan", "inf", "", "true", "x", "1e999", " 3 "]),
    st.text(max_size=6).filter(lambda t: "\n" not in t and "\r" not in t),
)
_HEADERS = st.sampled_from(
    [
        "worker,step,duration",
        "worker,step,duration,censored",
        "Worker, Step, Duration",
        "step,duration",
        "worker;step;duration",
        "",
    ]
)
DURATIONS_CSV = st.builds(
    lambda header, rows: "\n".join([header, *(",".join(r) for r in rows)]),
    _HEADERS,
    st.lists(st.lists(_CELLS, min_size=0, max_size=5), max_size=12),
)


@FUZZ
@given(data=st.one_of(st.binary(max_size=600), DURATIONS_CSV))
@example(data=b"PAR1" + b"\x00" * 64)
@example(data="worker,step,duration\n1e999")  # an id that reads as an infinite number
def test_random_durations_files_are_read_or_refused_in_one_line(folder, data):
    from simulator.measured import read_durations

    path = _file(folder, data)
    _refused_or_fine(lambda: read_durations(path))


@FUZZ
@given(text=st.one_of(TOML_TEXT, st.text(max_size=200)))
@example(text="x = " + "[" * 5000 + "]" * 5000)
@example(text="learners = " + "9" * 5000)
@example(text="seed = " + "9" * 400)
def test_random_toml_text_makes_a_spec_or_is_refused_in_one_line(text):
    _refused_or_fine(lambda: ExperimentSpec.from_toml(text))
    _refused_or_fine(lambda: SweepSpec.from_toml(text, source="fuzz.toml"))


@FUZZ
@given(
    text=st.one_of(
        st.text(max_size=200),
        st.recursive(
            st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
            lambda inner: st.one_of(
                st.lists(inner, max_size=3),
                st.dictionaries(st.sampled_from(_KEYS), inner, max_size=4),
            ),
            max_leaves=10,
        ).map(json.dumps),
    )
)
@example(text="[" * 100_000)
@example(text='{"seed": ' + "9" * 5000 + "}")
def test_random_json_makes_a_spec_or_is_refused_in_one_line(text):
    _refused_or_fine(lambda: ExperimentSpec.from_json(text))


_PY_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**5000), max_value=10**5000),
        st.floats(allow_nan=True),
        st.text(max_size=20),
        LAW_STRINGS,
        st.binary(max_size=8),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(_KEYS), inner, max_size=3)
    ),
    max_leaves=6,
)


@FUZZ
@given(data=st.dictionaries(st.one_of(st.sampled_from(_KEYS), st.text(max_size=8)), _PY_VALUES))
@example(data={"seed": 10**5000})
@example(data={"lr": 10**400, "model": "x" * 100_000})
def test_random_dicts_make_a_spec_or_are_refused_in_one_line(data):
    _refused_or_fine(lambda: ExperimentSpec.from_dict(data))


@settings(max_examples=60, deadline=None)
@given(spec=LAW_STRINGS.filter(lambda s: "\0" not in s and not s.startswith("-")))
def test_the_cli_dist_option_answers_in_one_short_line(spec):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["theory", "-P", "2", "-J", "10", "--dist", spec])
        except SystemExit as exit_:  # argparse
            code = exit_.code
    assert code in (0, 2), err.getvalue()[:500]
    if code == 2:
        lines = err.getvalue().strip().splitlines()
        assert len(lines) == 1 and len(lines[0]) <= MAX_LINE + 60, err.getvalue()[:500]
