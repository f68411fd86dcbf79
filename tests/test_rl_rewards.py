"""Rewards an RL agent can learn from, and the ``ee_pos`` control mode (xyz + gripper)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import armgym
from armgym.errors import ConfigError
from armgym.policies.scripted import ScriptedPolicy
from armgym.tasks.base import closeness, shaped


def test_closeness_is_informative_far_away_and_sharp_near() -> None:
    assert closeness(0.0) == pytest.approx(1.0)
    # a target 0.4 m away: moving 1 cm closer still raises the reward
    assert closeness(0.39) - closeness(0.40) > 0.004
    # near the goal the slope is much steeper than far away
    assert closeness(0.0) - closeness(0.01) > 5 * (closeness(0.39) - closeness(0.40))
    # scaled robots scale the lengths
    assert closeness(0.2, scale=0.5) == pytest.approx(closeness(0.4))


def test_shaped_reward_is_never_positive_and_success_is_the_best() -> None:
    assert shaped(0.99, False) < shaped(0.0, True) == 0.0
    assert shaped(0.0, False) == -1.0
    assert shaped(2.0, False) <= 0.0  # clipped progress


@pytest.mark.parametrize("robot", ["panda", "widowx250", "so101"])
def test_ee_pos_moves_the_tool_and_holds_its_orientation(robot: str) -> None:
    env = gym.make("armgym/Reach-v0", robot=robot, control="ee_pos")
    assert env.action_space.shape == (4,)
    obs, _ = env.reset(seed=0)
    n = env.unwrapped.n_arm
    pos0 = obs["observation.state"][2 * n : 2 * n + 3].copy()
    quat0 = obs["observation.state"][2 * n + 3 : 2 * n + 7].copy()
    for _ in range(5):  # +x for 5 steps at full speed
        obs, *_ = env.step(np.array([1.0, 0.0, 0.0, 1.0], np.float32))
    pos = obs["observation.state"][2 * n : 2 * n + 3]
    quat = obs["observation.state"][2 * n + 3 : 2 * n + 7]
    assert pos[0] - pos0[0] > 0.04, f"{robot}: the tool moved {pos[0] - pos0[0]:.3f} m in x"
    assert abs(float(np.dot(quat, quat0))) > 0.99, f"{robot}: orientation drifted"
    env.close()


@pytest.mark.parametrize("task", ["Reach", "PickCube"])
def test_scripted_expert_drives_ee_pos_and_dense_reward_ends_at_zero(task: str) -> None:
    env = gym.make(f"armgym/{task}-v0", control="ee_pos")
    policy = ScriptedPolicy.for_env(env)
    assert policy.metadata.action_dim == 4
    obs, _ = env.reset(seed=3)
    policy.reset()
    rewards = []
    for _ in range(env.spec.max_episode_steps):
        obs, r, term, trunc, info = env.step(policy(obs))
        rewards.append(r)
        if term or trunc:
            break
    assert info["is_success"] and term
    assert rewards[-1] == 0.0 and max(rewards[:-1]) < 0.0
    env.close()


def test_scripted_expert_refuses_joint_control() -> None:
    env = gym.make("armgym/Reach-v0", control="joint_pos")
    with pytest.raises(ConfigError, match="ee_pos"):
        ScriptedPolicy.for_env(env)
    env.close()


def test_ee_pos_is_a_listed_control_mode() -> None:
    from armgym.robots.controllers import CONTROL_MODES

    assert "ee_pos" in CONTROL_MODES
    assert armgym.TASKS.get("reach").name == "Reach"
