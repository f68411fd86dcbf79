"""Peer runner: gym-hil ``gym_hil/PandaPickCubeBase-v0`` (HIL-SERL's MuJoCo pick-cube).

Run with the peer's own interpreter (``benchmarks/_venvs/gym_hil/bin/python``) and
``MUJOCO_GL=egl`` (its constructor creates a ``mujoco.Renderer`` even for state obs).
Prints one JSON object on the last line of stdout.

What it measures (random actions, uniform in [-1, 1]^7, seeded):

* ``raw_physics``: ``mujoco.rollout`` replaying the exact per-physics-step controls (and
  mocap) recorded from env episodes, from the same start states — the C physics cost of
  its trajectories, with no Python in the loop.
* ``env_step_state``: ``env.step`` on the same recorded actions and seeds, resets excluded
  (the pair gives env/raw).
* ``env_state``: closed loop with random actions, resets included (as a training loop).
* ``env_pixels_2x128``: ``image_obs=True`` → front + wrist cameras at 128×128 (its default).
* ``async2``: ``gymnasium.vector.AsyncVectorEnv`` with 2 workers (``forkserver`` context).
"""

from __future__ import annotations

import argparse
import json
import os
import time
import traceback

import _timing
import gymnasium as gym
import mujoco
import numpy as np

ENV_ID = "gym_hil/PandaPickCubeBase-v0"
CTRL_SPEC = (
    mujoco.mjtState.mjSTATE_CTRL
    | mujoco.mjtState.mjSTATE_MOCAP_POS
    | mujoco.mjtState.mjSTATE_MOCAP_QUAT
)
FULL = mujoco.mjtState.mjSTATE_FULLPHYSICS


def make_env(**kwargs):
    import gym_hil  # noqa: F401  (registers the ids; needed in forkserver workers)

    return gym.make(ENV_ID, **kwargs)


def record(env, episodes: int, rng: np.random.Generator) -> list[dict]:
    """Run random-action episodes; keep actions, start states and per-substep controls."""
    u = env.unwrapped
    m, d = u.model, u.data
    ctrl_size = mujoco.mj_stateSize(m, CTRL_SPEC)
    full_size = mujoco.mj_stateSize(m, FULL)
    real_step = mujoco.mj_step
    eps = []
    for e in range(episodes):
        env.reset(seed=e)
        start = np.empty(full_size)
        mujoco.mj_getState(m, d, start, FULL)
        ctrls: list[np.ndarray] = []

        def spy(model, data, nstep=1, _ctrls=ctrls):
            buf = np.empty(ctrl_size)
            mujoco.mj_getState(model, data, buf, CTRL_SPEC)
            _ctrls.extend([buf] * nstep)
            real_step(model, data, nstep)

        actions = []
        mujoco.mj_step = spy  # gym-hil calls mujoco.mj_step once per substep
        try:
            while True:
                a = rng.uniform(-1, 1, 7).astype(np.float32)
                actions.append(a)
                _, _, term, trunc, _ = env.step(a)
                if term or trunc:
                    break
        finally:
            mujoco.mj_step = real_step
        end = np.empty(full_size)
        mujoco.mj_getState(m, d, end, FULL)
        eps.append(
            {"seed": e, "actions": actions, "start": start, "ctrl": np.array(ctrls), "end": end}
        )
    return eps


