"""save_figure: atomic PNG, optional PDF and SVG siblings, checks before writing."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from simulator.errors import PssimError, PssimTypeError
from simulator.plots.timeline import save_figure


def small_figure():
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    return fig


def test_png_only_by_default(tmp_path):
    fig = small_figure()
    out = save_figure(fig, tmp_path / "a.png")
    assert out == tmp_path / "a.png"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]
    assert out.read_bytes().startswith(b"\x89PNG")
    assert not plt.fignum_exists(fig.number)


@pytest.mark.parametrize("formats", [("png", "pdf", "svg"), ["svg", "pdf"], ("PDF", ".svg")])
def test_siblings_share_the_stem(tmp_path, formats):
    save_figure(small_figure(), tmp_path / "fig.png", formats=formats)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.pdf", "fig.png", "fig.svg"]
    assert (tmp_path / "fig.pdf").read_bytes().startswith(b"%PDF")
    assert b"<svg" in (tmp_path / "fig.svg").read_bytes()


def test_a_single_format_name(tmp_path):
    save_figure(small_figure(), tmp_path / "fig.png", formats="pdf")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.pdf", "fig.png"]


@pytest.mark.parametrize(
    ("path", "formats", "error", "match"),
    [
        ("fig.jpg", None, PssimError, "`plot` file must end in .png; got"),
        ("missing/fig.png", None, PssimError, "`plot` folder must exist; got"),
        ("fig.png", ("png", "jpg"), PssimError, "`formats` must be among png, pdf, svg; got 'jpg'"),
        ("fig.png", 3, PssimTypeError, "`formats` must be a sequence of format names; got 3"),
    ],
)
def test_checks_refuse_before_writing(tmp_path, path, formats, error, match):
    fig = small_figure()
    with pytest.raises(error, match=match):
        save_figure(fig, tmp_path / path, formats=formats)
    assert list(tmp_path.iterdir()) == []
    assert not plt.fignum_exists(fig.number)


def test_failure_leaves_old_files_and_no_temporaries(tmp_path, monkeypatch):
    (tmp_path / "fig.png").write_bytes(b"old")
    fig = small_figure()
    real = fig.savefig

    def fail_on_svg(path, **kwargs):
        if str(path).endswith(".svg"):
            raise OSError("disk full")
        return real(path, **kwargs)

    monkeypatch.setattr(fig, "savefig", fail_on_svg)
    with pytest.raises(OSError, match="disk full"):
        save_figure(fig, tmp_path / "fig.png", formats=("png", "pdf", "svg"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.png"]
    assert (tmp_path / "fig.png").read_bytes() == b"old"
