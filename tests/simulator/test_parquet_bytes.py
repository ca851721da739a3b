"""Parquet bytes in memory are read on the calling thread: no Arrow pool thread is left
holding the Python buffer, which would abort the process if it freed it while exiting."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs /proc")

#: Counts the process's threads before and after reading Parquet bytes twice (a fresh
#: interpreter: Arrow's pools start on first use, so a pool thread would be new here).
PROGRAM = textwrap.dedent(
    """
    import io, os, sys
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    from simulator._parquet_bytes import read_parquet_bytes

    frame = pd.DataFrame({"worker": ["a", "b", "c"], "duration": [1.0, 2.5, 0.5]})
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pandas(frame), sink)
    data = sink.getvalue().to_pybytes()
    before = len(os.listdir("/proc/self/task"))
    for _ in range(2):
        table = read_parquet_bytes(data)
    after = len(os.listdir("/proc/self/task"))
    assert table.to_pandas().equals(frame), table
    print(before, after)
    """
)


def test_reading_parquet_bytes_starts_no_thread():
    done = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    before, after = map(int, done.stdout.split())
    assert after == before, f"{after - before} thread(s) started by reading Parquet bytes"


def test_damaged_parquet_bytes_raise_an_error():
    import pyarrow as pa

    from simulator._parquet_bytes import read_parquet_bytes

    with pytest.raises((pa.ArrowException, OSError, ValueError)):
        read_parquet_bytes(b"PAR1 not a parquet file PAR1")
