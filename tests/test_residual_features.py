"""The task's goal-relative features as an input of the residual (``--features``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from armgym.contracts.observation import ENV_STATE_KEY
from armgym.envs import EnvConfig, make_env
from armgym.envs.batched import BatchedEnv
from armgym.errors import ConfigError
from armgym.policies import load_checkpoint
from armgym.policies.learned import save_checkpoint
from armgym.policies.mlp import MLPConfig
from armgym.policies.residual import (
    FEATURES_KEY,
    ResidualVectorWrapper,
    ResidualWrapper,
    TaskFeatures,
)
from armgym.tasks.base import FEATURE_SCALE
from tests._policies import ENV, tiny_policy

PEG = {"task": "PegInsert", "obs": "state", "randomization": "med"}


def _features(env_dict: dict, seed: int = 3):
    env = make_env(EnvConfig.from_dict(env_dict))
    obs, _ = env.reset(seed=seed)
    return env, obs, TaskFeatures.for_env(env_dict, env.observation_space)


@pytest.mark.parametrize("env_dict", [ENV, PEG], ids=["PickCube", "PegInsert"])
def test_features_are_the_tasks_offsets_recomputed_from_the_env_observation(env_dict) -> None:
    env, obs, features = _features(env_dict)
    task = env.unwrapped.task
    for _ in range(3):
        f = features(obs)
        assert f.dtype == np.float32 and f.shape == (len(task.relative_feature_names),)
        np.testing.assert_allclose(f, task.relative_features(env.unwrapped.robot_obs), atol=1e-6)
        obs, *_ = env.step(env.action_space.sample())
    # the first offset is the tool -> object vector in metres, then its squashed copy
    ro = env.unwrapped.robot_obs
    if env_dict["task"] == "PegInsert":
        _, target = task.peg_points(ro["object_state"])
    else:
        target = ro["object_state"][:3]
    reach = target - ro["ee_pos"]
    f = features(obs)
    np.testing.assert_allclose(f[:3], reach, atol=1e-5)
    squashed = f[6:9] if env_dict["task"] == "PegInsert" else f[3:6]
    np.testing.assert_allclose(squashed, np.tanh(reach / FEATURE_SCALE), atol=1e-5)


def test_peg_features_vanish_when_the_peg_sits_in_the_hole() -> None:
    env, _, _ = _features(PEG)
    task, ro = env.unwrapped.task, dict(env.unwrapped.robot_obs)
    s = ro["object_state"].copy()
    bottom, _ = task.peg_points(s)
    s[:3] += s[7:10] - bottom  # move the peg so that its bottom face is at the opening
    s[3:7] = [np.cos(s[10] / 2), 0, 0, np.sin(s[10] / 2)]  # and turn it to the hole
    bottom, _ = task.peg_points(s)
    s[:3] += s[7:10] - bottom
    f = task.relative_features({**ro, "object_state": s})
    names = task.relative_feature_names
    for name in ("peg_bottom_from_hole.x", "peg_bottom_from_hole.y", "hole_yaw_from_peg"):
        assert abs(f[names.index(name)]) < 1e-5, name


def test_features_refuse_a_task_without_them_and_an_env_without_object_state() -> None:
    reach = {"task": "Reach", "obs": "state"}
    env = make_env(EnvConfig.from_dict(reach))
    with pytest.raises(ConfigError, match="defines no relative features"):
        TaskFeatures.for_env(reach, env.observation_space)
    pixels = {**ENV, "obs": "pixels", "image_size": (32, 32), "cameras": ("front",)}
    env = make_env(EnvConfig.from_dict(pixels))
    assert ENV_STATE_KEY not in env.observation_space.spaces
    with pytest.raises(ConfigError, match="environment_state"):
        TaskFeatures.for_env(pixels, env.observation_space)


def test_wrappers_add_the_features_per_env(tmp_path: Path) -> None:
    torch.manual_seed(0)
    cfg = MLPConfig(hidden_dims=(32,), obs_horizon=1, horizon=2, n_action_steps=2)
    base = load_checkpoint(save_checkpoint(tmp_path / "base", tiny_policy("mlp", cfg, ENV)))
    env = make_env(EnvConfig.from_dict(ENV))
    single = ResidualWrapper(env, base, 0.2, TaskFeatures.for_env(ENV, env.observation_space))
    batched = BatchedEnv("PickCube", 2, num_threads=1)
    features = TaskFeatures.for_env(ENV, batched.single_observation_space)
    vec = ResidualVectorWrapper(batched, base, 0.2, features=features)
    assert single.observation_space[FEATURES_KEY].shape == (8,)
    assert vec.single_observation_space[FEATURES_KEY].shape == (8,)
    obs, _ = vec.reset(seed=[5, 6])
    ref, _ = single.reset(seed=6)
    assert single.observation_space.contains(ref)
    for _ in range(3):
        np.testing.assert_allclose(obs[FEATURES_KEY][1], ref[FEATURES_KEY], atol=1e-5)
        obs, *_ = vec.step(np.zeros((2, 7), np.float32))
        ref, *_ = single.step(np.zeros(7, np.float32))


def test_reactive_demos_fill_the_buffer_from_the_stateless_expert() -> None:
    from armgym.rl import ReplayBuffer, fill_from_scripted

    env = make_env(EnvConfig.from_dict(PEG))
    spaces = {k: (s.shape, "float32") for k, s in env.observation_space.spaces.items()}
    buffer = ReplayBuffer(spaces, 7, capacity=1000)
    info = fill_from_scripted(buffer, env, 2, seed=0, expert="reactive")
    assert info["episodes"] == 2 and 20 < info["transitions"] == len(buffer) < 400