def env_vs_raw(env, eps: list[dict], repeats: int) -> dict:
    u = env.unwrapped
    m = u.model
    d = mujoco.MjData(m)
    steps = sum(len(e["actions"]) for e in eps)
    phys = sum(len(e["ctrl"]) for e in eps)
    env_s, raw_s, env_cpu, raw_cpu = [], [], 0.0, 0.0
    max_dev = 0.0
    from mujoco import rollout

    for _ in range(repeats):
        t_env = t_raw = 0.0
        for e in eps:  # env and raw alternate per episode: both see the same machine load
            env.reset(seed=e["seed"])
            c0, t0 = time.process_time(), time.perf_counter()
            for a in e["actions"]:
                env.step(a)
            t_env += time.perf_counter() - t0
            env_cpu += time.process_time() - c0
            c0, t0 = time.process_time(), time.perf_counter()
            state, _ = rollout.rollout(m, d, e["start"], e["ctrl"][None], control_spec=CTRL_SPEC)
            t_raw += time.perf_counter() - t0
            raw_cpu += time.process_time() - c0
            max_dev = max(max_dev, float(np.max(np.abs(state[0, -1] - e["end"]))))
        env_s.append(t_env)
        raw_s.append(t_raw)
    n_sub = u._n_substeps
    return {
        "env_step_state": _timing.figure(
            [steps / t for t in env_s],
            "env steps/s",
            count=steps * repeats,
            seconds=sum(env_s),
            cpu_seconds=env_cpu,
            note="recorded random actions, resets excluded",
        ),
        "raw_physics": _timing.figure(
            [phys / t for t in raw_s],
            "physics steps/s",
            count=phys * repeats,
            seconds=sum(raw_s),
            cpu_seconds=raw_cpu,
            note="mujoco.rollout replay of the recorded per-substep controls",
        ),
        "raw_control_equiv": _timing.figure(
            [phys / t / n_sub for t in raw_s],
            "control steps/s",
            count=phys * repeats,
            seconds=sum(raw_s),
            cpu_seconds=raw_cpu,
            note=f"raw physics steps/s / {n_sub} substeps",
        ),
        "replay_max_abs_state_diff": max_dev,
        "episodes": len(eps),
        "env_steps_per_repeat": steps,
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--duration", type=float, default=2.0, help="seconds per timed repeat")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--episodes", type=int, default=6, help="recorded episodes for env vs raw")
    p.add_argument("--pixel-duration", type=float, default=6.0)
    args = p.parse_args()
    from importlib.metadata import version

    import gym_hil  # noqa: F401

    out: dict = {
        "peer": "gym-hil",
        "env_id": ENV_ID,
        "machine": _timing.machine(),
        "versions": {k: version(k) for k in ("gym-hil", "mujoco", "gymnasium", "numpy")},
        "mujoco_gl": os.environ.get("MUJOCO_GL"),
        "figures": {},
        "errors": {},
    }
    figs, errs = out["figures"], out["errors"]
    rng = np.random.default_rng(0)
    acts = rng.uniform(-1, 1, (4096, 7)).astype(np.float32)

    env = make_env()
    u = env.unwrapped
    out["control_dt"] = u.control_dt
    out["physics_dt"] = float(u.model.opt.timestep)
    out["n_substeps"] = int(u._n_substeps)
    sim_per_step = u._n_substeps * float(u.model.opt.timestep)
    out["sim_seconds_per_env_step"] = sim_per_step
    out["max_episode_steps"] = env.spec.max_episode_steps
    try:
        eps = record(env, args.episodes, np.random.default_rng(1))
        res = env_vs_raw(env, eps, args.repeats)
        figs.update({k: v for k, v in res.items() if isinstance(v, dict)})
        figs["env_over_raw"] = _timing.figure(
            [
                a / b
                for a, b in zip(
                    figs["env_step_state"]["samples"],
                    figs["raw_control_equiv"]["samples"],
                    strict=True,
                )
            ],
            "ratio",
            note="env.step rate / raw control-equivalent rate, paired per repeat",
        )
        out["replay_max_abs_state_diff"] = res["replay_max_abs_state_diff"]
        out["env_vs_raw_episodes"] = res["episodes"]
    except Exception:
        errs["env_vs_raw"] = traceback.format_exc(limit=3)

    i = 0

    def single(e=env):
        nonlocal i
        _, _, term, trunc, _ = e.step(acts[i % len(acts)])
        i += 1
        if term or trunc:
            e.reset()

    env.reset(seed=0)
    figs["env_state"] = _timing.rate(
        single,
        duration=args.duration,
        repeats=args.repeats,
        unit="env steps/s",
        note="random actions, resets included, state obs",
    )
    figs["sim_s_per_wall_s_state"] = _timing.scale(
        figs["env_state"], sim_per_step, "sim s / wall s"
    )
    env.close()

    try:
        penv = make_env(image_obs=True)
        obs, _ = penv.reset(seed=0)
        out["pixel_shapes"] = {k: list(v.shape) for k, v in obs["pixels"].items()}
        figs["env_pixels_2x128"] = _timing.rate(
            lambda: single(penv),
            duration=args.pixel_duration,
            repeats=args.repeats,
            unit="env steps/s",
            min_calls=3,
            warmup=1,
            note="image_obs=True: front + wrist 128x128 (its default render settings)",
        )
        figs["sim_s_per_wall_s_pixels"] = _timing.scale(
            figs["env_pixels_2x128"], sim_per_step, "sim s / wall s"
        )
        penv.close()
    except Exception:
        errs["pixels"] = traceback.format_exc(limit=3)

    try:
        venv = gym.vector.AsyncVectorEnv([make_env, make_env], context="forkserver")
        venv.reset(seed=0)
        j = 0

        def vstep():
            nonlocal j
            venv.step(np.stack([acts[j % len(acts)], acts[(j + 7) % len(acts)]]))
            j += 1
            return 2

        figs["async2"] = _timing.rate(
            vstep,
            duration=args.duration,
            repeats=args.repeats,
            unit="env steps/s (total)",
            note="AsyncVectorEnv, 2 workers, forkserver, state obs",
        )
        venv.close()
    except Exception:
        errs["async2"] = traceback.format_exc(limit=3)
    out["machine"]["loadavg_after"] = list(os.getloadavg())
    print(json.dumps(out))


if __name__ == "__main__":
    main()
