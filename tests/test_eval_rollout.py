"""Seeded parallel rollouts: identical per-episode outcomes across runs, num_envs, backends."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from _policies import ENV, tiny_diffusion

import armgym  # noqa: F401
from armgym.eval.rollout import RolloutConfig, rollout
from armgym.policies.scripted import ScriptedPolicy

SEEDS = [7, 8, 9, 10, 11]


@pytest.fixture(scope="module")
def policy():
    """An untrained tiny diffusion policy: noisy, seed-dependent trajectories."""
    return tiny_diffusion()


def outcomes(results):
    return [(r.index, r.seed, r.success, r.ret, r.length) for r in results]


def test_same_seeds_same_outcomes_any_num_envs(policy) -> None:
    runs = {n: rollout(policy, ENV, SEEDS, RolloutConfig(num_envs=n))[0] for n in (1, 4)}
    again = rollout(policy, ENV, SEEDS, RolloutConfig(num_envs=4))[0]
    assert outcomes(runs[1]) == outcomes(runs[4]) == outcomes(again)
    assert [r.seed for r in runs[1]] == SEEDS and [r.index for r in runs[1]] == list(range(5))
    assert len({r.ret for r in runs[1]}) > 1  # episodes really differ
    sync = rollout(policy, ENV, SEEDS[:3], RolloutConfig(num_envs=2, vector="sync"))[0]
    assert outcomes(sync) == outcomes(runs[1])[:3]


def test_scripted_policy_and_video() -> None:
    env = gym.make("armgym/PickCube-v0", obs="state")
    expert = ScriptedPolicy.for_env(env)
    results, videos = rollout(
        expert, ENV, [0, 1, 2], RolloutConfig(num_envs=2, video_episodes=1, video_size=(64, 96))
    )
    env.close()
    assert all(r.success for r in results) and all(r.length < 100 for r in results)
    assert list(videos) == [0]
    frames = videos[0]
    assert frames.shape == (results[0].length + 1, 64, 96, 3) and frames.dtype == np.uint8
    assert frames.std() > 0


def test_batch_inference_queries_waiting_slots_together(policy, monkeypatch) -> None:
    """With batch_inference the forks of all slots that need a chunk share one forward
    pass; every slot still gets its own [To, ...] history and seeded generator."""
    sizes: list[int] = []
    real = type(policy).predict

    def spy(self, obs, generators=None):
        sizes.append(len(generators))
        assert all(v.shape[1] == policy.obs_horizon for v in obs.values())
        return real(self, obs, generators)

    monkeypatch.setattr(type(policy), "predict", spy)
    results, _ = rollout(policy, ENV, SEEDS[:4], RolloutConfig(num_envs=4, batch_inference=True))
    assert [r.seed for r in results] == SEEDS[:4] and sizes[0] == 4
    sizes.clear()
    rollout(policy, ENV, SEEDS[:2], RolloutConfig(num_envs=2))
    assert set(sizes) == {1}  # default: one fork at a time (bit-exact for any num_envs)
