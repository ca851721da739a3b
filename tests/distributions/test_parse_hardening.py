"""Law strings under attack: huge numbers, non-ASCII numerals and very long input are
refused in one short line (a ``LawError``), never an OverflowError or a 200 kB message."""

from __future__ import annotations

import numpy as np
import pytest

from distributions import Empirical, Exponential, LawError, parse_law
from distributions._text import MAX_SHOWN, shown

#: A refusal quotes at most a short prefix of what was typed: a few hundred characters.
SHORT = 400


@pytest.mark.parametrize(("symbol", "given"), [("m", {"m": 10**400}), ("P", {"P": 10**400})])
def test_a_huge_symbol_value_is_refused_in_one_line(symbol, given):
    spec = f"shifted-exp:0.5*{symbol},1"
    with pytest.raises(
        LawError, match=rf"^`{symbol}` must be finite; got an integer of 401 digits"
    ):
        parse_law(spec, **given)


def test_a_huge_parameter_is_refused_and_its_value_shortened():
    with pytest.raises(LawError, match=r"^`Exponential.rate` must be finite; got an integer"):
        Exponential(10**5000)  # more digits than Python converts to a string


@pytest.mark.parametrize(
    "spec",
    [
        "exp:\u0661",  # Arabic-Indic one
        "exp:\uff11",  # fullwidth one
        "exp:1\u00b2",  # superscript two
        "exp:\u00b9",  # superscript one
        "exp:1\u00a0",  # no-break space after the value
        "exp:\u20071",  # figure space before it
        "exp\u00a0:1",  # in the law's name
        "pareto:2,\u0661",
        "exp:1e\u0663",
        "exp:\u0661.5",
        "scipy:expon(scale=\u0661)",
        "hyperexp:0.5,1,0.5,\u0662",
    ],
)
def test_non_ascii_numerals_and_spaces_are_refused(spec):
    with pytest.raises(LawError, match=r"^`dist` spec .* must be ASCII .*; got .* at position"):
        parse_law(spec)


@pytest.mark.parametrize("spec", ["exp:\uff4d", "shifted-exp:0.5*\uff4d,1", "exp:\u1d50"])
def test_symbols_spelled_in_other_scripts_are_refused(spec):
    """Python reads the identifier ``ｍ`` (fullwidth) as ``m``; a law string must not."""
    with pytest.raises(LawError, match=r"must be ASCII"):
        parse_law(spec, m=2)


def test_a_file_name_may_still_be_non_ascii(tmp_path):
    path = tmp_path / "temps\u00e9.txt"
    path.write_text("1.0\n2.0\n3.0\n")
    law = parse_law(f"empirical:{path}")
    assert isinstance(law, Empirical)
    assert np.array_equal(np.sort(law.values), [1.0, 2.0, 3.0])


@pytest.mark.parametrize(
    "spec",
    [
        "exp:" + "1" * 100_000 + "x",  # a bad value
        "x" * 100_000,  # no law name
        "pareto:" + "1," * 50_000,  # too many values
        "scipy:" + "a" * 100_000,  # a malformed scipy form
        "exp:" + "\u0661" * 100_000,  # non-ASCII
    ],
)
def test_a_refusal_quotes_a_short_prefix_and_the_length(spec):
    with pytest.raises(LawError) as info:
        parse_law(spec)
    text = str(info.value)
    assert len(text) < SHORT and "\n" not in text
    assert f"({len(spec)} characters)" in text


def test_shown_quotes_short_values_whole_and_cuts_long_ones():
    assert shown("exp:1") == "'exp:1'"
    assert shown(3) == "3"
    assert shown(10**400) == "an integer of 401 digits"
    assert shown(-(10**5000)) == "an integer of 5001 digits"
    long = "exp:" + "1" * 100_000
    cut = shown(long)
    assert cut.startswith("'exp:111") and cut.endswith("…' (100004 characters)")
    assert len(cut) < 2 * MAX_SHOWN
    many = list(range(100_000))
    assert len(shown(many)) < SHORT and "100000 items" in shown(many)
