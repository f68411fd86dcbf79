"""The LeRobot dataset format (v3.0 written, v3.0 and v2.1 read), as plain data.

A dataset is a folder::

    meta/info.json                                   format version, fps, features, counts
    meta/stats.json                                  dataset statistics per feature
    meta/tasks.parquet                               task string (pandas index) -> task_index
    meta/episodes/chunk-XXX/file-YYY.parquet         one row per episode (lengths, indices,
                                                     video timestamps, per-episode stats)
    data/chunk-XXX/file-YYY.parquet                  one row per frame (non-video features)
    videos/<video_key>/chunk-XXX/file-YYY.mp4        video features (one stream per file)

A *feature* is lerobot's dict ``{"dtype": str, "shape": list[int], "names": list | None}``
(``"info"`` too for videos). Vector features are stored as fixed-size lists; features of
shape ``[1]`` as scalars; ``dtype == "video"`` features live in the mp4 files only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from armgym.contracts.names import generic_names as generic_names
from armgym.errors import DatasetError

CODEBASE_VERSION = "v3.0"
READABLE_VERSIONS = ("v3.0", "v2.1", "v2.0")
DEFAULT_CHUNKS_SIZE = 1000
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES_PATH = "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
TASKS_PATH = "meta/tasks.parquet"
ARMGYM_META_PATH = "meta/armgym.json"  # armgym sidecar: env config for replay

#: Columns every frame has, in lerobot's order.
DEFAULT_FEATURES: dict[str, dict[str, Any]] = {
    "timestamp": {"dtype": "float32", "shape": [1], "names": None},
    "frame_index": {"dtype": "int64", "shape": [1], "names": None},
    "episode_index": {"dtype": "int64", "shape": [1], "names": None},
    "index": {"dtype": "int64", "shape": [1], "names": None},
    "task_index": {"dtype": "int64", "shape": [1], "names": None},
}

ACTION_NAMES = ["dx", "dy", "dz", "droll", "dpitch", "dyaw", "gripper"]

#: The full physics state per frame (float64[S], for replay and re-rendering). Kept out of
#: ``observation.*``, which LeRobot takes as policy inputs and normalises; LeRobot's own
#: human-in-the-loop recordings keep extras under ``complementary_info.``.
SIM_STATE_KEY = "complementary_info.sim_state"
#: The name armgym 0.1.0 datasets use (recorded before the rename); still read.
LEGACY_SIM_STATE_KEY = "observation.sim_state"


def sim_state_key(features: Mapping[str, Any]) -> str | None:
    """The sim-state feature of a dataset's ``features`` (new name first), or None."""
    for key in (SIM_STATE_KEY, LEGACY_SIM_STATE_KEY):
        if key in features:
            return key
    return None


#: Extra per-episode columns armgym writes to meta/episodes (lerobot ignores them).
#: Name -> (arrow type, default when unknown).
EPISODE_EXTRAS: dict[str, tuple[pa.DataType, Any]] = {
    "armgym/success": (pa.bool_(), False),
    "armgym/return": (pa.float64(), float("nan")),
    "armgym/seed": (pa.int64(), -1),
    "armgym/target_fps": (pa.float64(), float("nan")),
    "armgym/measured_fps": (pa.float64(), float("nan")),
    "armgym/max_period_s": (pa.float64(), float("nan")),
    "armgym/late_frames": (pa.int64(), 0),
    "armgym/dropped_frames": (pa.int64(), 0),
    "armgym/intervention_frames": (pa.int64(), 0),
}

_ARROW_DTYPES: dict[str, pa.DataType] = {
    "float32": pa.float32(),
    "float64": pa.float64(),
    "int64": pa.int64(),
    "int32": pa.int32(),
    "bool": pa.bool_(),
    "string": pa.string(),
}


def vector_feature(dim: int, names: list[str] | None = None, dtype: str = "float32") -> dict:
    """A float vector feature of shape ``[dim]``, one name per dimension (LeRobot's
    ``names``; see :mod:`armgym.contracts.names`; default ``s0, s1, ...``)."""
    if names is not None and len(names) != dim:
        raise DatasetError(
            f"vector feature of size {dim} got {len(names)} names {list(names)[:8]}…; "
            "give one name per dimension (or none)."
        )
    return {"dtype": dtype, "shape": [dim], "names": list(names or generic_names(dim))}


