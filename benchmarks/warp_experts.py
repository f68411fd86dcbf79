#!/usr/bin/env python
"""Success of each task's scripted expert, run batched on the MuJoCo Warp backend.

    .venv/bin/python benchmarks/warp_experts.py                     # all tasks, 20 worlds, low
    .venv/bin/python benchmarks/warp_experts.py --tasks Push --worlds 4 --quick

World ``i`` runs the first episode from seed ``i`` (as the CPU env with that seed) under
the task's CPU expert (:func:`armgym.envs.warp.experts.run_experts`). The CPU bar is
≥ 95 % at ``low`` (``tests/test_tasks_experts.py``). Writes
``benchmarks/results/warp_experts_<cpu|cuda>.json`` (machine, versions, command line,
per-task successes, episode lengths and wall time).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import RESULTS, machine_info

from armgym.envs.warp.experts import run_experts
from armgym.tasks import TASKS


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", nargs="+", default=sorted(TASKS), choices=sorted(TASKS))
    ap.add_argument("--worlds", type=int, default=20, help="worlds (episodes) per task")
    ap.add_argument("--device", default="cpu", help="cpu | cuda | auto")
    ap.add_argument("--randomization", default="low", choices=("low", "med", "high"))
    ap.add_argument("--quick", action="store_true", help="write to a temp folder")
    ap.add_argument("--out-dir", type=Path, default=None)
    args = ap.parse_args(argv)
    out = args.out_dir or (Path(tempfile.mkdtemp()) if args.quick else RESULTS)
    rows = {}
    for task in args.tasks:
        run = run_experts(task, args.worlds, device=args.device, randomization=args.randomization)
        rows[task] = {
            "worlds": args.worlds,
            "successes": int(run.success.sum()),
            "success_rate": float(run.success.mean()),
            "failed_seeds": [int(i) for i in (~run.success).nonzero()[0]],
            "mean_length": float(run.length.mean()),
            "max_length": int(run.length.max()),
            "wall_s": round(run.wall_s, 1),
        }
        print(f"{task}: {rows[task]['successes']}/{args.worlds} in {run.wall_s:.0f} s", flush=True)
    device = "cuda" if args.device.startswith("cuda") else args.device
    payload = {
        "benchmark": "warp_experts",
        "machine": machine_info(("armgym", "numpy", "mujoco", "mujoco-warp", "warp-lang", "torch")),
        "settings": {
            "device": args.device,
            "randomization": args.randomization,
            "seeds": f"0..{args.worlds - 1}",
            "episodes": "the first of each world",
        },
        "tasks": rows,
    }
    path = out / f"warp_experts_{device}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(path)


if __name__ == "__main__":
    main()
