"""Untrained tiny learned policies for the state-obs PickCube layout (test helper)."""

from __future__ import annotations

from typing import Any

from armgym.contracts.policy import FeatureSpec
from armgym.policies.diffusion import DiffusionConfig
from armgym.policies.learned import build_policy
from armgym.policies.normalize import Normalizer

ENV = {"task": "PickCube", "obs": "state", "randomization": "low"}
STATE_SCHEMA = {
    "observation.state": FeatureSpec("float32", (22,)),
    "observation.environment_state": FeatureSpec("float32", (7,)),
}


def tiny_policy(kind: str, cfg: Any, env: dict[str, Any]):
    """``build_policy`` with identity observation stats and [-1, 1] action stats."""
    stats: dict[str, Any] = {
        k: {"mode": "mean_std", "mean": [0.0] * s.shape[0], "std": [1.0] * s.shape[0]}
        for k, s in STATE_SCHEMA.items()
    }
    stats["action"] = {"mode": "min_max", "min": [-1.0] * 7, "max": [1.0] * 7}
    return build_policy(kind, cfg, STATE_SCHEMA, 7, Normalizer(stats), 10.0, env)


def tiny_diffusion():
    """An untrained tiny diffusion policy (obs horizon 2, 3 DDIM steps): noisy and
    seed-dependent, cheap enough for tests."""
    import torch

    torch.manual_seed(0)
    cfg = DiffusionConfig(
        down_dims=(16, 32), horizon=8, n_action_steps=4, step_embed_dim=16, num_inference_steps=3
    )
    return tiny_policy("diffusion", cfg, ENV)
