"""Parquet bytes already in memory, read into a pyarrow Table on the calling thread only.

``pyarrow.parquet.read_table(pyarrow.BufferReader(data))`` (and ``pandas.read_parquet`` of
a ``BytesIO``) hand the wrapped Python buffer to Arrow's thread pools, which may drop the
last reference to it on a pool thread after the call returns. If that happens while the
interpreter is exiting, the thread cannot take the GIL to free the buffer and the process
aborts ("terminate called without an active exception", exit status 134) after all its work
is done. Reading without pre-buffering and without threads keeps every reference on the
caller's thread, so nothing is left for a pool thread to free.
"""

from __future__ import annotations

__all__ = ["read_parquet_bytes"]


def read_parquet_bytes(data: bytes):
    """The pyarrow Table of the Parquet file ``data`` (raises pyarrow's errors, OSError or
    ValueError when it is not one)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    return pq.ParquetFile(pa.BufferReader(data), pre_buffer=False).read(use_threads=False)
