"""Feature normalisation for learned policies, with its statistics stored as plain JSON.

Two modes, as in Diffusion Policy / LeRobot:

* ``mean_std`` (observations): ``(x - mean) / std``; std below ``EPS_STD`` counts as 1 so a
  constant feature passes through centred instead of blowing up. Optional ``"clip": c``
  clamps the result to ``[-c, c]`` (RL: states the data never showed stay bounded).
* ``min_max`` (actions): maps ``[min, max]`` to ``[-1, 1]``; a dimension with range below
  ``EPS_RANGE`` (e.g. an action component the expert never uses) maps to 0, and
  ``unnormalize`` returns its constant whatever the model predicts there (a diffusion
  policy's samples are never exactly 0; the data says the value never changes).

Images are not normalised here (the encoder scales uint8 to [0, 1]).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from armgym.errors import CheckpointError, ConfigError

MODES = ("mean_std", "min_max")
EPS_STD = 1e-3
EPS_RANGE = 1e-4


def compute_stats(values: np.ndarray, mode: str) -> dict[str, list[float]]:
    """Statistics of ``values`` float[N, D] for ``mode``: lists of D floats (JSON-ready)."""
    x = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    if mode == "mean_std":
        return {"mean": x.mean(0).tolist(), "std": x.std(0).tolist()}
    if mode == "min_max":
        return {"min": x.min(0).tolist(), "max": x.max(0).tolist()}
    raise ConfigError(f"unknown normalisation mode {mode!r}; use one of {MODES}")


class Normalizer:
    """Per-feature affine normalisation ``y = (x - offset) / scale``.

    Args:
        stats: ``{key: {"mode": "mean_std"|"min_max", "mean"/"std" or "min"/"max": [D]}}``.
    """

    def __init__(self, stats: Mapping[str, Mapping[str, Any]]):
        self.stats = {k: dict(v) for k, v in stats.items()}
        self._offset: dict[str, torch.Tensor] = {}
        self._scale: dict[str, torch.Tensor] = {}
        self._out_scale: dict[str, torch.Tensor] = {}  # 0 on constant min_max dims
        self._clip = {k: float(v["clip"]) for k, v in self.stats.items() if v.get("clip")}
        for key, s in self.stats.items():
            offset, scale, out_scale = _affine(key, s)
            self._offset[key] = torch.as_tensor(offset, dtype=torch.float32)
            self._scale[key] = torch.as_tensor(scale, dtype=torch.float32)
            self._out_scale[key] = torch.as_tensor(out_scale, dtype=torch.float32)

    def __contains__(self, key: object) -> bool:
        return key in self._offset

    def normalize(self, key: str, x: torch.Tensor) -> torch.Tensor:
        """``x`` float[..., D] -> normalised float[..., D]."""
        y = (x - self._offset[key]) / self._scale[key]
        clip = self._clip.get(key)
        return y if clip is None else y.clamp(-clip, clip)

    def unnormalize(self, key: str, y: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`normalize` (constant min_max dims give their constant)."""
        return y * self._out_scale[key] + self._offset[key]

    def to_json(self) -> dict[str, dict[str, Any]]:
        return {k: dict(v) for k, v in self.stats.items()}


def _affine(key: str, s: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(offset, scale, unnormalise scale) of feature ``key``."""
    mode = s.get("mode")
    try:
        if mode == "mean_std":
            mean, std = np.asarray(s["mean"], np.float64), np.asarray(s["std"], np.float64)
            scale = np.where(std < EPS_STD, 1.0, std)
            return mean, scale, scale
        if mode == "min_max":
            lo, hi = np.asarray(s["min"], np.float64), np.asarray(s["max"], np.float64)
            rng = hi - lo
            flat = rng < EPS_RANGE
            return (
                np.where(flat, lo, (hi + lo) / 2),
                np.where(flat, 1.0, rng / 2),
                np.where(flat, 0.0, rng / 2),
            )
    except KeyError as exc:
        raise CheckpointError(f"normalisation stats of {key!r} lack {exc}") from None
    raise CheckpointError(
        f"normalisation stats of {key!r} have unknown mode {mode!r}; expected one of {MODES}"
    )
