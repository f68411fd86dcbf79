"""The Warp backend's torch ports (rotations, Jacobian, object state, scoring) vs MuJoCo/tasks.

These run without Warp: they compare the batched maths with the CPU code it mirrors, so a
change of a task's reward or observation shows up here.
"""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
import torch

from armgym.contracts.observation import robot_obs_from_env_obs
from armgym.envs import EnvConfig, build_env
from armgym.envs.warp.control import BatchedController
from armgym.envs.warp.rotations import mat_to_quat, mat_to_rotvec, rotvec_to_mat
from armgym.envs.warp.scoring import (
    BATCHED_SCORERS,
    ObjectStateReader,
    observation_fields,
    score,
)
from armgym.tasks import TASKS


def _random_rotations(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mats = np.empty((n, 9))
    for i, q in enumerate(rng.normal(size=(n, 4))):
        mujoco.mju_quat2Mat(mats[i], q / np.linalg.norm(q))
    return mats.reshape(n, 3, 3)


def test_mat_to_quat_matches_mujoco_in_one_hemisphere() -> None:
    mats = _random_rotations(64)
    got = mat_to_quat(torch.as_tensor(mats)).numpy()
    for m, q in zip(mats, got, strict=True):
        ref = np.empty(4)
        mujoco.mju_mat2Quat(ref, m.reshape(-1))
        ref = -ref if ref[0] < 0 else ref
        np.testing.assert_allclose(q, ref, atol=1e-12)


def test_rotvec_maps_match_mujoco() -> None:
    mats = _random_rotations(64, seed=1)
    vecs = mat_to_rotvec(torch.as_tensor(mats)).numpy()
    for m, v in zip(mats, vecs, strict=True):
        q, ref = np.empty(4), np.empty(3)
        mujoco.mju_mat2Quat(q, m.reshape(-1))
        mujoco.mju_quat2Vel(ref, q, 1.0)
        np.testing.assert_allclose(v, ref, atol=1e-9)
    back = rotvec_to_mat(torch.as_tensor(vecs)).numpy()
    np.testing.assert_allclose(back, mats, atol=1e-9)
    assert torch.equal(rotvec_to_mat(torch.zeros(2, 3)), torch.eye(3).expand(2, 3, 3))


@pytest.mark.parametrize("robot", ["panda", "so101"])
def test_jacobian_matches_mj_jac_site(robot: str) -> None:
    env = build_env(EnvConfig(task="Reach", robot=robot, obs="state"))
    env.reset(seed=3)
    sim = env.robot
    m, d, c = sim.model, sim.data, sim.controller
    ref_p, ref_r = np.zeros((3, m.nv)), np.zeros((3, m.nv))
    mujoco.mj_jacSite(m, d, ref_p, ref_r, c.site_id)
    ctrl = BatchedController(m, c, 1, torch.device("cpu"))
    jac = ctrl.jacobian(
        torch.as_tensor(d.site_xpos[c.site_id])[None],
        torch.as_tensor(d.xaxis)[None],
        torch.as_tensor(d.xanchor)[None],
    )[0].numpy()
    np.testing.assert_allclose(jac, np.vstack([ref_p, ref_r])[:, c.dofadr], atol=1e-12)


@pytest.mark.parametrize("task", sorted(TASKS))
def test_object_state_reader_matches_task(task: str) -> None:
    env = build_env(EnvConfig(task=task, obs="state"))
    reader = ObjectStateReader(env.robot.model, env.task, torch.device("cpu"))
    assert reader.gather  # every task's features: gathers, constants, a mocap's heading
    rows, q, mp, mq = [], [], [], []
    for seed in range(4):
        env.reset(seed=seed)
        d = env.robot.data
        rows.append(env.task.object_state(d))
        q.append(d.qpos.copy()), mp.append(d.mocap_pos.copy()), mq.append(d.mocap_quat.copy())
    got = reader(*(torch.as_tensor(np.stack(x)) for x in (q, mp, mq)))
    np.testing.assert_allclose(got.numpy(), np.stack(rows), atol=1e-6)


@pytest.mark.parametrize("task", sorted(BATCHED_SCORERS))
def test_batched_scoring_matches_task_evaluate(task: str) -> None:
    """Observations along the scripted expert's episodes (successes included), scored both ways."""
    env = build_env(EnvConfig(task=task, obs="state"))
    n_arm = env.n_arm
    states, objects, refs = [], [], []
    for seed in range(2):
        obs, _ = env.reset(seed=seed)
        expert = env.task.make_expert()
        for _ in range(env.task.max_episode_steps + 1):
            robot_obs = robot_obs_from_env_obs(obs, n_arm)
            states.append(obs["observation.state"])
            objects.append(obs["observation.environment_state"])
            refs.append(env.task.evaluate(robot_obs))
            if refs[-1].success:
                break
            obs, *_ = env.step(expert(robot_obs))
    fields = observation_fields(
        torch.as_tensor(np.stack(states)), torch.as_tensor(np.stack(objects)), n_arm
    )
    reward, success = score(env.task, fields)
    np.testing.assert_allclose(reward.numpy(), [r.reward for r in refs], atol=1e-5)
    assert success.tolist() == [r.success for r in refs]
    assert any(r.success for r in refs), "the expert never succeeded: nothing was compared"


def test_every_task_has_a_batched_scorer() -> None:
    assert set(BATCHED_SCORERS) == set(TASKS)


def test_fallback_scoring_matches_task_evaluate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(BATCHED_SCORERS, "Stack")  # as a task without a torch port
    env = build_env(EnvConfig(task="Stack", obs="state"))
    obs, _ = env.reset(seed=0)
    fields = observation_fields(
        torch.as_tensor(obs["observation.state"])[None].repeat(3, 1),
        torch.as_tensor(obs["observation.environment_state"])[None].repeat(3, 1),
        env.n_arm,
    )
    reward, success = score(env.task, fields)
    ref = env.task.evaluate(robot_obs_from_env_obs(obs, env.n_arm))
    np.testing.assert_allclose(reward.numpy(), [ref.reward] * 3, atol=1e-6)
    assert success.tolist() == [ref.success] * 3


def test_an_unported_control_mode_is_refused() -> None:
    from dataclasses import replace

    from armgym.errors import ConfigError

    env = build_env(EnvConfig(task="Reach", obs="state"))
    cpu = env.robot.controller
    fake = type(cpu).__new__(type(cpu))
    # a mode the CPU controller might gain later (all four of today are ported)
    fake.__dict__.update({**cpu.__dict__, "mode": "ee_twist", "cfg": replace(cpu.cfg)})
    with pytest.raises(ConfigError, match="no batched version"):
        BatchedController(env.robot.model, fake, 1, torch.device("cpu"))
