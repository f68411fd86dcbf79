"""RLDS export without TensorFlow: TFRecord shards of ``tf.train.Example`` records.

One Example per episode, with TFDS's flattened nested-``Dataset`` layout (``T`` steps):

=====================================  ==============  ===============================
feature                                Example list     content
=====================================  ==============  ===============================
``steps/observation/state``             float_list       T x D  (and each vector obs key)
``steps/observation/<camera>``          bytes_list       T PNG images (uint8 [H, W, 3])
``steps/action``                        float_list       T x 7
``steps/reward``, ``steps/discount``    float_list       T
``steps/is_first|is_last|is_terminal``  int64_list       T (0/1)
``steps/language_instruction``          bytes_list       T UTF-8 strings
``episode_metadata/file_path``          bytes_list       source dataset folder
``episode_metadata/episode_index``      int64_list       episode index in the source
=====================================  ==============  ===============================

Records are written by the ``tfrecord`` package (``TFRecordWriter``: its ``tf.train.Example``
protobuf encoding and the TFRecord framing with masked CRC-32C from ``crc32c``; install with
``pip install 'armgym[export]'``). ``features.json`` and ``dataset_info.json`` follow TFDS so
``tfds.builder_from_directory`` can load the folder.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from armgym.errors import ConfigError

#: One Example as the ``tfrecord`` writer takes it: name -> (values, "float"|"int"|"byte").
Datum = dict[str, tuple[Any, str]]


def feature(value: Any) -> tuple[Any, str]:
    """A ``tfrecord`` datum entry: bytes/str sequences -> ``byte`` (BytesList), floats ->
    ``float`` (FloatList, float32), ints/bools -> ``int`` (Int64List); arrays flattened."""
    if isinstance(value, list | tuple) and value and isinstance(value[0], bytes | str):
        return [v.encode() if isinstance(v, str) else v for v in value], "byte"
    arr = np.asarray(value)
    if arr.dtype.kind == "f":
        return arr.astype(np.float32).reshape(-1).tolist(), "float"
    if arr.dtype.kind in "iub":
        return arr.astype(np.int64).reshape(-1).tolist(), "int"
    raise ConfigError(f"cannot export a feature of dtype {arr.dtype} to a TFRecord")


def _tfrecord_writer() -> Any:
    try:
        from tfrecord.writer import TFRecordWriter
    except ImportError as exc:
        raise ConfigError(
            "RLDS export needs the tfrecord and crc32c packages: pip install 'armgym[export]'"
        ) from exc
    return TFRecordWriter


def png_bytes(image: np.ndarray) -> bytes:
    """PNG-encode a uint8 [H, W, 3] image (Pillow)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


# --------------------------------------------------------------------- episodes -> shards
def episode_example(
    ep: Mapping[str, Any],
    *,
    state_keys: Sequence[str],
    image_keys: Sequence[str],
    source: str,
    episode_index: int,
) -> Datum:
    """Flattened RLDS Example of one episode (``ep`` as ``LeRobotReader.episode`` returns)."""
    n = len(ep["action"])
    is_last = np.zeros(n, np.int64)
    is_last[-1] = 1
    done = np.asarray(ep.get("next.success", np.zeros(n)), bool).reshape(n)
    reward = np.asarray(ep.get("next.reward", np.zeros(n)), np.float32).reshape(n)
    feats: dict[str, Any] = {
        "steps/action": np.asarray(ep["action"], np.float32),
        "steps/reward": reward,
        "steps/discount": np.ones(n, np.float32),
        "steps/is_first": (np.arange(n) == 0).astype(np.int64),
        "steps/is_last": is_last,
        "steps/is_terminal": (is_last.astype(bool) & done).astype(np.int64),
        "steps/language_instruction": list(ep.get("task") or [""] * n),
        "episode_metadata/file_path": [source],
        "episode_metadata/episode_index": np.array([episode_index], np.int64),
    }
    for key in state_keys:
        feats[f"steps/observation/{obs_name(key)}"] = np.asarray(ep[key], np.float32)
    for key in image_keys:
        feats[f"steps/observation/{obs_name(key)}"] = [png_bytes(im) for im in ep[key]]
    return {key: feature(value) for key, value in sorted(feats.items())}


def obs_name(key: str) -> str:
    """``observation.images.front`` -> ``front``; ``observation.state`` -> ``state``."""
    return key.removeprefix("observation.").removeprefix("images.").replace(".", "_")


