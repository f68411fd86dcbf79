"""``RandomPolicy`` (uniform actions, for serving and tests) and ``metadata_for_env``
(the :class:`~armgym.contracts.policy.PolicyMetadata` of a gymnasium env)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from armgym.contracts.policy import FeatureSpec, PolicyMetadata
from armgym.errors import ConfigError


class RandomPolicy:
    """Uniform random actions float32[horizon, action_dim] in [low, high].

    Args:
        metadata: the schema to announce (observations are validated against it).
        low / high: action bounds, float32[action_dim] (default [-1, 1]).
        seed: generator seed (reset() does not reseed, so episodes differ).
    """

    def __init__(
        self,
        metadata: PolicyMetadata,
        low: np.ndarray | None = None,
        high: np.ndarray | None = None,
        seed: int | None = None,
    ):
        self.metadata = metadata
        dim = metadata.action_dim
        self.low = np.full(dim, -1.0, np.float32) if low is None else np.asarray(low, np.float32)
        self.high = np.full(dim, 1.0, np.float32) if high is None else np.asarray(high, np.float32)
        self._rng = np.random.default_rng(seed)
        self._shape = (metadata.action_horizon, dim)

    def reset(self) -> None:
        pass

    def infer(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        u = self._rng.random(self._shape, dtype=np.float32)
        return {"actions": self.low + u * (self.high - self.low)}


def metadata_for_env(env: gym.Env, *, horizon: int = 1, name: str = "") -> PolicyMetadata:
    """Schema of a gymnasium env: each Box of its Dict observation space -> FeatureSpec;
    ``fps`` from ``env.metadata["render_fps"]`` (0 if absent)."""
    obs_space, act_space = env.observation_space, env.action_space
    if not isinstance(obs_space, gym.spaces.Dict) or not isinstance(act_space, gym.spaces.Box):
        raise ConfigError("env needs a Dict observation space and a Box action space")
    features = {
        key: FeatureSpec(str(space.dtype), tuple(space.shape))
        for key, space in obs_space.spaces.items()
        if isinstance(space, gym.spaces.Box)
    }
    fps = float(env.metadata.get("render_fps", 0) or 0)
    return PolicyMetadata(
        observation=features,
        action_dim=int(act_space.shape[0]),
        action_horizon=horizon,
        fps=fps,
        name=name,
    )
