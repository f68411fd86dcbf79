"""Pure numpy helpers of the reward-classifier loop: frame labels, the split by episode,
the threshold rule and the metrics of ``report.json``.

Labels (:func:`state_labels`): frame t of a LeRobot episode stores the observation
*before* action t and ``next.success[t]`` = the task's success *after* it. The image of
frame t therefore shows the state scored by ``next.success[t - 1]``; frame 0 shows the
reset state, labelled 0 (no armgym task starts solved). So a dataset recorded with
``armgym collect`` (which ends episodes at success) has no frame that shows a success:
record with ``--no-terminate-on-success``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from armgym.errors import DatasetError


def state_labels(next_success: np.ndarray) -> np.ndarray:
    """bool[T] success of the state each frame shows, from ``next.success`` bool[T] (or [T, 1])."""
    s = np.asarray(next_success).reshape(-1).astype(bool)
    return np.concatenate([[False], s[:-1]]) if len(s) else s


@dataclass(frozen=True)
class EpisodeSplit:
    """Episode ids (indices into the loaded episode list) of each split."""

    train: list[int]
    val: list[int]
    test: list[int]

    def as_dict(self) -> dict[str, list[int]]:
        return {"train": self.train, "val": self.val, "test": self.test}


def split_episodes(has_positive: np.ndarray, val_fraction: float, test_fraction: float,
                   seed: int) -> EpisodeSplit:  # fmt: skip
    """Split episodes (never frames) into train / val / test, each class of episode (with a
    success frame or without) shuffled with ``seed`` and shared out by the fractions, at
    least one of each class in val and test.

    Raises:
        DatasetError: fewer than 3 episodes with success frames or 3 without.
    """
    has_positive = np.asarray(has_positive, bool)
    out: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for cls, what in ((True, "with"), (False, "without")):
        ids = np.flatnonzero(has_positive == cls)
        if len(ids) < 3:
            raise DatasetError(
                f"only {len(ids)} episode(s) {what} a success frame; the split by episode "
                "needs at least 3 (train, validation, test). Record more "
                + (
                    "successful episodes (`armgym collect --source scripted "
                    "--no-terminate-on-success`)"
                    if cls
                    else "failed episodes (e.g. `armgym collect --action-noise 0.6`)"
                )
            )
        ids = np.random.default_rng([seed, int(cls)]).permutation(ids)
        n_test = max(1, round(test_fraction * len(ids)))
        n_val = max(1, round(val_fraction * len(ids)))
        n_val = min(n_val, len(ids) - n_test - 1)
        out["test"] += ids[:n_test].tolist()
        out["val"] += ids[n_test : n_test + n_val].tolist()
        out["train"] += ids[n_test + n_val :].tolist()
    return EpisodeSplit(*(sorted(out[k]) for k in ("train", "val", "test")))


def binary_metrics(probs: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, Any]:
    """Frame metrics of ``probs >= threshold`` against bool ``labels``: accuracy, precision
    (0 when nothing is predicted positive), recall, confusion counts."""
    pred = np.asarray(probs) >= threshold
    y = np.asarray(labels, bool)
    tp, fp = int(np.sum(pred & y)), int(np.sum(pred & ~y))
    fn, tn = int(np.sum(~pred & y)), int(np.sum(~pred & ~y))
    n = tp + fp + fn + tn
    return {
        "frames": n,
        "accuracy": (tp + tn) / n if n else 0.0,
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
    }


def choose_threshold(probs: np.ndarray, labels: np.ndarray,
                     target_precision: float) -> tuple[float, bool]:  # fmt: skip
    """The lowest threshold (highest recall) whose precision on (``probs``, ``labels``)
    reaches ``target_precision`` and that predicts at least one positive; when none does,
    the one with the highest precision (ties: the lowest). Returns ``(threshold, met)``."""
    p = np.asarray(probs, np.float64)
    y = np.asarray(labels, bool)
    order = np.argsort(-p, kind="stable")
    p_sorted, y_sorted = p[order], y[order]
    tp = np.cumsum(y_sorted)
    precision = tp / np.arange(1, len(p) + 1)
    # only the last index of a run of equal probabilities is a reachable threshold
    last = np.r_[p_sorted[1:] != p_sorted[:-1], True] & (tp > 0)
    ok = np.flatnonzero(last & (precision >= target_precision))
    if len(ok):
        return float(p_sorted[ok[-1]]), True
    cand = np.flatnonzero(last)
    if not len(cand):
        return 0.5, False
    best = cand[precision[cand] == precision[cand].max()][-1]
    return float(p_sorted[best]), False


def episode_agreement(probs: np.ndarray, labels: np.ndarray, episode: np.ndarray,
                      threshold: float) -> dict[str, Any]:  # fmt: skip
    """Per episode: does "some frame reaches the threshold" (the wrapper would end it with
    reward 1) agree with "some frame shows a success"? Plus the mean frame delay of the
    first classified success after the first true one (only where both exist)."""
    agree, delays = 0, []
    ids = np.unique(episode)
    for e in ids:
        m = episode == e
        pred, y = np.asarray(probs)[m] >= threshold, np.asarray(labels, bool)[m]
        agree += int(pred.any() == y.any())
        if pred.any() and y.any():
            delays.append(int(np.argmax(pred)) - int(np.argmax(y)))
    return {
        "episodes": len(ids),
        "episode_accuracy": agree / len(ids) if len(ids) else 0.0,
        "mean_first_success_delay_frames": float(np.mean(delays)) if delays else None,
    }
