"""Malformed datasets raise DatasetError naming the offending file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from armgym.data.reader import LeRobotReader
from armgym.data.testing import synthetic_episode, synthetic_features
from armgym.data.writer import LeRobotWriter, recover
from armgym.errors import DatasetError


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pristine") / "ds"
    with LeRobotWriter(root, synthetic_features(), fps=10) as w:
        for e in range(2):
            for f in synthetic_episode(e, 6):
                w.add_frame(f, task="t")
            w.save_episode()
    return root


@pytest.fixture
def ds(pristine: Path, tmp_path: Path) -> Path:
    root = tmp_path / "ds"
    shutil.copytree(pristine, root)
    return root


def test_truncated_data_parquet(ds: Path) -> None:
    path = ds / "data/chunk-000/file-001.parquet"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    r = LeRobotReader(ds)
    r.episode(0)  # other episodes stay readable
    with pytest.raises(DatasetError, match=r"file-001\.parquet"):
        r.episode(1)


def test_truncated_episode_meta(ds: Path) -> None:
    path = ds / "meta/episodes/chunk-000/file-000.parquet"
    path.write_bytes(b"PAR1garbage")
    with pytest.raises(DatasetError, match=r"episodes/chunk-000/file-000.parquet"):
        LeRobotReader(ds)


@pytest.mark.parametrize(
    "content, match",
    [
        ("{not json", "not valid JSON"),
        ("[]", "JSON object"),
        (json.dumps({"codebase_version": "v3.0"}), "missing keys"),
        (
            json.dumps(
                {
                    "codebase_version": "v9.9",
                    "fps": 10,
                    "features": {"a": {}},
                    "total_episodes": 0,
                    "data_path": "x",
                }
            ),
            "not supported",
        ),
    ],
)
def test_wrong_info_json(ds: Path, content: str, match: str) -> None:
    (ds / "meta/info.json").write_text(content)
    with pytest.raises(DatasetError, match=match) as exc:
        LeRobotReader(ds)
    assert "meta/info.json" in str(exc.value)


def test_missing_info_json(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"meta/info.json: not found"):
        LeRobotReader(tmp_path)


def test_total_episodes_mismatch(ds: Path) -> None:
    info = json.loads((ds / "meta/info.json").read_text())
    info["total_episodes"] = 5
    (ds / "meta/info.json").write_text(json.dumps(info))
    with pytest.raises(DatasetError, match="total_episodes=5"):
        LeRobotReader(ds)


def test_missing_video(ds: Path) -> None:
    video = ds / "videos/observation.images.front/chunk-000/file-001.mp4"
    video.unlink()
    r = LeRobotReader(ds)
    r.episode(1, decode_videos=False)
    with pytest.raises(DatasetError, match=r"file-001\.mp4: video file missing"):
        r.episode(1)


def test_truncated_video(ds: Path) -> None:
    video = ds / "videos/observation.images.front/chunk-000/file-000.mp4"
    video.write_bytes(video.read_bytes()[:200])
    with pytest.raises(DatasetError, match=r"file-000\.mp4"):
        LeRobotReader(ds).episode(0)


def test_missing_tasks(ds: Path) -> None:
    (ds / "meta/tasks.parquet").unlink()
    with pytest.raises(DatasetError, match=r"tasks\.parquet"):
        LeRobotReader(ds)


def test_recover_is_noop_on_clean_dataset(ds: Path) -> None:
    assert recover(ds) == []
    assert LeRobotReader(ds).num_episodes == 2
