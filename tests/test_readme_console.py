"""Every ``console`` block of the README is the real output of its commands.

A block holds commands (lines starting with ``$ ``), each followed by the lines it prints
on stdout. Each command runs in one temporary folder per block (so a block's commands see
the files its earlier commands wrote), from a copy of the repository's ``examples/``.
Expected lines must match the output in order, line for line, with two shorthands of the
README: a line that is just ``...`` stands for any number of lines, and ``...`` inside a
line for any text there (a line cut short ends with ``...``).
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

from tests.simulator.cli_process import pssim

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: The longest a README command may take here.
COMMAND_LIMIT_S = 600


def console_blocks(text: str) -> list[list[tuple[str, list[str]]]]:
    """Per ``console`` block, its ``(command, expected lines)`` in order."""
    blocks = re.findall(r"^```console\n(.*?)^```", text, flags=re.S | re.M)
    out = []
    for block in blocks:
        commands: list[tuple[str, list[str]]] = []
        for line in block.splitlines():
            if line.startswith("$ "):
                commands.append((line[2:], []))
            elif commands:
                commands[-1][1].append(line)
            elif line.strip():
                raise AssertionError(f"a console block starts with output, not a command: {line}")
        out.append(commands)
    return out


def _line_pattern(expected: str) -> re.Pattern:
    parts = [re.escape(p) for p in expected.rstrip().split("...")]
    return re.compile("^" + ".*".join(parts) + ("" if expected.endswith("...") else r"\s*$"))


def matches(expected: list[str], actual: list[str]) -> bool:
    """Whether ``actual`` reads as ``expected`` (``...`` lines skip any number of lines)."""
    expected = [e for e in expected if e.strip() or e == ""]
    while expected and not expected[-1].strip():
        expected.pop()
    actual = [a for a in actual]
    while actual and not actual[-1].strip():
        actual.pop()

    def walk(i: int, j: int) -> bool:
        if i == len(expected):
            return j == len(actual)
        if expected[i].strip() == "...":
            return any(walk(i + 1, k) for k in range(j, len(actual) + 1))
        return (
            j < len(actual)
            and bool(_line_pattern(expected[i]).match(actual[j]))
            and walk(i + 1, j + 1)
        )

    return walk(0, 0)


BLOCKS = console_blocks(README.read_text(encoding="utf-8"))


def test_the_readme_has_console_blocks_and_the_matcher_can_fail():
    assert len(BLOCKS) >= 4
    assert matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert matches(["x = 1 ...", "y"], ["x = 1 and more", "y"])
    assert not matches(["a", "c"], ["a", "b", "c"])  # a line the command no longer prints
    assert not matches(["a"], ["a", "b"])  # a line the README does not show
    assert not matches(["k-sync  12"], ["k-sync  13"])


@pytest.mark.parametrize("block", range(len(BLOCKS)), ids=lambda i: f"block{i}")
def test_console_block_is_the_commands_real_output(block, tmp_path):
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    for command, expected in BLOCKS[block]:
        argv = shlex.split(command)
        assert argv[0] == "pssim", command
        code, out, err = pssim(argv[1:], cwd=tmp_path, timeout=COMMAND_LIMIT_S)
        assert code == 0, f"{command}: exit {code}: {err[-2000:]}"
        assert matches(expected, out.splitlines()), (
            f"README block {block}: `{command}` printed\n{out}\nbut the README shows\n"
            + "\n".join(expected)
        )
