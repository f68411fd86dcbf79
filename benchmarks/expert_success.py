"""Scripted-expert success rates for every robot × task × randomisation level.

    python benchmarks/expert_success.py               # 100 seeds (0..99) per cell
    python benchmarks/expert_success.py --seeds 10    # quick look
    ARMGYM_MODEL_PATHS=<site-packages> python benchmarks/expert_success.py --seeds 30 \
        --levels low med --robots panda-menagerie so101-mesh vx300-mesh \
        --out expert_success_mesh.json                # the mesh models (if installed)

Writes benchmarks/results/expert_success.json: per cell the success count, rate with a
95 % Wilson interval, mean episode length, the seeds used, and whether the cell meets the
bar of issue 2 (≥ 95 % at low, ≥ 90 % at med).
"""

from __future__ import annotations

import argparse
import math
import time

import gymnasium as gym
from common import machine_info, write_json

import armgym
from armgym.policies.scripted import ScriptedPolicy
from armgym.progress import progress

BAR = {"low": 0.95, "med": 0.90, "high": None}


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def run_cell(task: str, robot: str, level: str, seeds: list[int]) -> dict:
    env = gym.make(f"armgym/{task}-v0", robot=robot, randomization=level)
    policy = ScriptedPolicy.for_env(env)
    outcomes, lengths = [], []
    for seed in seeds:
        obs, info = env.reset(seed=seed)
        policy.reset()
        steps, done = 0, False
        while not done:
            obs, _, terminated, truncated, info = env.step(policy(obs))
            steps, done = steps + 1, terminated or truncated
        outcomes.append(bool(info["is_success"]))
        lengths.append(steps)
    env.close()
    k, n = sum(outcomes), len(outcomes)
    bar = BAR[level]
    return {
        "task": task,
        "robot": robot,
        "level": level,
        "successes": k,
        "episodes": n,
        "success_rate": k / n,
        "wilson95": wilson(k, n),
        "mean_length": sum(lengths) / n,
        "failed_seeds": [s for s, ok in zip(seeds, outcomes, strict=True) if not ok],
        "meets_bar": None if bar is None else k / n >= bar,
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seeds", type=int, default=100)
    ap.add_argument("--levels", nargs="+", default=["low", "med", "high"])
    ap.add_argument("--robots", nargs="+", default=armgym.ROBOTS.names())
    ap.add_argument("--tasks", nargs="+", default=armgym.TASKS.names())
    ap.add_argument("--out", default="expert_success.json", help="file in benchmarks/results/")
    args = ap.parse_args()
    seeds = list(range(args.seeds))
    cells = [(t, r, lv) for r in args.robots for t in args.tasks for lv in args.levels]
    results, t0 = [], time.perf_counter()
    bar = progress(cells, desc="expert sweep")
    for task, robot, level in bar:
        results.append(run_cell(task, robot, level, seeds))
        r = results[-1]
        bar.write(f"{robot:>10} {task:>10} {level:>4}: {r['successes']}/{r['episodes']}")
    path = write_json(
        args.out,
        {
            "machine": machine_info(),
            "seeds": seeds,
            "wall_s": time.perf_counter() - t0,
            "cells": results,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
