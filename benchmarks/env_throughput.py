#!/usr/bin/env python
"""Env throughput of armgym, against raw MuJoCo and two peers, measured in one run.

    .venv/bin/python benchmarks/env_throughput.py            # full run (~5-10 min)
    .venv/bin/python benchmarks/env_throughput.py --quick    # smoke run (seconds, no peers)

Writes ``benchmarks/results/env_throughput.json`` (machine, versions, command line, every
figure with unit and sample count, pass/fail per target) and ``env_throughput.png``.
``--quick`` writes to a temporary folder unless ``--out-dir`` is given.

What is measured (``armgym/PickCube-v0``, Panda, ``ee_delta`` control at 10 Hz, physics
timestep 2 ms → 50 substeps per env step):

1. ``env.step`` vs raw ``mujoco.mj_step(model, data, nstep=50)`` of the same compiled model
   on the same trajectories: episodes of the scripted expert
   (``ScriptedPolicy.for_env(env)``) are recorded once (start state, actions, actuator
   targets), then replayed alternately through ``env.step`` (recorded actions, same seeds)
   and through bare ``mj_step`` (recorded ``data.ctrl``, same start states). Resets are not
   timed in either. The replay is checked to reproduce the env's final ``qpos``.
2. gymnasium ``SyncVectorEnv`` and ``AsyncVectorEnv`` with 2 envs, state obs, random
   actions (uniform in [-1, 1]^7, seeded), autoreset included; the single-env baseline is the
   same random-action loop with resets included.
3. ``BatchedEnv`` (one model, N MjData, physics in C threads) for N = 1 … 64.
4. Pixel obs, one camera (front) and two (front, wrist), 84², 128², 224².
5. Simulated seconds per wall second (env steps/s × 0.1 s).
6. Peers, each in its own venv under ``benchmarks/_venvs/`` (created on first use):
   gym-hil 0.1.14 ``gym_hil/PandaPickCubeBase-v0`` and lerobothackathonenv 0.2.0
   ``LeRobot-v0`` (``benchmarks/peers/<peer>_bench.py`` print JSON that is collected here).
7. Every installed robot model (primitive and mesh variants, e.g. ``panda-menagerie`` with
   ``$ARMGYM_MODEL_PATHS``), pixel obs front + wrist at 128²; and the table/backdrop/lights
   scene against the same scene with those extras hidden (renders/s). Only this section:
   ``--sections models --peers --out-dir benchmarks/results/models_render``.

Every figure is the median of ``--repeats`` timed samples; the spread, the sample count and
this process's CPU share (CPU seconds / wall seconds) are kept beside it, because the
machine may be shared: the load average and Linux CPU pressure are recorded before and after.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

os.environ.setdefault("MUJOCO_GL", "egl")  # before mujoco: pixel obs need an offscreen GL

import gymnasium as gym
import mujoco
import numpy as np

import armgym  # registers armgym/<Task>-v0
from armgym.envs.batched import BatchedEnv
from armgym.policies.scripted import ScriptedPolicy

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEERS_DIR = HERE / "peers"
VENVS = HERE / "_venvs"
ENV_ID = "armgym/PickCube-v0"
STATE_SPEC = mujoco.mjtState.mjSTATE_INTEGRATION | mujoco.mjtState.mjSTATE_WARMSTART


def _load_timing():
    spec = importlib.util.spec_from_file_location("_timing", PEERS_DIR / "_timing.py")
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


T = _load_timing()

#: pip requirements per peer; ``note`` says why a pin differs from the bare package.
PEERS: dict[str, dict[str, Any]] = {
    "gym-hil": {
        "requirements": ["gym-hil==0.1.14"],
        "script": "gym_hil_bench.py",
        "note": "gym-hil pins mujoco<3.9 (pip takes 3.8.x)",
    },
    "lerobothackathonenv": {
        "requirements": ["lerobothackathonenv==0.2.0", "dm-control==1.0.50", "mujoco==3.17.0"],
        "script": "lerobothackathonenv_bench.py",
        "note": "dm-control 1.0.50 does not load models on mujoco 4.0.0 "
        "(AttributeError: 'MjModel' object has no attribute 'flex_vertedge'); "
        "mujoco pinned to 3.17.0",
    },
}


# -- helpers --------------------------------------------------------------------------------
class RandomActions:
    """Seeded uniform actions in [-1, 1]^7, cycled from a fixed table (no RNG in the loop)."""

    def __init__(self, shape: tuple[int, ...], seed: int = 0, n: int = 4096):
        self.table = np.random.default_rng(seed).uniform(-1, 1, (n, *shape)).astype(np.float32)
        self.i = 0

    def __call__(self) -> np.ndarray:
        a = self.table[self.i % len(self.table)]
        self.i += 1
        return a


def single_env_loop(env: gym.Env) -> Any:
    """Random actions through one env, resets included (as in a training loop)."""
    act = RandomActions(env.action_space.shape)
    env.reset(seed=0)

    def step() -> int:
        _, _, term, trunc, _ = env.step(act())
        if term or trunc:
            env.reset()
        return 1

    return step


def vector_loop(venv: gym.vector.VectorEnv) -> Any:
    """Random actions through a vector env (its own autoreset included); counts all envs."""
    act = RandomActions(venv.action_space.shape)
    venv.reset(seed=0)
    n = venv.num_envs

    def step() -> int:
        venv.step(act())
        return n

    return step


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')} load {os.getloadavg()[0]:.2f}] {msg}", flush=True)


# -- 1. env.step vs raw mj_step -------------------------------------------------------------
def record_expert(env: gym.Env, episodes: int) -> tuple[list[dict], int]:
    """Scripted-expert episodes: start state, actions and the ctrl each step applied."""
    pol = ScriptedPolicy.for_env(env)
    robot = env.unwrapped.robot
    m, d = robot.model, robot.data
    size = mujoco.mj_stateSize(m, STATE_SPEC)
    eps, successes = [], 0
    for e in range(episodes):
        obs, _ = env.reset(seed=e)
        pol.reset()
        start = np.empty(size)
        mujoco.mj_getState(m, d, start, STATE_SPEC)
        actions, ctrls = [], []
        while True:
            a = pol(obs)
            obs, _, term, trunc, info = env.step(a)
            actions.append(a)
            ctrls.append(d.ctrl.copy())
            if term or trunc:
                successes += bool(info["is_success"])
                break
        eps.append(
            {
                "seed": e,
                "start": start,
                "actions": actions,
                "ctrl": ctrls,
                "end_qpos": d.qpos.copy(),
            }
        )
    return eps, successes


def bench_env_vs_raw(args: argparse.Namespace) -> dict[str, Any]:
    env = gym.make(ENV_ID, obs="state")
    robot = env.unwrapped.robot
    m, k = robot.model, robot.n_substeps
    eps, successes = record_expert(env, args.episodes)
    steps = sum(len(e["actions"]) for e in eps)
    d = mujoco.MjData(m)
    env_r, raw_r, env_t, raw_t, env_c, raw_c = [], [], 0.0, 0.0, 0.0, 0.0
    env_sh, raw_sh, cpu_ratio = [], [], []
    max_dev = 0.0
    for _ in range(args.repeats_pair):
        # env and raw alternate per episode, so both see the same load on a shared machine
        te = ce = tr = cr = 0.0
        for e in eps:
            env.reset(seed=e["seed"])
            c0, t0 = time.process_time(), time.perf_counter()
            for a in e["actions"]:
                env.step(a)
            te += time.perf_counter() - t0
            ce += time.process_time() - c0
            mujoco.mj_setState(m, d, e["start"], STATE_SPEC)
            c0, t0 = time.process_time(), time.perf_counter()
            for ctrl in e["ctrl"]:
                d.ctrl[:] = ctrl
                mujoco.mj_step(m, d, nstep=k)
            tr += time.perf_counter() - t0
            cr += time.process_time() - c0
            max_dev = max(max_dev, float(np.max(np.abs(d.qpos - e["end_qpos"]))))
        env_r.append(steps / te)
        raw_r.append(steps / tr)
        env_sh.append(ce / te)
        raw_sh.append(cr / tr)
        cpu_ratio.append(cr / ce)
        env_t, env_c, raw_t, raw_c = env_t + te, env_c + ce, raw_t + tr, raw_c + cr
    n = steps * args.repeats_pair
    note = (
        f"{len(eps)} scripted-expert episodes ({steps} steps, {successes} successes), "
        "resets excluded, env and raw alternating per episode"
    )
    figs = {
        "env_step_expert": T.figure(
            env_r,
            "env steps/s",
            count=n,
            seconds=env_t,
            cpu_seconds=env_c,
            cpu_shares=env_sh,
            note="env.step only; " + note,
        ),
        "raw_control_equiv": T.figure(
            raw_r,
            "control steps/s",
            count=n,
            seconds=raw_t,
            cpu_seconds=raw_c,
            cpu_shares=raw_sh,
            note=f"mj_step(nstep={k}) per recorded ctrl; " + note,
        ),
        "raw_physics": T.figure(
            [r * k for r in raw_r], "physics steps/s", count=n * k, seconds=raw_t, cpu_seconds=raw_c
        ),
        "env_physics_equiv": T.figure(
            [r * k for r in env_r], "physics steps/s", count=n * k, seconds=env_t, cpu_seconds=env_c
        ),
        "env_over_raw": T.figure(
            [a / b for a, b in zip(env_r, raw_r, strict=True)],
            "ratio",
            count=len(env_r),
            note="paired per repeat (env then raw)",
        ),
        "env_over_raw_cpu": T.figure(
            cpu_ratio,
            "ratio",
            count=len(cpu_ratio),
            note="raw CPU seconds / env CPU seconds for the same steps, paired per repeat: "
            "the same ratio measured in CPU time, which preemption by other processes "
            "does not inflate (wall-clock ratio: env_over_raw)",
        ),
    }
    # closed loop: the expert's own inference included (what a data-collection loop costs)
    pol = ScriptedPolicy.for_env(env)
    state = {"obs": env.reset(seed=0)[0]}
    pol.reset()

    def closed() -> int:
        obs, _, term, trunc, _ = env.step(pol(state["obs"]))
        if term or trunc:
            obs, _ = env.reset()
            pol.reset()
        state["obs"] = obs
        return 1

    figs["env_step_expert_closed_loop"] = T.rate(
        closed,
        duration=args.duration,
        repeats=args.repeats,
        unit="env steps/s",
        note="env.step + ScriptedPolicy inference + resets",
    )
    env.close()
    return {
        "figures": figs,
        "replay_max_abs_qpos_diff": max_dev,
        "expert_episodes": len(eps),
        "expert_successes": successes,
        "expert_steps": steps,
    }


# -- 2 + 3. vector envs ---------------------------------------------------------------------
def _make_state_env() -> gym.Env:
    return gym.make(ENV_ID, obs="state")


def bench_vector(args: argparse.Namespace) -> dict[str, Any]:
    """Single env, Sync/Async vector envs and BatchedEnv sizes, sampled round-robin."""
    threads = os.cpu_count() or 1
    n1 = 8 if 8 in args.batched else args.batched[-1]
    context = "forkserver"
    envs: dict[str, Any] = {
        "single_random": _make_state_env(),
        "sync2": gym.vector.SyncVectorEnv([_make_state_env] * 2),
        "async2": gym.vector.AsyncVectorEnv([_make_state_env] * 2, context=context),
    }
    notes = {
        "single_random": "1 env, random actions, resets included",
        "sync2": "SyncVectorEnv, 2 envs",
        "async2": f"AsyncVectorEnv, 2 worker processes, {context}",
    }
    for n in args.batched:
        envs[f"batched_{n}"] = BatchedEnv("PickCube", n, obs="state")
        notes[f"batched_{n}"] = f"BatchedEnv N={n}, {min(n, threads)} physics threads"
    envs[f"batched_{n1}_1thread"] = BatchedEnv("PickCube", n1, obs="state", num_threads=1)
    notes[f"batched_{n1}_1thread"] = f"BatchedEnv N={n1}, 1 thread (no parallel physics)"
    loops = {
        k: single_env_loop(e) if k == "single_random" else vector_loop(e) for k, e in envs.items()
    }
    units = {k: "env steps/s" if k == "single_random" else "env steps/s (total)" for k in envs}
    # Parallel capacity probe: pure C physics (8 MjData, GIL released) on 1 vs 2 threads, in
    # the same rounds. If 2 threads do not beat 1 here, no second core was free to anyone.
    pool = ThreadPoolExecutor(2)
    for t in (1, 2):
        key = f"raw8_{t}thread" + ("s" if t > 1 else "")
        loops[key] = raw_threads_loop(envs[f"batched_{n1}"], t, pool)
        units[key] = "control steps/s (total)"
        notes[key] = f"mj_step(nstep=50) on 8 MjData of one model, {t} thread(s), no Python work"
    figs = T.rate_many(
        loops, duration=args.duration, repeats=args.repeats, units=units, notes=notes, log=log
    )
    for e in envs.values():
        e.close()
    pool.shutdown()
    figs["parallel_capacity"] = T.paired(
        figs["raw8_2threads"],
        figs["raw8_1thread"],
        note="raw physics 2 threads / 1 thread, paired per round: the speedup any "
        "2-way parallel loop could get on this machine during the run (2.0 = two free cores)",
    )
    base = figs["single_random"]
    for key in [k for k in figs if k.startswith(("sync", "async", "batched_"))]:
        figs[f"speedup_{key}"] = T.paired(
            figs[key], base, note=f"{key} / single env, paired per round"
        )
        figs[key]["speedup_vs_single"] = figs[f"speedup_{key}"]["value"]
    return {"figures": figs}


def raw_threads_loop(benv: BatchedEnv, threads: int, pool: ThreadPoolExecutor) -> Any:
    """8 copies of a reset PickCube state stepped in C on ``threads`` threads."""
    robot = benv.robots[0]
    m, k = robot.model, robot.n_substeps
    datas = []
    for _ in range(8):
        d = mujoco.MjData(m)
        d.qpos[:], d.ctrl[:] = robot.data.qpos, robot.data.ctrl
        datas.append(d)
    chunks = [datas[i::threads] for i in range(threads)]

    def work(chunk: list[mujoco.MjData]) -> None:
        for d in chunk:
            mujoco.mj_step(m, d, nstep=k)

    def step() -> int:
        if threads == 1:
            work(datas)
        else:
            list(pool.map(work, chunks))
        return len(datas)

    return step


# -- 4. pixels ------------------------------------------------------------------------------
def bench_pixels(args: argparse.Namespace) -> dict[str, Any]:
    """One and two cameras at each size, sampled round-robin; random actions, resets included."""
    envs, notes = {}, {}
    for cams in (("front",), ("front", "wrist")):
        for s in args.sizes:
            key = f"pixels_{len(cams)}cam_{s}"
            envs[key] = gym.make(ENV_ID, obs="pixels", cameras=cams, image_size=(s, s))
            notes[key] = f"obs=pixels, cameras={list(cams)}, {s}x{s}, random actions"
    figs = T.rate_many(
        {k: single_env_loop(e) for k, e in envs.items()},
        duration=args.duration,
        repeats=args.repeats,
        units=dict.fromkeys(envs, "env steps/s"),
        notes=notes,
        log=log,
    )
    for e in envs.values():
        e.close()
    return {"figures": figs}


# -- 7. robot models and scene ----------------------------------------------------------------
ARENA_EXTRAS = ("backdrop", "ground")  # geoms the table/backdrop scene added (besides the table)


def _render_loop(model: mujoco.MjModel, bare: bool) -> Any:
    """Render front + wrist at 128² from one state; ``bare`` hides the arena's backdrop and
    ground, its fill light and the sky (the scene before issue 14 had a floor plane only)."""
    renderer, data = mujoco.Renderer(model, 128, 128), mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    opt = mujoco.MjvOption()
    if bare:
        model = model.__copy__()
        for name in ARENA_EXTRAS:
            model.geom_group[model.geom(name).id] = 5  # not shown by the default option
        model.light_active[1:] = 0
        renderer = mujoco.Renderer(model, 128, 128)
        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SKYBOX] = 0

    def step() -> int:
        for cam in ("front", "wrist"):
            renderer.update_scene(data, camera=cam, scene_option=opt)
            renderer.render()
        return 1

    return step


def bench_models(args: argparse.Namespace) -> dict[str, Any]:
    """Pixel env steps/s (front + wrist, 128², random actions) for every installed robot model
    (primitive and mesh variants), sampled round-robin; and renders/s of the Panda scene with
    and without the table-scene extras (same model, same state, interleaved)."""
    loops, units, notes, envs = {}, {}, {}, []
    for name in args.models or armgym.ROBOTS.names():
        env = gym.make(ENV_ID, robot=name, obs="pixels", cameras=("front", "wrist"),
                       image_size=(128, 128))  # fmt: skip
        envs.append(env)
        key = f"model_2cam_128_{name}"
        loops[key], units[key] = single_env_loop(env), "env steps/s"
        notes[key] = f"robot={name}, obs=pixels, cameras=[front, wrist], 128x128, random actions"
    scene = gym.make(ENV_ID, obs="state").unwrapped.robot.model
    for key, bare in (("scene_arena_2cam_128", False), ("scene_bare_2cam_128", True)):
        loops[key], units[key] = _render_loop(scene, bare), "front+wrist renders/s"
        notes[key] = "panda PickCube, " + (
            "backdrop/ground/fill light/sky hidden" if bare else "full scene"
        )
    figs = T.rate_many(loops, duration=args.duration, repeats=args.repeats, units=units,
                       notes=notes, log=log)  # fmt: skip
    for e in envs:
        e.close()
    return {"figures": figs}


# -- 6. peers -------------------------------------------------------------------------------
def ensure_peer_venv(name: str) -> tuple[Path | None, str]:
    """Create ``benchmarks/_venvs/<name>`` with the peer's requirements (once). -> (python, log)."""
    req = PEERS[name]["requirements"]
    venv = VENVS / name
    py = venv / "bin" / "python"
    marker = venv / ".armgym-requirements"
    if py.exists() and marker.exists() and marker.read_text() == "\n".join(req):
        return py, "reused"
    log(f"creating {venv} with {req}")
    venv.parent.mkdir(parents=True, exist_ok=True)
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [str(py), "-m", "pip", "install", "--disable-pip-version-check", "-q", *req],
    ]
    for cmd in steps:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            tail = [ln for ln in proc.stderr.splitlines() if "is ignored" not in ln][-15:]
            return None, f"{shlex.join(cmd)} failed ({proc.returncode}):\n" + "\n".join(tail)
    marker.write_text("\n".join(req))
    return py, "installed"


