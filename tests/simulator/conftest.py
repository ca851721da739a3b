"""Shared setup of the simulator tests: the shared replay cases are importable from every
sub-folder (``from replay_cases import ...``)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
