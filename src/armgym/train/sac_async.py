"""Asynchronous SAC/RLPD: N env actors on Ray, this process the learner.

    armgym train sac --task PickCube --demos 20 --steps 30000 --out runs/sac --actors 2
    armgym train sac ... --actors 4 --ray-address 10.0.0.1:6379   # actors on a cluster

The learner (this process) owns the buffers, the networks and the run folder; it is the
single-process loop of :mod:`armgym.train.sac` with the env replaced by a pool of
:class:`~armgym.train.sac_actor.EnvActor` s. Each learner iteration:

1. collects whatever the actors have (:meth:`ActorPool.poll`: one outstanding ``pull`` per
   actor, ``ray.wait`` with a timeout, never a blocking ``ray.get``) into the online buffer
   (env steps = transitions received; ``--steps`` counts them);
2. runs gradient updates while ``updates < utd · (env steps − learning_starts + 1)`` — the
   single-process ratio as a ceiling: a learner ahead of its data waits for data, a
   learner behind it trains continuously on what it has;
3. pushes the actor weights every ``--push-every`` updates (``ray.put`` once, a
   fire-and-forget ``set_weights`` per actor; skipped for an actor whose previous push is
   still in flight);
4. logs, evaluates and checkpoints when env steps cross ``log_every`` / ``eval_every`` /
   ``checkpoint_every`` (the same all-or-nothing save as the single-process loop).

Failures: an actor whose process died (``RayActorError``) or whose pull stays unanswered
``--actor-timeout-s`` is killed and replaced by a new actor with a new id; both events are
logged (``actor_replaced``, then ``actor_ready`` with the seconds until its first data).
An actor that dies three times in a row before delivering anything stops the run with its
error. Killing the learner loses what arrived after its last checkpoint; ``--resume``
restores networks, optimisers, buffer and counters and starts new actors. Actors that
lose the learner exit (Ray ends them with their owner; their own ``--learner-timeout-s``
watchdog otherwise).
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from armgym.errors import TrainingError
from armgym.eval.ray_backend import ray_session
from armgym.progress import progress
from armgym.rl import ReplayBuffer
from armgym.train import intervention as hil
from armgym.train.logger import ScalarLogger
from armgym.train.run_page import finish_page
from armgym.train.sac import build_nets, update
from armgym.train.sac_actor import EnvActor, weights_payload
from armgym.train.sac_utils import (
    Prep,
    evaluate,
    fill_demos,
    make_env,
    mixed_batch,
    plot_curves,
    prepare_out,
    run_normalizer,
    save_run,
)

if TYPE_CHECKING:
    from armgym.train.sac import SACTrainConfig

#: seconds between two pulls of one actor (bounds the learner's polling overhead)
PULL_INTERVAL_S = 0.02
#: an actor that dies this many times in a row before delivering data stops the run
MAX_EARLY_DEATHS = 3
#: deadline of a new actor's first answer (process start, imports, env build), seconds
STARTUP_TIMEOUT_S = 300.0


@dataclass
class Slot:
    """One actor position in the pool; its actor is replaced when it dies."""

    handle: Any
    actor_id: int
    spawned: float  # time.monotonic() at spawn
    pull: Any = None  # outstanding pull ObjectRef
    pull_sent: float = 0.0
    next_pull: float = 0.0
    push: Any = None  # last set_weights ObjectRef
    ready: bool = False  # delivered its first pull
    early_deaths: int = 0


class ActorPool:
    """``n`` :class:`EnvActor` s on Ray, kept alive: dead or hung ones are replaced.

    ``log(row)`` receives ``actor_started`` / ``actor_replaced`` / ``actor_ready`` rows.
    """

    def __init__(self, ray: Any, cfg: SACTrainConfig, n: int, next_id: int, log: Any):
        self.ray, self.cfg, self.log, self.next_id = ray, cfg, log, next_id
        self.remote_cls = ray.remote(num_cpus=cfg.actor_cpus, max_restarts=0)(EnvActor)
        self.replaced = 0
        self.last_poll = time.monotonic()
        self.payload_ref: Any = None  # the newest weights, given to new actors too
        self.slots = [self._spawn(i) for i in range(n)]

    def _spawn(self, index: int, early_deaths: int = 0) -> Slot:
        actor_id, self.next_id = self.next_id, self.next_id + 1
        handle = self.remote_cls.remote(self.cfg, actor_id)
        slot = Slot(handle, actor_id, time.monotonic(), early_deaths=early_deaths)
        if self.payload_ref is not None:
            slot.push = handle.set_weights.remote(self.payload_ref)
        self.log({"actor_started": {"slot": index, "id": actor_id}})
        return slot

    def replace(self, index: int, reason: str, error: str | None = None) -> None:
        """Kill the actor in slot ``index`` (if still alive) and start a new one."""
        old = self.slots[index]
        with contextlib.suppress(Exception):  # already gone
            self.ray.kill(old.handle, no_restart=True)
        early = 0 if old.ready else old.early_deaths + 1
        if early >= MAX_EARLY_DEATHS:
            raise TrainingError(
                f"actor slot {index} died {early} times before sending any data "
                f"(last: {error or reason}); fix the env/actor error above and --resume"
            )
        self.replaced += 1
        row = {"slot": index, "old_id": old.actor_id, "reason": reason, "error": error}
        self.slots[index] = self._spawn(index, early)
        self.log({"actor_replaced": {**row, "new_id": self.slots[index].actor_id}})

    def push(self, payload: dict[str, Any]) -> None:
        """Send weights to every actor without waiting (skip actors still busy with one)."""
        self.payload_ref = self.ray.put(payload)
        for s in self.slots:
            if s.push is not None and not self.ray.wait([s.push], timeout=0)[0]:
                continue
            s.push = s.handle.set_weights.remote(self.payload_ref)

    def poll(self, wait_s: float) -> list[dict[str, Any]]:
        """Pulled batches that are ready within ``wait_s``; replaces dead or hung actors.

        An actor is hung when its pull stays unanswered ``actor_timeout_s`` of the time the
        learner spent polling (time away evaluating or saving does not count), or
        ``STARTUP_TIMEOUT_S`` before its first answer.
        """
        now = time.monotonic()
        away = now - self.last_poll
        for s in self.slots:
            if s.pull is None and now >= s.next_pull:
                s.pull, s.pull_sent = s.handle.pull.remote(), now
            elif s.pull is not None and away > 1.0:
                s.pull_sent += away
        pending = [s.pull for s in self.slots if s.pull is not None]
        if pending:
            ready, _ = self.ray.wait(pending, num_returns=len(pending), timeout=wait_s)
        else:
            ready = []
            time.sleep(wait_s)
        ready_set, batches = set(ready), []
        now = self.last_poll = time.monotonic()
        for i, s in enumerate(self.slots):
            if s.pull is None:
                continue
            if s.pull in ready_set:
                batch = self._collect(i, s)
                if batch is not None:
                    batches.append(batch)
                continue
            limit = self.cfg.actor_timeout_s if s.ready else STARTUP_TIMEOUT_S
            if now - s.pull_sent > limit:
                self.replace(i, f"pull unanswered for {limit:.0f} s")
        return batches

    def _collect(self, i: int, s: Slot) -> dict[str, Any] | None:
        ref, s.pull = s.pull, None
        s.next_pull = time.monotonic() + PULL_INTERVAL_S
        try:
            batch = self.ray.get(ref, timeout=self.cfg.actor_timeout_s)
        except self.ray.exceptions.RayActorError as exc:
            lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
            self.replace(i, "actor process died", lines[-1][:300] if lines else None)
            return None
        except self.ray.exceptions.GetTimeoutError:
            self.replace(i, "pull result unreadable in time")
            return None
        if batch["error"]:
            raise TrainingError(f"actor {s.actor_id} failed: {batch['error']}")
        if not s.ready and "action" in batch:
            s.ready, s.early_deaths = True, 0
            after = time.monotonic() - s.spawned
            row = {"slot": i, "id": s.actor_id, "pid": batch["pid"], "host": batch["host"]}
            row["after_s"] = round(after, 3)
            self.log({"actor_ready": row})
        return batch

    def stop(self) -> dict[str, int]:
        """Stop every actor (bounded wait) and return their dropped-transition counts."""
        refs = [s.handle.pull.remote() for s in self.slots]
        ready, _ = self.ray.wait(refs, num_returns=len(refs), timeout=5.0)
        dropped = 0
        for r in ready:
            with contextlib.suppress(self.ray.exceptions.RayError):
                dropped += int(self.ray.get(r, timeout=1.0)["dropped"])
        for s in self.slots:
            with contextlib.suppress(Exception):
                self.ray.kill(s.handle, no_restart=True)
        return {"dropped": dropped, "replaced": self.replaced}


def add_batch(
    online: ReplayBuffer, batch: dict[str, Any], limit: int, offline: ReplayBuffer | None = None
) -> int:
    """Append up to ``limit`` transitions of a pulled batch to ``online`` (with the extras
    the actor reported, e.g. ``is_intervention``; the buffer keeps those it has), and the
    ones a person drove also to ``offline`` (HIL-SERL); returns how many."""
    if "action" not in batch:
        return 0
    n = min(len(batch["action"]), limit)
    obs, nxt, extras = batch["obs"], batch["next_obs"], batch.get("extras", {})
    for i in range(n):
        step = (
            {k: v[i] for k, v in obs.items()},
            batch["action"][i],
            float(batch["reward"][i]),
            bool(batch["terminated"][i]),
            bool(batch["truncated"][i]),
            {k: v[i] for k, v in nxt.items()},
        )
        online.add(*step, **{k: v[i] for k, v in extras.items()})
        if offline is not None and "is_intervention" in extras and extras["is_intervention"][i]:
            offline.add(*step)
    return n


def crossed(before: int, after: int, every: int) -> bool:
    """Whether a multiple of ``every`` lies in ``(before, after]``."""
    return every > 0 and after // every > before // every


def train_async(cfg: SACTrainConfig) -> dict[str, Any]:
    """SAC/RLPD with ``cfg.actors`` asynchronous actors; the same outputs as
    :func:`armgym.train.sac.train`, plus actor statistics (``summary["actors"]``)."""
    learner = Learner(cfg)  # bad settings or a run folder in the way fail before Ray starts
    with ray_session(cfg.ray_address, math.ceil(cfg.actors * cfg.actor_cpus)) as ray:
        return learner.run(ray)


class Learner:
    """The learner's state (the single-process loop's, minus the env loop) and its loop."""

    def __init__(self, cfg: SACTrainConfig):
        self.cfg, self.out = cfg, Path(cfg.out)
        self.env = env = make_env(cfg)  # the learner's own env: spaces, demos, evaluation
        torch.manual_seed(cfg.seed)
        self.gen = torch.Generator().manual_seed(cfg.seed)
        self.rng = np.random.default_rng(cfg.seed)
        online = ReplayBuffer.for_env(env, cfg.buffer_capacity, hil.EXTRAS, seed=cfg.seed)
        self.offline = ReplayBuffer.for_env(env, cfg.buffer_capacity, seed=cfg.seed + 1)
        self.demo_info = fill_demos(cfg, env, self.offline)
        self.nets, self.opts = build_nets(cfg, env)
        step, elapsed, self.counters, normalizer, self.online = prepare_out(
            cfg, self.nets, self.opts, online, self.gen, self.rng
        )
        hil.restore_interventions(self.online, self.offline)  # --resume: back to offline
        self.scalars = ScalarLogger(self.out)  # log.jsonl (+ TensorBoard when installed)
        self.step = self.start = step
        self.counters.setdefault("actors", 0)  # actor ids used so far (new ids on resume)
        if normalizer is None and len(self.offline):
            normalizer = run_normalizer(cfg, self.online, self.offline)
        self.normalizer = normalizer
        self.prep = Prep(normalizer, cfg.shift_pad) if normalizer else None
        self.ratio = cfg.offline_ratio if len(self.offline) else 0.0
        self.t0 = time.perf_counter() - elapsed
        self.losses: dict[str, float] = {}
        self.bar = progress(total=cfg.steps, initial=step, desc="sac", disable=not cfg.progress)

    def log(self, row: dict[str, Any]) -> None:
        wall = round(time.perf_counter() - self.t0, 3)
        self.scalars.log(self.step, {"wall_s": wall, **row})

    def payload(self) -> dict[str, Any]:
        assert self.normalizer is not None
        return weights_payload(self.nets["actor"], self.normalizer, self.counters["updates"])

    def run(self, ray: Any) -> dict[str, Any]:
        cfg, counters = self.cfg, self.counters
        pool = ActorPool(ray, cfg, cfg.actors, counters["actors"], self.log)
        if self.normalizer is not None:
            pool.push(self.payload())
        t_loop, updates0 = time.perf_counter(), counters["updates"]
        while self.step < cfg.steps:
            # 1. collect whatever the actors have; wait (50 ms at most) only when no update is due
            wait = 0.0 if counters["updates"] < self.target() else 0.05
            for batch in pool.poll(wait):
                counters["actors"] = pool.next_id
                self.receive(batch, pool)
            # 2. learn: updates until the utd ceiling, back to polling after 50 ms
            t_upd = time.perf_counter()
            while self.prep is not None and counters["updates"] < self.target():
                batch = mixed_batch(
                    self.online, self.offline, cfg.batch_size, self.ratio, cfg.n_step, cfg.gamma
                )
                self.losses = update(cfg, self.nets, self.opts, batch, self.prep, self.gen)
                counters["updates"] += 1
                if counters["updates"] % cfg.push_every == 0:
                    pool.push(self.payload())
                if time.perf_counter() - t_upd > 0.05:
                    break
        loop_s = time.perf_counter() - t_loop
        stats = pool.stop()
        self.bar.close()
        self.env.close()
        self.scalars.close()
        png = plot_curves(self.out)
        facts = [("env", f"{cfg.task} · {cfg.robot} · {cfg.obs} · {cfg.reward} reward"),
                 ("env steps", str(cfg.steps)), ("updates", str(counters["updates"])),
                 ("actors", str(cfg.actors))]  # fmt: skip
        finish_page(self.out, f"SAC training · {cfg.task}", facts, clips=cfg.final_clips,
                    seed=cfg.eval_seed)  # fmt: skip
        return {
            "out": str(self.out),
            "steps": cfg.steps,
            "updates": counters["updates"],
            "episodes": counters["episodes"],
            "demos": self.demo_info,
            "wall_s": time.perf_counter() - self.t0,
            "curve": str(png) if png else None,
            "actors": {
                "n": cfg.actors,
                "env_steps_per_s": (self.step - self.start) / loop_s,
                "updates_per_s": (counters["updates"] - updates0) / loop_s,
                **stats,
            },
        }

    def target(self) -> int:
        """Updates due: ``utd · (env steps − learning_starts + 1)`` once stats exist."""
        if self.prep is None:
            return 0
        return self.cfg.utd * max(0, self.step - self.cfg.learning_starts + 1)

    def receive(self, batch: dict[str, Any], pool: ActorPool) -> None:
        """Store a pulled batch, then log / evaluate / checkpoint on crossed boundaries."""
        cfg, before = self.cfg, self.step
        self.step += add_batch(self.online, batch, cfg.steps - self.step, self.offline)
        self.bar.update(self.step - before)
        for ep in batch["episodes"]:
            self.counters["episodes"] += 1
            self.scalars.log(self.step, {"episode": ep})
        if self.prep is None and self.step >= min(cfg.learning_starts, cfg.steps):
            self.normalizer = run_normalizer(cfg, self.online, self.offline)
            self.prep = Prep(self.normalizer, cfg.shift_pad)
            pool.push(self.payload())
        done, last = self.step, self.step >= cfg.steps
        if self.losses and crossed(before, done, cfg.log_every):
            self.log({**self.losses, "updates": self.counters["updates"]})
            self.bar.set_postfix(critic=f"{self.losses['critic_loss']:.3g}")
        if self.normalizer is None:
            return
        if crossed(before, done, cfg.eval_every) or last:
            ev = evaluate(cfg, self.nets["actor"], self.normalizer, self.env)
            self.log({"eval": ev})
            self.bar.write(f"step {done}: success {ev['success_rate']:.2f} {ev['success_ci95']}")
        if crossed(before, done, cfg.checkpoint_every) or last:
            elapsed = time.perf_counter() - self.t0
            save_run(
                cfg,
                self.nets,
                self.opts,
                self.online,
                self.normalizer,
                done,
                elapsed,
                self.counters,
                self.gen,
                self.rng,
                self.env,
            )
            self.log({"checkpoint": done})
