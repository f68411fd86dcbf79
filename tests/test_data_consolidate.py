"""`armgym consolidate`: episodes packed into a few large files read back identically
(vectors, tasks, statistics and decoded video frames), the source untouched."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from armgym.cli import main as armgym
from armgym.data.consolidate import ConsolidateConfig, consolidate
from armgym.data.episodes_table import episode_table
from armgym.data.reader import LeRobotReader
from armgym.data.testing import write_synthetic, write_v21_copy
from armgym.data.writer import LeRobotWriter
from armgym.errors import DatasetError

LENGTHS = [12, 7, 15, 9, 11]
TASKS = ["pick up the cube", "push the cube", "pick up the cube", "stack", "push the cube"]


def files(root: Path, pattern: str) -> list[Path]:
    return sorted(root.glob(pattern))


@pytest.fixture(scope="module", params=["libsvtav1", "libx264"])
def source(request, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp(request.param) / "ds"
    write_synthetic(root, LENGTHS, TASKS, vcodec=request.param, image_size=32)
    return root


def test_packs_and_reads_back_identically(source: Path, tmp_path: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in source.rglob("*")}
    # ~2 episodes per file (each episode's parquet / mp4 is a few KiB)
    data_mb = 2.5 * (source / "data/chunk-000/file-000.parquet").stat().st_size / 2**20
    video_mb = (
        2.5
        * (source / "videos/observation.images.front/chunk-000/file-000.mp4").stat().st_size
        / 2**20
    )
    cfg = ConsolidateConfig(
        src=source, out=tmp_path / "packed", data_file_mb=data_mb, video_file_mb=video_mb,
        progress=False,
    )  # fmt: skip
    summary = consolidate(cfg)
    out = tmp_path / "packed"
    assert summary["episodes"] == 5 and summary["files_before"] == 10
    assert 2 <= len(files(out, "data/*/*.parquet")) <= 3
    assert 2 <= len(files(out, "videos/*/*/*.mp4")) <= 3
    assert len(files(out, "meta/episodes/*/*.parquet")) == 1
    assert summary["files_after"] == len(files(out, "data/*/*.parquet")) + len(
        files(out, "videos/*/*/*.mp4")
    )
    a, b = LeRobotReader(source), LeRobotReader(out)
    assert b.num_episodes == 5 and b.num_frames == sum(LENGTHS) and b.tasks == a.tasks
    for k in range(5):
        ea, eb = a.episode(k), b.episode(k)
        assert ea.keys() == eb.keys()
        for key in ea:
            np.testing.assert_array_equal(np.asarray(ea[key]), np.asarray(eb[key]), err_msg=key)
        same = [json.dumps(r.episode_info(k).extras, sort_keys=True) for r in (a, b)]
        assert same[0] == same[1]  # (NaN-safe comparison)
    shared = [e.videos["observation.images.front"] for e in b.episodes]
    assert len({path for path, _ in shared}) < 5 and any(ts > 0 for _, ts in shared)
    assert json.loads((out / "meta/stats.json").read_text()) == json.loads(
        (source / "meta/stats.json").read_text()
    )
    info = json.loads((out / "meta/info.json").read_text())
    assert info["data_files_size_in_mb"] == data_mb and info["total_episodes"] == 5
    assert {p: p.stat().st_mtime_ns for p in source.rglob("*")} == before  # source untouched


def test_one_big_file_by_default(source: Path, tmp_path: Path, capsys) -> None:
    assert armgym(["consolidate", str(source), "--out", str(tmp_path / "p"), "--no-progress"]) == 0
    assert "packed 5 episodes" in capsys.readouterr().out
    assert len(files(tmp_path / "p", "data/*/*.parquet")) == 1
    assert len(files(tmp_path / "p", "videos/*/*/*.mp4")) == 1
    r = LeRobotReader(tmp_path / "p")
    want = LeRobotReader(source).video("observation.images.front", 4)
    np.testing.assert_array_equal(r.video("observation.images.front", 4), want)


def test_refusals_leave_nothing_behind(source: Path, tmp_path: Path, capsys) -> None:
    packed = tmp_path / "p"
    consolidate(ConsolidateConfig(src=source, out=packed, progress=False))
    with pytest.raises(DatasetError, match="exists"):
        consolidate(ConsolidateConfig(src=source, out=packed, progress=False))
    with pytest.raises(DatasetError, match="already packed"):
        consolidate(ConsolidateConfig(src=packed, out=tmp_path / "q", progress=False))
    with pytest.raises(DatasetError, match="is the source"):
        consolidate(ConsolidateConfig(src=source, out=source, overwrite=True, progress=False))
    with pytest.raises(DatasetError, match="appending is only supported"):
        LeRobotWriter(packed, LeRobotReader(packed).features, fps=10)
    assert not (tmp_path / "q").exists() and not list(tmp_path.glob("*.partial"))
    # --overwrite replaces
    consolidate(ConsolidateConfig(src=source, out=packed, overwrite=True, progress=False))
    assert LeRobotReader(packed).num_episodes == 5


def test_missing_video_names_the_file(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    write_synthetic(root, [5, 6], ["a", "b"], image_size=32)
    victim = root / "videos/observation.images.front/chunk-000/file-001.mp4"
    victim.unlink()
    with pytest.raises(DatasetError, match=r"file-001\.mp4"):
        consolidate(ConsolidateConfig(src=root, out=tmp_path / "p", progress=False))
    assert not (tmp_path / "p").exists() and not (tmp_path / "p.partial").exists()


def test_episode_table_many_rows() -> None:
    rows = [{"episode_index": i, "tasks": ["t"], "length": 3} for i in range(3)]
    table = episode_table(rows, {})
    assert table.num_rows == 3 and table.column("episode_index").to_pylist() == [0, 1, 2]


def test_converts_v21_to_v30(source: Path, tmp_path: Path) -> None:
    """v3.0 -> (LeRobot v2.1 layout) -> consolidate: the same dataset in v3.0 again."""
    write_v21_copy(source, tmp_path / "v21")
    out = tmp_path / "v30"
    consolidate(ConsolidateConfig(src=tmp_path / "v21", out=out, progress=False))
    a, b = LeRobotReader(source), LeRobotReader(out)
    assert b.version == "v3.0" and b.tasks == a.tasks and b.num_episodes == 5
    assert (out / "meta/tasks.parquet").is_file() and not (out / "meta/tasks.jsonl").exists()
    for k in range(5):
        ea, eb = a.episode(k), b.episode(k)
        for key in ea:
            np.testing.assert_array_equal(np.asarray(ea[key]), np.asarray(eb[key]), err_msg=key)
    sa, sb = a.stats, b.stats
    for key in ("observation.state", "action", "index"):  # recomputed from the same data
        for stat in ("mean", "std", "min", "max", "q50"):
            np.testing.assert_allclose(sb[key][stat], sa[key][stat], rtol=1e-6, atol=1e-9)
    img = "observation.images.front"  # from decoded (lossy) frames vs. the recorded ones
    np.testing.assert_allclose(sb[img]["mean"], sa[img]["mean"], atol=0.02)
    assert b.episode_info(2).from_index == sum(LENGTHS[:2])
