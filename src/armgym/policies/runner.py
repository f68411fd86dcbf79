"""The one action-chunk + observation-history runner, reusable per env in a batch.

A policy returns action chunks ``float32[H, A]`` and may read the last ``To`` frames.
Running one in an env loop needs two small pieces of state, kept here once:

* :class:`FrameHistory`: the last ``To`` observation frames, stacked ``[To, ...]`` oldest
  first (at an episode start, the first frame fills the history, or, with
  ``fill=False``, the history is just shorter);
* :class:`ActionQueue`: the rows of the current chunk still to execute (receding
  horizon: the first ``execute_steps`` rows of each chunk).

:class:`ChunkRunner` combines them: ``act(obs, infer)`` records the frame and returns the
next action ``float32[A]``, calling ``infer(history)`` only when the queue is empty. Keep
one runner per env of a batched env (``observe``/``needs_chunk``/``push``/``pop`` let a
caller batch the ``infer`` calls of several runners itself).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from armgym.errors import ConfigError, ProtocolError


def action_chunk(result: Any, min_rows: int = 1) -> np.ndarray:
    """``result["actions"]`` as float32[H, A]; ProtocolError if it is missing, not 2-D, or
    has fewer than ``min_rows`` rows (what a chunk executor checks of a remote answer)."""
    actions = result.get("actions") if isinstance(result, Mapping) else None
    if not isinstance(actions, np.ndarray) or actions.ndim != 2 or actions.shape[0] < 1:
        shape = actions.shape if isinstance(actions, np.ndarray) else None
        raise ProtocolError(f"inner policy must return actions float32[H, A], got shape {shape}")
    if actions.shape[0] < min_rows:
        raise ProtocolError(
            f"inner policy returned {actions.shape[0]} action rows, fewer than {min_rows}"
        )
    return actions


def first_action(result: Mapping[str, Any]) -> np.ndarray:
    """The first row of ``result["actions"]`` as float32[A] (what ``env.step`` takes)."""
    actions = np.asarray(result["actions"], dtype=np.float32)
    return actions[0] if actions.ndim == 2 else actions


class FrameHistory:
    """The last ``horizon`` observation frames (dicts of arrays), oldest first.

    Args:
        horizon: frames kept, To >= 1.
        fill: at an episode start the first frame is repeated to fill all To rows
            (``False``: the history is just shorter until To frames arrived).
    """

    def __init__(self, horizon: int = 1, *, fill: bool = True):
        if horizon < 1:
            raise ConfigError(f"observation history horizon must be >= 1, got {horizon}")
        self.horizon, self.fill = int(horizon), fill
        self._frames: deque[dict[str, np.ndarray]] = deque(maxlen=self.horizon)

    def __len__(self) -> int:
        return len(self._frames)

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        """Frame ``i`` (``-1``: the latest)."""
        return self._frames[i]

    def clear(self) -> None:
        self._frames.clear()

    def frames_with(self, frame: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """The frames the history would hold after appending ``frame`` (nothing changes)."""
        frames = list(self._frames)
        if frame is not None:
            frames.append(dict(frame))
        if self.fill and frames and len(frames) < self.horizon:
            frames = [frames[0]] * (self.horizon - len(frames)) + frames
        return frames[-self.horizon :]

    def append(self, frame: Mapping[str, Any]) -> None:
        """Record ``frame``; the first frame of an episode fills the history if ``fill``."""
        frames = self.frames_with(frame)
        self._frames.clear()
        self._frames.extend(frames)

    def replace(self, frames: list[dict[str, Any]]) -> None:
        """Set the history to ``frames`` (e.g. :meth:`frames_with` after a call succeeded)."""
        self._frames.clear()
        self._frames.extend(frames[-self.horizon :])

    def stacked(
        self, keys: Any = None, frame: Mapping[str, Any] | None = None
    ) -> dict[str, np.ndarray]:
        """``{key: [T, ...]}`` (T = To once full), optionally as if ``frame`` were appended."""
        frames = self.frames_with(frame)
        if not frames:
            raise ConfigError("the observation history is empty; observe a frame first")
        names = list(frames[-1]) if keys is None else list(keys)
        return {k: np.stack([np.asarray(f[k]) for f in frames]) for k in names}


class ActionQueue:
    """Rows of the current action chunk still to execute.

    Args:
        execute_steps: rows of each pushed chunk to execute (``None``: all of them).
    """

    def __init__(self, execute_steps: int | None = None):
        if execute_steps is not None and execute_steps < 1:
            raise ConfigError(f"execute_steps must be >= 1, got {execute_steps}")
        self.execute_steps = execute_steps
        self._rows: deque[np.ndarray] = deque()

    def __len__(self) -> int:
        return len(self._rows)

    def clear(self) -> None:
        self._rows.clear()

    def push(self, chunk: np.ndarray) -> None:
        """Queue the first ``execute_steps`` rows of ``chunk`` float32[H, A] (or [A])."""
        rows = np.asarray(chunk, np.float32)
        rows = rows.reshape(-1, rows.shape[-1])
        self._rows.extend(rows[: self.execute_steps])

    def pop(self) -> np.ndarray:
        """The next action float32[A]."""
        if not self._rows:
            raise ConfigError("the action queue is empty; push a chunk first")
        return self._rows.popleft()


class ChunkRunner:
    """Receding-horizon execution of one policy stream (one env): history + action queue.

    Args:
        obs_horizon: frames of history to keep (the policy's To).
        execute_steps: rows of each chunk executed before querying again (``None``: all).
        fill: repeat an episode's first frame to fill the history (see :class:`FrameHistory`).
    """

    def __init__(self, obs_horizon: int = 1, execute_steps: int | None = None, *,
                 fill: bool = True):  # fmt: skip
        self.history = FrameHistory(obs_horizon, fill=fill)
        self.queue = ActionQueue(execute_steps)
        self.inner_calls = 0

    def reset(self) -> None:
        self.history.clear()
        self.queue.clear()

    def observe(self, obs: Mapping[str, Any]) -> None:
        """Record this step's observation frame."""
        self.history.append(obs)

    @property
    def needs_chunk(self) -> bool:
        """True when the queue is empty and the policy must be queried."""
        return len(self.queue) == 0

    def push(self, result: Any) -> None:
        """Queue a policy result ``{"actions": [H, A] or [A]}`` (or a bare array)."""
        chunk = result if isinstance(result, np.ndarray) else result["actions"]
        self.queue.push(chunk)
        self.inner_calls += 1

    def pop(self) -> np.ndarray:
        return self.queue.pop()

    def act(self, obs: Mapping[str, Any], infer: Callable[[dict[str, np.ndarray]], Any]
            ) -> np.ndarray:  # fmt: skip
        """Observe ``obs``; if the queue is empty, queue ``infer(stacked history)``'s chunk;
        return the next action float32[A]. With ``obs_horizon == 1`` ``infer`` gets the
        frame itself (not a history of one)."""
        self.observe(obs)
        if self.needs_chunk:
            if self.history.horizon == 1:
                self.push(infer(dict(obs)))
            else:
                self.push(infer(self.history.stacked()))
        return self.pop()
