"""Write with LeRobotWriter, read back with LeRobotReader: everything survives."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from armgym.data import lerobot_format as fmt
from armgym.data import stats as st
from armgym.data.reader import LeRobotReader
from armgym.data.testing import (
    synthetic_episode,
    synthetic_features,
    write_synthetic,
    write_v21_copy,
)
from armgym.data.writer import LeRobotWriter
from armgym.errors import DatasetError

LENGTHS = [12, 7, 15]
TASKS = ["pick up the cube", "push the cube", "pick up the cube"]


def write(root: Path, lengths=LENGTHS, tasks=TASKS, vcodec: str = "libsvtav1", **kw) -> list:
    return write_synthetic(root, lengths, tasks, vcodec, **kw)


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[Path, list]:
    root = tmp_path_factory.mktemp("ds") / "ds"
    return root, write(root)


def test_layout_matches_lerobot_v30(written) -> None:
    root, _ = written
    info = json.loads((root / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0"
    assert (info["total_episodes"], info["total_frames"], info["total_tasks"]) == (3, 34, 2)
    assert info["splits"] == {"train": "0:3"}
    assert info["features"]["observation.images.front"]["info"]["video.codec"] == "av1"
    for rel in (
        "meta/stats.json",
        "meta/tasks.parquet",
        "meta/episodes/chunk-000/file-000.parquet",
        "data/chunk-000/file-000.parquet",
        "videos/observation.images.front/chunk-000/file-000.mp4",
    ):
        assert (root / rel).is_file(), rel
    data = pq.read_table(root / "data/chunk-000/file-000.parquet")
    assert data.column_names == [
        "observation.state",
        "action",
        "next.done",
        "timestamp",
        "frame_index",
        "episode_index",
        "index",
        "task_index",
    ]
    assert b"huggingface" in data.schema.metadata
    tasks = pq.read_table(root / "meta/tasks.parquet")
    assert tasks.column_names == ["task_index", "__index_level_0__"]
    ep = pq.read_table(root / "meta/episodes/chunk-000/file-001.parquet").to_pylist()[0]
    assert ep["dataset_from_index"] == 12 and ep["dataset_to_index"] == 19
    assert ep["videos/observation.images.front/to_timestamp"] == pytest.approx(0.7)
    assert np.asarray(ep["stats/observation.images.front/mean"]).shape == (3, 1, 1)
    # every episode file has the same schema (lerobot concatenates them)
    schemas = {str(pq.read_schema(p)) for p in (root / "meta/episodes").rglob("*.parquet")}
    assert len(schemas) == 1


def test_frames_identical(written) -> None:
    root, episodes = written
    r = LeRobotReader(root)
    assert r.tasks == ["pick up the cube", "push the cube"]
    assert [(e.from_index, e.length) for e in r.episodes] == [(0, 12), (12, 7), (19, 15)]
    for k, frames in enumerate(episodes):
        ep = r.episode(k)
        for key in ("observation.state", "action"):
            np.testing.assert_array_equal(ep[key], np.stack([f[key] for f in frames]))
        np.testing.assert_array_equal(ep["next.done"], [f["next.done"] for f in frames])
        np.testing.assert_array_equal(
            ep["timestamp"], (np.arange(len(frames)) / 10).astype(np.float32)
        )
        assert ep["task"] == [TASKS[k]] * len(frames)
        video = ep["observation.images.front"].astype(int)
        truth = np.stack([f["observation.images.front"] for f in frames]).astype(int)
        assert np.abs(video - truth).mean() < 2.0
        assert r.episode_info(k).extras["armgym/success"] is True


def test_stats_match_numpy(written) -> None:
    root, episodes = written
    s = LeRobotReader(root).stats
    act = np.concatenate([[f["action"] for f in ep] for ep in episodes])
    np.testing.assert_allclose(s["action"]["mean"], act.mean(0), atol=1e-6)
    np.testing.assert_allclose(s["action"]["std"], act.std(0), atol=1e-6)
    np.testing.assert_allclose(s["action"]["min"], act.min(0))
    assert s["action"]["count"].tolist() == [34]
    for q in ("q01", "q99"):
        assert s["action"][q].shape == (7,)
    img = s["observation.images.front"]
    assert img["mean"].shape == (3, 1, 1) and 0 <= img["min"].min() <= img["max"].max() <= 1


def test_aggregate_equals_pooled() -> None:
    rng = np.random.default_rng(0)
    parts = [rng.standard_normal((n, 3)) for n in (5, 40, 11)]
    agg = st.aggregate([st.vector_stats(p) for p in parts])
    full = np.concatenate(parts)
    np.testing.assert_allclose(agg["mean"], full.mean(0))
    np.testing.assert_allclose(agg["std"], full.std(0))
    np.testing.assert_allclose(agg["max"], full.max(0))


def test_append_and_h264(tmp_path) -> None:
    root = tmp_path / "ds"
    write(root, lengths=[5], tasks=["a"], vcodec="libx264")
    write(root, lengths=[6, 4], tasks=["b", "a"], vcodec="libx264")
    r = LeRobotReader(root)
    assert r.num_episodes == 3 and r.num_frames == 15 and r.tasks == ["a", "b"]
    np.testing.assert_array_equal(r.columns()["index"], np.arange(15))
    assert r.episode(2)["task"] == ["a"] * 4
    assert r.episode(1)["observation.images.front"].shape == (6, 64, 64, 3)
    with pytest.raises(DatasetError, match="fps"):
        LeRobotWriter(root, synthetic_features(), fps=20)


def test_discard_and_validation(tmp_path) -> None:
    root = tmp_path / "ds"
    with LeRobotWriter(root, synthetic_features(), fps=10) as w:
        for f in synthetic_episode(0, 4):
            w.add_frame(f, task="t")
        w.discard_episode()
        with pytest.raises(DatasetError, match="no frames"):
            w.save_episode()
        with pytest.raises(DatasetError, match="lacks features"):
            w.add_frame({"action": np.zeros(7)}, task="t")
        bad = synthetic_episode(0, 1)[0] | {"action": np.zeros(6)}
        with pytest.raises(DatasetError, match="action"):
            w.add_frame(bad, task="t")
    assert LeRobotReader(root).num_episodes == 0


def test_read_v21(written, tmp_path) -> None:
    root, episodes = written
    write_v21_copy(root, tmp_path / "v21")
    r = LeRobotReader(tmp_path / "v21")
    assert r.version == "v2.1" and r.num_episodes == 3 and r.tasks == TASKS[:2]
    ep = r.episode(2)
    np.testing.assert_array_equal(ep["action"], np.stack([f["action"] for f in episodes[2]]))
    assert ep["observation.images.front"].shape == (15, 64, 64, 3)
    assert r.episodes[2].from_index == 19
    with pytest.raises(DatasetError, match=r"v3\.0"):
        LeRobotWriter(tmp_path / "v21", synthetic_features(), fps=10)


def test_bad_features(tmp_path) -> None:
    with pytest.raises(DatasetError, match="dtype"):
        LeRobotWriter(tmp_path / "x", {"a": {"dtype": "complex", "shape": [2]}}, fps=10)
    with pytest.raises(DatasetError, match="even"):
        w = LeRobotWriter(
            tmp_path / "y", {"observation.images.front": fmt.video_feature(9, 9, 10)}, fps=10
        )
        w.add_frame({"observation.images.front": np.zeros((9, 9, 3), np.uint8)}, task="t")


def test_writer_copies_reused_buffers(tmp_path) -> None:
    """Envs build observations into preallocated arrays; the writer must copy them."""
    buf_state = np.zeros(8, np.float32)
    buf_img = np.zeros((64, 64, 3), np.uint8)
    with LeRobotWriter(tmp_path / "ds", synthetic_features(), fps=10) as w:
        for i in range(3):
            buf_state[:] = i
            buf_img[:] = 80 * i
            w.add_frame(
                {
                    "observation.state": buf_state,
                    "action": np.zeros(7),
                    "next.done": False,
                    "observation.images.front": buf_img,
                },
                task="t",
            )
        w.save_episode()
    r = LeRobotReader(tmp_path / "ds")
    assert r.episode(0)["observation.state"][:, 0].tolist() == [0, 1, 2]
    img_mean = r.stats["observation.images.front"]["mean"].reshape(-1)
    np.testing.assert_allclose(img_mean, 80 / 255, atol=0.02)
