"""RLDS export, checked by independent readers: a hand-written TFRecord/protobuf parser
(CRCs verified with a bitwise CRC-32C) and the `tfrecord` package's own loader."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from armgym.apps.export import ExportConfig, export, main
from armgym.data.testing import synthetic_episode, synthetic_features
from armgym.data.writer import LeRobotWriter
from armgym.errors import DatasetError


def crc32c_ref(data: bytes) -> int:
    """Bitwise CRC-32C, deliberately not the table the exporter uses."""
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def masked(crc: int) -> int:
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_records(path: Path) -> list[bytes]:
    buf, pos, out = path.read_bytes(), 0, []
    while pos < len(buf):
        (length,) = struct.unpack_from("<Q", buf, pos)
        (len_crc,) = struct.unpack_from("<I", buf, pos + 8)
        assert len_crc == masked(crc32c_ref(buf[pos : pos + 8]))
        data = buf[pos + 12 : pos + 12 + length]
        (data_crc,) = struct.unpack_from("<I", buf, pos + 12 + length)
        assert data_crc == masked(crc32c_ref(data))
        out.append(data)
        pos += 16 + length
    assert pos == len(buf)
    return out


def varint(buf: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, pos


def fields(buf: bytes) -> list[tuple[int, bytes | int]]:
    pos, out = 0, []
    while pos < len(buf):
        key, pos = varint(buf, pos)
        num, wire = key >> 3, key & 7
        if wire == 2:
            n, pos = varint(buf, pos)
            out.append((num, buf[pos : pos + n]))
            pos += n
        elif wire == 0:
            v, pos = varint(buf, pos)
            out.append((num, v))
        else:
            raise AssertionError(f"unexpected wire type {wire}")
    return out


def parse_example(data: bytes) -> dict[str, object]:
    ((num, features),) = fields(data)
    assert num == 1
    out: dict[str, object] = {}
    for _num, entry in fields(features):  # type: ignore[arg-type]
        kv = dict(fields(entry))  # type: ignore[arg-type]
        ((kind, lst),) = fields(kv[2])  # type: ignore[arg-type]
        values = [v for _, v in fields(lst)]  # type: ignore[arg-type]
        if kind == 1:
            out[kv[1].decode()] = values  # type: ignore[union-attr]
        elif kind == 2:
            out[kv[1].decode()] = np.frombuffer(values[0], "<f4") if values else []
        else:
            packed, vals, p = values[0], [], 0
            while p < len(packed):
                v, p = varint(packed, p)
                vals.append(v)
            out[kv[1].decode()] = np.array(vals)
    return out


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, list]:
    base = tmp_path_factory.mktemp("rlds")
    episodes = [synthetic_episode(e, n) for e, n in enumerate((4, 6, 3))]
    with LeRobotWriter(base / "ds", synthetic_features(), fps=10) as w:
        for e, frames in enumerate(episodes):
            for f in frames:
                w.add_frame(f, task=f"task {e}")
            w.save_episode()
    assert main([str(base / "ds"), "--out", str(base / "out"), "--episodes-per-shard", "2"]) == 0
    return base / "out/armgym_dataset/1.0.0", episodes


def test_shards_and_metadata(exported) -> None:
    out, _ = exported
    shards = sorted(out.glob("*.tfrecord-*"))
    assert [s.name for s in shards] == [
        "armgym_dataset-train.tfrecord-00000-of-00002",
        "armgym_dataset-train.tfrecord-00001-of-00002",
    ]
    info = json.loads((out / "dataset_info.json").read_text())
    assert info["splits"][0]["shardLengths"] == ["2", "1"]
    feats = json.loads((out / "features.json").read_text())
    steps = feats["featuresDict"]["features"]["steps"]["sequence"]["feature"]
    step_feats = steps["featuresDict"]["features"]
    assert step_feats["action"]["tensor"]["shape"]["dimensions"] == ["7"]
    assert "language_instruction" in step_feats


def test_examples_decode(exported) -> None:
    out, episodes = exported
    records = [r for s in sorted(out.glob("*.tfrecord-*")) for r in read_records(s)]
    assert len(records) == 3
    for e, (rec, frames) in enumerate(zip(records, episodes, strict=True)):
        ex = parse_example(rec)
        n = len(frames)
        np.testing.assert_array_equal(
            np.asarray(ex["steps/action"]).reshape(n, 7), np.stack([f["action"] for f in frames])
        )
        np.testing.assert_array_equal(
            np.asarray(ex["steps/observation/state"]).reshape(n, 8),
            np.stack([f["observation.state"] for f in frames]),
        )
        assert ex["steps/language_instruction"] == [f"task {e}".encode()] * n
        assert list(ex["steps/is_first"]) == [1] + [0] * (n - 1)  # type: ignore[call-overload]
        assert list(ex["steps/is_last"]) == [0] * (n - 1) + [1]  # type: ignore[call-overload]
        images = ex["steps/observation/front"]
        assert len(images) == n and images[0][:8] == b"\x89PNG\r\n\x1a\n"  # type: ignore


def test_tfrecord_package_reads_it(exported) -> None:
    import tfrecord

    out, episodes = exported
    shard = sorted(out.glob("*.tfrecord-*"))[0]
    loader = tfrecord.tfrecord_loader(
        str(shard), None, {"steps/action": "float", "steps/is_last": "int"}
    )
    first = next(iter(loader))
    np.testing.assert_allclose(
        first["steps/action"].reshape(-1, 7), np.stack([f["action"] for f in episodes[0]])
    )


def test_export_refuses_overwrite(exported, tmp_path) -> None:
    out, _ = exported
    src = out.parents[2] / "ds"
    with pytest.raises(DatasetError, match="already exists"):
        export(ExportConfig(dataset=src, out=out.parents[1]))
