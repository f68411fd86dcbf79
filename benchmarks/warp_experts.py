#!/usr/bin/env python
"""Scripted-expert success of every task on the MuJoCo Warp backend, beside the CPU env.

    PYTHONPATH=src python benchmarks/warp_experts.py --worlds 20 --device cpu

For each task, ``--worlds`` worlds of a ``WarpBatchedEnv`` at ``--randomization`` (seeded
``--seed``: world i is reset with the seed the CPU env's episode i would get) run the
task's scripted expert for one episode each (``armgym.envs.warp.experts.run_experts``),
and the CPU env runs the same expert on the same seeds. The bar is the CPU env's: ≥ 95 %
at ``low``. Writes ``benchmarks/results/warp_experts.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import machine_info, write_json

from armgym.contracts.observation import robot_obs_from_env_obs
from armgym.envs import EnvConfig, build_env
from armgym.envs.warp import WarpBatchedEnv
from armgym.envs.warp.experts import run_experts
from armgym.tasks import TASKS


def cpu_experts(task: str, seeds: range, randomization: str) -> list[bool]:
    """The same expert on the CPU env, one episode per seed."""
    env, out = build_env(EnvConfig(task=task, obs="state", randomization=randomization)), []
    for seed in seeds:
        obs, _ = env.reset(seed=seed)
        expert, done, info = env.task.make_expert(), False, {}
        while not done:
            obs, _, term, trunc, info = env.step(expert(robot_obs_from_env_obs(obs, env.n_arm)))
            done = term or trunc
        out.append(bool(info.get("is_success")))
    env.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", nargs="+", default=sorted(TASKS))
    ap.add_argument("--worlds", type=int, default=20)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--randomization", default="low")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rows: list[dict[str, Any]] = []
    for task in a.tasks:
        t0 = time.perf_counter()
        env = WarpBatchedEnv(task, a.worlds, device=a.device, randomization=a.randomization)
        build_s = time.perf_counter() - t0
        try:
            res = run_experts(env, seed=a.seed)
        finally:
            env.close()
        cpu = cpu_experts(task, range(a.seed, a.seed + a.worlds), a.randomization)
        row = {
            "task": task,
            "worlds": a.worlds,
            "warp_successes": int(res["success"].sum()),
            "warp_success_rate": float(res["success"].mean()),
            "cpu_successes": int(np.sum(cpu)),
            "mean_episode_steps": float(res["length"].mean()),
            "meets_bar": bool(res["success"].mean() >= 0.95),
            "build_s": round(build_s, 1),
            "rollout_s": round(res["wall_s"], 1),
        }
        rows.append(row)
        print(row, flush=True)
    write_json(
        "warp_experts.json",
        {
            "benchmark": "warp_experts",
            "device": a.device,
            "randomization": a.randomization,
            "seeds": f"{a.seed}..{a.seed + a.worlds - 1}",
            "bar": ">= 95 % (the CPU env's)",
            "rows": rows,
            "machine": machine_info(("armgym", "mujoco", "mujoco_warp", "warp", "torch")),
        },
    )


if __name__ == "__main__":
    main()
