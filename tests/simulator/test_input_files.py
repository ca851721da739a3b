"""Configuration files and what a refusal echoes: only regular files under a size cap are
read, every parser failure is one line naming the file, a refusal quotes a short prefix of
what was typed, and a law given twice (``--dist`` and ``--laws``) is refused on every path."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from cli_process import PSSIM, one_line

from simulator import ExperimentSpec, SpecError, load_spec
from simulator._files import MAX_FILE_BYTES, read_text_file
from simulator.cli import main
from simulator.cli.options import CliError, read_config
from simulator.errors import PssimTypeError
from simulator.studies.sweeps._spec import read_sweep_file

#: The CLI's one line stays within a few hundred characters, whatever was typed.
MAX_LINE = 600
DEVICES = [p for p in ("/dev/zero", "/dev/urandom") if Path(p).exists()]


def run(capsys, *argv):
    try:
        code = main(list(argv))
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def refused_line(capsys, *argv) -> str:
    code, _, err = run(capsys, *argv)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert len(lines[0]) <= MAX_LINE, len(lines[0])
    return lines[0]


def pssim_line(args, cwd) -> tuple[int, str]:
    """Run the program (killed after a minute if it hangs) and return (status, its line)."""
    done = subprocess.run([*PSSIM, *args], cwd=cwd, capture_output=True, timeout=60)
    return done.returncode, one_line(done.stderr.decode())


# -- files that are not regular, or too large ----------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
def test_a_device_is_refused_as_config_sweep_file_and_spec_file(capsys, tmp_path, device):
    line = refused_line(capsys, "runtime", "--config", device)
    assert (
        "--config must be a readable TOML file" in line and "a device, not a regular file" in line
    )
    with pytest.raises(CliError, match="--config must be a readable TOML file"):
        read_config(device)
    with pytest.raises(SpecError, match="not a regular file") as info:
        read_sweep_file(device)
    assert info.value.param == "path"
    with pytest.raises(SpecError, match="not a regular file"):
        load_spec(device)
    line = refused_line(capsys, "sweep", device, "--out", str(tmp_path / "o"))
    assert (
        "CONFIG.toml must be a readable TOML file" in line
        and "a device, not a regular file" in line
    )
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("command", ["runtime", "sweep"])
def test_a_fifo_is_refused_without_being_opened(tmp_path, command):
    fifo = tmp_path / "exp.toml"
    os.mkfifo(fifo)
    args = ["--config", str(fifo)] if command == "runtime" else [str(fifo)]
    args += ["--out", str(tmp_path / "o")] if command == "sweep" else []
    code, line = pssim_line([command, *args], cwd=tmp_path)
    assert code == 2 and "a FIFO, not a regular file" in line, line


def test_a_directory_is_refused(capsys, tmp_path):
    line = refused_line(capsys, "runtime", "--config", str(tmp_path))
    assert (
        "--config must be a readable TOML file" in line and "a folder, not a regular file" in line
    )


def test_a_file_over_the_size_cap_is_refused_before_it_is_read(capsys, tmp_path):
    big = tmp_path / "big.toml"
    comment = "# " + "x" * 1000 + "\n"
    big.write_text('variant = "async"\n' + comment * (MAX_FILE_BYTES // len(comment) + 1))
    line = refused_line(capsys, "runtime", "--config", str(big))
    assert "--config must be a readable TOML file" in line and "at most 1 MiB" in line
    with pytest.raises(SpecError, match="at most 1 MiB"):
        read_sweep_file(big)
    with pytest.raises(SpecError, match=r"`TOML` must be at most 1 MiB"):
        ExperimentSpec.from_toml(big.read_text())


def test_the_reader_takes_paths_only_and_names_its_parameter(tmp_path):
    with pytest.raises(PssimTypeError, match=r"^`durations` must be a path .*; got 123 \(int\)$"):
        read_text_file(123, param="durations", kind="durations file")
    path = tmp_path / "d.txt"
    path.write_text("1.0\n")
    assert read_text_file(path, param="durations") == "1.0\n"
    with pytest.raises(SpecError, match=r"^`durations` must be a readable file; got .*NUL") as e:
        read_text_file("a\0b", param="durations")
    assert e.value.param == "durations"


# -- what the parser cannot take -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("x = " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
        ("x = " + "{a=" * 2000 + "1" + "}" * 2000 + "\n", "nested too deeply"),
        ("laws = " + "[" * 40 + "]" * 40 + "\n", "nested too deeply"),
        ("learners = " + "9" * 5000 + "\n", "more than 4300 digits at line 1"),
        ("learners = " + "9" * 400 + "\n", "key 'learners' in deep.toml must be a 64-bit"),
        ("seed = 0x" + "f" * 4000 + "\n", "key 'seed' in deep.toml must be a 64-bit"),
        ("[timing]\nseeds = -" + "9" * 30 + "\n", "got -999999999"),
    ],
    ids=["arrays", "inline-tables", "arrays-40", "digits-5000", "digits-400", "hex", "negative"],
)
def test_what_the_toml_parser_cannot_take_is_one_line(capsys, tmp_path, text, needle):
    cfg = tmp_path / "deep.toml"
    cfg.write_text(text)
    line = refused_line(capsys, "runtime", "--config", str(cfg))
    assert "deep.toml" in line and needle in line, line
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(text + "[grid]\nK = [1]\n")
    with pytest.raises(SpecError, match=r"sweep\.toml") as info:
        read_sweep_file(sweep)
    assert "\n" not in str(info.value) and len(str(info.value)) <= MAX_LINE


def test_a_file_that_is_not_utf8_names_the_byte(capsys, tmp_path):
    cfg = tmp_path / "latin.toml"
    cfg.write_bytes(b'variant = "async"\n# caf\xe9\n')
    line = refused_line(capsys, "runtime", "--config", str(cfg))
    assert "--config must be a readable TOML file" in line
    assert "not UTF-8: byte 0xe9 at offset 23" in line, line


# -- a refusal echoes a short prefix -------------------------------------------------------


def test_a_100_kb_dist_gives_one_short_line(tmp_path):
    dist = "exp:" + "1" * 100_000 + "x"
    code, line = pssim_line(["runtime", "-P", "2", "--dist", dist], cwd=tmp_path)
    assert code == 2 and line.startswith("pssim: error: --dist value '111")
    assert len(line) <= MAX_LINE and f"({len(dist) - 4} characters)" in line, line


@pytest.mark.parametrize(
    "argv",
    [
        ["runtime", "--model", "x" * 100_000],
        ["runtime", "--variant", "x" * 100_000],
        ["runtime", "-P", "x" * 100_000],
        ["runtime", "--laws", *(["x" * 1000] * 100)],
        ["train", "--data", "x" * 100_000],
        ["runtime", "--dist", "x" * 100_000],
    ],
    ids=["model", "variant", "argparse", "laws", "data", "dist"],
)
def test_no_refusal_line_is_longer_than_a_few_hundred_characters(capsys, argv):
    refused_line(capsys, *argv)


def test_a_config_with_a_long_value_gives_one_short_line(capsys, tmp_path):
    cfg = tmp_path / "long.toml"
    cfg.write_text(f'model = "{"x" * 100_000}"\n"{"k" * 100_000}" = 1\n')
    refused_line(capsys, "runtime", "--config", str(cfg))
    cfg.write_text(f'model = "{"x" * 100_000}"\n')
    line = refused_line(capsys, "train", "--config", str(cfg))
    assert "`model` in long.toml" in line and "(100000 characters)" in line, line


def test_the_spec_echoes_a_short_prefix_in_python():
    with pytest.raises(SpecError) as info:
        ExperimentSpec(model="x" * 100_000)
    assert len(str(info.value)) < 300 and "(100000 characters)" in str(info.value)
    with pytest.raises(SpecError) as info:
        ExperimentSpec(seed=10**5000)  # more digits than Python prints
    assert "an integer of 5001 digits" in str(info.value)
    with pytest.raises(SpecError, match="`lr` must be a finite number > 0"):
        ExperimentSpec(lr=10**400)


# -- a law and per-learner laws together ---------------------------------------------------


def test_dist_and_laws_typed_together_are_refused(capsys):
    line = refused_line(capsys, "runtime", "-P", "2", "--dist", "exp:1", "--laws", "exp:3", "exp:3")
    assert "--dist and --laws must not both be given" in line


def test_dist_and_laws_in_one_config_file_are_refused(capsys, tmp_path):
    cfg = tmp_path / "both.toml"
    cfg.write_text('learners = 2\ndist = "exp:1"\nlaws = ["exp:3", "exp:3"]\n')
    line = refused_line(capsys, "runtime", "--config", str(cfg), "--iterations", "10")
    assert "give `dist` or `laws` in both.toml, not both" in line
    # one typed on the command line still replaces the other from the file
    code, _, err = run(capsys, "runtime", "--config", str(cfg), "--dist", "exp:2", "-J", "10")
    assert code == 0, err


def test_law_and_laws_together_are_refused_in_python():
    with pytest.raises(SpecError, match="`law` and `laws` must not both be given"):
        ExperimentSpec(num_learners=2, law="exp:1", laws=["exp:3", "exp:3"])
    with pytest.raises(SpecError, match="must not both be given"):
        ExperimentSpec.from_dict({"learners": 2, "dist": "exp:1", "laws": ["exp:3", "exp:3"]})
    spec = ExperimentSpec(num_learners=2, laws=["exp:3", "exp:3"])  # the default law yields
    assert spec.law is None and ExperimentSpec.from_dict(spec.to_dict()) == spec
    assert ExperimentSpec.from_toml(spec.to_toml()) == spec


# -- numbers typed on the command line -----------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["-P", "\u0662"], "argument -P/--learners: invalid int value: '\u0662'"),
        (["-J", "\uff11\uff10"], "argument --iterations/-J: invalid int value"),
        (["--seeds", "\u00a02"], "argument --seeds: invalid int value"),
        (["--time-budget", "\u0665"], "argument --time-budget: invalid float value"),
        (["--speeds", "1", "\u0661"], "argument --speeds: invalid float value"),
    ],
)
def test_numbers_in_other_scripts_are_refused_on_the_command_line(capsys, argv, needle):
    line = refused_line(capsys, "runtime", *argv)
    assert needle in line, line
