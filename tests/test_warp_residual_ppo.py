"""``armgym train residual --algo ppo --backend warp``: the residual-PPO trainer, unchanged,
on a ``WarpBatchedEnv`` (Warp's CPU device here), checked against the CPU backend."""

from __future__ import annotations

import json
from pathlib import Path

import mujoco_warp  # noqa: F401  (armgym[warp]: make test installs it)
import pytest

from armgym.errors import ConfigError
from armgym.train.residual import PPOSettings, ResidualTrainConfig, train


def _cfg(out: Path, backend: str) -> ResidualTrainConfig:
    return ResidualTrainConfig(
        base="scripted:Reach",
        out=out,
        algo="ppo",
        backend=backend,  # type: ignore[arg-type]
        task="Reach",
        randomization="low",
        steps=240,  # 2 rollouts of 4 worlds × 30 steps
        ppo=PPOSettings(num_envs=4, rollout_steps=30, epochs=2, minibatches=2, hidden_dims=(16,)),
        eval_episodes=2,
        eval_num_envs=2,
        eval_every=0,
        checkpoint_every=120,
        final_clips=0,
        progress=False,
    )


def _episodes(out: Path) -> list[tuple[int, bool, float]]:
    rows = [json.loads(ln) for ln in (out / "log.jsonl").read_text().splitlines()]
    return [
        (r["step"], r["episode"]["success"], r["episode"]["return"]) for r in rows if "episode" in r
    ]


@pytest.mark.slow
def test_residual_ppo_trains_on_warp_like_on_cpu(tmp_path: Path) -> None:
    warp = train(_cfg(tmp_path / "warp", "warp"))
    cpu = train(_cfg(tmp_path / "cpu", "cpu"))
    assert warp["steps"] == cpu["steps"] == 240 and warp["updates"] >= 2
    saved = json.loads((tmp_path / "warp" / "config.json").read_text())
    assert saved["policy"] == "residual" and saved["extra"]["algorithm"] == "residual_ppo"
    got, ref = _episodes(tmp_path / "warp"), _episodes(tmp_path / "cpu")
    assert got, "no episode ended in 240 steps: nothing was compared"
    # same seeds, base, exploration noise and updates: the same episodes (float32 physics)
    assert [(s, ok) for s, ok, _ in got] == [(s, ok) for s, ok, _ in ref]
    for (_, _, r_warp), (_, _, r_cpu) in zip(got, ref, strict=True):
        assert r_warp == pytest.approx(r_cpu, abs=0.05)


def test_backend_warp_needs_ppo(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--algo ppo"):
        ResidualTrainConfig(base="scripted:Reach", out=tmp_path, backend="warp")
