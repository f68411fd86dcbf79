"""``HostVectorEnv``: a :class:`WarpBatchedEnv` seen from the host, numpy in and numpy out.

For code written against the CPU ``BatchedEnv`` (``armgym eval``'s rollouts, numpy
policies): observations, rewards, terminations and ``infos`` come back as numpy arrays on
the host (one device-to-host copy per step), actions may be numpy. Training code that keeps
everything on the device should use ``WarpBatchedEnv`` directly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.vector import VectorEnv

from armgym.envs.warp.env import WarpBatchedEnv


def _host(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _host(v) for k, v in value.items()}
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return value


class HostVectorEnv(VectorEnv):
    """Numpy view of ``env`` with the same spaces, autoreset mode and ``reset`` options."""

    def __init__(self, env: WarpBatchedEnv):
        self.env = env
        self.num_envs = env.num_envs
        self.metadata = env.metadata
        self.render_mode = None
        self.single_observation_space = env.single_observation_space
        self.single_action_space = env.single_action_space
        self.observation_space = env.observation_space
        self.action_space = env.action_space

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        return _host(obs), _host(info)

    def step(
        self, actions: Any
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(actions)
        return _host(obs), _host(reward), _host(terminated), _host(truncated), _host(info)

    def close_extras(self, **kwargs: Any) -> None:
        self.env.close()
