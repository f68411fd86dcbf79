"""The tasks' scripted experts, run batched on :class:`WarpBatchedEnv` (one expert per world).

The experts are the CPU ones (``task.make_expert()``, numpy, one per world); each control
step copies the observations to the host, asks every unfinished world's expert for its
action and steps all worlds at once. Used by ``tests/test_warp_experts.py`` and
``benchmarks/warp_experts.py`` to check that the Warp scene is solvable as the CPU one is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from armgym.contracts.observation import robot_obs_from_env_obs
from armgym.envs.warp.env import WarpBatchedEnv


@dataclass(frozen=True)
class ExpertRun:
    """The first episode of every world under the task's expert."""

    success: np.ndarray
    """bool[N]: the episode ended in success."""
    length: np.ndarray
    """int[N]: control steps of the episode (10 Hz by default)."""
    wall_s: float
    """Seconds for the whole batch (env construction excluded)."""


def run_experts(
    task: str,
    worlds: int,
    *,
    seed: int = 0,
    device: str = "cpu",
    randomization: str = "low",
) -> ExpertRun:
    """World ``i`` starts from seed ``seed + i`` (as the CPU env) and runs one episode."""
    env = WarpBatchedEnv(task, worlds, device=device, randomization=randomization)
    try:
        t0 = time.perf_counter()
        obs, _ = env.reset(seed=seed)
        experts = [env.task.make_expert() for _ in range(worlds)]
        done = np.zeros(worlds, dtype=bool)
        success = np.zeros(worlds, dtype=bool)
        length = np.zeros(worlds, dtype=np.int64)
        actions = np.zeros((worlds, *env.single_action_space.shape), np.float32)  # type: ignore[misc]
        while not done.all():
            host = {k: v.detach().cpu().numpy() for k, v in obs.items()}
            for i in np.flatnonzero(~done):
                row = {k: v[i] for k, v in host.items()}
                actions[i] = experts[i](robot_obs_from_env_obs(row, env.n_arm))
            obs, _, term, trunc, info = env.step(torch.as_tensor(actions, device=env.device))
            ended = (term | trunc).cpu().numpy() & ~done
            success[ended] = info["is_success"].cpu().numpy()[ended]
            length[~done] += 1
            done |= ended
        return ExpertRun(success, length, time.perf_counter() - t0)
    finally:
        env.close()
