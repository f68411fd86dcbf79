"""``ReplayBuffer``: a numpy ring of transitions that stores every frame once.

Layout: one ring of *slots*, ``capacity`` long. Slot ``i`` holds an observation (each key
its own preallocated array: ``float32[capacity, D]`` for vectors, ``uint8[capacity, H, W,
3]`` for images) and, when ``valid[i]``, the transition that left it: ``action[i]``
(float32[A]), ``reward[i]``, ``terminated[i]`` and any extras (``is_intervention``,
``policy_action`` …); the next observation of that transition is slot ``i + 1``. So a
stream of T steps costs T + 1 frames, not 2T: ``obs`` and ``next_obs`` are never duplicated.
``add`` detects a break in the stream (a new episode, or transitions of another env
interleaved) by comparing the new ``obs`` with the last stored ``next_obs``, and then
starts a new segment (one extra frame).

Memory: arrays are ``np.zeros`` (the OS maps pages lazily), so a 1M-slot state buffer or a
100k-slot pixel buffer only costs what has been written. Per slot:
``sum(obs bytes) + 4·A + 4 + 3`` bytes (+ extras), e.g. 28,227 B for 2 × 84² RGB + a 25-dim
state (100k slots = 2.8 GB), 160 B for state-only PickCube (1M slots = 160 MB).

Save/restore: ``save(dir)`` writes ``buffer.safetensors`` (the filled slots) and
``buffer.json`` (schema, ring position, RNG state); ``ReplayBuffer.load(dir)`` returns an
equal buffer. No pickle.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from armgym.errors import CheckpointError, ConfigError

#: name -> (shape, dtype string) of one field of one slot
Schema = Mapping[str, tuple[tuple[int, ...], str]]
Batch = dict[str, Any]


class ReplayBuffer:
    """Ring buffer of transitions with frames shared between ``obs`` and ``next_obs``.

    Args:
        obs: observation key -> (shape, dtype) e.g. ``{"observation.state": ((25,), "float32")}``.
        action_dim: A, length of an action (float32).
        capacity: number of slots (≈ transitions; each episode costs one extra slot).
        extras: per-transition fields beside action/reward, e.g.
            ``{"is_intervention": ((), "bool"), "policy_action": ((A,), "float32")}``.
        seed: seed of the sampling RNG.
    """

    def __init__(
        self,
        obs: Schema,
        action_dim: int,
        capacity: int,
        extras: Schema | None = None,
        seed: int = 0,
    ):
        if capacity < 2:
            raise ConfigError(f"replay buffer capacity must be >= 2, got {capacity}")
        self.obs_schema = {k: (tuple(s), str(d)) for k, (s, d) in obs.items()}
        self.extras_schema = {k: (tuple(s), str(d)) for k, (s, d) in (extras or {}).items()}
        self.action_dim, self.capacity = int(action_dim), int(capacity)
        self.obs = {k: np.zeros((capacity, *s), d) for k, (s, d) in self.obs_schema.items()}
        self.action = np.zeros((capacity, self.action_dim), np.float32)
        self.reward = np.zeros(capacity, np.float32)
        self.terminated = np.zeros(capacity, bool)
        self.valid = np.zeros(capacity, bool)
        self.extras = {k: np.zeros((capacity, *s), d) for k, (s, d) in self.extras_schema.items()}
        self.pos = 0  # next slot to write
        self.filled = 0  # slots ever written (≤ capacity)
        self.last = -1  # slot holding the last stored next_obs (-1: none)
        self.rng = np.random.default_rng(seed)
        self._last_next: Mapping[str, np.ndarray] | None = None
        self._n_valid = 0

    @classmethod
    def for_env(
        cls, env: Any, capacity: int, extras: Schema | None = None, seed: int = 0
    ) -> ReplayBuffer:
        """A buffer shaped for a (possibly wrapped) armgym env's observation/action spaces."""
        spaces = env.observation_space.spaces
        obs = {k: (tuple(sp.shape), np.dtype(sp.dtype).name) for k, sp in spaces.items()}
        return cls(obs, int(env.action_space.shape[0]), capacity, extras, seed)

    # -- writing ------------------------------------------------------------------------
    def __len__(self) -> int:
        """Number of stored transitions that can be sampled."""
        return self._n_valid

    @property
    def nbytes(self) -> int:
        """Bytes of all arrays at full capacity."""
        arrays = [*self.obs.values(), *self.extras.values()]
        arrays += [self.action, self.reward, self.terminated, self.valid]
        return int(sum(a.nbytes for a in arrays))

    def _write_obs(self, obs: Mapping[str, np.ndarray]) -> int:
        i = self.pos
        for k, arr in self.obs.items():
            if k not in obs:
                raise ConfigError(f"observation lacks {k!r}; the buffer stores {list(self.obs)}")
            arr[i] = obs[k]
        # overwriting slot i breaks the transition of slot i - 1 (its next obs was slot i)
        prev = (i - 1) % self.capacity
        self._n_valid -= int(self.valid[i]) + int(self.valid[prev])
        self.valid[i] = self.valid[prev] = False
        self.pos = (i + 1) % self.capacity
        self.filled = min(self.filled + 1, self.capacity)
        return i

    def _continues(self, obs: Mapping[str, np.ndarray]) -> bool:
        if self.last < 0 or self.pos != (self.last + 1) % self.capacity:
            return False
        ref = self._last_next
        if ref is not None and all(ref.get(k) is obs.get(k) for k in self.obs):
            return True  # the very arrays stored as the last next_obs: no compare needed
        return all(np.array_equal(self.obs[k][self.last], obs[k]) for k in self.obs)

    def add(
        self,
        obs: Mapping[str, np.ndarray],
        action: np.ndarray,
        reward: float,
        terminated: bool,
        truncated: bool,
        next_obs: Mapping[str, np.ndarray],
        **extras: Any,
    ) -> None:
        """Store one transition. ``terminated`` masks the bootstrap; ``truncated`` does not.

        After ``terminated or truncated`` the next ``add`` starts a new segment.
        """
        a = np.asarray(action, np.float32).reshape(-1)
        if a.shape != (self.action_dim,):
            raise ConfigError(f"action has shape {a.shape}, the buffer stores ({self.action_dim},)")
        i = self.last if self._continues(obs) else self._write_obs(obs)
        self.action[i], self.reward[i], self.terminated[i] = a, reward, terminated
        for k, arr in self.extras.items():
            arr[i] = extras.get(k, 0)
        self._write_obs(next_obs)
        self.valid[i] = True
        self._n_valid += 1
        self.last = -1 if (terminated or truncated) else (i + 1) % self.capacity
        self._last_next = next_obs

    # -- reading ------------------------------------------------------------------------
    def sample(self, batch_size: int, n_step: int = 1, gamma: float = 0.99) -> Batch:
        """Uniform batch: ``{"obs": {k: [B, ...]}, "next_obs": {...}, "action": [B, A],
        "reward": [B], "terminated": [B], "discount": [B], <extras>: [B, ...]}`` (numpy,
        stored dtypes; ``discount`` float32).

        ``n_step`` > 1: n-step returns. ``reward`` is ``Σ_{k<m} γ^k r_{t+k}``, ``next_obs``
        the frame m steps on and ``discount`` ``γ^m``, with m ≤ n cut at the episode's end
        (a terminal or truncated step) so a return never crosses episodes; ``terminated``
        is that of the m-th step. The SAC target is ``reward + discount · (1 − terminated)
        · V(next_obs)``; n = 1 gives ``discount = γ``, the one-step target.
        """
        n = len(self)
        if n == 0:
            raise ConfigError("cannot sample from an empty replay buffer; add transitions first")
        if n_step < 1:
            raise ConfigError(f"n_step must be >= 1, got {n_step}")
        idx = self.rng.integers(0, self.filled, size=batch_size)
        bad = ~self.valid[idx]
        while bad.any():  # rejection: few slots are invalid (one per segment)
            idx[bad] = self.rng.integers(0, self.filled, size=int(bad.sum()))
            bad = ~self.valid[idx]
        ret, disc, last = self.reward[idx].copy(), np.full(batch_size, gamma, np.float32), idx
        alive = np.ones(batch_size, bool)
        for _ in range(n_step - 1):
            nxt = (last + 1) % self.capacity  # a valid slot after a valid one: same stream
            alive &= ~self.terminated[last] & self.valid[nxt] & (nxt != self.pos)
            last = np.where(alive, nxt, last)
            ret += np.where(alive, disc * self.reward[last], 0.0).astype(np.float32)
            disc = np.where(alive, disc * gamma, disc).astype(np.float32)
        out: Batch = {
            "obs": {k: v[idx] for k, v in self.obs.items()},
            "next_obs": {k: v[(last + 1) % self.capacity] for k, v in self.obs.items()},
            "action": self.action[idx],
            "reward": ret,
            "terminated": self.terminated[last],
            "discount": disc,
        }
        out.update({k: v[idx] for k, v in self.extras.items()})
        return out

    # -- persistence ----------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write ``buffer.safetensors`` + ``buffer.json`` into ``directory`` (created)."""
        from safetensors.numpy import save_file

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        n = self.filled
        tensors = {f"obs/{k}": v[:n] for k, v in self.obs.items()}
        tensors |= {f"extras/{k}": v[:n] for k, v in self.extras.items()}
        tensors |= {
            "action": self.action[:n],
            "reward": self.reward[:n],
            "terminated": self.terminated[:n],
            "valid": self.valid[:n],
        }
        save_file(
            {k: np.ascontiguousarray(v) for k, v in tensors.items()}, d / "buffer.safetensors"
        )
        meta = {
            "format": "armgym.rl.ReplayBuffer/1",
            "obs": {k: [list(s), dt] for k, (s, dt) in self.obs_schema.items()},
            "extras": {k: [list(s), dt] for k, (s, dt) in self.extras_schema.items()},
            "action_dim": self.action_dim,
            "capacity": self.capacity,
            "pos": self.pos,
            "filled": self.filled,
            "last": self.last,
            "rng": self.rng.bit_generator.state,
        }
        (d / "buffer.json").write_text(json.dumps(meta))
        return d

    @classmethod
    def load(cls, directory: str | Path) -> ReplayBuffer:
        """Restore a buffer written by :meth:`save`."""
        from safetensors.numpy import load_file

        d = Path(directory)
        try:
            meta = json.loads((d / "buffer.json").read_text())
            tensors = load_file(d / "buffer.safetensors")
        except (OSError, ValueError) as exc:
            raise CheckpointError(
                f"{d}: no readable replay buffer ({exc}); expected buffer.json + "
                "buffer.safetensors written by ReplayBuffer.save"
            ) from None
        obs = {k: (tuple(s), dt) for k, (s, dt) in meta["obs"].items()}
        extras = {k: (tuple(s), dt) for k, (s, dt) in meta["extras"].items()}
        buf = cls(obs, meta["action_dim"], meta["capacity"], extras)
        n = int(meta["filled"])
        for k in buf.obs:
            buf.obs[k][:n] = tensors[f"obs/{k}"]
        for k in buf.extras:
            buf.extras[k][:n] = tensors[f"extras/{k}"]
        for name in ("action", "reward", "terminated", "valid"):
            getattr(buf, name)[:n] = tensors[name]
        buf.pos, buf.filled, buf.last = int(meta["pos"]), n, int(meta["last"])
        buf._n_valid = int(buf.valid.sum())
        buf.rng.bit_generator.state = meta["rng"]
        return buf
