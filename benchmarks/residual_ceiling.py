"""How much can a residual of a given scale fix? The scripted expert, squeezed into it.

    PYTHONPATH=src python benchmarks/residual_ceiling.py --episodes 50 --scales 0.05 0.1 0.2 0.3

Over the PegInsert ``med`` MLP BC base of ``rl_residual.py`` (9 % on its own), each step
executes ``clip(base + scale · r)`` with ``r = clip((a_expert − a_base) / scale, −1, 1)``
(:func:`armgym.policies.residual.residual_toward`): the task's closed-loop scripted expert
acting through the residual, i.e. the best a residual of this scale can do by imitating
it. A scale whose ceiling is far below the target cannot reach it by any training.
Episodes use seeds 0..episodes-1 (the evaluation seeds of rl_residual.py). Writes
``results/residual_ceiling.json`` (success per scale with Wilson intervals, the fraction
of steps where the residual saturates) and ``results/residual_ceiling.png``. ``--task
PickCube --base-policy diffusion --base-steps 4000`` measures the PickCube ``med`` diffusion
base of ``rl_residual.py`` instead (``residual_ceiling_pickcube.*``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import numpy as np
from common import RESULTS, machine_info, write_json
from rl_residual import LEVEL, TASK, base_checkpoint

PACKAGES = ("armgym", "mujoco", "torch", "gymnasium")


def residual_env(base_path: str, scale: float, features: bool = False) -> tuple[Any, Any]:
    """(``ResidualWrapper`` of scale ``scale`` over the base at ``base_path`` in its own env,
    with the task's relative features in its observation if ``features``; the unwrapped
    env)."""
    from armgym.envs import EnvConfig, make_env
    from armgym.eval.bases import open_base, reference_of
    from armgym.policies.residual import ResidualWrapper, TaskFeatures

    base = open_base(reference_of(base_path), {}, seed=0)
    env_dict = dict(base.metadata.extra["env"])
    env = make_env(EnvConfig.from_dict(env_dict))
    extra = TaskFeatures.for_env(env_dict, env.observation_space) if features else None
    return ResidualWrapper(env, base, scale, extra), env.unwrapped


def expert_episode(
    wrapped: Any,
    inner: Any,
    seed: int,
    choose: Callable[[dict[str, Any], np.ndarray], Any],
    kind: str = "scripted",
) -> bool:
    """One episode of seed ``seed``: every step the task's expert (``kind`` scripted: its
    phase following the scene; reactive: stateless) gives the residual toward its action,
    ``r* = clip((a_expert − a_base) / scale)``, and ``choose(obs, r*)`` returns the
    residual to execute. Returns the task's success."""
    from armgym.policies.scripted import expert_action, make_demo_expert

    obs, _ = wrapped.reset(seed=seed)
    expert = make_demo_expert(inner.task, kind)
    expert.reset()
    done, info = False, {}
    while not done:
        target = expert_action(expert(inner.robot_obs), "ee_delta")
        obs, _, term, trunc, info = wrapped.step(choose(obs, wrapped.residual_toward(target, obs)))
        done = term or trunc
    return bool(info.get("is_success"))


def ceiling(base_path: str, scale: float, episodes: int) -> dict[str, Any]:
    """Success of the expert acting through a residual of ``scale`` on seeds 0..episodes-1."""
    from armgym.viz.stats import wilson_interval

    wrapped, inner = residual_env(base_path, scale)
    count = {"saturated": 0.0, "steps": 0}

    def follow(obs: dict[str, Any], r_star: np.ndarray) -> np.ndarray:
        count["saturated"] += float(np.mean(np.abs(r_star) >= 1.0))  # clipped: out of reach
        count["steps"] += 1
        return r_star

    wins = 0
    for seed in range(episodes):
        wins += expert_episode(wrapped, inner, seed, follow)
    lo, hi = wilson_interval(wins, episodes)
    return {
        "scale": scale,
        "success_rate": wins / episodes,
        "success_ci95": [lo, hi],
        "episodes": episodes,
        "saturated_fraction": count["saturated"] / max(count["steps"], 1),
    }


def add_base_args(ap: argparse.ArgumentParser) -> None:
    """--task / --base-policy / --base-steps: which of rl_residual.py's bases to use."""
    ap.add_argument("--task", default=TASK, help="task of the base (rl_residual.py's bases)")
    ap.add_argument("--base-policy", choices=("mlp", "diffusion"), default="mlp")
    ap.add_argument("--base-steps", type=int, default=3000)


def result_name(prefix: str, task: str) -> str:
    """``prefix`` for the default task (PegInsert), ``prefix_<task>`` for another."""
    return prefix if task == TASK else f"{prefix}_{task.lower()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--episodes", type=int, default=50)
    ap.add_argument("--scales", type=float, nargs="+", default=[0.05, 0.1, 0.2, 0.3])
    add_base_args(ap)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    base, base_rate = base_checkpoint(args.task, args.base_policy, args.base_steps)
    name = result_name("residual_ceiling", args.task)
    rows = []
    for scale in args.scales:
        rows.append(ceiling(str(base), scale, args.episodes))
        print(rows[-1], flush=True)
    payload = {
        "machine": machine_info(PACKAGES),
        "setup": {
            "task": args.task,
            "randomization": LEVEL,
            "base": str(base),
            "base_policy": f"{args.base_policy} BC, {args.base_steps} steps",
            "expert": "scripted",
        },
        "base_success": base_rate,
        "ceilings": rows,
    }
    print(write_json(f"{name}.json", payload))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=100)
    s = [r["scale"] for r in rows]
    p = [r["success_rate"] for r in rows]
    err = np.array([[r["success_rate"] - r["success_ci95"][0] for r in rows],
                    [r["success_ci95"][1] - r["success_rate"] for r in rows]])  # fmt: skip
    ax.errorbar(s, p, yerr=err, fmt="o-", capsize=3, label="expert through the residual")
    ax.axhline(base_rate["success_rate"], color="gray", ls="--", label="BC base alone")
    ax.set(xlabel="residual scale (normalised action units)", ylabel="success", ylim=(-0.02, 1.02))
    ax.set_title(f"Residual ceiling, {args.task} {LEVEL} ({args.base_policy} base)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / f"{name}.png")


if __name__ == "__main__":
    main()
