"""RecordEpisodeVideo: every episode's camera lands in an mp4, announced through info."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from armgym.data.video import decode_segment
from armgym.data.video_wrapper import RecordEpisodeVideo
from armgym.errors import ConfigError


def test_episodes_become_videos(tmp_path: Path) -> None:
    import armgym  # noqa: F401

    base = gym.make("armgym/Reach-v0", obs="both", image_size=(64, 64), cameras=("front",))
    env = RecordEpisodeVideo(base, tmp_path / "videos")
    frames = []
    obs, _ = env.reset(seed=0)
    frames.append(obs["observation.images.front"])
    paths = []
    for _ in range(300):
        obs, _, terminated, truncated, info = env.step(env.action_space.sample())
        frames.append(obs["observation.images.front"])
        if terminated or truncated:
            paths.append(info["video_path"])
            break
    env.reset(seed=1)
    env.close()  # closes the unfinished second episode
    assert paths == [str(tmp_path / "videos" / "episode_0.mp4")]
    got = decode_segment(Path(paths[0]), 0.0, len(frames), env.fps)
    assert got.shape == (len(frames), 64, 64, 3)
    err = np.abs(got.astype(int) - np.stack(frames).astype(int)).mean()
    assert err < 12, err  # lossy, but the same pictures
    assert (tmp_path / "videos" / "episode_1.mp4").stat().st_size > 0


def test_needs_an_image_observation() -> None:
    import armgym  # noqa: F401

    with pytest.raises(ConfigError, match="obs=pixels"):
        RecordEpisodeVideo(gym.make("armgym/Reach-v0", obs="state"), Path("unused"))
