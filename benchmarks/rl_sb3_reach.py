"""An outside learner on armgym: stable-baselines3 SAC with its defaults, from state.

The question a new user asks first: does a stock RL library learn on these envs? This
trains SB3's ``SAC("MlpPolicy", FlattenObservation(env))`` with every hyper-parameter at its
default, and evaluates the deterministic policy every ``--eval-every`` env steps on
``--eval-episodes`` unseen seeds (``10_000 + i``; training episodes use the RNG of
``--seed``). Writes ``results/<name>.json`` (machine, versions, command, seeds, curve) and
a PNG of success vs env steps.

    python benchmarks/rl_sb3_reach.py                                   # Reach, ee_pos, dense
    python benchmarks/rl_sb3_reach.py --task PickCube --reward sparse --steps 30000

The same function (:func:`run_sb3`) is the no-demo peer in ``rl_pickcube.py``.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import gymnasium as gym
import numpy as np
from common import RESULTS, machine_info, write_json
from gymnasium.wrappers import FlattenObservation

import armgym  # noqa: F401

EVAL_SEED0 = 10_000


def evaluate(model: Any, env: gym.Env, episodes: int) -> dict[str, float]:
    """Deterministic rollouts on seeds ``EVAL_SEED0 + i``: success rate and final distance."""
    wins, returns = 0, []
    for i in range(episodes):
        obs, _ = env.reset(seed=EVAL_SEED0 + i)
        done, ret, info = False, 0.0, {}
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, r, term, trunc, info = env.step(action)
            ret += float(r)
            done = term or trunc
        wins += bool(info.get("is_success"))
        returns.append(ret)
    return {"success": wins / episodes, "return": float(np.mean(returns))}


def run_sb3(
    task: str,
    *,
    robot: str = "panda",
    control: str = "ee_pos",
    reward: str = "dense",
    steps: int = 50_000,
    seed: int = 0,
    eval_every: int = 5_000,
    eval_episodes: int = 50,
) -> dict[str, Any]:
    """Train SB3 SAC (defaults) for ``steps`` env steps; return the curve as JSON-able dict."""
    from stable_baselines3 import SAC
    from stable_baselines3.common.callbacks import BaseCallback

    kw = {"robot": robot, "control": control, "obs": "state", "reward": reward}
    env = FlattenObservation(gym.make(f"armgym/{task}-v0", **kw))
    eval_env = FlattenObservation(gym.make(f"armgym/{task}-v0", **kw))
    env.reset(seed=seed)
    curve: list[dict[str, float]] = []
    t0 = time.perf_counter()

    class EvalCallback(BaseCallback):
        def _on_step(self) -> bool:
            if self.num_timesteps % eval_every == 0:
                res = evaluate(self.model, eval_env, eval_episodes)
                res |= {"env_steps": self.num_timesteps, "wall_s": time.perf_counter() - t0}
                curve.append(res)
                print(res, flush=True)
            return True

    model = SAC("MlpPolicy", env, seed=seed, device="cpu", verbose=0)
    model.learn(total_timesteps=steps, callback=EvalCallback())
    return {
        "learner": "stable-baselines3 SAC, default hyper-parameters, FlattenObservation",
        "env": {"task": task, **kw},
        "train_seed": seed,
        "eval_seeds": [EVAL_SEED0, EVAL_SEED0 + eval_episodes - 1],
        "steps": steps,
        "curve": curve,
        "final_success": curve[-1]["success"] if curve else None,
        "wall_s": time.perf_counter() - t0,
    }


def plot(curves: dict[str, list[dict[str, float]]], path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for label, curve in curves.items():
        ax.plot([c["env_steps"] for c in curve], [c["success"] for c in curve], "o-", label=label)
    ax.set(xlabel="env steps", ylabel="success (unseen seeds)", ylim=(-0.02, 1.02), title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--task", default="Reach")
    p.add_argument("--robot", default="panda")
    p.add_argument("--control", default="ee_pos")
    p.add_argument("--reward", default="dense")
    p.add_argument("--steps", type=int, default=50_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-every", type=int, default=5_000)
    p.add_argument("--eval-episodes", type=int, default=50)
    a = p.parse_args()
    res = run_sb3(
        a.task,
        robot=a.robot,
        control=a.control,
        reward=a.reward,
        steps=a.steps,
        seed=a.seed,
        eval_every=a.eval_every,
        eval_episodes=a.eval_episodes,
    )
    name = f"rl_sb3_{a.task.lower()}_{a.robot}_{a.control}_{a.reward}_s{a.seed}"
    res["machine"] = machine_info(("armgym", "mujoco", "gymnasium", "stable_baselines3", "torch"))
    write_json(f"{name}.json", res)
    plot({f"SB3 SAC seed {a.seed}": res["curve"]}, str(RESULTS / f"{name}.png"), name)
    print(f"final success {res['final_success']} in {res['wall_s']:.0f} s")


if __name__ == "__main__":
    main()
