"""The env side of asynchronous SAC: a Ray actor that steps one env and never waits.

:class:`EnvActor` runs its control loop in a thread of its own process (a Ray actor's
worker): build the env through :func:`armgym.train.sac_utils.make_env` (the function the
single-process loop uses, so every wrapper added there applies here too), act with the
newest weights it holds (uniform random actions until the first ones arrive), and append
each transition to an *outbox*, a bounded deque: when the learner does not collect in time,
the oldest transitions are dropped and counted, and the loop goes on. The learner talks to
the actor only through two short methods, each answered from memory:

- :meth:`EnvActor.pull` -> the transitions since the last pull, as arrays (see its doc);
- :meth:`EnvActor.set_weights` <- ``(version, safetensors bytes of the actor network,
  normaliser stats)``; the loop swaps them in between two env steps.

A dead learner is detected by silence: after ``learner_timeout_s`` without a pull or a
push the loop stops and the process exits (Ray also ends an actor whose owner died; this
is the backstop for a learner that is unreachable but not yet declared dead). No payload
is pickled by armgym: weights travel as safetensors bytes, stats as JSON-able dicts,
transitions as numpy arrays in Ray's object store.
"""

from __future__ import annotations

import collections
import os
import socket
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from armgym.contracts.info import EXECUTED_ACTION, INTERVENTION, POLICY_ACTION
from armgym.policies.normalize import Normalizer
from armgym.policies.sac import SACActor
from armgym.train import intervention as hil
from armgym.train.sac_utils import Prep, actor_seed, make_env

if TYPE_CHECKING:
    from armgym.train.sac import SACTrainConfig

#: buffer extra <- the ``info`` key a behaviour wrapper writes it under (sent when present)
INFO_EXTRAS = {"is_intervention": INTERVENTION, "policy_action": POLICY_ACTION}
#: exit status of an actor process that stopped because the learner went silent
LEARNER_GONE_EXIT = 3


def weights_payload(actor: SACActor, normalizer: Normalizer, version: int) -> dict[str, Any]:
    """What the learner pushes: ``{"version", "weights": safetensors bytes, "normalization"}``."""
    from safetensors.torch import save

    state = {k: v.detach().contiguous() for k, v in actor.state_dict().items()}
    return {"version": version, "weights": save(state), "normalization": normalizer.to_json()}


