"""PickCube with SAC/RLPD + a scripted human in the loop (``--intervene scripted``).

    PYTHONPATH=src python benchmarks/rl_hil.py --seeds 0 1 2 --steps 20000          # panda
    PYTHONPATH=src python benchmarks/rl_hil.py --seeds 0 --robot so101 --steps 10000
    PYTHONPATH=src python benchmarks/rl_hil.py --seeds 0 --from-log runs/bench_rl_hil/hil_panda_s0

The recipe of ``rl_pickcube.py`` (panda, ``ee_pos``, state, sparse reward, ``low``, 20
scripted demos, the same seeds, 50 unseen evaluation seeds every 2,500 env steps), with the
task's expert taking over by the rule of :mod:`armgym.teleop.scripted_human` (defaults of
``ScriptedHumanConfig``). Each run writes ``results/rl_hil_<robot>_s<seed>.json``: the
eval curve, the per-episode intervention rate, env steps to 90 % success beside the run
without interventions of the same seed (``rl_pickcube_rlpd_<robot>_s<seed>.json``, when
there is one), and the intervention rate over the last episodes. ``rl_hil.png`` plots all
of them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

from common import RESULTS, human_config, machine_info, write_json
from rl_pickcube import PACKAGES, curve_of, run_rlpd

TARGET = 0.9
#: episodes at the end of a run whose mean intervention rate is reported
LAST = 20


def interventions_of(run: Path) -> list[dict[str, Any]]:
    """``[{"env_steps", "rate", "takeovers", "success"}]`` per training episode."""
    rows = [json.loads(ln) for ln in (run / "log.jsonl").read_text().splitlines() if ln]
    return [
        {
            "env_steps": r["step"],
            "rate": r["episode"]["intervention_rate"],
            "takeovers": r["episode"]["takeovers"],
            "success": r["episode"]["success"],
        }
        for r in rows
        if "intervention_rate" in r.get("episode", {})
    ]


def steps_to(curve: list[dict[str, Any]], target: float = TARGET) -> int | None:
    """Env steps of the first evaluation at or above ``target`` success (None: never)."""
    return next((c["env_steps"] for c in curve if c["success"] >= target), None)


def summarize(res: dict[str, Any], robot: str, seed: int) -> dict[str, Any]:
    """Steps to 90 % with and without interventions, intervention rate early and late."""
    eps = res["interventions"]
    late = eps[-LAST:]
    peer_path = RESULTS / f"rl_pickcube_rlpd_{robot}_s{seed}.json"
    peer = json.loads(peer_path.read_text()) if peer_path.exists() else None
    return {
        "steps_to_90": steps_to(res["curve"]),
        "steps_to_90_without_interventions": steps_to(peer["curve"]) if peer else None,
        "peer": str(peer_path.name) if peer else None,
        "peer_curve": [(c["env_steps"], c["success"]) for c in peer["curve"]] if peer else None,
        "best_success": max((c["success"] for c in res["curve"]), default=None),
        "final_success": res["curve"][-1]["success"] if res["curve"] else None,
        "intervention_rate_first_20_episodes": mean([e["rate"] for e in eps[:LAST]]),
        f"intervention_rate_last_{LAST}_episodes": mean([e["rate"] for e in late]),
        "episodes": len(eps),
    }


def mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--steps", type=int, default=20_000)
    p.add_argument("--demos", type=int, default=20)
    p.add_argument("--utd", type=int, default=1)
    p.add_argument("--robot", default="panda", help="panda | so101 | widowx250 | ...")
    p.add_argument(
        "--human",
        nargs="*",
        default=[],
        metavar="FIELD=VALUE",
        help="ScriptedHumanConfig fields other than the defaults, e.g. min_hold=10",
    )
    p.add_argument("--tag", default="", help="suffix of the result name (a variant)")
    p.add_argument("--out", type=Path, default=Path("runs/bench_rl_hil"))
    p.add_argument(
        "--from-log",
        type=Path,
        default=None,
        help="write the JSON of an existing (possibly unfinished) run folder",
    )
    a = p.parse_args()
    human = human_config(a.human)
    suffix = f"_{a.tag}" if a.tag else ""
    for seed in a.seeds:
        t0 = time.perf_counter()
        if a.from_log is not None:
            res: dict[str, Any] = {
                "learner": "armgym SAC/RLPD + scripted human",
                "run": str(a.from_log),
            }
            res["curve"] = curve_of(a.from_log)
            res["note"] = "read from the run's log.jsonl (the run may have been cut short)"
            run = a.from_log
        else:
            tag = f"hil{suffix}"
            res = run_rlpd(
                seed,
                a.steps,
                a.out,
                a.demos,
                a.utd,
                a.robot,
                tag,
                intervene="scripted",
                human=human,
            )
            res["learner"] = "armgym SAC/RLPD + scripted human"
            res["human"] = dataclasses.asdict(human)
            run = a.out / f"{tag}_{a.robot}_s{seed}"
        res["interventions"] = interventions_of(run)
        res["result"] = summarize(res, a.robot, seed)
        res |= {"seed": seed, "wall_s": time.perf_counter() - t0, "machine": machine_info(PACKAGES)}
        write_json(f"rl_hil_{a.robot}_s{seed}{suffix}.json", res)
        print(f"rl_hil_{a.robot}_s{seed}{suffix}", json.dumps(res["result"]), flush=True)
        if a.from_log is not None:
            break
    plot_all()


def plot_all() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    peers: set[str] = set()
    for i, path in enumerate(sorted(RESULTS.glob("rl_hil_*_s*.json"))):
        res = json.loads(path.read_text())
        color = f"C{i}"
        label = path.stem.replace("rl_hil_", "")
        c = res["curve"]
        axes[0].plot(
            [r["env_steps"] for r in c],
            [r["success"] for r in c],
            "o-",
            color=color,
            label=f"{label} + human",
        )
        peer = res["result"].get("peer_curve")
        if peer and res["result"]["peer"] not in peers:
            peers.add(res["result"]["peer"])
            axes[0].plot(
                *zip(*peer, strict=True),
                "x--",
                color="gray",
                alpha=0.7,
                label=f"{res['result']['peer'][12:-5]}, no human (rl_pickcube)",
            )
        eps = res["interventions"]
        if eps:
            k = min(10, len(eps))
            rate = np.convolve([e["rate"] for e in eps], np.ones(k) / k, mode="valid")
            axes[1].plot(
                [e["env_steps"] for e in eps][k - 1 :], rate, "-", color=color, label=label
            )
    axes[0].set(xlabel="env steps", ylabel="success (50 unseen seeds)", ylim=(-0.02, 1.02))
    axes[1].set(
        xlabel="env steps", ylabel="intervened steps / episode (mean of 10)", ylim=(-0.02, 1.02)
    )
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("PickCube, state, sparse reward, 20 demos: SAC/RLPD with a scripted human")
    fig.tight_layout()
    fig.savefig(RESULTS / "rl_hil.png", dpi=100)


if __name__ == "__main__":
    main()
