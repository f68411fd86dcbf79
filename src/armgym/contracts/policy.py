"""The ``Policy`` contract: what every policy, local or remote, looks like.

``infer(obs)`` takes one observation dict (keys as the env produces them, e.g.
``observation.state`` float32[D], ``observation.images.front`` uint8[H, W, 3]) and returns
``{"actions": float32[horizon, action_dim]}``, the same shape openpi serves. ``reset()``
clears internal state (observation history, action queues) between episodes.

Two optional, separately named batched interfaces:

* :class:`BatchPolicy` (openpi's meaning): ``infer_batch(list_of_obs) -> list_of_results``,
  one ``infer``-shaped result per observation, in order. A shared, stateless batch call.
* :class:`SessionPolicy`: stateful policies that share one model between independent
  sessions: ``fork(seed)`` gives a session with its own observation history and noise
  generator, and ``infer_sessions([(session, obs), ...])`` runs several sessions' calls as
  one batch. The policy server forks one per connection; evaluation one per episode.

This module is a leaf: it imports only numpy and the standard library.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

Observation = Mapping[str, np.ndarray]
"""One observation: feature key -> array (a frame, or a stacked history ``[T, ...]``)."""


@dataclass(frozen=True)
class FeatureSpec:
    """One observation or action feature: dtype string and shape."""

    dtype: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class PolicyMetadata:
    """What a policy server announces to clients on connect.

    Attributes:
        observation: feature name -> spec of what ``infer`` expects.
        action_dim: length of one action vector.
        action_horizon: rows of the ``actions`` array ``infer`` returns.
        fps: control rate the policy was trained for [Hz].
        name: policy kind (``mlp``, ``diffusion``, ``scripted:PickCube`` ...).
        extra: anything else (task, robot, control mode). ``extra["obs_horizon"]`` = To > 1
            says the policy reads the last To frames: it accepts one frame per call or a
            stacked history ``[T <= To, *shape]`` per key (oldest first).
    """

    observation: dict[str, FeatureSpec]
    action_dim: int
    action_horizon: int
    fps: float
    name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def obs_horizon(self) -> int:
        """Frames of observation history the policy reads (``extra["obs_horizon"]``, else 1)."""
        value = self.extra.get("obs_horizon", 1) if isinstance(self.extra, dict) else 1
        return value if isinstance(value, int) and value >= 1 else 1

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["observation"] = {
            k: {"dtype": v.dtype, "shape": list(v.shape)} for k, v in self.observation.items()
        }
        return d


@runtime_checkable
class Policy(Protocol):
    """Anything that maps observations to action chunks ``{"actions": float32[H, A]}``."""

    metadata: PolicyMetadata

    def reset(self) -> None: ...

    def infer(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...


@runtime_checkable
class BatchPolicy(Policy, Protocol):
    """A policy with openpi's batched call: one result per observation, in order."""

    def infer_batch(self, obs: list[dict[str, np.ndarray]]) -> list[dict[str, np.ndarray]]: ...


@runtime_checkable
class SessionPolicy(Policy, Protocol):
    """A stateful policy whose sessions (forks) share one model and batch together.

    ``fork(seed)``: a new session (history empty, noise generator seeded with ``seed``,
    or the policy's own seed if ``None``). ``infer_sessions(items)``: for pairs
    ``(session, obs)`` of forks of this policy, the results ``[{"actions": [H, A]}, ...]``
    each session would get alone, in order; ``obs`` may be one frame or a stacked history
    ``[T <= To, ...]`` (a stacked history leaves the session's own history untouched).
    """

    def fork(self, seed: int | None = None) -> SessionPolicy: ...

    def infer_sessions(
        self, items: Sequence[tuple[Any, Observation]]
    ) -> list[dict[str, np.ndarray]]: ...
