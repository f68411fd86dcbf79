#!/usr/bin/env python
"""Env steps/s against the number of worlds N: MuJoCo Warp backend vs the CPU BatchedEnv.

    .venv/bin/python benchmarks/warp_throughput.py                  # Warp on GPU if any, else CPU
    .venv/bin/python benchmarks/warp_throughput.py --device cpu --warp-n 1 4 16 64
    .venv/bin/python benchmarks/warp_throughput.py --quick          # smoke run, temp folder

Writes ``benchmarks/results/warp_throughput_<cpu|cuda>.json`` (machine, versions, command line, every
figure with its sample size) and ``.png``. One "env step" is one control
step of ``armgym/PickCube-v0`` (Panda, ``ee_delta`` at 10 Hz = 50 physics substeps of 2 ms),
state observations, random actions (uniform in [-1, 1], seeded), autoreset included, reward
and success computed. Each point is the median of ``--repeats`` timed samples of
``--steps`` steps after one warm-up step (Warp's kernels are compiled or loaded from the
cache before timing). The figures quoted from ManiSkill3 and MuJoCo Playground are their
published numbers on other hardware, not measured here.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import RESULTS, machine_info

#: published figures, quoted (other hardware, other scenes); not measured by this script
PUBLISHED = [
    {
        "name": "ManiSkill3 (state, GPU sim)",
        "env_steps_per_s": 318_000,
        "hardware": "one RTX 4090",
        "source": "ManiSkill3 paper (Tao et al., 2024), as quoted in armgym issue 18",
    },
    {
        "name": "MuJoCo Playground (Panda pick, MJX / MuJoCo Warp)",
        "env_steps_per_s": 30_000,
        "hardware": "one GPU",
        "source": "'tens of thousands of steps/s' (Zakka et al., 2025), as quoted in armgym "
        "issue 18; 30k plotted as an order of magnitude",
    },
]


def _time_steps(env: Any, actions: list[Any], repeats: int) -> list[float]:
    """Seconds per call of ``env.step`` over ``len(actions)`` steps, ``repeats`` samples."""
    env.step(actions[0])  # warm-up (first Warp launch loads kernels)
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for a in actions:
            env.step(a)
        samples.append((time.perf_counter() - t0) / len(actions))
    return samples


def measure_warp(task: str, n: int, device: str, steps: int, repeats: int) -> dict[str, Any]:
    import torch

    from armgym.envs.warp import WarpBatchedEnv

    t0 = time.perf_counter()
    env = WarpBatchedEnv(task, n, device=device)
    env.reset(seed=0)
    setup = time.perf_counter() - t0
    g = torch.Generator(device="cpu").manual_seed(0)
    acts = [(torch.rand(n, 7, generator=g) * 2 - 1).to(env.device) for _ in range(steps)]
    samples = _time_steps(env, acts, repeats)
    env.close()
    sec = statistics.median(samples)
    return {
        "backend": f"warp-{device}",
        "num_envs": n,
        "env_steps_per_s": n / sec,
        "sec_per_step": sec,
        "samples_sec_per_step": samples,
        "steps_per_sample": steps,
        "setup_s": setup,
    }


def measure_cpu(task: str, n: int, steps: int, repeats: int) -> dict[str, Any]:
    from armgym.envs.batched import BatchedEnv

    env = BatchedEnv(task, n, obs="state")
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    acts = [rng.uniform(-1, 1, (n, 7)).astype(np.float32) for _ in range(steps)]
    samples = _time_steps(env, acts, repeats)
    env.close()
    sec = statistics.median(samples)
    return {
        "backend": "cpu-batched",
        "num_envs": n,
        "env_steps_per_s": n / sec,
        "sec_per_step": sec,
        "samples_sec_per_step": samples,
        "steps_per_sample": steps,
    }


def plot(results: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for backend in sorted({r["backend"] for r in results}):
        rows = sorted((r for r in results if r["backend"] == backend), key=lambda r: r["num_envs"])
        ax.plot([r["num_envs"] for r in rows], [r["env_steps_per_s"] for r in rows], "o-",
                label=f"armgym {backend} (measured)")  # fmt: skip
    for i, p in enumerate(PUBLISHED):
        ax.axhline(p["env_steps_per_s"], ls="--", color=f"C{i + 3}",
                   label=f"{p['name']}, {p['hardware']} (published)")  # fmt: skip
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("parallel envs / worlds N")
    ax.set_ylabel("env steps / s (10 Hz control steps)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--task", default="PickCube")
    ap.add_argument("--device", default="auto", help="warp device: auto | cpu | cuda[:i]")
    ap.add_argument("--warp-n", type=int, nargs="+", default=[1, 4, 16, 64])
    ap.add_argument("--cpu-n", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--steps", type=int, default=2, help="steps per timed sample")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="N = 1, 4; one sample; temp folder")
    ap.add_argument("--out-dir", type=Path, default=None)
    args = ap.parse_args(argv)
    if args.quick:
        args.warp_n, args.cpu_n, args.steps, args.repeats = [1, 4], [1, 4], 2, 1
    out = args.out_dir or (Path(tempfile.mkdtemp()) if args.quick else RESULTS)
    from armgym.envs.warp import resolve_device

    device = resolve_device(args.device)
    results = [measure_warp(args.task, n, device, args.steps, args.repeats) for n in args.warp_n]
    for r in results:
        print(f"warp-{device} N={r['num_envs']:5d}: {r['env_steps_per_s']:9.1f} env steps/s")
    cpu = [measure_cpu(args.task, n, args.steps, args.repeats) for n in args.cpu_n]
    for r in cpu:
        print(f"cpu-batched N={r['num_envs']:5d}: {r['env_steps_per_s']:9.1f} env steps/s")
    gpu = device.startswith("cuda")
    payload = {
        "benchmark": "warp_throughput",
        "task": args.task,
        "machine": machine_info(("armgym", "numpy", "mujoco", "mujoco-warp", "warp-lang", "torch")),
        "warp_device": device,
        "gpu_figures": "measured"
        if gpu
        else (
            "MISSING: no GPU was available to this run; only Warp's CPU device was measured. "
            "Run this script on a CUDA machine for the GPU figures (goal: ≥ 300k PickCube "
            "state steps/s on one H100)."
        ),
        "note": "short runs on a CPU shared with other jobs (see machine.loadavg); the figures "
        "are a lower bound for this machine, and Warp-CPU is a correctness backend, not a fast one",
        "results": results + cpu,
        "published_peers": PUBLISHED,
    }
    stem = "warp_throughput_" + ("cuda" if gpu else "cpu")
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / f"{stem}.json"
    json_path.write_text(json.dumps(payload, indent=2, default=float) + "\n")
    title = f"{args.task}, Panda, ee_delta 10 Hz; warp device {device}; {payload['machine']['cpu']}"
    plot(results + cpu, out / f"{stem}.png", title)
    print(f"wrote {json_path} and {out / (stem + '.png')}")


if __name__ == "__main__":
    main()
