"""Ray backend on a local Ray instance: same per-episode outcomes as a local run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import ray  # noqa: F401
import torch

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

from _policies import tiny_policy

from armgym.eval.cli import EvalConfig, evaluate
from armgym.policies.learned import save_checkpoint
from armgym.policies.mlp import MLPConfig


@pytest.mark.slow
def test_ray_local_matches_local(tmp_path: Path) -> None:
    torch.manual_seed(0)
    policy = tiny_policy(
        "mlp",
        MLPConfig(hidden_dims=(32,), horizon=8, n_action_steps=4),
        {"task": "PickCube", "obs": "state"},
    )
    save_checkpoint(tmp_path / "ck", policy)
    base = dict(
        checkpoint=tmp_path / "ck",
        episodes=5,
        num_envs=2,
        seed=3,
        videos=1,
        video_size=(48, 64),
        progress=False,
    )
    local = evaluate(EvalConfig(**base, out=tmp_path / "local"))
    remote = evaluate(EvalConfig(**base, out=tmp_path / "ray", ray_address="local", ray_tasks=2))
    assert remote["per_episode"] == local["per_episode"]
    assert remote["backend"] == "ray:local" and len(remote["videos"]) == 1
    assert Path(remote["videos"][0]).stat().st_size > 0