class EnvActor:
    """One env, stepped in a background thread with the newest weights it has.

    Args:
        cfg: the run's config (env, network shapes, seeds, ``actor_queue``,
            ``learner_timeout_s``, ``actor_max_hz``).
        actor_id: unique over the run (replacements get new ids); picks the episode seeds
            (:func:`~armgym.train.sac_utils.actor_seed`) and the exploration noise.
    """

    def __init__(self, cfg: SACTrainConfig, actor_id: int):
        torch.set_num_threads(1)
        self.cfg, self.actor_id = cfg, actor_id
        self.env = hil.wrap_env(cfg, make_env(cfg))  # a person may take over here
        spaces = self.env.observation_space.spaces
        shapes = {k: tuple(sp.shape) for k, sp in spaces.items()}
        model_shapes = {k: (s[2], s[0], s[1]) if len(s) == 3 else s for k, s in shapes.items()}
        self.policy = SACActor(cfg.net, model_shapes, int(self.env.action_space.shape[0]))
        self.policy.eval()
        self.env.action_space.seed(cfg.seed * 1000 + actor_id)
        self.gen = torch.Generator().manual_seed(cfg.seed * 1000 + actor_id)
        self.prep: Prep | None = None
        self.version = -1  # weights in use (-1: none yet, random actions)
        self._incoming: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._outbox: collections.deque[tuple[Any, ...]] = collections.deque(maxlen=cfg.actor_queue)
        self._episodes: list[dict[str, Any]] = []
        self.dropped = self.steps = 0
        self.error: str | None = None
        self._contact = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="env-actor", daemon=True)
        self._thread.start()

    # -- called by the learner (each returns at once) -------------------------------------
    def info(self) -> dict[str, Any]:
        """``{"id", "pid", "host"}`` of this actor's process."""
        self._contact = time.monotonic()
        return {"id": self.actor_id, "pid": os.getpid(), "host": socket.gethostname()}

    def set_weights(self, payload: dict[str, Any]) -> int:
        """Queue new weights (:func:`weights_payload`); the loop uses them from its next step."""
        self._contact = time.monotonic()
        with self._lock:
            self._incoming = payload
        return int(payload["version"])

    def pull(self) -> dict[str, Any]:
        """Transitions since the last pull, oldest first (T of them, T may be 0):
        ``{"obs": {key: [T, ...]}, "next_obs": {...}, "action": float32[T, A],
        "reward": float32[T], "terminated": bool[T], "truncated": bool[T], "extras":
        {"is_intervention": bool[T], "policy_action": float32[T, A]} (those the env's
        wrappers wrote in ``info`` at every step; the action is ``info["executed_action"]``
        when a wrapper reports one),
        "episodes": [{"return", "length", "success", "seed"}], "pid", "host" of this
        actor's process, "dropped": transitions
        dropped so far, "steps": env steps so far, "version": weights in use, "error": the
        loop's exception text or None}``."""
        self._contact = time.monotonic()
        with self._lock:
            items = list(self._outbox)
            self._outbox.clear()
            episodes, self._episodes = self._episodes, []
        out: dict[str, Any] = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "episodes": episodes,
            "dropped": self.dropped,
            "steps": self.steps,
            "version": self.version,
            "error": self.error,
        }
        if items:
            obs, act, rew, term, trunc, nxt, ext = zip(*items, strict=True)
            keys = [k for k in ext[0] if all(k in e for e in ext)]
            out |= {
                "obs": {k: np.stack([o[k] for o in obs]) for k in obs[0]},
                "next_obs": {k: np.stack([o[k] for o in nxt]) for k in nxt[0]},
                "action": np.stack(act).astype(np.float32),
                "reward": np.asarray(rew, np.float32),
                "terminated": np.asarray(term, bool),
                "truncated": np.asarray(trunc, bool),
                "extras": {k: np.stack([np.asarray(e[k]) for e in ext]) for k in keys},
            }
        return out

    def stop(self) -> None:
        """End the control loop (the learner is done)."""
        self._stop.set()
        self._thread.join(timeout=30.0)
        if not self._thread.is_alive():  # never free MuJoCo data under a running step
            self.env.close()

    # -- the control loop -----------------------------------------------------------------
    def _act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        with self._lock:
            payload, self._incoming = self._incoming, None
        if payload is not None:
            from safetensors.torch import load

            self.policy.load_state_dict(load(payload["weights"]))
            self.prep = Prep(Normalizer(payload["normalization"]), self.cfg.shift_pad)
            self.version = int(payload["version"])
        if self.prep is None:
            return np.asarray(self.env.action_space.sample(), np.float32)
        with torch.no_grad():
            feat = self.policy.features(self.prep({k: v[None] for k, v in obs.items()}, None))
            return self.policy.sample(feat, self.gen)[0][0].numpy()

    def _run(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # reported through pull(); the learner raises it
            self.error = f"{type(exc).__name__}: {exc}"

    def _loop(self) -> None:
        cfg, episode = self.cfg, 0
        obs, _ = self.env.reset(seed=actor_seed(cfg, self.actor_id, episode))
        obs = {k: np.array(v) for k, v in obs.items()}
        ep_ret, ep_len = 0.0, 0
        period = 1.0 / cfg.actor_max_hz if cfg.actor_max_hz > 0 else 0.0
        next_t = time.monotonic()
        while not self._stop.is_set():
            if time.monotonic() - self._contact > cfg.learner_timeout_s:
                print(
                    f"armgym actor {self.actor_id}: no word from the learner for "
                    f"{cfg.learner_timeout_s:.0f} s; exiting",
                    file=sys.stderr,
                    flush=True,
                )
                os._exit(LEARNER_GONE_EXIT)
            action = self._act(obs)
            nxt, reward, term, trunc, info = self.env.step(action)
            nxt = {k: np.array(v) for k, v in nxt.items()}  # the env may reuse its arrays
            extras = {k: info[key] for k, key in INFO_EXTRAS.items() if key in info}
            action = np.asarray(info.get(EXECUTED_ACTION, action), np.float32)
            ep_ret, ep_len = ep_ret + float(reward), ep_len + 1
            with self._lock:
                if len(self._outbox) == self._outbox.maxlen:
                    self.dropped += 1
                self._outbox.append(
                    (obs, action, float(reward), bool(term), bool(trunc), nxt, extras)
                )
                self.steps += 1
                if term or trunc:
                    seed = actor_seed(cfg, self.actor_id, episode)
                    row = {"return": ep_ret, "length": ep_len, "seed": seed}
                    self._episodes.append({**row, "success": bool(info.get("is_success"))})
            obs = nxt
            if term or trunc:
                episode += 1
                obs, _ = self.env.reset(seed=actor_seed(cfg, self.actor_id, episode))
                obs = {k: np.array(v) for k, v in obs.items()}
                ep_ret, ep_len = 0.0, 0
            if period:
                next_t = max(next_t + period, time.monotonic() - period)
                time.sleep(max(0.0, next_t - time.monotonic()))
