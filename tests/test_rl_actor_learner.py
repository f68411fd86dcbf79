"""Asynchronous SAC (``armgym train sac --actors N``): real Ray actors, real kills.

Each test polls with a deadline. Killed processes are real: the Ray actor's worker (its pid
from the run's log) and the learner (an ``armgym train sac`` subprocess).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import armgym
from armgym.errors import ConfigError
from armgym.policies import load_checkpoint
from armgym.policies.sac import SACConfig
from armgym.rl import ReplayBuffer
from armgym.train.sac import SACTrainConfig, train
from armgym.train.sac_utils import read_log

# Ray processes killed mid-run, deadlines measured: `make test` runs the `serial` tests
# alone, after the parallel run
pytestmark = pytest.mark.serial
SRC = Path(armgym.__file__).parents[1]
#: a tiny Reach run; actors paced so that a run lasts long enough to kill something in it
ARGS = [
    "--task", "Reach", "--demos", "1", "--learning-starts", "40", "--batch-size", "16",
    "--eval-episodes", "2", "--eval-num-envs", "1", "--eval-every", "0",
    "--log-every", "20", "--net.hidden-dims", "32", "32", "--no-progress",
]  # fmt: skip


def poll(cond: Callable[[], object], timeout_s: float, what: str) -> None:
    """Poll ``cond()`` every 50 ms until it is true; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.05)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (killed, not yet reaped) is dead too
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def rows(out: Path) -> list[dict]:
    return read_log(out)  # skips the line being written right now


def first(out: Path, key: str) -> dict | None:
    return next((r for r in rows(out) if key in r), None)


def learner(out: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(SRC), "MUJOCO_GL": "egl", "RAY_AUTH_MODE": "disabled"}
    cmd = [sys.executable, "-m", "armgym.cli", "train", "sac", *ARGS, "--out", str(out), *extra]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def finish(proc: subprocess.Popen, timeout_s: float) -> str:
    try:
        text, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 0, text.decode()[-3000:]
    return text.decode()


