"""Seeded parallel rollouts of a policy: episode ``i`` always uses seed ``seeds[i]``.

``rollout(policy, env, seeds, num_envs=8)`` runs the episodes on a vector env
(``armgym.envs.batched.BatchedEnv`` by default, gymnasium's ``SyncVectorEnv`` with
``vector="sync"``). A slot that finishes an episode is reset with the next episode's seed
(masked reset), so which slot runs an episode never matters.

Action chunks are executed receding-horizon: a policy is queried when its slot's action
queue is empty and its first ``n_action_steps`` rows are queued. Learned policies
(``infer_batch``) get the slot's own observation history [To, ...] and a
``torch.Generator`` seeded with the episode's seed, and are queried one row at a time by
default, so every episode's outcome is bit-identical for any ``num_envs`` (batched
inference is faster but its float rounding depends on the batch). Other policies
(:class:`~armgym.policies.base.Policy`) get one deep copy per slot, reset per episode.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from armgym.errors import ConfigError
from armgym.policies.base import Policy

VECTORS = ("batched", "sync", "warp")


@dataclass(frozen=True)
class EpisodeResult:
    """One evaluated episode."""

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


@dataclass
class _Slot:
    index: int
    seed: int
    history: deque[dict[str, np.ndarray]]
    queue: deque[np.ndarray] = field(default_factory=deque)
    ret: float = 0.0
    length: int = 0
    generator: Any = None
    policy: Any = None
    frames: list[np.ndarray] | None = None


def make_vector_env(env: Mapping[str, Any], num_envs: int, vector: str = "batched") -> Any:
    """A vector env of ``num_envs`` copies of ``env`` (``{"task": ..., **make kwargs}``)."""
    import gymnasium as gym

    import armgym  # noqa: F401  (registers the envs)

    kwargs: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in env.items() if k != "task"
    }
    task = str(env.get("task", "PickCube"))
    if vector == "batched":
        from armgym.envs.batched import BatchedEnv

        return BatchedEnv(task, num_envs, **kwargs)
    if vector == "warp":  # all envs as worlds of one MuJoCo Warp model (armgym[warp])
        from armgym.envs.warp import WarpBatchedEnv
        from armgym.envs.warp.host import HostVectorEnv

        return HostVectorEnv(WarpBatchedEnv(task, num_envs, **kwargs))
    if vector == "sync":
        fns = [lambda: gym.make(f"armgym/{task}-v0", **kwargs) for _ in range(num_envs)]
        return gym.vector.SyncVectorEnv(fns)
    raise ConfigError(f"unknown vector backend {vector!r}; use one of {VECTORS}")


def rollout(
    policy: Policy,
    env: Mapping[str, Any],
    seeds: Sequence[int],
    *,
    num_envs: int = 8,
    vector: str = "batched",
    batch_inference: bool = False,
    video_episodes: int = 0,
    video_size: tuple[int, int] = (240, 320),
    camera: str = "front",
    first_index: int = 0,
    on_episode: Callable[[EpisodeResult], None] | None = None,
) -> tuple[list[EpisodeResult], dict[int, np.ndarray]]:
    """Run one episode per seed; return results (by episode index) and videos.

    Args:
        policy: a learned policy (``infer_batch``) or any Policy (deep-copied per slot).
        env: ``{"task": name, **gymnasium.make kwargs}`` (a checkpoint's ``env``).
        seeds: seed of episode ``first_index + i`` is ``seeds[i]``.
        num_envs: parallel envs (capped at ``len(seeds)``).
        batch_inference: query all waiting slots in one batch (faster, not bit-exact).
        video_episodes: record episodes with index < this, uint8[T+1, H, W, 3] of ``camera``.
        on_episode: called as each episode ends (progress bars).
    """
    if not seeds:
        return [], {}
    n = max(1, min(num_envs, len(seeds)))
    vec = make_vector_env(env, n, vector)
    run = _Runner(policy, vec, video_episodes, (int(video_size[0]), int(video_size[1])), camera)
    pending = deque((first_index + i, int(seed)) for i, seed in enumerate(seeds))
    results: list[EpisodeResult] = []
    videos: dict[int, np.ndarray] = {}
    try:
        starts = [pending.popleft() for _ in range(n)]
        obs, _ = vec.reset(seed=[seed for _, seed in starts])
        slots: list[_Slot | None] = [
            run.start(j, i, seed, obs) for j, (i, seed) in enumerate(starts)
        ]
        while any(slots):
            _plan(policy, run.learned, slots, batch_inference)
            actions = np.zeros(vec.action_space.shape, dtype=np.float32)
            for j, s in enumerate(slots):
                if s is not None:
                    actions[j] = s.queue.popleft()
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

    def __init__(self, policy: Any, vec: Any, video_episodes: int, video_size: tuple[int, int],
                 camera: str):  # fmt: skip
        self.policy, self.vec, self.camera = policy, vec, camera
        self.video_episodes, self.video_size = video_episodes, video_size
        self.learned = hasattr(policy, "infer_batch")
        self.horizon = int(getattr(policy, "obs_horizon", 1))

    def start(self, j: int, index: int, seed: int, obs: Mapping[str, np.ndarray]) -> _Slot:
        """State of a freshly reset episode in slot ``j``: history filled with its first frame."""
        first = _row(obs, j)
        slot = _Slot(index, seed, deque([first] * self.horizon, maxlen=self.horizon))
        if self.learned:
            import torch

            slot.generator = torch.Generator().manual_seed(seed)
        else:
            slot.policy = copy.deepcopy(self.policy)
            slot.policy.reset()
        if index < self.video_episodes:
            slot.frames = [self.render(j)]
        return slot

    def record(self, s: _Slot, j: int, obs: Mapping[str, np.ndarray], rew: np.ndarray,
               term: np.ndarray, trunc: np.ndarray, info: Mapping[str, Any]
               ) -> EpisodeResult | None:  # fmt: skip
        """Account one step of slot ``j``; the episode's result if it ended."""
        s.ret, s.length = s.ret + float(rew[j]), s.length + 1
        s.history.append(_row(obs, j))
        if s.frames is not None:
            s.frames.append(self.render(j))
        if not (term[j] or trunc[j]):
            return None
        error = str(info["error"][j]) if "error" in info and info["_error"][j] else ""
        return EpisodeResult(s.index, s.seed, bool(info["is_success"][j]), s.ret, s.length, error)

    def render(self, j: int) -> np.ndarray:
        """Frame uint8[h, w, 3] of slot ``j`` (even sizes, as video codecs need)."""
        robot = self.vec.envs[j].unwrapped.robot
        h, w = self.video_size[0] // 2 * 2, self.video_size[1] // 2 * 2
        return np.asarray(robot.render(self.camera, (h, w)))


def _row(obs: Mapping[str, np.ndarray], j: int) -> dict[str, np.ndarray]:
    return {k: np.array(v[j]) for k, v in obs.items()}


def _plan(policy: Any, learned: bool, slots: list[_Slot | None], batch: bool) -> None:
    """Fill the action queue of every active slot whose queue is empty."""
    need = [s for s in slots if s is not None and not s.queue]
    if not need:
        return
    if not learned:
        for s in need:
            chunk = np.asarray(s.policy.infer(s.history[-1])["actions"], np.float32)
            s.queue.extend(chunk.reshape(-1, chunk.shape[-1]))
        return
    groups = [need] if batch else [[s] for s in need]
    for group in groups:
        stacked = {
            k: np.stack([np.stack([h[k] for h in s.history]) for s in group]) for k in policy.schema
        }
        chunks = policy.infer_batch(stacked, [s.generator for s in group])
        for s, chunk in zip(group, chunks, strict=True):
            s.queue.extend(chunk)