def run_peer(name: str, args: argparse.Namespace) -> dict[str, Any]:
    try:
        py, install = ensure_peer_venv(name)
    except Exception:
        py, install = None, traceback.format_exc(limit=2)
    if py is None:
        return {"peer": name, "error": "install failed", "install_log": install}
    cmd = [
        str(py),
        str(PEERS_DIR / PEERS[name]["script"]),
        "--duration",
        str(args.duration),
        "--repeats",
        str(args.repeats),
    ]
    if args.quick:
        cmd += (
            ["--episodes", "2", "--pixel-duration", "1"]
            if name == "gym-hil"
            else ["--steps", "500"]
        )
    env = {**os.environ, "MUJOCO_GL": "egl", "PYTHONWARNINGS": "ignore"}
    log(f"peer {name}: {shlex.join(cmd)}")
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=env, cwd=PEERS_DIR, timeout=args.peer_timeout
        )
    except subprocess.TimeoutExpired:
        return {"peer": name, "error": f"timed out after {args.peer_timeout} s", "command": cmd}
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    try:
        out = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        err = [ln for ln in proc.stderr.splitlines() if ln.strip()][-20:]
        return {"peer": name, "error": f"exit {proc.returncode}, no JSON", "stderr_tail": err}
    out.update(
        command=shlex.join(cmd),
        install=install,
        install_note=PEERS[name]["note"],
        requirements=PEERS[name]["requirements"],
    )
    return out


