"""``armgym run``: drive an env with a remote policy and report success and loop timing.

    armgym serve --policy scripted:PickCube --port 8000 &
    armgym run --policy ws://127.0.0.1:8000 --task PickCube --robot panda --episodes 5

Each control step = one ``infer`` round trip (or one row of a chunk, see ``--chunking``)
+ one ``env.step``. At the end it prints the success rate and the per-step latency of
the control loop (p50 / p99 [ms]), split into policy time and env time.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import tyro

from armgym.contracts.policy import Policy
from armgym.errors import ConfigError
from armgym.serve.chunking import (
    ActionChunkBroker,
    ObservationHistory,
    TemporalEnsembler,
    step_action,
)
from armgym.serve.policy_client import WebsocketPolicyClient

log = logging.getLogger("armgym.serve.run")


@dataclass(frozen=True)
class RunConfig:
    """armgym run: drive an env with a policy served over websockets."""

    policy: str = "ws://127.0.0.1:8000"
    """URL of the policy server (``armgym serve`` or an openpi server)."""
    task: str = "PickCube"
    """Task name (env id armgym/<task>-v0)."""
    robot: str = "panda"
    """Robot name."""
    obs: str = "state"
    """Observation mode: state, pixels or both."""
    episodes: int = 3
    """Number of episodes."""
    seed: int = 0
    """Seed of the first episode (episode i uses seed + i)."""
    max_steps: int | None = None
    """Step limit per episode (default: the task's)."""
    chunking: Literal["broker", "ensemble"] = "broker"
    """How to execute action chunks: play them open-loop (broker) or ACT temporal ensembling."""
    execute_steps: int | None = None
    """broker: rows of each chunk to execute before the next query (default: all)."""
    api_key: str | None = None
    """API key for the policy server."""
    request_timeout: float = 10.0
    """Deadline of one inference round trip [s]."""
    json_out: bool = False
    """Print the summary as JSON."""


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50_ms": float("nan"), "p99_ms": float("nan"), "mean_ms": float("nan")}
    arr = np.asarray(values) * 1e3
    p50, p99 = np.percentile(arr, [50, 99])
    return {"p50_ms": float(p50), "p99_ms": float(p99), "mean_ms": float(arr.mean())}


def make_env(cfg: RunConfig) -> Any:
    """The env ``cfg`` names (``armgym/<task>-v0``)."""
    from armgym.envs import EnvConfig, make_env

    env_cfg = EnvConfig(task=cfg.task, robot=cfg.robot, obs=cfg.obs)
    return make_env(env_cfg, max_episode_steps=cfg.max_steps)


def run_episodes(env: Any, policy: Policy, episodes: int, seed: int = 0) -> dict[str, Any]:
    """Roll out ``policy`` (one step = ``step_action(policy.infer(obs))``) for ``episodes``.

    Returns a summary: success rate, mean return and length, and per-step timing of the
    control loop (``loop``), the policy call (``policy``) and ``env.step`` (``env``) [ms].
    """
    successes, returns, lengths = [], [], []
    loop_t: list[float] = []
    policy_t: list[float] = []
    env_t: list[float] = []
    for ep in range(episodes):
        obs, info = env.reset(seed=seed + ep)
        policy.reset()
        done, ret, steps, success = False, 0.0, 0, bool(info.get("is_success", False))
        while not done:
            t0 = time.perf_counter()
            action = step_action(policy.infer(obs))
            t1 = time.perf_counter()
            obs, reward, terminated, truncated, info = env.step(action)
            t2 = time.perf_counter()
            policy_t.append(t1 - t0)
            env_t.append(t2 - t1)
            loop_t.append(t2 - t0)
            ret += float(reward)
            steps += 1
            success = success or bool(info.get("is_success", False))
            done = terminated or truncated
        successes.append(success)
        returns.append(ret)
        lengths.append(steps)
        log.info("episode %d: success=%s return=%.2f steps=%d", ep, success, ret, steps)
    return {
        "episodes": episodes,
        "success_rate": float(np.mean(successes)) if successes else 0.0,
        "successes": successes,
        "mean_return": float(np.mean(returns)) if returns else 0.0,
        "mean_length": float(np.mean(lengths)) if lengths else 0.0,
        "steps": len(loop_t),
        "loop": _percentiles(loop_t),
        "policy": _percentiles(policy_t),
        "env": _percentiles(env_t),
    }


def wrap_chunks(client: WebsocketPolicyClient, cfg: RunConfig) -> Policy:
    """Execute the server's chunks step by step, sending an observation history if the
    policy reads one (``metadata.obs_horizon`` > 1; see ``ObservationHistory``)."""
    meta = client.metadata
    policy: Policy = client
    if meta.action_horizon > 1:
        if cfg.chunking == "ensemble":
            policy = TemporalEnsembler(client)
        else:
            policy = ActionChunkBroker(client, cfg.execute_steps)
    if meta.obs_horizon > 1:
        policy = ObservationHistory(policy, meta.obs_horizon)
    return policy


def main(argv: list[str] | None = None) -> int:
    cfg = tyro.cli(RunConfig, args=argv, prog="armgym run")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if cfg.episodes < 1:
        raise ConfigError(f"--episodes must be >= 1, got {cfg.episodes}")
    client = WebsocketPolicyClient(
        cfg.policy, api_key=cfg.api_key, request_timeout=cfg.request_timeout
    )
    env = make_env(cfg)
    try:
        meta = client.metadata
        act_dim = env.action_space.shape[0]
        if meta.action_dim and meta.action_dim != act_dim:
            raise ConfigError(
                f"policy {meta.name!r} outputs {meta.action_dim}-d actions, "
                f"env armgym/{cfg.task}-v0 takes {act_dim}-d"
            )
        summary = run_episodes(env, wrap_chunks(client, cfg), cfg.episodes, cfg.seed)
    finally:
        env.close()
        client.close()
    summary["config"] = asdict(cfg)
    summary["policy_name"] = client.metadata.name
    if cfg.json_out:
        print(json.dumps(summary, indent=2))
    else:
        lp, pp, ep = summary["loop"], summary["policy"], summary["env"]
        print(
            f"{cfg.episodes} episodes of {cfg.task} with {client.metadata.name or cfg.policy}: "
            f"success {summary['success_rate']:.0%}, mean return {summary['mean_return']:.2f}, "
            f"{summary['steps']} steps\n"
            f"control loop per step: p50 {lp['p50_ms']:.2f} ms, p99 {lp['p99_ms']:.2f} ms "
            f"(policy p50 {pp['p50_ms']:.2f} / p99 {pp['p99_ms']:.2f} ms, "
            f"env p50 {ep['p50_ms']:.2f} / p99 {ep['p99_ms']:.2f} ms)"
        )
    return 0