def _tensor(shape: Sequence[int], dtype: str, cls: str = "tensor_feature.Tensor") -> dict:
    return {
        "pythonClassName": f"tensorflow_datasets.core.features.{cls}",
        "tensor": {
            "shape": {"dimensions": [str(s) for s in shape]} if shape else {},
            "dtype": dtype,
            "encoding": "none",
        },
    }


def _fdict(features: Mapping[str, Any]) -> dict:
    return {
        "pythonClassName": "tensorflow_datasets.core.features.features_dict.FeaturesDict",
        "featuresDict": {"features": dict(features)},
    }


def features_json(
    state_dims: Mapping[str, int], image_shapes: Mapping[str, Sequence[int]], action_dim: int
) -> dict:
    """TFDS ``features.json`` for the layout above."""
    obs: dict[str, Any] = {obs_name(k): _tensor([d], "float32") for k, d in state_dims.items()}
    for key, shape in image_shapes.items():
        obs[obs_name(key)] = {
            "pythonClassName": "tensorflow_datasets.core.features.image_feature.Image",
            "image": {
                "shape": {"dimensions": [str(s) for s in shape]},
                "dtype": "uint8",
                "encodingFormat": "png",
            },
        }
    scalar_bool = _tensor([], "bool", "scalar.Scalar")
    steps = _fdict(
        {
            "observation": _fdict(obs),
            "action": _tensor([action_dim], "float32"),
            "reward": _tensor([], "float32", "scalar.Scalar"),
            "discount": _tensor([], "float32", "scalar.Scalar"),
            "is_first": scalar_bool,
            "is_last": scalar_bool,
            "is_terminal": scalar_bool,
            "language_instruction": {
                "pythonClassName": "tensorflow_datasets.core.features.text_feature.Text",
                "text": {},
            },
        }
    )
    return _fdict(
        {
            "steps": {
                "pythonClassName": "tensorflow_datasets.core.features.dataset_feature.Dataset",
                "sequence": {"feature": steps, "length": "-1"},
            },
            "episode_metadata": _fdict(
                {
                    "file_path": {
                        "pythonClassName": "tensorflow_datasets.core.features.text_feature.Text",
                        "text": {},
                    },
                    "episode_index": _tensor([], "int64", "scalar.Scalar"),
                }
            ),
        }
    )


def dataset_info_json(
    name: str, shard_lengths: Sequence[int], num_bytes: int, description: str
) -> dict:
    """TFDS ``dataset_info.json`` for one ``train`` split."""
    return {
        "name": name,
        "version": "1.0.0",
        "fileFormat": "tfrecord",
        "description": description,
        "moduleName": "armgym.data.rlds",
        "releaseNotes": {"1.0.0": "Exported by armgym."},
        "citation": "",
        "splits": [
            {
                "name": "train",
                "numBytes": str(num_bytes),
                "shardLengths": [str(n) for n in shard_lengths],
                "filepathTemplate": "{DATASET}-{SPLIT}.{FILEFORMAT}-{SHARD_X_OF_Y}",
            }
        ],
    }


def shard_name(name: str, i: int, n: int) -> str:
    return f"{name}-train.tfrecord-{i:05d}-of-{n:05d}"


def write_shards(
    out: Path, name: str, examples: Iterable[Datum], num_episodes: int, episodes_per_shard: int
) -> tuple[list[int], int]:
    """Write examples into ``ceil(num_episodes / episodes_per_shard)`` shards.

    Returns (episodes per shard, total bytes of the shard files).
    """
    writer_cls = _tfrecord_writer()
    n_shards = max(1, -(-num_episodes // episodes_per_shard))
    lengths, shard, writer = [0] * n_shards, 0, None
    try:
        for i, datum in enumerate(examples):
            if writer is None or i // episodes_per_shard != shard:
                if writer is not None:
                    writer.close()
                shard = i // episodes_per_shard
                writer = writer_cls(str(out / shard_name(name, shard, n_shards)))
            writer.write(datum)
            lengths[shard] += 1
    finally:
        if writer is not None:
            writer.close()
    paths = [out / shard_name(name, k, n_shards) for k in range(n_shards)]
    return lengths, sum(p.stat().st_size for p in paths if p.exists())


def write_metadata(
    out: Path, name: str, features: dict, lengths: Sequence[int], total: int, description: str
) -> None:
    (out / "features.json").write_text(json.dumps(features, indent=2) + "\n")
    info = dataset_info_json(name, lengths, total, description)
    (out / "dataset_info.json").write_text(json.dumps(info, indent=2) + "\n")