# -- targets, table, plot -------------------------------------------------------------------
def _v(figs: dict, key: str) -> float | None:
    f = figs.get(key)
    return None if f is None else float(f["value"])


def evaluate_targets(res: dict[str, Any]) -> dict[str, Any]:
    figs, peers = res["figures"], res["peers"]
    hil = peers.get("gym-hil", {}).get("figures", {})
    batched = {k: v for k, v in figs.items() if k.startswith("batched_") and "thread" not in k}
    best = max(batched, key=lambda k: batched[k]["speedup_vs_single"]) if batched else None
    two128 = _v(figs, "pixels_2cam_128")
    ours_sim, hil_sim = (
        _v(figs, "sim_s_per_wall_s_single_random"),
        _v(hil, "sim_s_per_wall_s_state"),
    )

    def target(value: float | None, goal: float, what: str, why: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {
            "value": value,
            "target": f">= {goal:g}",
            "what": what,
            "pass": None if value is None else bool(value >= goal),
        }
        if value is None:
            out["reason"] = why or "not measured in this run"
        return out

    batched_t = target(
        None if best is None else batched[best]["speedup_vs_single"],
        1.7,
        f"best BatchedEnv total steps/s ({best}) / single env steps/s, paired per round",
    )
    cap = _v(figs, "parallel_capacity")
    batched_t["machine_parallel_capacity"] = cap
    if cap is not None and cap < 1.7:
        batched_t["note"] = (
            f"during this run 2 threads of pure C physics ran only {cap:.2f}x faster than 1 "
            "(median over rounds): the second core was partly busy with other work, so this "
            "run understates every parallel figure; see docs/performance.md"
        )
    env_raw = target(
        _v(figs, "env_over_raw_cpu"),
        0.80,
        "env.step rate / raw mj_step(nstep=50) rate on the same expert trajectories, "
        "rates per CPU second (robust to preemption on a shared machine)",
    )
    env_raw["wall_clock_ratio"] = _v(figs, "env_over_raw")
    return {
        "env_step_vs_raw_physics": env_raw,
        "sim_speed_vs_gym_hil": target(
            None if ours_sim is None or hil_sim is None else ours_sim / hil_sim,
            4.0,
            "PickCube sim s per wall s / gym-hil PandaPickCubeBase sim s per wall s "
            "(one env, state obs, random actions, resets included)",
            "gym-hil not measured: " + str(peers.get("gym-hil", {}).get("error", "skipped")),
        ),
        "two_cameras_128": target(two128, 100.0, "env steps/s, front + wrist at 128x128"),
        "batched_speedup": batched_t,
    }


def _fmt(x: float | None, digits: int = 3) -> str:
    if x is None:
        return "n/a"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def _row(name: str, fig: dict | None, extra: str = "") -> str:
    if fig is None:
        return f"| {name} | n/a | | | | {extra} |"
    spread = f"{_fmt(fig['min'])}–{_fmt(fig['max'])} (n={fig['n_samples']})"
    share = f"{fig['cpu_share']:.2f}" if "cpu_share" in fig else ""
    return f"| {name} | {_fmt(fig['value'])} | {fig['unit']} | {spread} | {share} | {extra} |"


def markdown_table(res: dict[str, Any]) -> str:
    f, peers = res["figures"], res["peers"]
    hil = peers.get("gym-hil", {}).get("figures", {})
    lr = peers.get("lerobothackathonenv", {}).get("figures", {})
    rows = [
        "| measurement | median | unit | min–max (samples) | CPU share | note |",
        "| --- | ---: | --- | --- | ---: | --- |",
    ]
    add = rows.append
    add(_row("raw `mj_step(nstep=50)`, PickCube scene", f.get("raw_physics")))
    add(_row("raw `mj_step`, as 10 Hz control steps", f.get("raw_control_equiv")))
    add(_row("`env.step`, state obs, expert actions", f.get("env_step_expert")))
    add(_row("`env.step` / raw physics, wall clock", f.get("env_over_raw")))
    add(_row("**`env.step` / raw physics, CPU time**", f.get("env_over_raw_cpu"), "target ≥ 0.80"))
    add(_row("env + scripted expert, closed loop", f.get("env_step_expert_closed_loop")))
    add(_row("`env.step`, random actions, resets incl.", f.get("single_random")))
    for key, name in (("sync2", "SyncVectorEnv, 2 envs"), ("async2", "AsyncVectorEnv, 2 workers")):
        fig = f.get(key)
        add(_row(name, fig, f"{fig['speedup_vs_single']:.2f}× single" if fig else ""))
    for key in sorted(
        (k for k in f if k.startswith("batched_")), key=lambda k: (int(k.split("_")[1]), k)
    ):
        n = key.split("_")[1]
        label = f"BatchedEnv N={n}" + (", 1 thread" if "thread" in key else "")
        add(_row(label, f[key], f"{f[key]['speedup_vs_single']:.2f}× single"))
    add(_row("raw physics, 8 MjData, 1 thread", f.get("raw8_1thread")))
    add(_row("raw physics, 8 MjData, 2 threads", f.get("raw8_2threads")))
    add(
        _row(
            "**free parallelism** (raw 2 threads / 1)",
            f.get("parallel_capacity"),
            "2.0 = two idle cores",
        )
    )
    pixel_keys = [k for k in f if k.startswith("pixels_")]
    for key in sorted(pixel_keys, key=lambda k: (k.split("_")[1], int(k.split("_")[2]))):
        _, cams, size = key.split("_")
        label = f"pixels, {'front' if cams == '1cam' else 'front + wrist'}, {size}²"
        add(_row(label, f[key], "target ≥ 100" if key == "pixels_2cam_128" else ""))
    add(
        _row("**PickCube sim s / wall s** (1 env, random)", f.get("sim_s_per_wall_s_single_random"))
    )
    add(_row("PickCube sim s / wall s (best BatchedEnv)", f.get("sim_s_per_wall_s_batched_best")))
    add(_row("gym-hil raw physics", hil.get("raw_physics")))
    add(_row("gym-hil `env.step` / raw physics", hil.get("env_over_raw")))
    add(_row("gym-hil `env.step`, state, random", hil.get("env_state")))
    add(_row("**gym-hil sim s / wall s**", hil.get("sim_s_per_wall_s_state")))
    add(_row("gym-hil 2 cameras 128² (its defaults)", hil.get("env_pixels_2x128")))
    add(_row("gym-hil AsyncVectorEnv, 2 workers", hil.get("async2")))
    add(_row("lerobothackathonenv `env.step` (1 physics step)", lr.get("env_step")))
    add(_row("lerobothackathonenv `env.step` / raw", lr.get("env_over_raw")))
    add(_row("lerobothackathonenv sim s / wall s", lr.get("sim_s_per_wall_s")))
    add(_row("lerobothackathonenv AsyncVectorEnv, 2 workers", lr.get("async2")))
    rows += ["", "| target | value | goal | result | note |", "| --- | ---: | --- | --- | --- |"]
    for name, t in res["targets"].items():
        verdict = {True: "pass", False: "**FAIL**", None: "not measured"}[t["pass"]]
        note = t.get("note", "")
        if "wall_clock_ratio" in t:
            note = f"wall-clock ratio {_fmt(t['wall_clock_ratio'])}"
        if "machine_parallel_capacity" in t:
            note = f"free parallelism in the run: {_fmt(t['machine_parallel_capacity'])}×"
        add(f"| {name} | {_fmt(t['value'])} | {t['target']} | {verdict} | {note} |")
    return "\n".join(rows)


def plot(res: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f, peers = res["figures"], res["peers"]
    fig, ax = plt.subplots(2, 2, figsize=(13, 9))
    title = (
        f"armgym env throughput — {res['machine']['cpu_model']}, {res['machine']['nproc']} "
        f"cores, load {res['machine']['loadavg_before'][0]:.1f}→"
        f"{res['machine']['loadavg_after'][0]:.1f}, {res['date'][:10]}"
    )
    fig.suptitle(title, fontsize=11)

    def bars(a, items, ylabel, ttl, hline=None, hlabel="", log=False):
        items = [(n, fg) for n, fg in items if fg is not None]
        names = [n for n, _ in items]
        vals = [fg["value"] for _, fg in items]
        errs = [
            [v - fg["min"] for v, (_, fg) in zip(vals, items, strict=True)],
            [fg["max"] - v for v, (_, fg) in zip(vals, items, strict=True)],
        ]
        colors = [
            "tab:gray" if n.startswith(("raw", "gym-hil", "lerobot")) else "tab:blue" for n in names
        ]
        a.bar(range(len(vals)), vals, yerr=errs, color=colors, capsize=3)
        for i, v in enumerate(vals):
            a.text(i, v, _fmt(v), ha="center", va="bottom", fontsize=8)
        a.set_xticks(range(len(vals)), names, rotation=30, ha="right", fontsize=8)
        a.set_ylabel(ylabel)
        a.set_title(ttl, fontsize=10)
        if log:
            a.set_yscale("log")
        if hline is not None:
            a.axhline(hline, color="tab:red", ls="--", lw=1)
            box = {"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1}
            a.text(-0.45, hline, hlabel, color="tab:red", va="bottom", fontsize=8, bbox=box)

    raw = f.get("raw_control_equiv")
    bars(
        ax[0, 0],
        [
            ("raw mj_step", raw),
            ("env.step\n(expert)", f.get("env_step_expert")),
            ("env+expert\nclosed loop", f.get("env_step_expert_closed_loop")),
            ("env.step\n(random)", f.get("single_random")),
            ("Sync×2", f.get("sync2")),
            ("Async×2", f.get("async2")),
        ],
        "control steps/s (10 Hz, 50 physics steps each)",
        "1 process, state obs (first 3: expert trajectories; rest: random actions)",
        hline=0.8 * raw["value"] if raw else None,
        hlabel="target: 80 % of raw",
    )
    a = ax[0, 1]
    ns = sorted(int(k.split("_")[1]) for k in f if k.startswith("batched_") and "thread" not in k)
    if ns:
        vals = [f[f"batched_{n}"]["value"] for n in ns]
        lo = [f[f"batched_{n}"]["min"] for n in ns]
        hi = [f[f"batched_{n}"]["max"] for n in ns]
        a.plot(ns, vals, "o-", label="BatchedEnv total steps/s")
        a.fill_between(ns, lo, hi, alpha=0.2)
        base = f["single_random"]["value"]
        a.axhline(base, color="tab:gray", ls=":", label="single env")
        a.axhline(1.7 * base, color="tab:red", ls="--", lw=1, label="target 1.7× single")
        if f.get("parallel_capacity"):
            cap = f["parallel_capacity"]["value"]
            a.text(
                0.02,
                0.03,
                f"free parallelism during run (raw C physics 2 threads / 1): {cap:.2f}×",
                transform=a.transAxes,
                fontsize=8,
            )
        if f.get("async2"):
            a.axhline(f["async2"]["value"], color="tab:green", ls="-.", label="AsyncVectorEnv×2")
        a.set_ylim(bottom=0, top=max(max(hi), 1.7 * base) * 1.15)
        a.set_xscale("log", base=2)
        a.set_xticks(ns, [str(n) for n in ns])
        a.set_xlabel("num_envs N")
        a.set_ylabel("env steps/s (all envs)")
        a.set_title("BatchedEnv: one model, N MjData, physics on C threads", fontsize=10)
        a.legend(fontsize=8)
    a = ax[1, 0]
    sizes = sorted({int(k.split("_")[2]) for k in f if k.startswith("pixels_")})
    width = 0.38
    for j, cams in enumerate(("1cam", "2cam")):
        vals = [f.get(f"pixels_{cams}_{s}", {}).get("value", 0) for s in sizes]
        xs = [i + (j - 0.5) * width for i in range(len(sizes))]
        a.bar(xs, vals, width, label="front" if cams == "1cam" else "front + wrist")
        for x, v in zip(xs, vals, strict=True):
            a.text(x, v, _fmt(v), ha="center", va="bottom", fontsize=8)
    hil_pix = peers.get("gym-hil", {}).get("figures", {}).get("env_pixels_2x128")
    a.axhline(100, color="tab:red", ls="--", lw=1, label="target: 2 cams 128² ≥ 100")
    if hil_pix:
        a.axhline(
            hil_pix["value"],
            color="tab:gray",
            ls=":",
            label=f"gym-hil 2 cams 128²: {_fmt(hil_pix['value'])}",
        )
    a.set_xticks(range(len(sizes)), [f"{s}²" for s in sizes])
    a.set_ylim(top=a.get_ylim()[1] * 1.35)
    a.set_ylabel("env steps/s")
    a.set_title("Pixel observations (CPU rendering, EGL/llvmpipe)", fontsize=10)
    a.legend(fontsize=8, loc="upper right", ncol=2)
    hil = peers.get("gym-hil", {}).get("figures", {})
    lr = peers.get("lerobothackathonenv", {}).get("figures", {})
    bars(
        ax[1, 1],
        [
            ("armgym 1 env", f.get("sim_s_per_wall_s_single_random")),
            ("armgym\nBatchedEnv best", f.get("sim_s_per_wall_s_batched_best")),
            ("armgym 2 cams\n128²", f.get("sim_s_per_wall_s_pixels_2cam_128")),
            ("gym-hil 1 env", hil.get("sim_s_per_wall_s_state")),
            ("gym-hil 2 cams\n128²", hil.get("sim_s_per_wall_s_pixels")),
            ("lerobot-\nhackathonenv", lr.get("sim_s_per_wall_s")),
        ],
        "simulated s per wall s (log)",
        "Simulated seconds per wall second (grey = peers)",
        hline=4 * hil["sim_s_per_wall_s_state"]["value"]
        if hil.get("sim_s_per_wall_s_state")
        else None,
        hlabel="target 4× gym-hil",
        log=True,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- main -----------------------------------------------------------------------------------
def _git() -> dict[str, Any]:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = (
            subprocess.run(
                ["git", "status", "--porcelain", "--", "src"],
                cwd=ROOT,
                capture_output=True,
                text=True,
            ).stdout.strip()
            != ""
        )
        return {"commit": head or None, "src_dirty": dirty}
    except OSError:
        return {"commit": None}


SECTIONS = {
    "env_vs_raw": bench_env_vs_raw,
    "vector": bench_vector,
    "pixels": bench_pixels,
    "models": bench_models,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: tiny durations, few sizes, no peers unless --peers is given",
    )
    p.add_argument(
        "--duration", type=float, help="seconds per timed sample (default 1.5, quick 0.2)"
    )
    p.add_argument("--repeats", type=int, help="timed samples per figure (default 5, quick 1)")
    p.add_argument("--episodes", type=int, help="expert episodes for env vs raw (default 20)")
    p.add_argument("--batched", type=int, nargs="+", help="BatchedEnv sizes N")
    p.add_argument("--sizes", type=int, nargs="+", help="square image sizes for pixel obs")
    p.add_argument(
        "--peers", nargs="*", choices=list(PEERS), help="peers to run (default: all; quick: none)"
    )
    p.add_argument("--peer-timeout", type=float, default=600.0, help="seconds per peer run")
    p.add_argument(
        "--sections", nargs="+", choices=list(SECTIONS), default=list(SECTIONS),
        help="what to measure (default: all)",
    )  # fmt: skip
    p.add_argument("--models", nargs="+", help="robots for the models section (default: all)")
    p.add_argument(
        "--out-dir",
        type=Path,
        help="where the JSON and PNG go (default benchmarks/results; quick: a temp dir)",
    )
    a = p.parse_args(argv)
    q = a.quick
    a.duration = a.duration or (0.2 if q else 1.5)
    a.repeats = a.repeats or (1 if q else 5)
    a.repeats_pair = a.repeats if q else max(a.repeats, 7)
    a.episodes = a.episodes or (2 if q else 20)
    a.batched = a.batched or ([1, 2, 8] if q else [1, 2, 4, 8, 16, 32, 64])
    a.sizes = a.sizes or ([84, 128] if q else [84, 128, 224])
    a.peers = (list(PEERS) if not q else []) if a.peers is None else a.peers
    a.out_dir = a.out_dir or (
        Path(tempfile.gettempdir()) / "armgym_env_throughput_quick" if q else HERE / "results"
    )
    return a


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    from importlib.metadata import version

    t_start = time.perf_counter()
    machine = T.machine()
    machine["loadavg_before"] = machine.pop("loadavg")
    machine["cpu_pressure_before"] = machine.pop("cpu_pressure")
    probe = gym.make(ENV_ID, obs="state").unwrapped
    m = probe.robot.model
    res: dict[str, Any] = {
        "benchmark": "env_throughput",
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": shlex.join(
            [
                Path(sys.executable).name and ".venv/bin/python",
                "benchmarks/env_throughput.py",
                *(argv or sys.argv[1:]),
            ]
        ),
        "machine": machine,
        "versions": {k: version(k) for k in ("armgym", "numpy", "mujoco", "gymnasium")},
        "git": _git(),
        "mujoco_gl": os.environ.get("MUJOCO_GL"),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "scene": {
            "env_id": ENV_ID,
            "robot": "panda",
            "control": "ee_delta",
            "timestep_s": m.opt.timestep,
            "n_substeps": probe.robot.n_substeps,
            "control_hz": probe.robot.control_hz,
            "nbody": m.nbody,
            "ngeom": m.ngeom,
            "nv": m.nv,
            "nu": m.nu,
        },
        "figures": {},
        "peers": {},
        "errors": {},
    }
    control_period = probe.robot.n_substeps * m.opt.timestep
    probe.close()
    for name, fn in SECTIONS.items():
        if name not in args.sections:
            continue
        log(f"section {name}")
        try:
            out = fn(args)
        except Exception:
            res["errors"][name] = traceback.format_exc()
            log(f"section {name} FAILED:\n{res['errors'][name]}")
            continue
        res["figures"].update(out.pop("figures"))
        res.setdefault("details", {}).update(out)
    f = res["figures"]
    for key in ("single_random", "env_step_expert", "pixels_2cam_128"):
        if key in f:
            f[f"sim_s_per_wall_s_{key}"] = T.scale(f[key], control_period, "sim s / wall s")
    batched = [k for k in f if k.startswith("batched_") and "thread" not in k]
    if batched:
        best = max(batched, key=lambda k: f[k]["value"])
        f["sim_s_per_wall_s_batched_best"] = T.scale(
            f[best], control_period, "sim s / wall s", note=f"{best}, all envs together"
        )
    for peer in args.peers:
        res["peers"][peer] = run_peer(peer, args)
    machine["loadavg_after"] = list(os.getloadavg())
    machine["cpu_pressure_after"] = T.cpu_pressure()
    res["wall_seconds"] = round(time.perf_counter() - t_start, 1)
    res["targets"] = evaluate_targets(res)
    res["table_md"] = markdown_table(res)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    json_path, png_path = args.out_dir / "env_throughput.json", args.out_dir / "env_throughput.png"
    json_path.write_text(json.dumps(res, indent=1) + "\n")
    try:
        plot(res, png_path)
    except Exception:
        res["errors"]["plot"] = traceback.format_exc()
        json_path.write_text(json.dumps(res, indent=1) + "\n")
    print(res["table_md"])
    log(f"wrote {json_path} and {png_path} in {res['wall_seconds']} s")
    return res


if __name__ == "__main__":
    main()
