"""Re-render recorded episodes from complementary_info.sim_state with other cameras / sizes."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium  # noqa: F401
import numpy as np
import pytest

from armgym.cli import main as armgym
from armgym.data.reader import LeRobotReader
from armgym.errors import ConfigError, DatasetError, UnknownNameError
from armgym.tasks.language import instructions

SIZE = 48  # recorded state-only; re-rendered at 48 x 48 with two cameras
CAMS = ("front", "wrist")


def _collect(out: Path, **kw) -> Path:
    from armgym.apps.collect import CollectConfig, collect

    cfg = CollectConfig(
        out=out, obs="state", episodes=2, max_steps=12, progress=False, seed=3, **kw
    )
    assert collect(cfg)["episodes_saved"] == 2
    return out


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    return _collect(tmp_path_factory.mktemp("rerender") / "src")


@pytest.fixture(scope="module")
def rerendered(source: Path) -> Path:
    out = source.parent / "rr"
    args = ["replay", str(source), "--rerender-out", str(out), "--all"]
    args += ["--cameras", *CAMS, "--image-size", str(SIZE), "--json-out", str(out) + ".json"]
    assert armgym(args) == 0
    return out


def test_rerender_copies_everything_but_images(source: Path, rerendered: Path) -> None:
    src, new = LeRobotReader(source), LeRobotReader(rerendered)
    assert src.video_keys == []
    assert new.video_keys == [f"observation.images.{c}" for c in CAMS]
    assert new.num_episodes == src.num_episodes == 2
    assert [e.length for e in new.episodes] == [e.length for e in src.episodes]
    assert [(e.from_index, e.to_index) for e in new.episodes] == [
        (e.from_index, e.to_index) for e in src.episodes
    ]
    assert new.tasks == src.tasks and set(src.tasks) <= set(instructions("PickCube"))
    assert new.fps == src.fps
    for k in range(src.num_episodes):
        a, b = src.episode(k), new.episode(k)
        for key in (
            "action",
            "observation.state",
            "observation.environment_state",
            "complementary_info.sim_state",
            "timestamp",
            "frame_index",
            "next.reward",
        ):
            np.testing.assert_array_equal(b[key], a[key], err_msg=key)
        assert b["task"] == a["task"]
        for cam in new.video_keys:
            img = b[cam]
            assert img.shape == (len(a["action"]), SIZE, SIZE, 3) and img.dtype == np.uint8
            assert img.std() > 5.0 and len(np.unique(img)) > 20, f"{cam} looks blank"
        extras_a, extras_b = src.episode_info(k).extras, new.episode_info(k).extras
        assert extras_b["armgym/seed"] == extras_a["armgym/seed"] == 3 + k
        assert extras_b["armgym/success"] == extras_a["armgym/success"]
    assert new.env_config()["cameras"] == list(CAMS)
    assert new.env_config()["image_size"] == [SIZE, SIZE]
    summary = json.loads(Path(str(rerendered) + ".json").read_text())
    assert summary["frames"] == src.num_frames and summary["episodes"] == 2


def test_rerender_is_deterministic_and_aligned(source: Path, rerendered: Path) -> None:
    from armgym.apps.resimulate import Rerenderer

    src = LeRobotReader(source)
    sims = src.episode(1, decode_videos=False)["complementary_info.sim_state"]
    video = LeRobotReader(rerendered).video("observation.images.wrist", 1).astype(float)
    with Rerenderer(src, CAMS, SIZE) as rr:
        first = rr.render(sims[5])
        other = rr.render(sims[-1])
        again = rr.render(sims[5])
    for key in first:
        np.testing.assert_array_equal(again[key], first[key], err_msg=key)
    wrist, last = first["observation.images.wrist"], other["observation.images.wrist"]
    assert not np.array_equal(last, wrist)
    # the stored (lossy) video frame 5 is the render of sim_state 5, not of another frame
    err = np.abs(video[5] - wrist).mean()
    assert err < 4.0 and err < np.abs(video[5] - last).mean()


def test_rerender_errors(source: Path, tmp_path: Path) -> None:
    from armgym.apps.resimulate import rerender

    bare = _collect(tmp_path / "nosim", sim_state=False)
    with pytest.raises(DatasetError, match=r"no .complementary_info\.sim_state. feature"):
        rerender(bare, tmp_path / "x", cameras=["front"], image_size=32)
    out = tmp_path / "one"
    rerender(source, out, cameras=["front"], image_size=32, episodes=[0])
    assert LeRobotReader(out).num_episodes == 1
    with pytest.raises(DatasetError, match="--overwrite"):
        rerender(source, out, cameras=["front"], image_size=32, episodes=[0])
    with pytest.raises(ConfigError, match="even"):
        rerender(source, tmp_path / "odd", cameras=["front"], image_size=33)
    with pytest.raises(UnknownNameError, match="front, wrist"):
        rerender(source, tmp_path / "cam", cameras=["nope"], image_size=32)


def test_replay_all_and_rerendered_dataset_replays(
    source: Path, rerendered: Path, capsys, tmp_path: Path
) -> None:
    assert armgym(["replay", str(source), "--all", "--json-out", str(tmp_path / "r.json")]) == 0
    assert capsys.readouterr().out.count("exact replay") == 2
    assert [r["episode"] for r in json.loads((tmp_path / "r.json").read_text())] == [0, 1]
    # the re-rendered dataset carries its own env config and sim states: replayable too
    assert armgym(["replay", str(rerendered), "--episode", "1"]) == 0
    assert "exact replay" in capsys.readouterr().out
    assert armgym(["replay", str(source), "--all", "--episode", "0"]) != 0
    assert "not both" in capsys.readouterr().err


def legacy_copy(source: Path, out: Path) -> Path:
    """``source`` as armgym 0.1.0 wrote it: sim state under ``observation.sim_state``."""
    import shutil

    import pyarrow.parquet as pq

    new, old = "complementary_info.sim_state", "observation.sim_state"
    shutil.copytree(source, out)
    for meta in ("meta/info.json", "meta/stats.json"):
        doc = json.loads((out / meta).read_text())
        table = doc["features"] if meta.endswith("info.json") else doc
        table[old] = table.pop(new)
        (out / meta).write_text(json.dumps(doc))
    for path in (out / "data").rglob("*.parquet"):
        t = pq.read_table(path)
        pq.write_table(t.rename_columns([old if c == new else c for c in t.column_names]), path)
    return out


def test_datasets_with_the_old_sim_state_name_still_replay(
    source: Path, tmp_path: Path, capsys
) -> None:
    legacy = legacy_copy(source, tmp_path / "legacy")
    assert "observation.sim_state" in LeRobotReader(legacy).features
    assert armgym(["replay", str(legacy), "--all"]) == 0
    assert capsys.readouterr().out.count("exact replay") == 2
    out = tmp_path / "rr"
    assert armgym(["replay", str(legacy), "--rerender-out", str(out), "--image-size", "32"]) == 0
    assert LeRobotReader(out).episode(0)["observation.images.front"].shape[1:] == (32, 32, 3)
