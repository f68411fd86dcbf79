"""``armgym.rl.ReplayBuffer``: frames stored once, sampling, wrap-around, save/restore, demos."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import armgym  # noqa: F401
from armgym.errors import CheckpointError, ConfigError, DatasetError
from armgym.rl import ReplayBuffer, fill_from_dataset, fill_from_scripted

OBS = {"s": ((2,), "float32"), "img": ((4, 4, 3), "uint8")}


def _obs(t: float) -> dict[str, np.ndarray]:
    return {"s": np.array([t, -t], np.float32), "img": np.full((4, 4, 3), int(t) % 256, np.uint8)}


def _fill(buf: ReplayBuffer, episodes: int, length: int, start: int = 0) -> None:
    t = start
    for _ in range(episodes):
        for k in range(length):
            last = k == length - 1
            buf.add(_obs(t), np.full(3, t, np.float32), float(t), last, False, _obs(t + 1))
            t += 1
        t += 1000  # next episode starts elsewhere


def test_frames_are_stored_once_and_transitions_are_consistent() -> None:
    buf = ReplayBuffer(OBS, 3, capacity=100, extras={"is_intervention": ((), "bool")})
    _fill(buf, episodes=2, length=10)
    assert len(buf) == 20
    assert buf.filled == 22  # T + 1 frames per episode, not 2T
    b = buf.sample(64)
    t = b["obs"]["s"][:, 0]
    np.testing.assert_array_equal(b["next_obs"]["s"][:, 0], t + 1)
    np.testing.assert_array_equal(b["action"][:, 0], t)
    np.testing.assert_array_equal(b["reward"], t)
    assert b["next_obs"]["img"].dtype == np.uint8 and b["is_intervention"].shape == (64,)
    # terminal flags only on the last step of each episode
    assert set(t[b["terminated"]].tolist()) <= {9.0, 1019.0}


def test_wraparound_never_pairs_frames_of_different_times() -> None:
    buf = ReplayBuffer(OBS, 3, capacity=17)
    _fill(buf, episodes=5, length=7)
    assert buf.filled == 17 and len(buf) == int(buf.valid.sum())
    for _ in range(20):
        b = buf.sample(32)
        np.testing.assert_array_equal(b["next_obs"]["s"][:, 0], b["obs"]["s"][:, 0] + 1)


def test_interleaved_streams_still_pair_correctly() -> None:
    buf = ReplayBuffer(OBS, 3, capacity=200)
    for t in range(20):  # two envs alternating
        for base in (0, 500):
            buf.add(_obs(base + t), np.zeros(3), 0.0, False, False, _obs(base + t + 1))
    b = buf.sample(128)
    np.testing.assert_array_equal(b["next_obs"]["s"][:, 0], b["obs"]["s"][:, 0] + 1)


def test_save_restore_round_trip(tmp_path: Path) -> None:
    buf = ReplayBuffer(OBS, 3, capacity=50, seed=3)
    _fill(buf, episodes=3, length=9)
    buf.save(tmp_path / "buf")
    again = ReplayBuffer.load(tmp_path / "buf")
    assert len(again) == len(buf) and again.pos == buf.pos
    a, b = buf.sample(16), again.sample(16)  # same RNG state -> same batch
    np.testing.assert_array_equal(a["obs"]["img"], b["obs"]["img"])
    np.testing.assert_array_equal(a["action"], b["action"])
    assert not list(tmp_path.glob("**/*.pkl"))


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    buf = ReplayBuffer(OBS, 3, capacity=10)
    with pytest.raises(ConfigError, match="empty"):
        buf.sample(4)
    with pytest.raises(ConfigError, match="shape"):
        buf.add(_obs(0), np.zeros(5), 0.0, False, False, _obs(1))
    with pytest.raises(CheckpointError, match=r"ReplayBuffer\.save"):
        ReplayBuffer.load(tmp_path / "nothing")


def test_scripted_demos_and_a_recorded_dataset_fill_the_buffer(tmp_path: Path) -> None:
    from armgym.apps.collect import CollectConfig, collect

    env = gym.make("armgym/Reach-v0", control="ee_pos")
    buf = ReplayBuffer.for_env(env, 1000)
    info = fill_from_scripted(buf, env, 2, seed=0)
    assert info["episodes"] == 2 and len(buf) == info["transitions"] > 0
    assert buf.sample(8)["reward"].max() <= 0.0  # dense reward never positive

    out = tmp_path / "demos"
    collect(
        CollectConfig(
            out=out, task="Reach", control="ee_pos", episodes=2, obs="state", progress=False
        )
    )
    from_disk = ReplayBuffer.for_env(env, 1000)
    got = fill_from_dataset(from_disk, out, reward="sparse")
    assert got["episodes"] == 2 and got["transitions"] > 0
    assert from_disk.sample(64)["reward"].max() == 1.0  # the successes are in there

    other = ReplayBuffer.for_env(gym.make("armgym/Reach-v0"), 100)  # 7-dim ee_delta
    with pytest.raises(DatasetError, match="action: dataset"):
        fill_from_dataset(other, out)
    env.close()