@pytest.mark.slow
def test_killed_actor_is_replaced_and_the_learner_keeps_updating(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = learner(out, "--actors", "1", "--steps", "600", "--actor-max-hz", "60",
                   "--checkpoint-every", "10000")  # fmt: skip
    try:
        poll(lambda: first(out, "actor_ready"), 300, "the first actor's data")
        pid = first(out, "actor_ready")["actor_ready"]["pid"]  # type: ignore[index]
        poll(lambda: any(r.get("updates", 0) > 0 for r in rows(out)), 60, "learner updates")
        os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()
        poll(lambda: first(out, "actor_replaced"), 60, "the actor's replacement")
        poll(lambda: len([r for r in rows(out) if "actor_ready" in r]) == 2, 300, "new actor")
        replaced_s = time.monotonic() - killed_at
        before = max(r.get("updates", 0) for r in rows(out))
        text = finish(proc, 120)
    finally:
        proc.kill()
    log = rows(out)
    rep = first(out, "actor_replaced")["actor_replaced"]  # type: ignore[index]
    assert rep["old_id"] == 0 and rep["new_id"] == 1 and "died" in rep["reason"]
    ready = [r["actor_ready"] for r in log if "actor_ready" in r]
    assert [r["id"] for r in ready] == [0, 1] and ready[1]["after_s"] < replaced_s
    assert ready[1]["pid"] != pid
    poll(lambda: not alive(ready[1]["pid"]), 30, "the last actor to stop with its learner")
    assert max(r.get("updates", 0) for r in log) > before  # kept training after the kill
    assert json.loads((out / "train_state.json").read_text())["step"] == 600
    assert "trained SAC for 600 env steps" in text and "1 actor replaced" in text
    load_checkpoint(out)


@pytest.mark.slow
def test_killed_learner_resumes_from_its_checkpoint_and_actors_do_not_hang(
    tmp_path: Path,
) -> None:
    out = tmp_path / "run"
    args = ["--actors", "1", "--steps", "600", "--checkpoint-every", "150", "--actor-max-hz", "60"]
    proc = learner(out, *args, "--learner-timeout-s", "20")
    try:
        poll(lambda: (out / "train_state.json").exists(), 300, "the first checkpoint")
        pid = first(out, "actor_ready")["actor_ready"]["pid"]  # type: ignore[index]
        assert alive(pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        t_kill = time.monotonic()
        poll(lambda: not alive(pid), 30, "the orphaned actor to exit")  # its deadline: 20 s
        gone_s = time.monotonic() - t_kill
    finally:
        proc.kill()
    saved = json.loads((out / "train_state.json").read_text())["step"]
    assert 150 <= saved < 600 and gone_s < 30
    (out / "log.jsonl").open("a").write('{"step": 99999, "cut sho')  # a write cut by the kill
    text = finish(learner(out, *args, "--resume"), 180)
    assert "trained SAC for 600 env steps" in text
    state = json.loads((out / "train_state.json").read_text())
    assert state["step"] == 600 and state["counters"]["actors"] == 2  # a new actor id
    log = rows(out)
    ids = [r["actor_started"]["id"] for r in log if "actor_started" in r]
    assert ids == [0, 1]  # the resumed learner started actor 1 in place of the dead 0
    resumed = [r for r in log if "actor_started" in r][1]
    assert resumed["step"] == saved  # it continued from the checkpoint's step
    assert len(ReplayBuffer.load(out / "buffer")) >= 600


def test_actor_drops_old_data_and_exits_when_the_learner_goes_silent() -> None:
    from armgym.eval.ray_backend import ray_session
    from armgym.train.sac_actor import EnvActor

    cfg = SACTrainConfig(
        out=Path("unused"), task="Reach", actor_queue=30, learner_timeout_s=3.0,
        net=SACConfig(hidden_dims=(16,)),
    )  # fmt: skip
    with ray_session("local", 1) as ray:
        actor = ray.remote(num_cpus=1)(EnvActor).remote(cfg, 0)
        pid = ray.get(actor.info.remote(), timeout=300)["pid"]  # slow on a loaded machine
        poll(lambda: ray.get(actor.pull.remote(), timeout=5)["dropped"] > 0, 30, "a full outbox")
        time.sleep(0.3)  # let the outbox fill again: it must hold at most actor_queue
        batch = ray.get(actor.pull.remote(), timeout=5)
        assert 0 < len(batch["action"]) <= 30 and batch["steps"] > 30 and batch["error"] is None
        assert batch["version"] == -1  # no weights pushed: random actions
        silent_from = time.monotonic()  # the pull above was the learner's last word
        poll(lambda: not alive(pid), 30, "the actor to exit on learner silence")
        assert time.monotonic() - silent_from < 3.0 + 10.0


def test_actor_settings_are_validated_and_resumable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--actors"):
        SACTrainConfig(out=tmp_path, actors=-1)
    with pytest.raises(ConfigError, match="--actor-timeout-s"):
        SACTrainConfig(out=tmp_path, actor_timeout_s=0)
    base = dict(task="Reach", demos="1", learning_starts=40, batch_size=16, eval_episodes=1,
                eval_num_envs=1, eval_every=0, checkpoint_every=50, progress=False,
                net=SACConfig(hidden_dims=(16,)))  # fmt: skip
    out = tmp_path / "run"
    # --resume on a folder without a committed checkpoint (a learner killed before its first
    # save) starts afresh instead of failing
    (out / ".staging").mkdir(parents=True)
    train(SACTrainConfig(out=out, steps=50, resume=True, **base))  # type: ignore[arg-type]
    assert not (out / ".staging").exists()
    # a crash inside the commit left only buffer.old, and a log line cut short
    os.replace(out / "buffer", out / "buffer.old")
    (out / "log.jsonl").open("a").write('{"step": 7')
    s = train(SACTrainConfig(out=out, steps=80, resume=True, actor_queue=5, **base))  # type: ignore[arg-type]
    assert s["updates"] == 41 and len(ReplayBuffer.load(out / "buffer")) == 80


def test_actor_forwards_what_behaviour_wrappers_report(monkeypatch: pytest.MonkeyPatch) -> None:
    """An intervention-like wrapper's ``info`` reaches the learner's buffer extras."""
    import gymnasium as gym
    import numpy as np

    from armgym.train import sac_actor
    from armgym.train.sac_async import add_batch
    from armgym.train.sac_utils import make_env

    class Override(gym.Wrapper):  # a "person" who always pushes the gripper closed
        def step(self, action):
            executed = np.array(action, np.float32)
            executed[-1] = 1.0
            obs, r, term, trunc, info = self.env.step(executed)
            info |= {"intervention": True, "policy_action": np.asarray(action, np.float32),
                     "executed_action": executed}  # fmt: skip
            return obs, r, term, trunc, info

    monkeypatch.setattr(sac_actor, "make_env", lambda cfg: Override(make_env(cfg)))
    cfg = SACTrainConfig(  # no learner here: its silence must not end this test process
        out=Path("unused"), task="Reach", net=SACConfig(hidden_dims=(16,)), learner_timeout_s=3600
    )
    actor = sac_actor.EnvActor(cfg, 0)  # in this process: the same class Ray runs
    try:
        poll(lambda: actor.steps >= 5, 30, "a few env steps")
        batch = actor.pull()
    finally:
        actor.stop()
    assert np.all(batch["action"][:, -1] == 1.0) and batch["extras"]["is_intervention"].all()
    assert not np.allclose(batch["extras"]["policy_action"], batch["action"])
    extras = {"is_intervention": ((), "bool"), "policy_action": ((4,), "float32")}
    buf = ReplayBuffer.for_env(actor.env, 100_000, extras=extras)
    n = add_batch(buf, batch, 100_000)
    assert n == len(batch["action"]) and buf.extras["is_intervention"][: buf.filled].any()
    assert len(buf) == n
