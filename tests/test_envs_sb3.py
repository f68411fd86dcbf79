"""stable-baselines3 (the real package) accepts armgym envs and trains on them."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium.wrappers import FlattenObservation
from stable_baselines3 import SAC
from stable_baselines3.common.env_checker import check_env

import armgym  # noqa: F401


def test_sb3_env_checker_and_a_few_sac_updates(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SB3_LOGDIR", str(tmp_path))  # else SB3 leaves a folder in /tmp per run
    env = FlattenObservation(gym.make("armgym/PickCube-v0"))
    check_env(env, warn=False)
    model = SAC(
        "MlpPolicy", env, learning_starts=32, batch_size=32, train_freq=8, seed=0, device="cpu"
    )
    model.learn(total_timesteps=64)
    obs, _ = env.reset(seed=0)
    action, _ = model.predict(obs, deterministic=True)
    assert action.shape == (7,) and np.all(np.abs(action) <= 1.0)