def video_feature(height: int, width: int, fps: float, codec: str = "av1") -> dict:
    """A ``uint8[height, width, 3]`` camera stream stored as mp4 video."""
    return {
        "dtype": "video",
        "shape": [height, width, 3],
        "names": ["height", "width", "channels"],
        "info": {
            "video.height": height,
            "video.width": width,
            "video.codec": codec,
            "video.pix_fmt": "yuv420p",
            "video.is_depth_map": False,
            "video.fps": int(fps) if float(fps).is_integer() else fps,
            "video.channels": 3,
            "has_audio": False,
        },
    }


def feature_names(feature: Mapping[str, Any]) -> list[str] | None:
    """Per-dimension names of a 1-D feature, or None when unnamed / not one name per entry.

    Accepts LeRobot's forms: a list, or a dict with one list (``{"motors": [...]}``).
    """
    names = feature.get("names")
    if isinstance(names, Mapping) and len(names) == 1:
        names = next(iter(names.values()))
    shape = feature.get("shape") or []
    if not isinstance(names, list) or len(shape) != 1 or len(names) != int(shape[0]):
        return None
    return [str(n) for n in names]


def is_video(feature: Mapping[str, Any]) -> bool:
    return feature.get("dtype") in ("video", "image")


def with_default_features(features: Mapping[str, Mapping[str, Any]]) -> dict[str, dict]:
    """User features followed by lerobot's bookkeeping columns (validated)."""
    out: dict[str, dict] = {}
    for key, feat in features.items():
        if key in DEFAULT_FEATURES:
            continue
        dtype, shape = feat.get("dtype"), feat.get("shape")
        if dtype not in _ARROW_DTYPES and not is_video(feat):
            raise DatasetError(
                f"feature {key!r}: unsupported dtype {dtype!r}; use one of "
                f"{sorted(_ARROW_DTYPES)} or 'video'."
            )
        if not isinstance(shape, list | tuple) or not all(int(s) > 0 for s in shape):
            raise DatasetError(
                f"feature {key!r}: shape must be a list of positive ints, got {shape!r}."
            )
        if is_video(feat) and (len(shape) != 3 or shape[2] != 3):
            raise DatasetError(f"video feature {key!r} must have shape [H, W, 3], got {shape}.")
        if not is_video(feat) and len(shape) != 1:
            raise DatasetError(f"feature {key!r}: only 1-D vectors are supported, got {shape}.")
        out[key] = {**feat, "shape": [int(s) for s in shape]}
    out.update({k: dict(v) for k, v in DEFAULT_FEATURES.items()})
    return out


def arrow_type(feature: Mapping[str, Any]) -> pa.DataType:
    """Arrow column type of a non-video feature: scalar for shape [1], else fixed-size list."""
    base = _ARROW_DTYPES[feature["dtype"]]
    shape = feature["shape"]
    return base if list(shape) == [1] else pa.list_(base, int(shape[0]))


def _hf_feature(feature: Mapping[str, Any]) -> dict:
    value = {"dtype": feature["dtype"], "_type": "Value"}
    if list(feature["shape"]) == [1]:
        return value
    return {"feature": value, "length": int(feature["shape"][0]), "_type": "List"}


def data_schema(features: Mapping[str, Mapping[str, Any]]) -> pa.Schema:
    """Arrow schema of the data parquet files, with the ``huggingface`` metadata lerobot reads."""
    cols = {k: f for k, f in features.items() if not is_video(f)}
    hf = {"info": {"features": {k: _hf_feature(f) for k, f in cols.items()}}}
    fields = [pa.field(k, arrow_type(f)) for k, f in cols.items()]
    return pa.schema(fields, metadata={b"huggingface": json.dumps(hf).encode()})


