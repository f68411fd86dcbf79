"""PickCube with SAC/RLPD from 20 scripted demos (sparse reward), and SB3 SAC without demos.

    PYTHONPATH=src python benchmarks/rl_pickcube.py --seeds 0 1 2            # armgym SAC/RLPD
    PYTHONPATH=src python benchmarks/rl_pickcube.py --seeds 0 --peer sb3     # the SB3 peer

Both learn on the same env (``armgym/PickCube-v0``, panda, ``ee_pos``, state, sparse
reward, ``low``) for ``--steps`` env steps and are evaluated on 50 unseen seeds. Each run
writes ``results/rl_pickcube_<learner>_s<seed>.json`` (machine, versions, command, config,
curve of success vs env steps and wall time) and the curves go to ``rl_pickcube.png``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from common import RESULTS, machine_info, write_json

PACKAGES = ("armgym", "mujoco", "torch", "gymnasium", "stable_baselines3")


def curve_of(run: Path) -> list[dict[str, Any]]:
    """Eval points of a run folder's log.jsonl (also of a run still going or cut short)."""
    rows = [json.loads(ln) for ln in (run / "log.jsonl").read_text().splitlines() if ln]
    return [
        {
            "env_steps": r["step"],
            "wall_s": r["wall_s"],
            "success": r["eval"]["success_rate"],
            "ci95": r["eval"]["success_ci95"],
        }
        for r in rows
        if "eval" in r
    ]


def run_rlpd(
    seed: int,
    steps: int,
    out: Path,
    demos: int,
    utd: int,
    robot: str,
    tag: str = "rlpd",
    **overrides: Any,
) -> dict[str, Any]:
    """Train on PickCube (panda by default, state, sparse) into ``out/<tag>_<robot>_s<seed>``;
    ``overrides`` are further ``SACTrainConfig`` fields (e.g. ``intervene="scripted"``)."""
    from armgym.train.sac import SACTrainConfig, train

    cfg = SACTrainConfig(
        out=out / f"{tag}_{robot}_s{seed}",
        task="PickCube",
        robot=robot,
        obs="state",
        demos=str(demos),
        steps=steps,
        seed=seed,
        utd=utd,
        reward="sparse",
        progress=False,
        **{"overwrite": not overrides.get("resume"), **overrides},
    )
    summary = train(cfg)
    curve = curve_of(cfg.out)
    return {
        "learner": "armgym SAC/RLPD",
        "config": json.loads(json.dumps(cfg.__dict__, default=str)),
        "summary": summary,
        "curve": curve,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--steps", type=int, default=30_000)
    p.add_argument("--demos", type=int, default=20)
    p.add_argument("--utd", type=int, default=1)
    p.add_argument("--robot", default="panda")
    p.add_argument("--bc-weight", type=float, default=0.0, help="Q-filtered BC term (0: off)")
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--obs-std-floor", type=float, default=0.05)
    p.add_argument("--obs-clip", type=float, default=10.0)
    p.add_argument("--tag", default="", help="suffix of the variant's result names")
    p.add_argument("--resume", action="store_true", help="continue the run in --out to --steps")
    p.add_argument("--peer", choices=["none", "sb3"], default="none")
    p.add_argument("--out", type=Path, default=Path("runs/bench_rl_pickcube"))
    p.add_argument(
        "--from-log",
        type=Path,
        default=None,
        help="write the JSON of an existing (possibly unfinished) run folder",
    )
    a = p.parse_args()
    if a.from_log is not None:
        res = {
            "learner": "armgym SAC/RLPD",
            "run": str(a.from_log),
            "curve": curve_of(a.from_log),
            "note": "curve read from the run's log.jsonl (the run may have been cut short)",
            "machine": machine_info(PACKAGES),
        }
        write_json(f"rl_pickcube_rlpd_{a.robot}_s{a.seeds[0]}.json", res)
        plot_all()
        return
    for seed in a.seeds:
        t0 = time.perf_counter()
        if a.peer == "sb3":
            from rl_sb3_reach import run_sb3

            res = run_sb3(
                "PickCube",
                robot=a.robot,
                reward="sparse",
                steps=a.steps,
                seed=seed,
                eval_every=2500,
            )
            name = f"rl_pickcube_sb3_{a.robot}_s{seed}"
        else:
            kw = {
                "bc_weight": a.bc_weight,
                "gamma": a.gamma,
                "obs_std_floor": a.obs_std_floor,
                "obs_clip": a.obs_clip,
                "resume": a.resume,
            }
            res = run_rlpd(seed, a.steps, a.out, a.demos, a.utd, a.robot, f"rlpd{a.tag}", **kw)
            name = f"rl_pickcube_rlpd{a.tag}_{a.robot}_s{seed}"
        res |= {"seed": seed, "wall_s": time.perf_counter() - t0, "machine": machine_info(PACKAGES)}
        write_json(f"{name}.json", res)
        print(name, [(c["env_steps"], c["success"]) for c in res["curve"]], flush=True)
    plot_all()


def plot_all() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for path in sorted(RESULTS.glob("rl_pickcube_*_s*.json")):
        res = json.loads(path.read_text())
        c = res["curve"]
        label = path.stem.replace("rl_pickcube_", "")
        # earlier recipes (no std floor, the BC-term variant) dashed and faint
        style = {"ls": "--", "alpha": 0.45} if "nofloor" in label or "_bc_" in label else {}
        for ax, key, scale in zip(axes, ("env_steps", "wall_s"), (1, 60), strict=True):
            xs = [r[key] / scale for r in c]
            ax.plot(xs, [r["success"] for r in c], marker="o", label=label, **style)
    axes[0].set(xlabel="env steps", ylabel="success (50 unseen seeds)", ylim=(-0.02, 1.02))
    axes[1].set(xlabel="wall clock [min] (2 shared cores)")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("PickCube, panda, state, sparse reward")
    fig.tight_layout()
    fig.savefig(RESULTS / "rl_pickcube.png", dpi=100)


if __name__ == "__main__":
    main()
