"""``armgym run``: drive an env with a remote policy and report success and loop timing.

    armgym serve --policy scripted:PickCube --port 8000 &
    armgym run --policy ws://127.0.0.1:8000 --task PickCube --robot panda --episodes 5

Each control step = one ``infer`` round trip (or one row of a chunk, see ``--chunking``)
+ one ``env.step``. At the end it prints the success rate and the per-step latency of
the control loop (p50 / p99 [ms]), split into policy time and env time.

A generalist policy with its own schema (an openpi π0 server, a CogACT server) is driven
through a mapping (``armgym.mappings``)::

    armgym run --policy ws://gpu-box:8000 --mapping libero --task PickCube --record out/

The mapping picks the control mode, cameras and image size of the env, is checked against
the env before the first step, and turns each answer into env actions. Every episode gets
an instruction (a paraphrase picked by its seed, or ``--prompt``) sent as the prompt;
``--record DIR`` writes the rollouts as a LeRobot dataset with it as the episode's task.

``--real`` (or ``--real-config arm.json``) drives a real arm directly instead of the sim
(``armgym.envs.real``; docs/real-robots.md), at the arm's control rate.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import tyro

from armgym.contracts.policy import Policy
from armgym.envs.config import EnvConfig
from armgym.envs.real import RealArgs, on_real_arm
from armgym.errors import ConfigError
from armgym.mappings import EnvFacts, Mapping, load_mapping
from armgym.mappings.remote import connect_mapped, mapped_env_config
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
    mapping: str | None = None
    """Observation/action mapping of a generalist policy: libero | droid | aloha | cogact |
    armgym | path of a .toml/.json mapping (default: armgym's own keys, unmapped)."""
    prompt: str | None = None
    """Fixed text prompt (default: the task's instruction, a paraphrase picked per episode)."""
    control: str | None = None
    """Control mode (default: the mapping's, else ee_delta)."""
    record: Path | None = None
    """Write the rollouts to this folder as a LeRobot dataset (task = the prompt)."""
    arm: Annotated[RealArgs, tyro.conf.OmitArgPrefixes] = field(default_factory=RealArgs)
    """A real arm instead of the sim (--real, --real-config, --port, --calibration ...)."""


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50_ms": float("nan"), "p99_ms": float("nan"), "mean_ms": float("nan")}
    arr = np.asarray(values) * 1e3
    p50, p99 = np.percentile(arr, [50, 99])
    return {"p50_ms": float(p50), "p99_ms": float(p99), "mean_ms": float(arr.mean())}


def env_config(cfg: RunConfig, mapping: Mapping | None = None) -> EnvConfig:
    """The env ``cfg`` names, as ``mapping`` needs it (see ``mapped_env_config``), on the
    real arm of ``--real`` if given (its cameras must carry the mapping's camera names)."""
    env = mapped_env_config(mapping, control=cfg.control, obs=cfg.obs, task=cfg.task,
                            robot=cfg.robot)  # fmt: skip
    mapped_cameras = mapping is not None and bool(mapping.images)
    return on_real_arm(env, cfg.arm.robot_config(cfg.robot), rate=True, own_cameras=mapped_cameras)


def make_env(cfg: RunConfig, mapping: Mapping | None = None) -> Any:
    """The env ``cfg`` names (``armgym/<task>-v0``), reporting a per-episode instruction
    (``InstructionWrapper``; carried in the observation as ``task`` when mapped)."""
    from armgym.envs import make_env
    from armgym.envs.language import InstructionWrapper

    env = make_env(env_config(cfg, mapping), max_episode_steps=cfg.max_steps)
    return InstructionWrapper(env, prompt=cfg.prompt, in_obs=mapping is not None)


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


def build_policy(cfg: RunConfig, env: Any, mapping: Mapping | None) -> tuple[Policy, Any]:
    """(the policy the loop calls, the client to close); checks the fit before any step."""
    if mapping is not None:
        mapped = connect_mapped(cfg.policy, mapping, EnvFacts.of(env), api_key=cfg.api_key,
                                request_timeout=cfg.request_timeout, prompt=cfg.prompt)  # fmt: skip
        horizon = mapped.metadata.action_horizon
        return (ActionChunkBroker(mapped) if horizon > 1 else mapped), mapped.inner
    client = WebsocketPolicyClient(cfg.policy, api_key=cfg.api_key,
                                   request_timeout=cfg.request_timeout)  # fmt: skip
    meta, act_dim = client.metadata, env.action_space.shape[0]
    if meta.action_dim and meta.action_dim != act_dim:
        client.close()
        raise ConfigError(
            f"policy {meta.name!r} outputs {meta.action_dim}-d actions, "
            f"env armgym/{cfg.task}-v0 takes {act_dim}-d"
        )
    return wrap_chunks(client, cfg), client


def record_episodes(env: Any, policy: Policy, cfg: RunConfig, env_cfg: EnvConfig) -> dict[str, Any]:
    """Roll out like :func:`run_episodes`, writing every episode to ``cfg.record``."""
    from armgym.data.recorder import EpisodeRecorder, env_features
    from armgym.data.writer import LeRobotWriter

    assert cfg.record is not None
    fps = float(env.unwrapped.metadata.get("render_fps", 10))
    twin = dataclasses.replace(env_cfg, real=None)  # a dataset never names the hardware
    writer = LeRobotWriter(cfg.record, env_features(env), fps, robot_type=cfg.robot,
                           env_config=twin.to_dict())  # fmt: skip
    recorder = EpisodeRecorder(env, writer)
    limit = cfg.max_steps or int(getattr(env.spec, "max_episode_steps", None) or 200)
    results = []
    try:
        for ep in range(cfg.episodes):
            policy.reset()
            res = recorder.record(lambda o: step_action(policy.infer(dict(o))), seed=cfg.seed + ep,
                                  max_steps=limit)  # fmt: skip
            results.append(res)
            log.info("episode %d: success=%s return=%.2f steps=%d", ep, res.success, res.ret,
                     res.length)  # fmt: skip
    finally:
        writer.close()
    return {
        "episodes": cfg.episodes,
        "success_rate": float(np.mean([r.success for r in results])),
        "successes": [r.success for r in results],
        "mean_return": float(np.mean([r.ret for r in results])),
        "mean_length": float(np.mean([r.length for r in results])),
        "steps": sum(r.length for r in results),
        "loop": _percentiles(recorder.step_seconds),
        "policy": _percentiles([]),
        "env": _percentiles(recorder.step_seconds),
        "dataset": str(cfg.record),
    }


def main(argv: list[str] | None = None) -> int:
    cfg = tyro.cli(RunConfig, args=argv, prog="armgym run")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if cfg.episodes < 1:
        raise ConfigError(f"--episodes must be >= 1, got {cfg.episodes}")
    mapping = load_mapping(cfg.mapping) if cfg.mapping else None
    env = make_env(cfg, mapping)
    client = None
    try:
        policy, client = build_policy(cfg, env, mapping)
        if cfg.record is not None:
            summary = record_episodes(env, policy, cfg, env_config(cfg, mapping))
        else:
            summary = run_episodes(env, policy, cfg.episodes, cfg.seed)
    finally:
        env.close()
        if client is not None:
            client.close()
    summary["config"] = json.loads(json.dumps(asdict(cfg), default=str))  # paths as text
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