def frame_columns(
    features: Mapping[str, Mapping[str, Any]], columns: Mapping[str, np.ndarray]
) -> pa.Table:
    """Build a data table from per-feature arrays of shape [T] or [T, D]."""
    schema = data_schema(features)
    arrays = []
    for field in schema:
        values = np.asarray(columns[field.name])
        if pa.types.is_fixed_size_list(field.type):
            flat = pa.array(values.reshape(-1), type=field.type.value_type)
            arrays.append(pa.FixedSizeListArray.from_arrays(flat, field.type.list_size))
        else:
            arrays.append(pa.array(values.reshape(-1), type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def tasks_table(tasks: list[str]) -> pa.Table:
    """meta/tasks.parquet as lerobot writes it: a pandas frame indexed by the task string."""
    pandas_meta = {
        "index_columns": ["__index_level_0__"],
        "column_indexes": [
            {
                "name": None,
                "field_name": None,
                "pandas_type": "unicode",
                "numpy_type": "object",
                "metadata": {"encoding": "UTF-8"},
            }
        ],
        "columns": [
            {
                "name": "task_index",
                "field_name": "task_index",
                "pandas_type": "int64",
                "numpy_type": "int64",
                "metadata": None,
            },
            {
                "name": None,
                "field_name": "__index_level_0__",
                "pandas_type": "unicode",
                "numpy_type": "object",
                "metadata": None,
            },
        ],
        "attributes": {},
        "creator": {"library": "pyarrow", "version": pa.__version__},
        "pandas_version": "2.2.3",
    }
    schema = pa.schema(
        [("task_index", pa.int64()), ("__index_level_0__", pa.string())],
        metadata={b"pandas": json.dumps(pandas_meta).encode()},
    )
    return pa.table(
        {"task_index": list(range(len(tasks))), "__index_level_0__": tasks}, schema=schema
    )


def make_info(
    features: Mapping[str, Mapping[str, Any]],
    fps: float,
    *,
    robot_type: str | None = None,
    total_episodes: int = 0,
    total_frames: int = 0,
    total_tasks: int = 0,
    chunks_size: int = DEFAULT_CHUNKS_SIZE,
) -> dict:
    """meta/info.json contents, key order as lerobot 0.4.4 writes it."""
    return {
        "codebase_version": CODEBASE_VERSION,
        "robot_type": robot_type,
        "total_episodes": total_episodes,
        "total_frames": total_frames,
        "total_tasks": total_tasks,
        "chunks_size": chunks_size,
        "data_files_size_in_mb": 100,
        "video_files_size_in_mb": 200,
        "fps": int(fps) if float(fps).is_integer() else fps,
        "splits": {"train": f"0:{total_episodes}"},
        "data_path": DATA_PATH,
        "video_path": VIDEO_PATH if any(is_video(f) for f in features.values()) else None,
        "features": {k: dict(v) for k, v in features.items()},
    }


_REQUIRED_INFO = ("codebase_version", "fps", "features", "total_episodes", "data_path")


def load_info(root: Path) -> dict:
    """Read and validate meta/info.json; raise DatasetError naming the file otherwise."""
    path = root / INFO_PATH
    if not path.is_file():
        raise DatasetError(
            f"{path}: not found; is {root} a LeRobot dataset? "
            "(create one with `armgym collect --out DIR`)"
        )
    try:
        info = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(
            f"{path}: not valid JSON ({exc}); restore it from a backup or re-record the dataset."
        ) from exc
    if not isinstance(info, dict):
        raise DatasetError(f"{path}: expected a JSON object, got {type(info).__name__}.")
    missing = [k for k in _REQUIRED_INFO if k not in info]
    if missing:
        raise DatasetError(f"{path}: missing keys {missing}; the file is not a LeRobot info.json.")
    if info["codebase_version"] not in READABLE_VERSIONS:
        raise DatasetError(
            f"{path}: codebase_version {info['codebase_version']!r} is not "
            f"supported (readable: {', '.join(READABLE_VERSIONS)}); convert it "
            "with lerobot's conversion scripts."
        )
    if not isinstance(info["features"], dict) or not info["features"]:
        raise DatasetError(f"{path}: 'features' must be a non-empty object.")
    for key, feat in info["features"].items():
        if not isinstance(feat, dict) or "dtype" not in feat or "shape" not in feat:
            raise DatasetError(f"{path}: feature {key!r} needs 'dtype' and 'shape'.")
    if not (isinstance(info["fps"], int | float) and info["fps"] > 0):
        raise DatasetError(f"{path}: fps must be a positive number, got {info['fps']!r}.")
    return info


def chunk_file(episode_index: int, chunks_size: int) -> tuple[int, int]:
    """(chunk_index, file_index) of the per-episode files armgym writes."""
    return divmod(episode_index, chunks_size)


def find_dataset_root(path: str | Path) -> Path:
    """Accept the dataset folder or a file inside ``meta/``; return the dataset root."""
    p = Path(path).expanduser().resolve()
    if p.is_file() and p.parent.name == "meta":
        return p.parent.parent
    return p
