"""Each supported task's scripted expert, run batched on WarpBatchedEnv, meets the CPU bar.

The bar is the CPU env's (tests/test_tasks_experts.py): ≥ 95 % success at ``low``. Done on
Warp's CPU device for PickCube and Reach (20 worlds, seeds 0-19), the first episode of
each world.
"""

from __future__ import annotations

import mujoco_warp  # noqa: F401  (armgym[warp]: make test installs it)
import numpy as np
import pytest
import torch

from armgym.contracts.observation import robot_obs_from_env_obs
from armgym.envs.warp import WarpBatchedEnv

WORLDS = 20


def run_experts(task: str, worlds: int = WORLDS, seed: int = 0) -> np.ndarray:
    """Success (bool[worlds]) of the first episode of every world under the task's expert."""
    env = WarpBatchedEnv(task, worlds, device="cpu", randomization="low")
    try:
        obs, _ = env.reset(seed=seed)
        experts = [env.task.make_expert() for _ in range(worlds)]
        done = np.zeros(worlds, dtype=bool)
        success = np.zeros(worlds, dtype=bool)
        actions = np.zeros((worlds, 7), dtype=np.float32)
        while not done.all():
            host = {k: v.numpy() for k, v in obs.items()}
            for i in np.flatnonzero(~done):
                row = {k: v[i] for k, v in host.items()}
                actions[i] = experts[i](robot_obs_from_env_obs(row, env.n_arm))
            obs, _, term, trunc, info = env.step(torch.as_tensor(actions))
            ended = (term | trunc).numpy() & ~done
            success[ended] = info["is_success"].numpy()[ended]
            done |= ended
        return success
    finally:
        env.close()


@pytest.mark.slow
@pytest.mark.parametrize("task", ["PickCube", "Reach"])
def test_scripted_expert_meets_the_bar_on_warp(task: str) -> None:
    success = run_experts(task)
    assert success.mean() >= 0.95, f"{task}: {success.sum()}/{WORLDS} episodes succeeded"
