"""``armgym eval --backend warp`` and seeded rollouts on the Warp backend (Warp's CPU device)."""

from __future__ import annotations

from pathlib import Path

import mujoco_warp  # noqa: F401  (armgym[warp]: make test installs it)
import numpy as np
import pytest
import torch

from armgym.contracts.policy import FeatureSpec
from armgym.envs import EnvConfig, build_env
from armgym.eval.cli import EvalConfig, evaluate
from armgym.eval.rollout import RolloutConfig, rollout
from armgym.policies.learned import build_policy, save_checkpoint
from armgym.policies.mlp import MLPConfig
from armgym.policies.normalize import Normalizer
from armgym.policies.scripted import ScriptedPolicy

REACH = {"task": "Reach", "obs": "state", "randomization": "low"}


def test_scripted_rollout_on_warp_matches_cpu_outcomes() -> None:
    expert = ScriptedPolicy.for_env(build_env(EnvConfig(**REACH)))
    seeds = [0, 1, 2]
    warp, videos = rollout(expert, REACH, seeds, RolloutConfig(num_envs=2, vector="warp"))
    cpu, _ = rollout(expert, REACH, seeds, RolloutConfig(num_envs=2, vector="batched"))
    assert [r.seed for r in warp] == seeds and not videos
    assert all(r.success for r in warp) and all(r.success for r in cpu)
    assert all(abs(w.length - c.length) <= 1 for w, c in zip(warp, cpu, strict=True))


@pytest.mark.slow
def test_eval_cli_backend_warp(tmp_path: Path) -> None:
    torch.manual_seed(0)
    schema = {
        "observation.state": FeatureSpec("float32", (22,)),
        "observation.environment_state": FeatureSpec("float32", (3,)),
    }
    stats: dict = {
        k: {"mode": "mean_std", "mean": [0.0] * s.shape[0], "std": [1.0] * s.shape[0]}
        for k, s in schema.items()
    }
    stats["action"] = {"mode": "min_max", "min": [-1.0] * 7, "max": [1.0] * 7}
    cfg = MLPConfig(hidden_dims=(32,), horizon=4, n_action_steps=4)
    policy = build_policy("mlp", cfg, schema, 7, Normalizer(stats), 10.0, REACH)
    save_checkpoint(tmp_path / "ck", policy)
    base = dict(checkpoint=tmp_path / "ck", episodes=2, num_envs=2, seed=5, progress=False)
    warp = evaluate(EvalConfig(**base, backend="warp", out=tmp_path / "warp"))  # type: ignore[arg-type]
    cpu = evaluate(EvalConfig(**base, videos=0, out=tmp_path / "cpu"))  # type: ignore[arg-type]
    assert warp["backend"] == "warp" and warp["episodes"] == 2 and warp["videos"] == []
    assert (tmp_path / "warp" / "report.json").is_file()
    got = [(e["seed"], e["length"]) for e in warp["per_episode"]]
    assert got == [(e["seed"], e["length"]) for e in cpu["per_episode"]]
    np.testing.assert_allclose(
        [e["return"] for e in warp["per_episode"]],
        [e["return"] for e in cpu["per_episode"]],
        atol=0.05,
    )


def test_eval_rejects_an_unknown_backend(tmp_path: Path) -> None:
    from armgym.errors import ConfigError

    with pytest.raises(ConfigError, match="--backend must be cpu or warp"):
        evaluate(EvalConfig(checkpoint=tmp_path, backend="gpu", progress=False))
