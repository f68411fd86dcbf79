"""Seeded parallel rollouts of a policy: episode ``i`` always uses seed ``seeds[i]``.

``rollout(policy, env, seeds, RolloutConfig(num_envs=8))`` runs the episodes on a vector
env (``armgym.envs.batched.BatchedEnv`` by default, gymnasium's ``SyncVectorEnv`` with
``vector="sync"``). A slot that finishes an episode is reset with the next episode's seed
(masked reset), so which slot runs an episode never matters.

Every slot runs one :class:`~armgym.policies.runner.ChunkRunner` (observation history +
receding-horizon action queue): the policy is queried when the slot's queue is empty and
the first ``action_horizon`` rows are queued. A
:class:`~armgym.contracts.policy.SessionPolicy` (learned policies) gets one fork per
episode, seeded with the episode's seed, and the slot's own observation history [To, ...];
forks are queried one at a time by default, so every episode's outcome is bit-identical
for any ``num_envs`` (``batch_inference`` is faster but its float rounding depends on the
batch). Any other :class:`~armgym.contracts.policy.Policy` gets one deep copy per slot,
reset per episode, and the latest frame.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from armgym.contracts.policy import Policy, SessionPolicy
from armgym.errors import ConfigError
from armgym.policies.runner import ChunkRunner

VECTORS = ("batched", "sync", "warp")


@dataclass(frozen=True)
class EpisodeOutcome:
    """One evaluated episode (``ret``: undiscounted return; ``length``: env steps)."""

    index: int
    seed: int
    success: bool
    ret: float
    length: int
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "seed": self.seed,
            "success": self.success,
            "return": self.ret,
            "length": self.length,
            **({"error": self.error} if self.error else {}),
        }

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> EpisodeOutcome:
        """Inverse of :meth:`to_dict`."""
        return cls(int(row["index"]), int(row["seed"]), bool(row["success"]),
                   float(row["return"]), int(row["length"]), str(row.get("error", "")))  # fmt: skip


@dataclass(frozen=True)
class RolloutConfig:
    """How :func:`rollout` runs its episodes."""

    num_envs: int = 8
    """Parallel envs (capped at the number of seeds)."""
    vector: str = "batched"
    """Vector env backend: batched | sync."""
    batch_inference: bool = False
    """Query all waiting slots in one batch (faster, not bit-exact)."""
    video_episodes: int = 0
    """Record episodes with index < this, uint8[T+1, H, W, 3] of ``camera``."""
    video_size: tuple[int, int] = (240, 320)
    """Video frame (height, width) [px]; rounded down to even sizes."""
    camera: str = "front"
    """Camera the videos are rendered from."""
    first_index: int = 0
    """Episode index of ``seeds[0]``."""


@dataclass
class _Slot:
    index: int
    seed: int
    runner: ChunkRunner
    policy: Any
    ret: float = 0.0
    length: int = 0
    frames: list[np.ndarray] | None = field(default=None)


def make_vector_env(env: Mapping[str, Any], num_envs: int, vector: str = "batched") -> Any:
    """A vector env of ``num_envs`` copies of ``env`` (``{"task": ..., **make kwargs}``)."""
    import gymnasium as gym

    from armgym.envs import EnvConfig, make_env

    cfg = EnvConfig.from_dict(env)
    if vector == "batched":
        from armgym.envs.batched import BatchedEnv

        return BatchedEnv.from_config(cfg, num_envs)
    if vector == "warp":  # all envs as worlds of one MuJoCo Warp model (armgym[warp])
        from armgym.envs.warp import WarpBatchedEnv
        from armgym.envs.warp.host import HostVectorEnv

        return HostVectorEnv(WarpBatchedEnv(cfg.task, num_envs, **cfg.make_kwargs()))
    if vector == "sync":
        return gym.vector.SyncVectorEnv([lambda: make_env(cfg) for _ in range(num_envs)])
    raise ConfigError(f"unknown vector backend {vector!r}; use one of {VECTORS}")


def rollout(
    policy: Policy,
    env: Mapping[str, Any],
    seeds: Sequence[int],
    cfg: RolloutConfig | None = None,
    *,
    on_episode: Callable[[EpisodeOutcome], None] | None = None,
) -> tuple[list[EpisodeOutcome], dict[int, np.ndarray]]:
    """Run one episode per seed; return outcomes (by episode index) and videos.

    Args:
        policy: a :class:`SessionPolicy` (forked per episode) or any Policy (deep-copied).
        env: ``{"task": name, **gymnasium.make kwargs}`` (a checkpoint's ``env``).
        seeds: seed of episode ``cfg.first_index + i`` is ``seeds[i]``.
        cfg: envs, vector backend, batching, videos (:class:`RolloutConfig`).
        on_episode: called as each episode ends (progress bars).
    """
    cfg = cfg or RolloutConfig()
    if not seeds:
        return [], {}
    n = max(1, min(cfg.num_envs, len(seeds)))
    vec = make_vector_env(env, n, cfg.vector)
    run = _Runner(policy, vec, cfg)
    pending = deque((cfg.first_index + i, int(seed)) for i, seed in enumerate(seeds))
    results: list[EpisodeOutcome] = []
    videos: dict[int, np.ndarray] = {}
    try:
        starts = [pending.popleft() for _ in range(n)]
        obs, _ = vec.reset(seed=[seed for _, seed in starts])
        slots: list[_Slot | None] = [
            run.start(j, i, seed, obs) for j, (i, seed) in enumerate(starts)
        ]
        while any(slots):
            run.plan(slots)
            actions = np.zeros(vec.action_space.shape, dtype=np.float32)
            for j, s in enumerate(slots):
                if s is not None:
                    actions[j] = s.runner.pop()
            obs, rew, term, trunc, info = vec.step(actions)
            mask, nexts = np.zeros(n, dtype=bool), {}
            for j, s in enumerate(slots):
                res = None if s is None else run.record(s, j, obs, rew, term, trunc, info)
                if s is None or res is None:
                    continue
                results.append(res)
                if s.frames is not None:
                    videos[s.index] = np.stack(s.frames)
                if on_episode is not None:
                    on_episode(res)
                slots[j] = None
                if pending:
                    nexts[j], mask[j] = pending.popleft(), True
            if nexts:
                reset_seeds = [nexts[j][1] if j in nexts else 0 for j in range(n)]
                obs, _ = vec.reset(seed=reset_seeds, options={"reset_mask": mask})
                for j, (i, seed) in nexts.items():
                    slots[j] = run.start(j, i, seed, obs)
    finally:
        vec.close()
    results.sort(key=lambda r: r.index)
    return results, videos


class _Runner:
    """Per-slot episode bookkeeping of :func:`rollout`."""

    def __init__(self, policy: Policy, vec: Any, cfg: RolloutConfig):
        self.policy, self.vec, self.cfg = policy, vec, cfg
        self.sessions = isinstance(policy, SessionPolicy)
        self.horizon = policy.metadata.obs_horizon if self.sessions else 1
        self.keys = list(policy.metadata.observation)

    def start(self, j: int, index: int, seed: int, obs: Mapping[str, np.ndarray]) -> _Slot:
        """State of a freshly reset episode in slot ``j``: history filled with its first frame."""
        if isinstance(self.policy, SessionPolicy):
            policy: Any = self.policy.fork(seed)
        else:
            policy = copy.deepcopy(self.policy)
            policy.reset()
        slot = _Slot(index, seed, ChunkRunner(self.horizon), policy)
        slot.runner.observe(_row(obs, j))
        if index < self.cfg.video_episodes:
            slot.frames = [self.render(j)]
        return slot

    def plan(self, slots: list[_Slot | None]) -> None:
        """Fill the action queue of every active slot whose queue is empty."""
        need = [s for s in slots if s is not None and s.runner.needs_chunk]
        if not need:
            return
        if not isinstance(self.policy, SessionPolicy):
            for s in need:
                s.runner.push(s.policy.infer(s.runner.history[-1]))
            return
        groups = [need] if self.cfg.batch_inference else [[s] for s in need]
        for group in groups:
            items = [(s.policy, s.runner.history.stacked(self.keys)) for s in group]
            for s, result in zip(group, self.policy.infer_sessions(items), strict=True):
                s.runner.push(result)

    def record(self, s: _Slot, j: int, obs: Mapping[str, np.ndarray], rew: np.ndarray,
               term: np.ndarray, trunc: np.ndarray, info: Mapping[str, Any]
               ) -> EpisodeOutcome | None:  # fmt: skip
        """Account one step of slot ``j``; the episode's outcome if it ended."""
        s.ret, s.length = s.ret + float(rew[j]), s.length + 1
        s.runner.observe(_row(obs, j))
        if s.frames is not None:
            s.frames.append(self.render(j))
        if not (term[j] or trunc[j]):
            return None
        error = str(info["error"][j]) if "error" in info and info["_error"][j] else ""
        return EpisodeOutcome(s.index, s.seed, bool(info["is_success"][j]), s.ret, s.length, error)

    def render(self, j: int) -> np.ndarray:
        """Frame uint8[h, w, 3] of slot ``j`` (even sizes, as video codecs need)."""
        robot = self.vec.envs[j].unwrapped.robot
        h, w = self.cfg.video_size[0] // 2 * 2, self.cfg.video_size[1] // 2 * 2
        return np.asarray(robot.render(self.cfg.camera, (h, w)))


def _row(obs: Mapping[str, np.ndarray], j: int) -> dict[str, np.ndarray]:
    return {k: np.array(v[j]) for k, v in obs.items()}
