"""``armgym bench``: a quick env throughput figure on this machine.

The full, committed measurement (peers included) is ``benchmarks/env_throughput.py``;
this command is the few-second check a user runs after installing.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import mujoco
import numpy as np
import tyro

from armgym.contracts.robot import MujocoRobot
from armgym.envs.batched import BatchedEnv
from armgym.envs.config import EnvConfig
from armgym.envs.factory import build_env
from armgym.errors import ConfigError


@dataclass(frozen=True)
class BenchConfig:
    """Measure raw physics, single-env and batched-env step rates."""

    task: str = "PickCube"
    """Task to step."""
    robot: str = "panda"
    """Robot to step."""
    steps: int = 300
    """Control steps per measurement."""
    num_envs: int = 8
    """Envs in the batched measurement."""


def measure(cfg: BenchConfig) -> dict[str, float]:
    """Steps per second: raw mj_step (as control steps), env.step, BatchedEnv (total)."""
    if cfg.steps < 1 or cfg.num_envs < 1:
        raise ConfigError(f"--steps and --num-envs must be >= 1, got {cfg.steps}, {cfg.num_envs}")
    env = build_env(EnvConfig(task=cfg.task, robot=cfg.robot))
    env.reset(seed=0)
    robot = env.robot
    assert isinstance(robot, MujocoRobot)  # build_env without robot_server: a SimRobot
    zeros = np.zeros(env.action_space.shape, dtype=np.float32)
    t0 = time.perf_counter()
    mujoco.mj_step(robot.model, robot.data, nstep=robot.n_substeps * cfg.steps)
    raw = cfg.steps / (time.perf_counter() - t0)
    env.reset(seed=0)
    t0 = time.perf_counter()
    for _ in range(cfg.steps):
        env.step(zeros)
    single = cfg.steps / (time.perf_counter() - t0)
    env.close()
    venv = BatchedEnv(cfg.task, cfg.num_envs, robot=cfg.robot)
    venv.reset(seed=0)
    batch_zeros = np.zeros((cfg.num_envs, *env.action_space.shape), dtype=np.float32)
    t0 = time.perf_counter()
    for _ in range(cfg.steps):
        venv.step(batch_zeros)
    batched = cfg.steps * cfg.num_envs / (time.perf_counter() - t0)
    venv.close()
    return {
        "raw_physics_control_steps_per_s": raw,
        "env_steps_per_s": single,
        "env_over_raw": single / raw,
        f"batched_{cfg.num_envs}_env_steps_per_s": batched,
        "batched_over_single": batched / single,
    }


def main(argv: list[str]) -> int:
    cfg = tyro.cli(BenchConfig, args=argv, prog="armgym bench")
    result = measure(cfg)
    print(json.dumps({k: round(v, 3) for k, v in result.items()}, indent=2))
    return 0
