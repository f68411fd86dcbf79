"""WarpBatchedEnv on Warp's CPU device: API, seeded resets, autoreset, parity with the CPU env.

Parity tolerance (stated in docs/warp.md): from the same start state and actions, joint
positions stay within 2e-3 rad and the tool within 1e-3 m of the CPU env over 10 control
steps (MuJoCo Warp computes in float32; measured differences are ~1e-6).
"""

from __future__ import annotations

import mujoco_warp  # noqa: F401  (armgym[warp]: make test installs it)
import numpy as np
import pytest
import torch

from armgym.envs import EnvConfig, build_env
from armgym.envs.warp import WarpBatchedEnv
from armgym.errors import ConfigError, InvalidActionError

N = 4
JOINT_TOL, EE_TOL = 2e-3, 1e-3


@pytest.fixture(scope="module")
def env() -> WarpBatchedEnv:
    e = WarpBatchedEnv("PickCube", N, device="cpu")
    yield e
    e.close()


def _cpu(task: str = "PickCube", **kw: object):
    return build_env(EnvConfig(task=task, obs="state", **kw))  # type: ignore[arg-type]


def test_spaces_dtypes_and_zero_copy_views(env: WarpBatchedEnv) -> None:
    obs, info = env.reset(seed=0)
    assert obs["observation.state"].shape == (N, 2 * 7 + 8)
    assert obs["observation.environment_state"].shape == (N, 7)
    assert all(v.dtype == torch.float32 and v.device.type == "cpu" for v in obs.values())
    assert info["is_success"].dtype == torch.bool and info["is_success"].shape == (N,)
    assert env.action_space.shape == (N, 7)
    # the torch view and the Warp array are the same memory
    assert env.views["qpos"].data_ptr() == env.d.qpos.ptr
    env.views["ctrl"][0, 0] += 0.25
    assert env.d.ctrl.numpy()[0, 0] == pytest.approx(float(env.views["ctrl"][0, 0]))
    _, reward, term, trunc, _ = env.step(torch.zeros(N, 7))
    assert reward.dtype == torch.float32 and term.dtype == torch.bool and trunc.shape == (N,)


def test_seeded_reset_matches_the_cpu_env(env: WarpBatchedEnv) -> None:
    obs, _ = env.reset(seed=100)
    cpu = _cpu()
    for i in range(N):
        ref, _ = cpu.reset(seed=100 + i)
        for key, value in ref.items():
            np.testing.assert_allclose(obs[key][i].numpy(), value, atol=1e-6, err_msg=key)
    # the task's randomisation really differs between worlds
    assert not torch.equal(
        obs["observation.environment_state"][0], obs["observation.environment_state"][1]
    )


def _parity(warp_env: WarpBatchedEnv, cpu, seed: int, steps: int, action_dim: int) -> float:
    """Drive world 1 and the CPU env from the same state with the same actions; max errors."""
    warp_env.reset(seed=seed)
    cpu.reset(seed=seed + 1)
    rng = np.random.default_rng(seed)
    n = cpu.n_arm
    worst = 0.0
    for _ in range(steps):
        actions = rng.uniform(-1.0, 1.0, (warp_env.num_envs, action_dim)).astype(np.float32)
        obs, *_ = warp_env.step(torch.as_tensor(actions))
        ref, *_ = cpu.step(actions[1])
        got = obs["observation.state"][1].numpy()
        ref_state = ref["observation.state"]
        joint_err = np.abs(got[:n] - ref_state[:n]).max()
        ee_err = np.abs(got[2 * n : 2 * n + 3] - ref_state[2 * n : 2 * n + 3]).max()
        assert joint_err < JOINT_TOL and ee_err < EE_TOL, (joint_err, ee_err)
        worst = max(worst, float(joint_err))
    return worst


def test_ee_delta_trajectories_match_the_cpu_env(env: WarpBatchedEnv) -> None:
    worst = _parity(env, _cpu(), seed=7, steps=10, action_dim=7)
    assert worst > 0.0  # float32 vs float64: equal to the last bit would be suspicious


def test_joint_pos_trajectories_match_the_cpu_env() -> None:
    e = WarpBatchedEnv("PickCube", 2, device="cpu", control="joint_pos")
    try:
        _parity(e, _cpu(control="joint_pos"), seed=3, steps=6, action_dim=8)
    finally:
        e.close()


def test_ee_pos_trajectories_match_the_cpu_env() -> None:
    """``ee_pos`` (xyz + gripper, SAC's action space) on the device, as on the CPU."""
    e = WarpBatchedEnv("PickCube", 2, device="cpu", control="ee_pos")
    try:
        assert e.single_action_space.shape == (4,)
        _parity(e, _cpu(control="ee_pos"), seed=5, steps=6, action_dim=4)
    finally:
        e.close()


