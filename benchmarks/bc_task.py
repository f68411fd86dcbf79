"""Behaviour cloning on a task from scripted demos (state or pixel obs).

    python benchmarks/bc_task.py --policy diffusion --steps 4000      # PickCube, low
    python benchmarks/bc_task.py --policy mlp --steps 3000
    python benchmarks/bc_task.py --task PegInsert --randomization med --policy mlp
    python benchmarks/bc_task.py --policy mlp --obs pixels --cameras front wrist --image-size 84
    python benchmarks/bc_task.py --compare                             # table + plot only

Each run: record ``--demos`` scripted demos (seeds 10 000+, reused if already there), train
``--policy`` (``armgym.train.bc``), evaluate ``--episodes`` seeded episodes (seeds 0..;
none of them demonstrated) on ``--num-envs`` BatchedEnv slots, then time evaluation again
with batched inference. Writes ``benchmarks/results/bc_<task>_<policy>[_<level>].json`` (success
rate + Wilson 95% CI, training wall clock, samples/s, eval episodes/min, machine and load)
and its ``_curve.png``; ``--compare`` writes ``bc_<task>.json`` and ``bc_<task>.png``
from the per-policy files of each task.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from common import RESULTS, machine_info, write_json

from armgym.apps.collect import CollectConfig, collect
from armgym.data.reader import LeRobotReader
from armgym.eval.cli import EvalConfig, evaluate
from armgym.eval.report import plot_learning_curve, read_log
from armgym.policies.diffusion import DiffusionConfig
from armgym.policies.mlp import MLPConfig
from armgym.train.bc import BCConfig, train

WORK = Path("/tmp/armgym-bench-bc")
PACKAGES = ("armgym", "torch", "numpy", "mujoco", "gymnasium")


def dataset(task: str, demos: int, level: str, obs: str, cameras: list[str], size: int) -> Path:
    tag = "state" if obs == "state" else f"{obs}_{'_'.join(cameras)}_{size}"
    root = WORK / f"{task.lower()}_{tag}_{level}_{demos}"
    try:
        if LeRobotReader(root).num_episodes == demos:
            return root
    except Exception:
        pass
    collect(
        CollectConfig(
            out=root,
            task=task,
            episodes=demos,
            obs=obs,
            cameras=tuple(cameras),
            image_size=size,
            sim_state=False,
            only_success=True,
            randomization=level,
            seed=10_000,
            overwrite=True,
        )
    )
    return root


def run(args: argparse.Namespace) -> None:
    root = dataset(
        args.task, args.demos, args.randomization, args.obs, args.cameras, args.image_size
    )
    suffix = "" if args.randomization == "low" else f"_{args.randomization}"
    if args.obs != "state":
        suffix += f"_{args.obs}_{'_'.join(args.cameras)}_{args.image_size}"
    suffix += args.tag
    name = f"bc_{args.task.lower()}_{args.policy}{suffix}"
    out = WORK / f"{args.task.lower()}_{args.policy}_{args.steps}{suffix}"
    pcfg = MLPConfig() if args.policy == "mlp" else DiffusionConfig()
    enc = {"activation": args.encoder_activation}
    if args.encoder_channels:
        enc["channels"] = tuple(args.encoder_channels)
    pcfg = replace(pcfg, encoder=replace(pcfg.encoder, **enc))
    cfg = BCConfig(
        **{args.policy: pcfg},
        dataset=root,
        out=out,
        policy=args.policy,
        obs=args.obs,
        cameras=tuple(args.cameras),
        steps=args.steps,
        batch_size=args.batch_size,
        seed=args.seed,
        overwrite=True,
        save_every=max(args.steps // 4, 1),
        eval_every=args.eval_every,
        eval_episodes=20,
        eval_num_envs=8,
    )
    summary = train(cfg)
    losses, evals = read_log(out / "log.jsonl")
    eval_s = sum(e["eval"].get("wall_s", 0.0) for e in evals)
    reports = {}
    for batch in (False, True):
        reports[batch] = evaluate(
            EvalConfig(
                checkpoint=out,
                episodes=args.episodes,
                seed=0,
                num_envs=args.num_envs,
                out=out / f"eval_b{int(batch)}",
                videos=1 if not batch else 0,
                batch_inference=batch,
            )
        )
    r = reports[False]
    curve = plot_learning_curve(
        out / "log.jsonl",
        RESULTS / f"{name}_curve.png",
        f"{args.policy} BC, {args.task} {args.randomization}, {args.demos} demos",
    )
    payload = {
        "machine": machine_info(PACKAGES),
        "setup": {
            "task": args.task,
            "obs": args.obs,
            "cameras": args.cameras if args.obs != "state" else [],
            "image_size": args.image_size if args.obs != "state" else None,
            "randomization": args.randomization,
            "demos": args.demos,
            "demo_seeds": "10000..",
            "eval_seeds": f"0..{args.episodes - 1}",
            "num_envs": args.num_envs,
            "torch_threads": 1,
        },
        "policy": args.policy,
        "policy_params": summary["policy_params"],
        "policy_config": json.loads((out / "config.json").read_text())["policy_config"],
        "steps": args.steps,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "train_wall_s": summary["wall_s"],
        "train_wall_s_without_periodic_eval": summary["wall_s"] - eval_s,
        "train_samples_per_s": summary["samples_per_s"],
        "final_loss": losses[-1]["loss"],
        "success_rate": r["success_rate"],
        "success_ci95": r["success_ci95"],
        "successes": r["successes"],
        "episodes": r["episodes"],
        "mean_length": r["mean_length"],
        "eval_episodes_per_min": r["episodes_per_min"],
        "eval_episodes_per_min_batched_inference": reports[True]["episodes_per_min"],
        "success_rate_batched_inference": reports[True]["success_rate"],
        "periodic_evals": [{"step": e["step"], **e["eval"]} for e in evals],
        "curve_png": curve.name,
    }
    path = write_json(f"{name}.json", payload)
    print(
        f"{args.policy}: success {r['successes']}/{r['episodes']} (95% CI "
        f"{r['success_ci95'][0]:.2f}-{r['success_ci95'][1]:.2f}), train {summary['wall_s']:.0f} s "
        f"({summary['samples_per_s']:.0f} samples/s), eval {r['episodes_per_min']:.0f} ep/min "
        f"({reports[True]['episodes_per_min']:.0f} batched) -> {path}"
    )


def compare(task: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = {}
    for level in ("low", "med", "high"):
        for policy in ("mlp", "diffusion"):
            suffix = "" if level == "low" else f"_{level}"
            path = RESULTS / f"bc_{task.lower()}_{policy}{suffix}.json"
            if path.exists():
                rows[f"{policy} ({level})"] = json.loads(path.read_text())
    keys = (
        "policy_params",
        "steps",
        "train_wall_s",
        "train_samples_per_s",
        "success_rate",
        "success_ci95",
        "eval_episodes_per_min",
        "eval_episodes_per_min_batched_inference",
    )
    table = {p: {k: r[k] for k in keys} for p, r in rows.items()}
    fig, ax = plt.subplots(figsize=(6.5, 3.8), dpi=110)
    for i, (name, r) in enumerate(rows.items()):
        lo, hi = r["success_ci95"]
        ax.bar(
            i,
            r["success_rate"],
            color="tab:blue" if name.startswith("diffusion") else "tab:orange",
            width=0.6,
        )
        ax.errorbar(
            i,
            r["success_rate"],
            [[r["success_rate"] - lo], [hi - r["success_rate"]]],
            color="k",
            capsize=6,
        )
        ax.text(i, 0.03, f"{r['train_wall_s'] / 60:.1f} min\ntrain", ha="center", color="w")
    ax.set_xticks(range(len(rows)), list(rows))
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("success rate (95% Wilson CI)")
    ax.set_title(f"{task}, state obs, BC from scripted demos")
    fig.tight_layout()
    fig.savefig(RESULTS / f"bc_{task.lower()}.png")
    write_json(f"bc_{task.lower()}.json", {"machine": machine_info(PACKAGES), "policies": table})
    print(json.dumps(table, indent=2))


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--task", default="PickCube")
    ap.add_argument("--policy", choices=("mlp", "diffusion"), default="diffusion")
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--demos", type=int, default=100)
    ap.add_argument("--episodes", type=int, default=100)
    ap.add_argument("--num-envs", type=int, default=8)
    ap.add_argument("--eval-every", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--randomization", choices=("low", "med", "high"), default="low")
    ap.add_argument("--obs", choices=("state", "pixels"), default="state")
    ap.add_argument("--cameras", nargs="+", default=["front", "wrist"])
    ap.add_argument("--image-size", type=int, default=84)
    ap.add_argument("--encoder-activation", choices=("mish", "relu"), default="mish")
    ap.add_argument("--encoder-channels", type=int, nargs="+", default=None)
    ap.add_argument("--tag", default="", help="suffix of the result file names (e.g. _relu)")
    ap.add_argument("--compare", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    compare(args.task) if args.compare else run(args)
    print(f"done in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
