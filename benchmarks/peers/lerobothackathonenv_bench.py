"""Peer runner: lerobothackathonenv ``LeRobot-v0`` (SO-101 tabletop scene on dm_control).

Run with the peer's own interpreter (``benchmarks/_venvs/lerobothackathonenv/bin/python``).
Prints one JSON object on the last line of stdout.

``LeRobot-v0`` wraps ``dm_control.rl.control.Environment`` with its defaults: one physics
step per ``env.step`` (no control substeps), no time limit, action = ``data.ctrl``
(float64[6]). Random actions, uniform in [-1, 1]^6, seeded.

* ``raw_physics``: ``mujoco.mj_step`` of its compiled model on the same recorded actions,
  written to ``data.ctrl`` one per physics step (exactly the physics its step runs).
* ``env_step``: ``env.step`` on the same recorded actions (episode = ``--steps`` steps).
* ``async2``: ``gymnasium.vector.AsyncVectorEnv`` with 2 workers.
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

ENV_ID = "LeRobot-v0"


def make_env():
    import lerobothackathonenv  # noqa: F401  (registers LeRobot-v0)

    return gym.make(ENV_ID)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--duration", type=float, default=2.0, help="seconds per timed repeat")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--steps", type=int, default=5000, help="recorded actions for env vs raw")
    args = p.parse_args()
    from importlib.metadata import version

    import lerobothackathonenv  # noqa: F401

    out: dict = {
        "peer": "lerobothackathonenv",
        "env_id": ENV_ID,
        "machine": _timing.machine(),
        "versions": {
            k: version(k)
            for k in ("lerobothackathonenv", "dm-control", "mujoco", "gymnasium", "numpy")
        },
        "figures": {},
        "errors": {},
    }
    figs, errs = out["figures"], out["errors"]
    env = make_env()
    dmc = env.unwrapped.dm_control_env
    m = dmc.physics.model._model
    n_sub = int(dmc._n_sub_steps)
    dt = float(m.opt.timestep)
    out.update(
        physics_dt=dt,
        n_substeps=n_sub,
        sim_seconds_per_env_step=n_sub * dt,
        control_hz=1.0 / (n_sub * dt),
        max_episode_steps=env.spec.max_episode_steps,
    )
    rng = np.random.default_rng(0)
    acts = rng.uniform(-1, 1, (args.steps, 6))

    # env.step vs raw mj_step on identical actions from identical start states.
    try:
        env.reset(seed=0)
        start_size = mujoco.mj_stateSize(m, mujoco.mjtState.mjSTATE_FULLPHYSICS)
        start = np.empty(start_size)
        mujoco.mj_getState(m, dmc.physics.data._data, start, mujoco.mjtState.mjSTATE_FULLPHYSICS)
        d = mujoco.MjData(m)
        env_r, raw_r, env_cpu, raw_cpu, env_t, raw_t = [], [], 0.0, 0.0, 0.0, 0.0
        for _ in range(args.repeats):
            env.reset(seed=0)
            mujoco.mj_setState(
                m, dmc.physics.data._data, start, mujoco.mjtState.mjSTATE_FULLPHYSICS
            )
            c0, t0 = time.process_time(), time.perf_counter()
            for a in acts:
                env.step(a)
            t = time.perf_counter() - t0
            env_cpu += time.process_time() - c0
            env_r.append(len(acts) / t)
            env_t += t
            mujoco.mj_setState(m, d, start, mujoco.mjtState.mjSTATE_FULLPHYSICS)
            c0, t0 = time.process_time(), time.perf_counter()
            for a in acts:
                d.ctrl[:] = a
                mujoco.mj_step(m, d, nstep=n_sub)
            t = time.perf_counter() - t0
            raw_cpu += time.process_time() - c0
            raw_r.append(len(acts) / t)
            raw_t += t
        n = len(acts) * args.repeats
        figs["env_step"] = _timing.figure(
            env_r,
            "env steps/s",
            count=n,
            seconds=env_t,
            cpu_seconds=env_cpu,
            note="recorded random actions",
        )
        figs["raw_control_equiv"] = _timing.figure(
            raw_r,
            "control steps/s",
            count=n,
            seconds=raw_t,
            cpu_seconds=raw_cpu,
            note=f"mj_step(nstep={n_sub}) per recorded action, ctrl = action",
        )
        figs["raw_physics"] = _timing.figure(
            [r * n_sub for r in raw_r],
            "physics steps/s",
            count=n * n_sub,
            seconds=raw_t,
            cpu_seconds=raw_cpu,
        )
        figs["env_over_raw"] = _timing.figure(
            [a / b for a, b in zip(env_r, raw_r, strict=True)],
            "ratio",
            note="env.step rate / raw rate, paired per repeat",
        )
        figs["sim_s_per_wall_s"] = _timing.scale(figs["env_step"], n_sub * dt, "sim s / wall s")
        out["replay_max_abs_qpos_diff"] = float(np.max(np.abs(d.qpos - dmc.physics.data.qpos)))
    except Exception:
        errs["env_vs_raw"] = traceback.format_exc(limit=3)
    env.close()

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
            note="AsyncVectorEnv, 2 workers, forkserver",
        )
        figs["sim_s_per_wall_s_async2"] = _timing.scale(
            figs["async2"], n_sub * dt, "sim s / wall s (total)"
        )
        venv.close()
    except Exception:
        errs["async2"] = traceback.format_exc(limit=3)
    out["machine"]["loadavg_after"] = list(os.getloadavg())
    print(json.dumps(out))


if __name__ == "__main__":
    main()
