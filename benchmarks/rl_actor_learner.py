"""Asynchronous SAC: actor env steps/s, learner updates/s, and recovery times.

Every run is a real ``armgym train sac`` process (PickCube, panda, state, 5 scripted demos,
batch 256), as a user would start it:

- throughput: ``--actors 0`` (the single-process loop: env step and update in turn),
  ``--actors 1`` and ``--actors 2`` (local Ray). Rates are taken from the run's own log
  between the first and the last loss line (after ``learning_starts``), so process start,
  Ray start, demo generation and the final evaluation are not counted;
- recovery (``--actors 2 --actor-max-hz 50``, a robot-like pace): SIGKILL one actor's
  worker, time until the learner logs the replacement and until the new actor's first
  data arrive; wait for a checkpoint, SIGKILL the learner, time until its orphaned actors
  are gone; restart with ``--resume``, time until actors deliver data and the learner
  updates again, and check it continued from the checkpoint's step.

    PYTHONPATH=src python benchmarks/rl_actor_learner.py [--steps 800]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import machine_info, write_json

from armgym.train.sac_utils import read_log

SRC = Path(__file__).resolve().parents[1] / "src"
BASE = ["--task", "PickCube", "--robot", "panda", "--obs", "state", "--demos", "5",
        "--learning-starts", "500", "--eval-episodes", "2", "--eval-num-envs", "1",
        "--eval-every", "0", "--log-every", "25", "--no-progress"]  # fmt: skip


def start(out: Path, *extra: str) -> subprocess.Popen:
    # one torch thread in the learner, as in rl_update_speed.py: on 2 shared cores, torch's
    # default of 2 spinning OpenMP threads made updates ~100x slower at load 8
    env = {**os.environ, "PYTHONPATH": str(SRC), "MUJOCO_GL": "egl", "OMP_NUM_THREADS": "1"}
    env.setdefault("RAY_AUTH_MODE", "disabled")
    cmd = [sys.executable, "-m", "armgym.cli", "train", "sac", *BASE, "--out", str(out), *extra]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def poll(cond: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (value := cond()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.02)
    return value


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def rows_with(out: Path, key: str) -> list[dict[str, Any]]:
    return [r for r in read_log(out) if key in r]


def rates(out: Path, actors: int, learning_starts: int = 500) -> dict[str, Any]:
    """Env steps/s and updates/s between the first and last loss lines of a finished run."""
    loss = rows_with(out, "critic_loss")
    a, b = loss[0], loss[-1]
    dt = b["wall_s"] - a["wall_s"]
    if actors:
        d_upd = b["updates"] - a["updates"]
    else:  # utd 1: one update per env step after learning_starts
        d_upd = b["step"] - max(a["step"], learning_starts - 1)
    return {
        "actors": actors,
        "window_env_steps": b["step"] - a["step"],
        "window_s": round(dt, 2),
        "env_steps_per_s": round((b["step"] - a["step"]) / dt, 1),
        "updates_per_s": round(d_upd / dt, 1),
        "updates_per_env_step": round(d_upd / max(1, b["step"] - a["step"]), 3),
    }


def throughput(tmp: Path, actors: int, steps: int) -> dict[str, Any]:
    out = tmp / f"tp{actors}"
    proc = start(out, "--steps", str(steps), "--actors", str(actors),
                 "--checkpoint-every", str(10 * steps))  # fmt: skip
    try:
        text, _ = proc.communicate(timeout=600)
    finally:
        proc.kill()
    if proc.returncode:
        raise RuntimeError(text.decode()[-2000:])
    res = rates(out, actors)
    res["summary"] = text.decode().strip().splitlines()[-1]
    print(json.dumps({k: v for k, v in res.items() if k != "summary"}), flush=True)
    return res


def recovery(tmp: Path) -> dict[str, Any]:
    out = tmp / "recovery"
    args = ["--actors", "2", "--actor-max-hz", "50", "--checkpoint-every", "400",
            "--learner-timeout-s", "30"]  # fmt: skip
    proc = start(out, *args, "--steps", "100000")
    res: dict[str, Any] = {}
    try:
        poll(lambda: len(rows_with(out, "actor_ready")) == 2, 180, "two actors")
        poll(lambda: rows_with(out, "critic_loss"), 180, "learner updates")
        victim = rows_with(out, "actor_ready")[0]["actor_ready"]["pid"]
        os.kill(victim, signal.SIGKILL)
        t_kill = time.monotonic()
        poll(lambda: rows_with(out, "actor_replaced"), 120, "the replacement")
        res["actor_kill_to_replacement_started_s"] = round(time.monotonic() - t_kill, 2)
        poll(lambda: len(rows_with(out, "actor_ready")) == 3, 120, "the new actor's data")
        res["actor_kill_to_new_actor_data_s"] = round(time.monotonic() - t_kill, 2)
        res["new_actor_spawn_to_data_s"] = rows_with(out, "actor_ready")[2]["actor_ready"][
            "after_s"
        ]
        now = rows_with(out, "actor_ready")[2]["step"]
        poll(lambda: [r for r in rows_with(out, "checkpoint") if r["checkpoint"] > now], 300,
             "a checkpoint after the replacement")  # fmt: skip
        pids = [r["actor_ready"]["pid"] for r in rows_with(out, "actor_ready")[1:]]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        t_kill = time.monotonic()
        poll(lambda: not any(alive(p) for p in pids), 120, "the orphaned actors to exit")
        res["learner_kill_to_actors_gone_s"] = round(time.monotonic() - t_kill, 2)
    finally:
        proc.kill()
    saved = json.loads((out / "train_state.json").read_text())
    step, updates = int(saved["step"]), int(saved["counters"]["updates"])
    res |= {"checkpoint_step": step, "checkpoint_updates": updates}
    t_start = time.monotonic()
    proc = start(out, *args, "--steps", str(step + 300), "--resume")
    try:
        poll(lambda: rows_with(out, "actor_ready")[3:], 180, "actors after --resume")
        res["resume_start_to_actor_data_s"] = round(time.monotonic() - t_start, 2)
        poll(
            lambda: [r for r in rows_with(out, "updates") if r["updates"] > updates], 180, "updates"
        )
        res["resume_start_to_first_update_s"] = round(time.monotonic() - t_start, 2)
        text, _ = proc.communicate(timeout=300)
    finally:
        proc.kill()
    first_new = next(r for r in read_log(out) if r.get("actor_started", {}).get("id", 0) >= 3)
    res["resumed_at_step"] = first_new["step"]
    res["finished_step"] = json.loads((out / "train_state.json").read_text())["step"]
    res["replacements"] = [r["actor_replaced"] for r in rows_with(out, "actor_replaced")]
    res["resume_summary"] = text.decode().strip().splitlines()[-1]
    print(json.dumps(res), flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=800)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = [throughput(Path(tmp), n, args.steps) for n in (0, 1, 2)]
        rec = recovery(Path(tmp))
    payload = {
        "benchmark": "rl_actor_learner",
        "machine": machine_info(("armgym", "numpy", "mujoco", "torch", "ray")),
        "setup": {
            "env": "PickCube, panda, state, ee_pos, sparse, 5 scripted demos",
            "batch_size": 256,
            "utd": 1,
            "learning_starts": 500,
            "steps": args.steps,
            "backend": "Ray local (ray.init, num_cpus = actors), learner in the driver",
            "torch_threads": "1 (OMP_NUM_THREADS=1 for the learner; actors set 1 themselves)",
        },
        "throughput": runs,
        "recovery": rec,
    }
    print(write_json("rl_actor_learner.json", payload))


if __name__ == "__main__":
    main()
