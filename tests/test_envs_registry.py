"""Every registered task × robot × control × obs combination passes gymnasium's checker."""

from __future__ import annotations

import itertools

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import armgym
from armgym.envs.manipulation import OBS_MODES
from armgym.robots.controllers import CONTROL_MODES

COMBOS = list(
    itertools.product(armgym.TASKS.names(), armgym.ROBOTS.names(), CONTROL_MODES, OBS_MODES)
)


def _id(combo: tuple[str, ...]) -> str:
    return "-".join(combo)


@pytest.mark.parametrize("combo", COMBOS, ids=[_id(c) for c in COMBOS])
def test_check_env_and_step(combo: tuple[str, str, str, str]) -> None:
    task, robot, control, obs_mode = combo
    env = gym.make(
        f"armgym/{armgym.TASKS.get(task).name}-v0",
        robot=robot,
        control=control,
        obs=obs_mode,
        image_size=(48, 64),
    )
    check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=3)
    assert "is_success" in info
    for _ in range(5):
        obs, reward, _terminated, _truncated, info = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs)
        for key, value in obs.items():
            if value.dtype == np.float32:
                assert np.isfinite(value).all(), key
        assert np.isfinite(reward)
        assert "error" not in info
    data = env.unwrapped.robot.data
    assert all(w.number == 0 for w in data.warning), "MuJoCo warned"
    if obs_mode != "state":
        img = obs["observation.images.front"]
        assert img.shape == (48, 64, 3) and img.dtype == np.uint8 and img.std() > 1.0
    env.close()


def test_env_ids_cover_every_task() -> None:
    ids = armgym.env_ids()
    assert len(ids) == len(armgym.TASKS)
    for eid in ids:
        assert eid in gym.registry and eid.startswith("armgym/") and eid.endswith("-v0")


def test_registry_is_case_insensitive_and_canonical() -> None:
    assert armgym.ROBOTS.get("PANDA").name == "panda"
    assert armgym.TASKS.get("pickcube").name == "PickCube"
