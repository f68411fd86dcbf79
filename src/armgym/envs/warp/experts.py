"""The tasks' scripted experts driving every world of a :class:`WarpBatchedEnv` at once.

Each world has its own expert (experts keep a phase); the device observations are copied
to the host once per step for all worlds, each expert picks its world's action, and one
batched ``step`` executes them. Used by the parity test (the CPU bar: ≥ 95 % at ``low``)
and ``benchmarks/warp_experts.py``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from armgym.contracts.observation import robot_obs_from_env_obs


def run_experts(env: Any, seed: int = 0) -> dict[str, Any]:
    """The first episode of every world of ``env`` (a ``WarpBatchedEnv``, reset with
    ``seed``) under the task's expert.

    Returns ``{"success": bool[N], "length": int[N] (env steps), "wall_s": float}``.
    """
    n = int(env.num_envs)
    obs, _ = env.reset(seed=seed)
    experts = [env.task.make_expert() for _ in range(n)]
    done, success = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    length = np.zeros(n, dtype=np.int64)
    actions = np.zeros((n, int(env.single_action_space.shape[0])), dtype=np.float32)
    t0 = time.perf_counter()
    while not done.all():
        host = {k: v.detach().cpu().numpy() for k, v in obs.items()}
        for i in np.flatnonzero(~done):
            actions[i] = experts[i](
                robot_obs_from_env_obs({k: v[i] for k, v in host.items()}, env.n_arm)
            )
        obs, _, term, trunc, info = env.step(torch.as_tensor(actions, device=env.device))
        length[~done] += 1
        ended = (term | trunc).detach().cpu().numpy() & ~done
        success[ended] = info["is_success"].detach().cpu().numpy()[ended]
        done |= ended
    return {"success": success, "length": length, "wall_s": time.perf_counter() - t0}
