"""Evaluation reports: success rate with a Wilson 95% interval, returns, lengths, per-episode
outcomes (``report.json``), MP4 videos and the learning-curve plot (PNG). The HTML page is
:mod:`armgym.viz.run_report`'s, shared with ``armgym demo`` and training runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from armgym.atomic import write_json_atomic
from armgym.eval.rollout import EpisodeOutcome
from armgym.viz.run_report import read_log
from armgym.viz.stats import Z95, wilson_interval

__all__ = ["Z95", "read_log", "wilson_interval"]  # moved to armgym.viz, re-exported here


def summarize(results: Sequence[EpisodeOutcome]) -> dict[str, Any]:
    """Aggregate numbers of ``results`` (JSON-ready)."""
    n = len(results)
    k = sum(r.success for r in results)
    rets = np.array([r.ret for r in results], dtype=np.float64)
    lens = np.array([r.length for r in results], dtype=np.int64)
    lo, hi = wilson_interval(k, n)
    return {
        "episodes": n,
        "successes": int(k),
        "success_rate": k / n if n else 0.0,
        "success_ci95": [lo, hi],
        "mean_return": float(rets.mean()) if n else 0.0,
        "std_return": float(rets.std()) if n else 0.0,
        "mean_length": float(lens.mean()) if n else 0.0,
        "episode_lengths": lens.tolist(),
        "errors": sum(bool(r.error) for r in results),
    }


def build_report(results: Sequence[EpisodeOutcome], meta: Mapping[str, Any]) -> dict[str, Any]:
    """``summarize`` + ``meta`` (checkpoint, env, timing ...) + per-episode outcomes."""
    return {**summarize(results), **meta, "per_episode": [r.to_dict() for r in results]}


def write_json(path: Path, obj: Any) -> Path:
    """Write ``obj`` as JSON (indent 2) atomically and durably (:mod:`armgym.atomic`)."""
    write_json_atomic(path, obj, indent=2)
    return path


def write_video(path: Path, frames: np.ndarray, fps: float) -> Path:
    """Encode uint8[T, H, W, 3] as H.264 MP4 (yuv420p; H and W must be even)."""
    from armgym.data.video import VideoEncoder

    path.parent.mkdir(parents=True, exist_ok=True)
    _, h, w, _ = frames.shape
    enc = VideoEncoder(path, h, w, fps, "libx264")
    try:
        for frame in frames:
            enc.add(frame)
    finally:
        enc.close()
    return path


def plot_learning_curve(log_path: Path, png_path: Path, title: str = "") -> Path:
    """Training loss (raw and smoothed, log scale) and eval success rate vs step as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    losses, evals = read_log(log_path)
    steps = np.array([r["step"] for r in losses])
    loss = np.array([r["loss"] for r in losses])
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    if len(loss):
        ax.plot(steps, loss, color="tab:blue", alpha=0.25, lw=0.8, label="loss")
        w = max(1, len(loss) // 50)
        smooth = np.convolve(loss, np.ones(w) / w, mode="valid")
        ax.plot(steps[w - 1 :], smooth, color="tab:blue", lw=1.8, label=f"loss ({w}-step mean)")
        ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("training loss")
    if evals:
        ax2 = ax.twinx()
        es = [r["step"] for r in evals]
        sr = [r["eval"]["success_rate"] for r in evals]
        lo = [r["eval"]["success_ci95"][0] for r in evals]
        hi = [r["eval"]["success_ci95"][1] for r in evals]
        ax2.plot(es, sr, "o-", color="tab:green", label="eval success")
        ax2.fill_between(es, lo, hi, color="tab:green", alpha=0.15)
        ax2.set_ylim(-0.02, 1.02)
        ax2.set_ylabel("success rate (95% CI)")
        ax2.legend(loc="center right")
    ax.legend(loc="lower left")
    ax.set_title(title or "BC training")
    fig.tight_layout()
    png_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png_path)
    plt.close(fig)
    return png_path
