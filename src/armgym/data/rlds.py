"""RLDS export without TensorFlow: TFRecord shards of hand-encoded ``tf.train.Example``.

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

TFRecord framing per record: ``uint64 length | uint32 masked_crc32c(length) | data |
uint32 masked_crc32c(data)`` (little endian). ``features.json`` and ``dataset_info.json``
follow TFDS so ``tfds.builder_from_directory`` can load the folder.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

_MASK_DELTA = 0xA282EAD8


def _crc32c_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
        table.append(crc)
    return table


_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli) of ``data``; uses the ``crc32c`` package when installed."""
    try:
        import crc32c as _fast  # type: ignore[import-not-found]

        return int(_fast.crc32c(data))
    except ImportError:
        crc = 0xFFFFFFFF
        for b in data:
            crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
        return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def write_record(fh: BinaryIO, data: bytes) -> None:
    """Append one TFRecord frame."""
    length = struct.pack("<Q", len(data))
    fh.write(
        length
        + struct.pack("<I", masked_crc32c(length))
        + data
        + struct.pack("<I", masked_crc32c(data))
    )


# --------------------------------------------------------------------- protobuf encoding
def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # int64 two's complement, as protobuf does
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _len_field(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def encode_feature(value: Any) -> bytes:
    """Encode a ``tf.train.Feature``: bytes/str sequences -> BytesList, floats ->
    FloatList (packed float32), ints/bools -> Int64List (packed varints)."""
    if isinstance(value, list | tuple) and value and isinstance(value[0], bytes | str):
        items = [v.encode() if isinstance(v, str) else v for v in value]
        return _len_field(1, b"".join(_len_field(1, v) for v in items))
    arr = np.asarray(value)
    if arr.dtype.kind == "f":
        packed = arr.astype("<f4").reshape(-1).tobytes()
        return _len_field(2, _len_field(1, packed))
    if arr.dtype.kind in "iub":
        packed = b"".join(_varint(int(v)) for v in arr.reshape(-1).astype(np.int64))
        return _len_field(3, _len_field(1, packed))
    raise TypeError(f"cannot encode feature of dtype {arr.dtype}")


def encode_example(features: Mapping[str, Any]) -> bytes:
    """Serialize ``tf.train.Example{features: {name: Feature}}`` (keys sorted)."""
    entries = b"".join(
        _len_field(1, _len_field(1, key.encode()) + _len_field(2, encode_feature(val)))
        for key, val in sorted(features.items())
    )
    return _len_field(1, entries)


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
) -> bytes:
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
    return encode_example(feats)


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
    out: Path, name: str, examples: Iterable[bytes], num_episodes: int, episodes_per_shard: int
) -> tuple[list[int], int]:
    """Write examples into ``ceil(num_episodes / episodes_per_shard)`` shards.

    Returns (episodes per shard, total bytes).
    """
    n_shards = max(1, -(-num_episodes // episodes_per_shard))
    lengths, total, shard, fh = [0] * n_shards, 0, 0, None
    try:
        for i, data in enumerate(examples):
            if fh is None or i // episodes_per_shard != shard:
                if fh is not None:
                    fh.close()
                shard = i // episodes_per_shard
                fh = open(out / shard_name(name, shard, n_shards), "wb")  # noqa: SIM115
            write_record(fh, data)
            lengths[shard] += 1
            total += len(data) + 16
    finally:
        if fh is not None:
            fh.close()
    return lengths, total


def write_metadata(
    out: Path, name: str, features: dict, lengths: Sequence[int], total: int, description: str
) -> None:
    (out / "features.json").write_text(json.dumps(features, indent=2) + "\n")
    info = dataset_info_json(name, lengths, total, description)
    (out / "dataset_info.json").write_text(json.dumps(info, indent=2) + "\n")
