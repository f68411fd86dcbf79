"""Rows of ``meta/episodes`` (one per episode) and their parquet table, as LeRobot v3.0
lays them out: location of the episode's data / video files, its per-feature statistics
(``stats/<feature>/<stat>``) and armgym's ``armgym/*`` columns. Used by the writer and by
``armgym consolidate``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from armgym.data import lerobot_format as fmt
from armgym.data import stats as st
from armgym.errors import DatasetError


def episode_row(
    ep: int,
    n: int,
    tasks: Sequence[str],
    from_index: int,
    features: Mapping[str, Mapping[str, Any]],
    ep_stats: Mapping[str, st.Stats],
    extras: Mapping[str, Any],
    *,
    fps: float,
    location: tuple[int, int],
) -> dict[str, Any]:
    """One ``meta/episodes`` row: episode ``ep`` of ``n`` frames starting at dataset frame
    ``from_index``, its data / videos / metadata all in file ``location`` = (chunk, file)
    from timestamp 0, its stats (``stats/<feature>/<stat>``) and ``armgym/*`` extras."""
    chunk, file = location
    row: dict[str, Any] = {
        "episode_index": ep,
        "tasks": list(tasks),
        "length": n,
        "data/chunk_index": chunk,
        "data/file_index": file,
        "dataset_from_index": from_index,
        "dataset_to_index": from_index + n,
    }
    for key in [k for k, f in features.items() if fmt.is_video(f)]:
        row.update(
            {
                f"videos/{key}/chunk_index": chunk,
                f"videos/{key}/file_index": file,
                f"videos/{key}/from_timestamp": 0.0,
                f"videos/{key}/to_timestamp": n / fps,
            }
        )
    for key in features:
        for sk in st.STAT_KEYS:
            row[f"stats/{key}/{sk}"] = np.asarray(ep_stats[key][sk]).tolist()
    row["meta/episodes/chunk_index"], row["meta/episodes/file_index"] = chunk, file
    unknown = set(extras) - set(fmt.EPISODE_EXTRAS)
    if unknown:
        raise DatasetError(
            f"unknown episode extras {sorted(unknown)}; valid: {sorted(fmt.EPISODE_EXTRAS)}."
        )
    for key, (_, default) in fmt.EPISODE_EXTRAS.items():
        row[key] = extras.get(key, default)
    return row


def episode_table(
    rows: Sequence[Mapping[str, Any]], features: Mapping[str, Mapping[str, Any]]
) -> pa.Table:
    """meta/episodes table of ``rows`` (same keys each) with an explicit, stable schema."""
    fields = [
        pa.field(key, _episode_column_type(key, value, features)) for key, value in rows[0].items()
    ]
    return pa.Table.from_pylist([dict(r) for r in rows], schema=pa.schema(fields))


def _episode_column_type(
    key: str, value: Any, features: Mapping[str, Mapping[str, Any]]
) -> pa.DataType:
    if key == "tasks":
        return pa.list_(pa.string())
    if key in fmt.EPISODE_EXTRAS:
        return fmt.EPISODE_EXTRAS[key][0]
    if key.startswith("stats/"):
        feat_key, stat = key[len("stats/") :].rsplit("/", 1)
        feat = features[feat_key]
        if stat == "count":
            return pa.list_(pa.int64())
        if fmt.is_video(feat):
            return pa.list_(pa.list_(pa.list_(pa.float64())))
        if stat in ("min", "max") and feat["dtype"] == "int64":
            return pa.list_(pa.int64())
        return pa.list_(pa.float64())
    return pa.float64() if isinstance(value, float) else pa.int64()
