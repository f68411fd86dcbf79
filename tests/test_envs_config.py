"""EnvConfig: JSON round trip, clear errors, old dataset dicts; make_env = gymnasium.make."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import armgym
from armgym.envs import EnvConfig, make_env
from armgym.errors import ConfigError, UnknownNameError
from armgym.robots.controllers import ControllerConfig


def test_json_round_trip_keeps_every_field() -> None:
    cfg = EnvConfig(
        task="Push",
        robot="widowx250",
        obs="both",
        cameras=("front",),
        image_size=(64, 96),
        reward="sparse",
        controller=ControllerConfig(pos_step=0.01),
    )
    again = EnvConfig.from_json(cfg.to_json())
    assert again == cfg
    assert again.controller.pos_step == 0.01 and again.image_size == (64, 96)


def test_old_partial_dataset_dict_is_read() -> None:
    old = {"task": "PickCube", "robot": "panda", "obs": "both", "cameras": ["front"],
           "image_size": [32, 32]}  # fmt: skip
    cfg = EnvConfig.from_dict(old)
    assert cfg.cameras == ("front",) and cfg.image_size == (32, 32) and cfg.control == "ee_delta"


@pytest.mark.parametrize(
    ("data", "error", "match"),
    [
        ({"tsk": "PickCube"}, UnknownNameError, "Did you mean 'task'"),
        ({"task": "PickCub"}, UnknownNameError, "Did you mean 'PickCube'"),
        ({"controller": {"pos_stp": 0.1}}, UnknownNameError, "Did you mean 'pos_step'"),
        ({"image_size": [0, 32]}, ConfigError, "image_size"),
        ({"control_hz": -1.0}, ConfigError, "control_hz"),
        ({"cameras": "front"}, ConfigError, "cameras"),
    ],
)
def test_bad_dict_gives_a_clear_error(data: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        EnvConfig.from_dict(data)


def test_bad_json_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not valid JSON"):
        EnvConfig.from_json("{task: PickCube")
    with pytest.raises(ConfigError, match="must be a map"):
        EnvConfig.from_json("[1, 2]")


def test_make_env_matches_gym_make() -> None:
    cfg = EnvConfig(task="Reach", robot="so101", obs="state")
    a = make_env(cfg)
    b = gym.make("armgym/Reach-v0", robot="so101", obs="state")
    assert a.spec is not None and a.spec.max_episode_steps == b.spec.max_episode_steps  # type: ignore[union-attr]
    oa, _ = a.reset(seed=3)
    ob, _ = b.reset(seed=3)
    act = a.action_space.sample()
    for k in oa:
        np.testing.assert_array_equal(oa[k], ob[k])
    np.testing.assert_array_equal(
        a.step(act)[0]["observation.state"], b.step(act)[0]["observation.state"]
    )
    assert armgym.make_env is make_env


def test_make_env_max_episode_steps_truncates() -> None:
    env = make_env(EnvConfig(task="Reach"), max_episode_steps=2)
    env.reset(seed=0)
    zeros = np.zeros(env.action_space.shape, np.float32)
    assert not env.step(zeros)[3]
    assert env.step(zeros)[3]