def test_an_inverted_gripper_reads_as_the_cpu_robot_reads_it() -> None:
    """A gripper whose actuator closes toward larger finger positions (a Robotiq's,
    gripper_range closed > open) reports opening = 1 − q/max on both backends."""
    import dataclasses

    from armgym.robots import ROBOTS

    name = "panda_inverted_grip_test"
    if name not in ROBOTS:
        panda = ROBOTS.get("panda")
        lo, hi = panda.gripper_range
        ROBOTS.register(name, dataclasses.replace(panda, name=name, gripper_range=(hi, lo)))
    e = WarpBatchedEnv("PickCube", 2, device="cpu", robot=name)
    try:
        assert e.grip_inverted
        cpu = _cpu(robot=name)
        e.reset(seed=3)
        cpu.reset(seed=4)  # world 1 of seed 3 is the CPU env's seed 4
        action = np.zeros((2, 7), np.float32)
        action[:, -1] = -1.0  # close
        for _ in range(5):
            obs, *_ = e.step(torch.as_tensor(action))
            ref, *_ = cpu.step(action[1])
        got, want = float(obs["observation.state"][1, -1]), float(ref["observation.state"][-1])
        assert abs(got - want) < 1e-3 and abs(got - 0.5) > 0.05  # moved, and the same way
    finally:
        e.close()


def test_sim_state_round_trips_between_backends(env: WarpBatchedEnv) -> None:
    cpu = _cpu()
    cpu.reset(seed=5)
    cpu.step(np.array([0.5, -0.3, -0.8, 0.0, 0.0, 0.2, -1.0], np.float32))
    state = cpu.get_sim_state()
    env.reset(seed=0)
    env.set_sim_state(state, world=2)
    back = env.get_sim_state(2)
    assert back.shape == state.shape and back.dtype == np.float64
    np.testing.assert_allclose(back, state, rtol=1e-6, atol=1e-6)  # float32 on the device
    # Warp -> CPU -> Warp is exact: float32 values survive float64
    cpu.set_sim_state(back)
    np.testing.assert_array_equal(cpu.get_sim_state(), back)
    env.set_sim_state(cpu.get_sim_state(), world=0)
    np.testing.assert_array_equal(env.get_sim_state(0), back)
    # and both continue the same way from there
    action = np.array([0.0, 0.4, 0.2, 0.0, 0.0, 0.0, 1.0], np.float32)
    obs, *_ = env.step(torch.as_tensor(np.tile(action, (N, 1))))
    ref, *_ = cpu.step(action)
    np.testing.assert_allclose(
        obs["observation.state"][0].numpy()[:7], ref["observation.state"][:7], atol=JOINT_TOL
    )
    with pytest.raises(ConfigError, match="sim_state must be float64"):
        env.set_sim_state(state[:-1], world=0)


def test_autoreset_next_step_continues_each_worlds_generator() -> None:
    e = WarpBatchedEnv("PickCube", 2, device="cpu", max_episode_steps=2)
    try:
        e.reset(seed=20)
        zeros = torch.zeros(2, 7)
        _, _, _, trunc, _ = e.step(zeros)
        assert not trunc.any()
        _, _, term, trunc, _ = e.step(zeros)
        assert trunc.all() and not term.any()
        obs, reward, term, trunc, info = e.step(zeros)  # this step only resets
        assert not (term.any() or trunc.any()) and torch.all(reward == 0)
        assert not info["_is_success"].any()
        cpu = _cpu()
        for i in range(2):
            cpu.reset(seed=20 + i)
            ref, _ = cpu.reset()  # the next episode of that seed's generator
            np.testing.assert_allclose(
                obs["observation.environment_state"][i].numpy(),
                ref["observation.environment_state"],
                atol=1e-6,
            )
        _, _, _, trunc, _ = e.step(zeros)
        assert not trunc.any()  # the step counter restarted
    finally:
        e.close()


def test_masked_reset_touches_only_the_masked_worlds(env: WarpBatchedEnv) -> None:
    before, _ = env.reset(seed=0)
    after, _ = env.reset(seed=[50, 51, 52, 53], options={"reset_mask": [False, True, False, False]})
    objects_before = before["observation.environment_state"]
    objects_after = after["observation.environment_state"]
    assert torch.equal(objects_after[[0, 2, 3]], objects_before[[0, 2, 3]])
    ref, _ = _cpu().reset(seed=51)
    np.testing.assert_allclose(
        objects_after[1].numpy(), ref["observation.environment_state"], atol=1e-6
    )


def test_bad_actions_raise_and_move_nothing(env: WarpBatchedEnv) -> None:
    env.reset(seed=0)
    before = env.get_sim_state()
    with pytest.raises(InvalidActionError, match=r"expected \(4, 7\)"):
        env.step(torch.zeros(N, 8))
    bad = torch.zeros(N, 7)
    bad[2, 0] = float("nan")
    with pytest.raises(InvalidActionError, match=r"worlds \[2\]"):
        env.step(bad)
    np.testing.assert_array_equal(env.get_sim_state(), before)


def test_pixel_observations_are_refused_with_advice() -> None:
    with pytest.raises(ConfigError, match="obs='state'"):
        WarpBatchedEnv("PickCube", 1, device="cpu", obs="pixels")
