"""Residual RL on PegInsert ``med`` (state) over the MLP BC base of ``bc_task.py``.

    PYTHONPATH=src python benchmarks/rl_residual.py --seeds 0 1 2 --steps 500000
    PYTHONPATH=src python benchmarks/rl_residual.py --seeds 0 --algo ppo --steps 2000000
    PYTHONPATH=src python benchmarks/rl_residual.py --seeds 0 --report-only   # a run cut short

The base is trained exactly as ``bc_task.py --task PegInsert --randomization med --policy
mlp --steps 3000`` does it (100 scripted demos, seeds 10 000+, MLP BC, seed 0) and evaluated
on seeds 0..99. Each seed then trains ``armgym train residual --algo <algo>`` over it
(scale 0.1; ``--reward`` dense by default: the task's staged shaping, never positive),
evaluating on seeds 0..``--eval-episodes``-1 (never training episodes, which use seeds
>= 10⁷) every ``--eval-every`` env steps. Writes
``results/rl_residual_<algo>_s<seed>.json`` (machine, versions, command, base rate, config,
curve of success vs env steps and wall time; from the run's log.jsonl, so a run stopped
early still reports what it reached) and ``results/rl_residual_<algo>.png``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

from common import RESULTS, human_config, machine_info, write_json
from rl_pickcube import curve_of

PACKAGES = ("armgym", "mujoco", "torch", "gymnasium")
WORK = Path("/tmp/armgym-bench-residual")
TASK, LEVEL = "PegInsert", "med"


def base_checkpoint(
    task: str = TASK, policy: str = "mlp", steps: int = 3000
) -> tuple[Path, dict[str, Any]]:
    """The BC base (``policy`` trained ``steps`` steps on 100 scripted demos of ``task`` at
    ``LEVEL``; trained once, reused) and its success on seeds 0..99."""
    from bc_task import dataset

    from armgym.eval.cli import EvalConfig, evaluate
    from armgym.train.bc import BCConfig, train

    default = (task, policy, steps) == (TASK, "mlp", 3000)
    out = WORK / ("base_mlp_3000" if default else f"base_{task.lower()}_{policy}_{steps}")
    report_file = out / "eval" / "report.json"
    if not report_file.exists():
        root = dataset(task, 100, LEVEL, "state", [], 84)
        train(
            BCConfig(
                dataset=root,
                out=out,
                policy=policy,
                obs="state",
                steps=steps,
                batch_size=64,
                seed=0,
                overwrite=True,
                eval_every=0,
            )
        )
        evaluate(
            EvalConfig(
                checkpoint=out,
                episodes=100,
                seed=0,
                num_envs=8,
                videos=0,
                out=out / "eval",
                progress=False,
            )
        )
    report = json.loads(report_file.read_text())
    keys = ("success_rate", "success_ci95", "episodes")
    wins = [int(e["seed"]) for e in report["per_episode"] if e["success"]]
    return out, {**{k: report[k] for k in keys}, "successful_seeds": wins}


def report(args: argparse.Namespace, seed: int, base: dict[str, Any], wall: float | None) -> Path:
    run = WORK / f"{args.algo}{args.tag}_s{seed}"
    curve = curve_of(run)
    config = (
        json.loads((run / "train_state.json").read_text())["config"]
        if (run / "train_state.json").exists()
        else None
    )
    path = RESULTS / f"rl_residual_{args.algo}{args.tag}_s{seed}.json"
    if wall is None and path.exists():  # --report-only: keep a finished run's wall clock
        old = json.loads(path.read_text())
        reached = curve[-1]["env_steps"] if curve else 0
        if old.get("finished") and old.get("env_steps_reached") == reached:
            wall = old.get("wall_s")
    payload = {
        "machine": machine_info(PACKAGES),
        "setup": {
            "task": args.task,
            "randomization": LEVEL,
            "obs": "state",
            "reward": args.reward,
            "scale": args.scale,
            "demos": args.demos,
            "features": args.features,
            "demo_expert": args.demo_expert,
            "explore_ramp": args.explore_ramp,
            "utd": args.utd,
            "lr": args.lr,
            "bc_weight": args.bc_weight,
            "bc_filter": not args.no_bc_filter,
            "action_l2": args.action_l2,
            "n_step": args.n_step,
            "intervene": args.intervene,
            "human": dataclasses.asdict(human_config(args.human)) if args.intervene else None,
            "base": f"{args.base_policy} BC, 100 scripted demos, {args.base_steps} steps",
            "eval_seeds": f"0..{args.eval_episodes - 1}",
            "torch_threads": 1,
        },
        "algo": args.algo,
        "seed": seed,
        "base_success": base,
        "config": config,
        "curve": curve,
        "best_success": max((c["success"] for c in curve), default=None),
        "final_success": curve[-1]["success"] if curve else None,
        "env_steps_reached": curve[-1]["env_steps"] if curve else 0,
        # a resumed run's own clock covers only its last leg; the log's is cumulative
        "wall_s": wall
        if wall is not None and not args.resume
        else (curve[-1]["wall_s"] if curve else None),
        "finished": wall is not None,
    }
    return write_json(path.name, payload)


def plot(
    algo: str, base_rate: float, task: str = TASK, group: str = "", base_policy: str = "mlp"
) -> None:
    """Curves of every run of ``algo`` on ``task`` over a ``base_policy`` base (only tags
    starting ``-<group>`` with a group, into ``rl_residual_<algo>[_<task>][_<group>].png``,
    ``_diffusion`` appended for a diffusion base)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), dpi=100, sharey=True)
    colors = iter(plt.get_cmap("tab20").colors * 4)
    pattern = f"rl_residual_{algo}-{group}*_s*.json" if group else f"rl_residual_{algo}*_s*.json"
    for f in sorted(RESULTS.glob(pattern)):
        d = json.loads(f.read_text())
        base = str(d["setup"].get("base", "mlp")).lower()
        if d["setup"].get("task", TASK) != task or not base.startswith(base_policy):
            continue
        variant = f.stem.removeprefix("rl_residual_").rsplit("_s", 1)[0]
        c, color = d["curve"], next(colors)
        for ax, key, scale in zip(axes, ("env_steps", "wall_s"), (1, 60), strict=True):
            ax.plot(
                [p[key] / scale for p in c],
                [p["success"] for p in c],
                "o-",
                ms=3,
                color=color,
                label=f"{variant} seed {d['seed']}",
            )
    for ax, label in zip(axes, ("env steps", "wall clock [min]"), strict=True):
        ax.axhline(base_rate, color="gray", ls="--", label="BC base")
        ax.set(xlabel=label, ylim=(-0.02, 1.02))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("eval success")
    axes[1].legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=7)
    fig.suptitle(f"Residual {algo.upper()} over {base_policy} BC, {task} {LEVEL} (2-core CPU)")
    fig.tight_layout()
    suffix = ("" if task == TASK else f"_{task.lower()}") + (f"_{group}" if group else "")
    suffix += "" if base_policy == "mlp" or task != TASK else f"_{base_policy}"
    fig.savefig(RESULTS / f"rl_residual_{algo}{suffix}.png")
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--task", default=TASK, help="task of the base and the residual")
    ap.add_argument("--base-policy", choices=("mlp", "diffusion"), default="mlp")
    ap.add_argument("--base-steps", type=int, default=3000, help="BC training steps of the base")
    ap.add_argument("--algo", choices=("sac", "ppo"), default="sac")
    ap.add_argument("--steps", type=int, default=500_000)
    ap.add_argument("--reward", choices=("dense", "sparse"), default="dense")
    ap.add_argument("--eval-every", type=int, default=5000)
    ap.add_argument("--eval-episodes", type=int, default=50)
    ap.add_argument("--scale", type=float, default=0.1, help="residual scale")
    ap.add_argument("--demos", type=int, default=0, help="residual demos (scripted expert)")
    ap.add_argument("--explore-ramp", type=int, default=0, help="progressive exploration")
    ap.add_argument("--lr", type=float, default=3e-4, help="SAC learning rate")
    ap.add_argument("--utd", type=int, default=1, help="SAC updates per env step")
    ap.add_argument("--bc-weight", type=float, default=0.0, help="Q-filtered BC (demos)")
    ap.add_argument("--no-bc-filter", action="store_true", help="BC on every demo row")
    ap.add_argument("--n-step", type=int, default=1, help="n-step returns")
    ap.add_argument("--action-l2", type=float, default=0.0, help="residual L2 in actor loss")
    ap.add_argument("--features", action="store_true", help="task features to the residual")
    ap.add_argument("--demo-expert", choices=("scripted", "reactive"), default="scripted")
    ap.add_argument("--intervene", default="", help="scripted: the expert takes over (HIL)")
    ap.add_argument(
        "--human",
        nargs="*",
        default=[],
        metavar="FIELD=VALUE",
        help="scripted human settings (ScriptedHumanConfig), e.g. min_hold=200 stray_m=0.02",
    )
    ap.add_argument("--tag", default="", help="suffix of a variant's run folder and JSON")
    ap.add_argument("--plot-group", default="", help="plot only tags -<group>* (own PNG)")
    ap.add_argument("--report-only", action="store_true", help="JSON + plot from the logs")
    ap.add_argument("--resume", action="store_true", help="continue the run to --steps")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    base, base_rate = base_checkpoint(args.task, args.base_policy, args.base_steps)
    print(f"base {base}: success {base_rate['success_rate']:.2f} on seeds 0..99", flush=True)
    for seed in args.seeds:
        wall = None
        if not args.report_only:
            from armgym.train.residual import ResidualTrainConfig, train

            t0 = time.perf_counter()
            train(
                ResidualTrainConfig(
                    base=str(base),
                    out=WORK / f"{args.algo}{args.tag}_s{seed}",
                    algo=args.algo,
                    reward=args.reward,
                    scale=args.scale,
                    demos=args.demos,
                    features=args.features,
                    demo_expert=args.demo_expert,
                    explore_ramp=args.explore_ramp,
                    utd=args.utd,
                    lr=args.lr,
                    bc_weight=args.bc_weight,
                    bc_filter=not args.no_bc_filter,
                    action_l2=args.action_l2,
                    n_step=args.n_step,
                    intervene=args.intervene,
                    human=human_config(args.human),
                    steps=args.steps,
                    seed=seed,
                    eval_every=args.eval_every,
                    eval_seed=0,
                    eval_episodes=args.eval_episodes,
                    eval_num_envs=4,
                    checkpoint_every=args.eval_every,
                    overwrite=not args.resume,
                    resume=args.resume,
                    progress=sys.stderr.isatty(),
                )
            )
            wall = time.perf_counter() - t0
        print(report(args, seed, base_rate, wall), flush=True)
    plot(args.algo, base_rate["success_rate"], args.task, args.plot_group, args.base_policy)


if __name__ == "__main__":
    main()
