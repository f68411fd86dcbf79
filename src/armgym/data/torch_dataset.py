"""A torch ``Dataset`` over a LeRobot dataset with observation and action horizons (BC).

Item ``i`` (global frame index, episode ``e``, frame ``t``)::

    observation.state           float32 [D]            (obs_horizon == 1)
                                float32 [H_o, D]       frames t-H_o+1 .. t (start repeated)
    observation.images.<cam>    float32 [3, H, W] or [H_o, 3, H, W], values in [0, 1]
    observation_is_pad          bool    [H_o]           True where the episode start was repeated
    action                      float32 [H_a, 7]        actions t .. t+H_a-1 (last one repeated
                                                        past the episode end)
    action_is_pad               bool    [H_a]           True on the repeated (padded) steps
    episode_index, index        int64   []

torch is imported lazily (``import armgym.data`` never needs it). All vectors are held in
memory; videos are decoded once per episode into a uint8 cache (``preload_images``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from armgym.data.lerobot_format import LEGACY_SIM_STATE_KEY
from armgym.data.reader import LeRobotReader
from armgym.errors import ConfigError


def horizon_indices(t: int, length: int, start: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Clamp frames ``t+start .. t+start+horizon-1`` into ``[0, length)``.

    Returns (indices int64[horizon], is_pad bool[horizon]).
    """
    raw = np.arange(t + start, t + start + horizon)
    idx = np.clip(raw, 0, length - 1)
    return idx, raw != idx


class HorizonDataset:
    """Map-style dataset; subclass-free so torch stays optional until ``__getitem__``.

    Args:
        root: dataset folder (or an open ``LeRobotReader``).
        obs_horizon: number of observation frames per item (>= 1).
        action_horizon: number of future actions per item (>= 1).
        state_keys: vector observation keys to return (default: every ``observation.*``
            vector feature).
        image_keys: video keys to return (default: all; ``()`` for none).
    """

    def __init__(
        self,
        root: str | Path | LeRobotReader,
        obs_horizon: int = 1,
        action_horizon: int = 8,
        state_keys: Sequence[str] | None = None,
        image_keys: Sequence[str] | None = None,
        preload_images: bool = True,
    ):
        if obs_horizon < 1 or action_horizon < 1:
            raise ConfigError(
                f"horizons must be >= 1, got obs_horizon={obs_horizon}, "
                f"action_horizon={action_horizon}."
            )
        self.reader = root if isinstance(root, LeRobotReader) else LeRobotReader(root)
        self.obs_horizon, self.action_horizon = obs_horizon, action_horizon
        vec = self.reader.vector_keys
        self.state_keys = (
            list(state_keys)
            if state_keys is not None
            else [k for k in vec if k.startswith("observation.") and k != LEGACY_SIM_STATE_KEY]
        )
        self.image_keys = (
            list(image_keys) if image_keys is not None else list(self.reader.video_keys)
        )
        cols = self.reader.columns([*self.state_keys, "action", "episode_index", "index"])
        self._vectors = {
            k: np.asarray(cols[k], np.float32).reshape(len(cols[k]), -1)
            for k in [*self.state_keys, "action"]
        }
        self._episode = cols["episode_index"].astype(np.int64)
        self._index = cols["index"].astype(np.int64)
        self._starts = {e.index: e.from_index for e in self.reader.episodes}
        self._first = np.array([self._starts[int(e)] for e in self._episode], dtype=np.int64)
        self._length = {e.index: e.length for e in self.reader.episodes}
        self._images: dict[tuple[str, int], np.ndarray] = {}
        if preload_images:
            for ep in self.reader.episodes:
                for key in self.image_keys:
                    self._images[(key, ep.index)] = self.reader.video(key, ep.index)

    def __len__(self) -> int:
        return len(self._episode)

    def _image(self, key: str, ep: int) -> np.ndarray:
        if (key, ep) not in self._images:
            self._images[(key, ep)] = self.reader.video(key, ep)
        return self._images[(key, ep)]

    def numpy_item(self, i: int) -> dict[str, np.ndarray]:
        """Item ``i`` as numpy arrays (shapes as in the module docstring)."""
        ep = int(self._episode[i])
        first, length = int(self._first[i]), self._length[ep]
        t = i - first
        obs_idx, obs_pad = horizon_indices(t, length, -(self.obs_horizon - 1), self.obs_horizon)
        act_idx, act_pad = horizon_indices(t, length, 0, self.action_horizon)
        squeeze = self.obs_horizon == 1
        out: dict[str, np.ndarray] = {}
        for key in self.state_keys:
            v = self._vectors[key][first + obs_idx]
            out[key] = v[0] if squeeze else v
        for key in self.image_keys:
            img = self._image(key, ep)[obs_idx].astype(np.float32) / 255.0
            img = img.transpose(0, 3, 1, 2)
            out[key] = img[0] if squeeze else img
        out["observation_is_pad"] = obs_pad
        out["action"] = self._vectors["action"][first + act_idx]
        out["action_is_pad"] = act_pad
        out["episode_index"] = np.asarray(ep, dtype=np.int64)
        out["index"] = np.asarray(self._index[i], dtype=np.int64)
        return out

    def __getitem__(self, i: int) -> dict[str, Any]:
        import torch

        if not -len(self) <= i < len(self):
            raise IndexError(i)
        return {
            k: torch.as_tensor(np.ascontiguousarray(v))
            for k, v in self.numpy_item(int(i) % len(self)).items()
        }
