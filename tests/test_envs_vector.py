"""gymnasium's Sync/AsyncVectorEnv work, and BatchedEnv matches single envs exactly."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import armgym  # noqa: F401
from armgym.envs.batched import BatchedEnv
from armgym.errors import ConfigError
from armgym.policies.scripted import ScriptedPolicy


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_gymnasium_vector_envs(mode: str) -> None:
    envs = gym.make_vec("armgym/PickCube-v0", num_envs=2, vectorization_mode=mode)
    obs, _ = envs.reset(seed=0)
    assert obs["observation.state"].shape == (2, 22)
    for _ in range(3):
        obs, rew, _term, _trunc, _info = envs.step(envs.action_space.sample())
    assert rew.shape == (2,) and np.isfinite(obs["observation.state"]).all()
    envs.close()


def _single_rollouts(seeds: list[int], steps: int) -> list[list[np.ndarray]]:
    out = []
    for s in seeds:
        env = gym.make("armgym/PickCube-v0", randomization="med")
        pol = ScriptedPolicy.for_env(env)
        obs, _ = env.reset(seed=s)
        pol.reset()
        traj = [obs["observation.environment_state"]]
        for _ in range(steps):
            obs, *_ = env.step(pol(obs))
            traj.append(obs["observation.environment_state"])
        out.append(traj)
    return out


def test_batched_env_matches_single_envs() -> None:
    seeds, steps = [3, 4, 5], 20
    expected = _single_rollouts(seeds, steps)
    venv = BatchedEnv("PickCube", 3, randomization="med", num_threads=2)
    policies = [ScriptedPolicy(venv.envs[i].task) for i in range(3)]
    obs, _ = venv.reset(seed=seeds)
    for p in policies:
        p.reset()
    got = [obs["observation.environment_state"]]
    for _ in range(steps):
        actions = np.stack([p({k: v[i] for k, v in obs.items()}) for i, p in enumerate(policies)])
        obs, *_ = venv.step(actions)
        got.append(obs["observation.environment_state"])
    for t in range(steps + 1):
        for i in range(3):
            np.testing.assert_array_equal(got[t][i], expected[i][t])
    venv.close()


def test_batched_env_autoreset_and_truncation() -> None:
    venv = BatchedEnv("PickCube", 2, max_episode_steps=3)
    obs, _ = venv.reset(seed=0)
    zeros = np.zeros((2, 7), dtype=np.float32)
    for _ in range(2):
        _, _, term, trunc, _ = venv.step(zeros)
        assert not trunc.any()
    _, _, term, trunc, _ = venv.step(zeros)
    assert trunc.all() and not term.any()
    obs, rew, term, trunc, info = venv.step(zeros)  # NEXT_STEP autoreset
    assert (rew == 0).all() and not info["_is_success"].any()
    assert venv.single_observation_space.contains({k: v[0] for k, v in obs.items()})
    venv.close()


def test_batched_env_rejects_bad_actions() -> None:
    venv = BatchedEnv("PickCube", 2)
    venv.reset(seed=0)
    with pytest.raises(ConfigError, match=r"expected \(2, 7\)"):
        venv.step(np.zeros((3, 7)))
    venv.close()
    with pytest.raises(ConfigError, match="num_envs"):
        BatchedEnv("PickCube", 0)


def test_batched_env_with_cameras_matches_single_envs() -> None:
    """Pixel observations from worker-threaded BatchedEnv (GL contexts are per thread)."""
    seeds, kwargs = (
        [0, 1, 2],
        {"obs": "both", "image_size": (32, 32), "cameras": ("front", "wrist")},
    )
    venv = BatchedEnv("PickCube", 3, num_threads=2, max_episode_steps=4, **kwargs)
    obs, _ = venv.reset(seed=seeds)
    singles = [gym.make("armgym/PickCube-v0", **kwargs) for _ in seeds]
    for env, s in zip(singles, seeds, strict=True):
        env.reset(seed=s)
    rng = np.random.default_rng(0)
    for _ in range(6):  # crosses the autoreset at step 4
        actions = rng.uniform(-1, 1, (3, 7)).astype(np.float32)
        obs, *_ = venv.step(actions)
        for i, env in enumerate(singles):
            if venv._elapsed[i] == 0:  # NEXT_STEP autoreset: the RNG stream continues
                single_obs, _ = env.reset()
            else:
                single_obs, *_ = env.step(actions[i])
            for key in ("observation.images.front", "observation.images.wrist"):
                np.testing.assert_array_equal(obs[key][i], single_obs[key])
        assert obs["observation.images.wrist"].std() > 1.0
    venv.close()


@pytest.mark.parametrize("reward", ["dense", "sparse"])
def test_batched_env_steps_are_the_env_steps(reward: str) -> None:
    """Reward mode, termination and info come from the env's own step logic."""
    seeds, steps = [1, 2], 30
    venv = BatchedEnv("Reach", 2, reward=reward, num_threads=2)
    singles = [gym.make("armgym/Reach-v0", reward=reward) for _ in seeds]
    obs, _ = venv.reset(seed=seeds)
    for env, s in zip(singles, seeds, strict=True):
        env.reset(seed=s)
    policies = [ScriptedPolicy(e.task) for e in venv.envs]
    for _ in range(steps):
        actions = np.stack([p({k: v[i] for k, v in obs.items()}) for i, p in enumerate(policies)])
        obs, rew, term, trunc, info = venv.step(actions)
        for i, env in enumerate(singles):
            _, r, t, _, inf = env.step(actions[i])
            assert (rew[i], term[i], info["is_success"][i]) == (r, t, inf["is_success"])
        if (term | trunc).any():  # compare up to the first episode end
            break
    venv.close()


def test_batched_env_uses_an_overridden_score() -> None:
    """A change to the env's scoring (e.g. a new reward mode) applies in batched stepping."""
    venv = BatchedEnv("Reach", 2, num_threads=2)
    for env in venv.envs:
        original = env.score
        env.score = lambda ro, f=original: f(ro)._replace(reward=-7.0)  # type: ignore[method-assign]
    venv.reset(seed=0)
    _, rew, *_ = venv.step(np.zeros(venv.action_space.shape, np.float32))
    assert rew.tolist() == [-7.0, -7.0]
    venv.close()
