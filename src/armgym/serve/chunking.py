"""Execute action chunks one step at a time: plain chunking and ACT temporal ensembling.

Both wrap any :class:`~armgym.contracts.policy.Policy` whose ``infer`` returns
``{"actions": float32[H, A]}`` and are themselves policies whose ``infer`` returns
``{"actions": float32[1, A]}`` (one step), so they stack with every other wrapper.
Use :func:`step_action` to get the ``float32[A]`` vector an env's ``step`` takes.

* :class:`ActionChunkBroker` (as openpi's): call the inner policy once, then play the
  first ``execute_steps`` rows of its chunk, one per ``infer`` call.
* :class:`TemporalEnsembler` (ACT, Zhao et al. 2023): call the inner policy every step;
  the action for time t averages every chunk that predicted t, with weights
  ``w_i = exp(-k * i)`` where ``i = 0`` is the oldest prediction (ACT's ``k = 0.01``).
* :class:`ObservationHistory`: keep the last To frames and send them stacked, for
  policies with an observation horizon (``metadata.obs_horizon``); wrap it outside the
  broker so it sees every step.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from armgym.contracts.policy import Policy, PolicyMetadata
from armgym.errors import ConfigError
from armgym.policies.runner import ChunkRunner, FrameHistory, action_chunk, first_action


def step_action(result: dict[str, Any]) -> np.ndarray:
    """The first row of ``result["actions"]`` as float32[A] (what ``env.step`` takes)."""
    return first_action(result)


def _one_step_metadata(meta: PolicyMetadata, name: str) -> PolicyMetadata:
    return PolicyMetadata(
        observation=meta.observation,
        action_dim=meta.action_dim,
        action_horizon=1,
        fps=meta.fps,
        name=f"{name}({meta.name})",
        extra=meta.extra,
    )


class ActionChunkBroker:
    """Play a chunk open-loop: one inner ``infer`` every ``execute_steps`` calls.

    Args:
        policy: inner policy returning ``actions`` float32[H, A].
        execute_steps: rows of each chunk to execute before querying again
            (1 <= execute_steps <= H; default: the whole chunk, ``metadata.action_horizon``).
    """

    def __init__(self, policy: Policy, execute_steps: int | None = None):
        horizon = policy.metadata.action_horizon
        steps = execute_steps if execute_steps is not None else horizon
        if steps < 1 or (horizon > 0 and steps > horizon):
            raise ConfigError(f"execute_steps must be in [1, {horizon}], got {steps}")
        self.policy, self.execute_steps = policy, steps
        self.metadata = _one_step_metadata(policy.metadata, "chunked")
        self._runner = ChunkRunner(1, steps)

    @property
    def inner_calls(self) -> int:
        """How many times the inner policy was queried."""
        return self._runner.inner_calls

    def reset(self) -> None:
        self.policy.reset()
        self._runner.reset()

    def infer(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Return ``{"actions": float32[1, A]}``: the next row of the current chunk."""
        row = self._runner.act(obs, self._query)
        return {"actions": row[None]}

    def _query(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        return action_chunk(self.policy.infer(obs), self.execute_steps)


class TemporalEnsembler:
    """ACT's temporal ensembling: query every step, average overlapping predictions.

    Args:
        policy: inner policy returning ``actions`` float32[H, A].
        k: decay of the exponential weights ``exp(-k * i)``, ``i = 0`` the oldest chunk;
            ``k > 0`` favours older predictions (ACT uses 0.01), ``k < 0`` newer ones.

    Pure numpy; the cost per step is one weighted sum over at most H stored chunks.
    """

    def __init__(self, policy: Policy, k: float = 0.01):
        self.policy, self.k = policy, float(k)
        self.metadata = _one_step_metadata(policy.metadata, "ensembled")
        self._chunks: deque[tuple[int, np.ndarray]] = deque()
        self._t = 0

    def reset(self) -> None:
        self.policy.reset()
        self._chunks.clear()
        self._t = 0

    def infer(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Return ``{"actions": float32[1, A]}``: the ensembled action for this step."""
        chunk = action_chunk(self.policy.infer(obs))
        t = self._t
        self._chunks.append((t, chunk))
        while self._chunks and self._chunks[0][0] + len(self._chunks[0][1]) <= t:
            self._chunks.popleft()  # oldest chunk no longer covers step t
        preds = np.stack([c[t - t0] for t0, c in self._chunks if t - t0 < len(c)])  # oldest first
        weights = np.exp(-self.k * np.arange(len(preds)))
        action = (weights @ preds.astype(np.float64)) / weights.sum()
        self._t += 1
        return {"actions": action.astype(np.float32)[None]}


class ObservationHistory:
    """Send the last ``horizon`` frames, stacked ``[T, ...]`` oldest first, each call.

    Wrap it *outside* an :class:`ActionChunkBroker`: it sees every step's observation,
    also the steps on which the broker plays its chunk without querying, so a remote
    policy with an observation horizon gets consecutive frames (what a local learned
    policy sees) instead of one frame per chunk. At an episode start the history is
    shorter than ``horizon``; the policy repeats its first frame.

    Args:
        policy: inner policy (a chunk executor around a client).
        horizon: frames to keep, the server's ``metadata.obs_horizon``.
    """

    def __init__(self, policy: Policy, horizon: int):
        self.policy, self.horizon = policy, horizon
        self.metadata = policy.metadata
        self._frames = FrameHistory(horizon, fill=False)

    def reset(self) -> None:
        self.policy.reset()
        self._frames.clear()

    def infer(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self._frames.append(obs)
        return self.policy.infer(self._frames.stacked(obs.keys()))
