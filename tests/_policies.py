"""Untrained tiny learned policies for the state-obs PickCube layout (test helper)."""

from __future__ import annotations

from typing import Any

from armgym.policies.base import FeatureSpec
from armgym.policies.checkpoint import build_policy
from armgym.policies.normalize import Normalizer

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
