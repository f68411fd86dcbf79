"""Can the residual *imitate* the expert at the states it visits? DAgger as a diagnostic.

    PYTHONPATH=src python benchmarks/residual_dagger.py --iterations 8 --episodes 30

Over the PegInsert ``med`` MLP BC base of ``rl_residual.py`` (9 %), at ``--scale`` 0.2
(where the expert acting through the residual from the first step succeeds in 100 % of
episodes, ``residual_ceiling.py``): iteration 0 rolls out that expert-through-residual;
every later iteration rolls out the current residual policy alone, labels every visited
state with the expert's residual ``clip((a_expert − a_base) / scale)`` (the expert runs
alongside, its phase following the scene) and refits the residual on all labels so far
(an MLP 256-256 on the residual's observation, the same inputs as the SAC actor; tanh
output; MSE). This is DAgger (Ross et al. 2011) with a privileged teacher queried at every
step — more supervision than any RL variant gets. If it cannot reach the target, the
residual's observation does not determine the expert's correction (the expert is a state
machine whose phase, hold counters and re-grasp jumps the residual cannot see), and RL on
the same inputs has the same ceiling. Training rollouts use seeds 10⁷+; the final policy is
evaluated on seeds 0..99. Writes ``results/residual_dagger.json``.

``--task PickCube --base-policy diffusion --base-steps 4000 --iterations 1 --episodes 100``
is the behaviour-cloning control of ``rl_residual.py``'s PickCube runs with 100 residual
demos: the residual fit to 100 expert-through-residual episodes and nothing else (no RL, no
DAgger), written to ``results/residual_dagger_pickcube.json``.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
from common import machine_info, write_json
from residual_ceiling import add_base_args, expert_episode, residual_env, result_name
from rl_residual import LEVEL, base_checkpoint

PACKAGES = ("armgym", "mujoco", "torch", "gymnasium")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--iterations", type=int, default=8)
    ap.add_argument("--episodes", type=int, default=30, help="rollouts per iteration")
    ap.add_argument("--fit-steps", type=int, default=3000, help="Adam steps per refit")
    ap.add_argument("--scale", type=float, default=0.2)
    ap.add_argument("--eval-episodes", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--features", action="store_true", help="the residual also sees the task's features"
    )
    ap.add_argument("--expert", choices=("scripted", "reactive"), default="scripted")
    ap.add_argument("--tag", default="", help="suffix of the JSON's name")
    add_base_args(ap)
    args = ap.parse_args()
    import torch

    from armgym.viz.stats import wilson_interval

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    base_path, base_rate = base_checkpoint(args.task, args.base_policy, args.base_steps)
    wrapped, inner = residual_env(str(base_path), args.scale, args.features)
    keys = sorted(wrapped.observation_space.spaces)
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    fit: dict[str, Any] = {}

    def flat(obs: dict[str, np.ndarray]) -> np.ndarray:
        return np.concatenate([np.asarray(obs[k], np.float32).ravel() for k in keys])

    def policy(obs: dict[str, np.ndarray]) -> np.ndarray:
        x = torch.as_tensor((flat(obs) - fit["mu"]) / fit["sd"])[None]
        with torch.no_grad():
            return torch.tanh(fit["net"](x))[0].numpy()

    def rollout(seed: int, expert_drives: bool, label: bool) -> bool:
        def choose(obs: dict[str, np.ndarray], r_star: np.ndarray) -> np.ndarray:
            if label:
                xs.append(flat(obs))
                ys.append(r_star)
            return r_star if expert_drives else policy(obs)

        return expert_episode(wrapped, inner, seed, choose, args.expert)

    def refit() -> float:
        x, y = np.asarray(xs), np.clip(np.asarray(ys), -0.97, 0.97)
        mu, sd = x.mean(0), x.std(0) + 1e-3
        net = torch.nn.Sequential(
            torch.nn.Linear(x.shape[1], 256),
            torch.nn.ReLU(),
            torch.nn.Linear(256, 256),
            torch.nn.ReLU(),
            torch.nn.Linear(256, y.shape[1]),
        )
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        xt, yt = torch.as_tensor((x - mu) / sd), torch.as_tensor(y)
        losses = []
        for _ in range(args.fit_steps):
            i = torch.as_tensor(rng.integers(0, len(xt), 256))
            loss = (torch.tanh(net(xt[i])) - yt[i]).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        fit.update(net=net, mu=mu, sd=sd)
        return float(np.mean(losses[-200:]))

    rows = []
    seed = 10_000_000
    t_start = time.perf_counter()
    for it in range(args.iterations):
        t0 = time.perf_counter()
        wins = sum(rollout(seed + i, it == 0, True) for i in range(args.episodes))
        seed += args.episodes
        loss = refit()
        rows.append(
            {
                "iteration": it,
                "rollouts_by": "expert through the residual" if it == 0 else "residual policy",
                "rollout_success": wins / args.episodes,
                "labels": len(xs),
                "fit_mse": loss,
                "wall_s": time.perf_counter() - t0,
            }
        )
        print(rows[-1], flush=True)
    wins = sum(rollout(i, False, False) for i in range(args.eval_episodes))
    lo, hi = wilson_interval(wins, args.eval_episodes)
    final = {"success_rate": wins / args.eval_episodes, "success_ci95": [lo, hi]}
    print("final", final, flush=True)
    write_json(
        f"{result_name('residual_dagger', args.task)}{args.tag}.json",
        {
            "machine": machine_info(PACKAGES),
            "setup": {
                "task": args.task,
                "randomization": LEVEL,
                "base": str(base_path),
                "scale": args.scale,
                "features": args.features,
                "expert": args.expert,
                "episodes_per_iteration": args.episodes,
                "fit_steps": args.fit_steps,
                "net": "MLP 256-256, ReLU, tanh output, MSE, Adam 1e-3, batch 256",
                "eval_seeds": f"0..{args.eval_episodes - 1}",
                "seed": args.seed,
            },
            "base_success": base_rate,
            "iterations": rows,
            "final": final,
            "wall_s": time.perf_counter() - t_start,
        },
    )


if __name__ == "__main__":
    main()
