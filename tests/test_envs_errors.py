"""Bad input gets a clear error; a physics blow-up truncates instead of crashing."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import armgym
from armgym.errors import InvalidActionError, UnknownNameError


@pytest.fixture()
def env():
    e = gym.make("armgym/PickCube-v0")
    e.reset(seed=0)
    yield e
    e.close()


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_action_is_rejected(env, bad) -> None:
    action = np.zeros(7, dtype=np.float32)
    action[2] = bad
    before = env.unwrapped.get_sim_state()
    with pytest.raises(InvalidActionError, match=r"NaN or inf at indices \[2\].*\[-1, 1\]"):
        env.step(action)
    np.testing.assert_array_equal(env.unwrapped.get_sim_state(), before)  # nothing moved


@pytest.mark.parametrize("shape", [(6,), (8,), (1, 7), ()])
def test_wrong_shape_action_names_expected_shape(env, shape) -> None:
    with pytest.raises(InvalidActionError, match=r"expected \(7,\)"):
        env.step(np.zeros(shape, dtype=np.float32))


def test_non_numeric_action(env) -> None:
    with pytest.raises(InvalidActionError, match="float array"):
        env.step(["a"] * 7)


def test_out_of_range_action_is_clipped(env) -> None:
    a = env.unwrapped.check_action(np.full(7, 5.0))
    assert a.dtype == np.float32 and a.max() == 1.0


@pytest.mark.parametrize(
    ("kwargs", "suggestion"),
    [
        ({"robot": "pandaa"}, "panda"),
        ({"control": "ee_detla"}, "ee_delta"),
        ({"obs": "pixel"}, "pixels"),
        ({"randomization": "hi"}, "high"),
        ({"robto": "panda"}, "robot"),
    ],
)
def test_unknown_option_suggests_closest(kwargs, suggestion) -> None:
    with pytest.raises(UnknownNameError, match=f"Did you mean '{suggestion}'"):
        gym.make("armgym/PickCube-v0", **kwargs)


def test_unknown_task_suggests_closest() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'PickCube'"):
        armgym.make_env(armgym.EnvConfig(task="PickCub"))


def test_unknown_camera() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'front'"):
        gym.make("armgym/PickCube-v0", obs="pixels", cameras=("frnt",))


def test_step_before_reset_raises() -> None:
    e = gym.make("armgym/PickCube-v0").unwrapped
    with pytest.raises(gym.error.ResetNeeded):
        e.step(np.zeros(7, dtype=np.float32))


def test_physics_blowup_truncates_with_error(env) -> None:
    data = env.unwrapped.robot.data
    data.qvel[:] = 1e30  # an exploding state, as a bad contact or model would produce
    obs, reward, terminated, truncated, info = env.step(np.zeros(7, dtype=np.float32))
    assert truncated and not terminated
    assert "error" in info and ("non-finite" in info["error"] or "MuJoCo warning" in info["error"])
    assert reward == -1.0  # the worst dense reward: a blow-up never pays
    with pytest.raises(gym.error.ResetNeeded):
        env.unwrapped.step(np.zeros(7, dtype=np.float32))
    obs, _ = env.reset(seed=1)  # and the env recovers
    assert np.isfinite(obs["observation.state"]).all()
