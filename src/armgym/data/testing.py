"""Helpers for tests and benchmarks: locate the test fixtures, make synthetic episodes."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from armgym.data import lerobot_format as fmt

FIXTURE_NAME = "lerobot_v30_sample"


def fixtures_dir(start: Path | None = None) -> Path | None:
    """``$ARMGYM_FIXTURES``, else the repository's ``tests/fixtures`` found walking up from
    ``start`` (default: this file; present in a source checkout). None when absent."""
    env = os.environ.get("ARMGYM_FIXTURES")
    if env:
        return Path(env)
    here = (start or Path(__file__)).resolve()
    for parent in [here, *here.parents]:
        cand = parent / "tests" / "fixtures"
        if (cand / FIXTURE_NAME).is_dir():
            return cand
    return None


def pattern_frame(episode: int, i: int, size: int = 64) -> np.ndarray:
    """The fixture's documented image: channel ``episode`` = 20·i (mod 256) and a white box
    at rows 4i..4i+8 (wrapping), columns 10..30. uint8 [size, size, 3]."""
    img = np.zeros((size, size, 3), np.uint8)
    img[..., episode % 3] = (20 * i) % 256
    r = (4 * i) % (size - 8)
    img[r : r + 8, 10:30] = 255
    return img


def synthetic_features(state_dim: int = 8, image_size: int | None = 64) -> dict[str, Any]:
    feats: dict[str, Any] = {
        "observation.state": fmt.vector_feature(state_dim),
        "action": fmt.vector_feature(7, fmt.ACTION_NAMES),
        "next.done": {"dtype": "bool", "shape": [1], "names": None},
    }
    if image_size:
        feats["observation.images.front"] = fmt.video_feature(image_size, image_size, 10)
    return feats


def synthetic_episode(
    episode: int, length: int, seed: int = 0, image_size: int | None = 64
) -> list[dict[str, Any]]:
    """Frames for ``LeRobotWriter.add_frame``: random state/action, pattern images."""
    rng = np.random.default_rng(seed + 1000 * episode)
    frames = []
    for i in range(length):
        f: dict[str, Any] = {
            "observation.state": rng.standard_normal(8).astype(np.float32),
            "action": rng.uniform(-1, 1, 7).astype(np.float32),
            "next.done": np.bool_(i == length - 1),
        }
        if image_size:
            f["observation.images.front"] = pattern_frame(episode, i, image_size)
        frames.append(f)
    return frames


def write_synthetic(
    root: Path,
    lengths: Sequence[int],
    tasks: Sequence[str],
    vcodec: str = "libsvtav1",
    image_size: int | None = 64,
    **writer_kwargs: Any,
) -> list[list[dict[str, Any]]]:
    """Record synthetic episodes (``synthetic_episode``) with ``LeRobotWriter`` at 10 fps;
    returns the frames written, per episode."""
    from armgym.data.writer import LeRobotWriter

    episodes = [synthetic_episode(e, n, image_size=image_size) for e, n in enumerate(lengths)]
    feats = synthetic_features(image_size=image_size)
    with LeRobotWriter(root, feats, fps=10, vcodec=vcodec, **writer_kwargs) as w:
        for frames, task in zip(episodes, tasks, strict=True):
            for f in frames:
                w.add_frame(f, task=task)
            w.save_episode({"armgym/success": True, "armgym/seed": 3})
    return episodes


def write_v21_copy(src: Path, dst: Path) -> None:
    """Rewrite an armgym v3.0 dataset (one file per episode) in LeRobot's v2.1 layout:
    ``episodes.jsonl`` / ``tasks.jsonl`` metadata and ``episode_<index>`` files."""
    import json

    from armgym.data.reader import LeRobotReader

    r = LeRobotReader(src)
    info = dict(
        r.info,
        codebase_version="v2.1",
        total_chunks=1,
        total_videos=len(r.video_keys) * r.num_episodes,
        data_path="data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet",
        video_path="videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4",
    )
    (dst / "meta").mkdir(parents=True)
    (dst / "meta/info.json").write_text(json.dumps(info))
    (dst / "meta/tasks.jsonl").write_text(
        "".join(json.dumps({"task_index": i, "task": t}) + "\n" for i, t in enumerate(r.tasks))
    )
    (dst / "meta/episodes.jsonl").write_text(
        "".join(
            json.dumps({"episode_index": e.index, "tasks": e.tasks, "length": e.length}) + "\n"
            for e in r.episodes
        )
    )
    for e in r.episodes:
        data = dst / f"data/chunk-000/episode_{e.index:06d}.parquet"
        data.parent.mkdir(parents=True, exist_ok=True)
        data.write_bytes(e.data_file.read_bytes())
        for key, (path, _) in e.videos.items():
            vid = dst / f"videos/chunk-000/{key}/episode_{e.index:06d}.mp4"
            vid.parent.mkdir(parents=True, exist_ok=True)
            vid.write_bytes(path.read_bytes())
