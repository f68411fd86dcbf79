"""Feature statistics as lerobot computes them, built incrementally while recording.

Per feature: ``min, max, mean, std, count, q01, q10, q50, q90, q99``. Vector features give
arrays of shape [D] (scalars [1]); video/image features give per-channel values of shape
[3, 1, 1] computed on pixels scaled to [0, 1]. Each finished episode gets exact stats of
its own frames (images: a frame/pixel subsample); the dataset's stats are the
count-weighted aggregate of the episodes' (pooled variance, weighted-mean quantiles), as
``lerobot.datasets.compute_stats.aggregate_stats`` does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

QUANTILES = {"q01": 0.01, "q10": 0.10, "q50": 0.50, "q90": 0.90, "q99": 0.99}
STAT_KEYS = ("min", "max", "mean", "std", "count", *QUANTILES)
Stats = dict[str, np.ndarray]

#: At most this many frames per episode and this many pixels per side enter image stats.
MAX_IMAGE_FRAMES = 64
MAX_IMAGE_SIDE = 48


def vector_stats(values: np.ndarray) -> Stats:
    """Stats of ``values`` [T] or [T, D] along time; every entry has shape [D] ([1] for [T])."""
    x = np.asarray(values)
    if x.dtype == np.bool_:
        x = x.astype(np.float64)
    x2 = x.reshape(len(x), -1).astype(np.float64)
    out: Stats = {
        "min": x.reshape(len(x), -1).min(axis=0),
        "max": x.reshape(len(x), -1).max(axis=0),
        "mean": x2.mean(axis=0),
        "std": x2.std(axis=0),
        "count": np.array([len(x)], dtype=np.int64),
    }
    qs = np.quantile(x2, list(QUANTILES.values()), axis=0)
    out.update({k: qs[i] for i, k in enumerate(QUANTILES)})
    return out


def image_sample(frame: np.ndarray) -> np.ndarray:
    """Spatially subsample one uint8 [H, W, 3] frame to at most MAX_IMAGE_SIDE per side."""
    h, w = frame.shape[:2]
    step = max(1, int(np.ceil(max(h, w) / MAX_IMAGE_SIDE)))
    return frame[::step, ::step].copy()  # callers may reuse their buffer


def image_stats(samples: np.ndarray) -> Stats:
    """Per-channel stats of uint8 frames [N, h, w, 3], scaled to [0, 1]; entries [3, 1, 1]."""
    px = samples.reshape(-1, samples.shape[-1]).astype(np.float64) / 255.0
    s = vector_stats(px)
    out = {k: v.reshape(-1, 1, 1) for k, v in s.items() if k != "count"}
    out["min"], out["max"] = out["min"].astype(np.float64), out["max"].astype(np.float64)
    out["count"] = np.array([len(samples)], dtype=np.int64)
    return out


def episode_image_stats(samples: Sequence[np.ndarray]) -> Stats:
    """Image stats of one episode from its frames' ``image_sample``s (all of them): at most
    ``MAX_IMAGE_FRAMES`` evenly spaced frames enter."""
    n = len(samples)
    pick = np.linspace(0, n - 1, min(n, MAX_IMAGE_FRAMES)).round().astype(int)
    return image_stats(np.stack([samples[i] for i in pick]))


def aggregate(stats_list: Iterable[Stats]) -> Stats:
    """Count-weighted aggregate of per-episode stats of one feature."""
    items = [s for s in stats_list if s]
    if not items:
        return {}
    counts = np.array([float(s["count"][0]) for s in items])
    w = counts / counts.sum()

    def wsum(key: str) -> np.ndarray:
        return np.sum(
            [wi * np.asarray(s[key], dtype=np.float64) for wi, s in zip(w, items, strict=True)],
            axis=0,
        )

    mean = wsum("mean")
    var = np.sum(
        [
            wi
            * (
                np.asarray(s["std"], np.float64) ** 2
                + (np.asarray(s["mean"], np.float64) - mean) ** 2
            )
            for wi, s in zip(w, items, strict=True)
        ],
        axis=0,
    )
    out: Stats = {
        "min": np.min([s["min"] for s in items], axis=0),
        "max": np.max([s["max"] for s in items], axis=0),
        "mean": mean,
        "std": np.sqrt(np.maximum(var, 0.0)),
        "count": np.array([int(counts.sum())], dtype=np.int64),
    }
    out.update({k: wsum(k) for k in QUANTILES if all(k in s for s in items)})
    return out


def aggregate_all(per_episode: Iterable[Mapping[str, Stats]]) -> dict[str, Stats]:
    """Aggregate ``[{feature: stats}, ...]`` (one dict per episode) into ``{feature: stats}``."""
    by_feature: dict[str, list[Stats]] = {}
    for ep in per_episode:
        for key, s in ep.items():
            by_feature.setdefault(key, []).append(s)
    return {k: aggregate(v) for k, v in by_feature.items()}


def to_json(stats: Mapping[str, Stats]) -> dict[str, dict[str, Any]]:
    """Nested lists, as meta/stats.json stores them."""
    return {k: {sk: np.asarray(sv).tolist() for sk, sv in s.items()} for k, s in stats.items()}


class RunningStats:
    """Dataset statistics kept up to date as episodes finish.

    ``add_episode({feature: stats})`` folds one episode in; ``value`` is the aggregate
    so far. Keeps only per-episode summaries (O(episodes × features)), never frames.
    """

    def __init__(self) -> None:
        self._episodes: list[dict[str, Stats]] = []
        self._cache: dict[str, Stats] | None = {}

    def add_episode(self, ep_stats: Mapping[str, Stats]) -> None:
        self._episodes.append(dict(ep_stats))
        self._cache = None

    @property
    def num_episodes(self) -> int:
        return len(self._episodes)

    @property
    def value(self) -> dict[str, Stats]:
        if self._cache is None:
            self._cache = aggregate_all(self._episodes)
        return self._cache
