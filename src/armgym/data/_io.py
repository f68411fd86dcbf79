"""Durable file writes for datasets: the package's one atomic writer
(:mod:`armgym.atomic`) plus parquet.

After any of these functions returns, the file is either fully there or not there at all,
even if the process is SIGKILLed or the machine loses power right after.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from armgym.atomic import TMP_SUFFIX, commit, fsync_dir, tmp_path, write_bytes_atomic
from armgym.atomic import write_json_atomic as _write_json

__all__ = [
    "TMP_SUFFIX",
    "commit",
    "fsync_dir",
    "write_bytes_atomic",
    "write_json_atomic",
    "write_parquet_atomic",
]


def write_json_atomic(path: Path, obj: object) -> None:
    """Write ``obj`` as indented JSON (lerobot's style: indent 4) atomically."""
    _write_json(path, obj, indent=4)


def write_parquet_atomic(path: Path, table: pa.Table) -> None:
    """Write an arrow table as a snappy parquet file atomically and durably."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path(path)
    pq.write_table(table, tmp, compression="snappy")
    commit(tmp, path)
