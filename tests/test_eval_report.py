"""Report numbers: Wilson interval values, summaries, learning-curve PNG, MP4 writing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from armgym.eval.report import plot_learning_curve, summarize, wilson_interval, write_video
from armgym.eval.rollout import EpisodeOutcome


@pytest.mark.parametrize(
    ("k", "n", "lo", "hi"),
    [
        (0, 10, 0.0, 0.27753),
        (5, 10, 0.23659, 0.76341),
        (10, 10, 0.72247, 1.0),
        (50, 100, 0.40383, 0.59617),
        (95, 100, 0.88825, 0.97846),
        (1, 1, 0.20654, 1.0),
    ],
)
def test_wilson_interval_values(k: int, n: int, lo: float, hi: float) -> None:
    got = wilson_interval(k, n)
    assert got == pytest.approx((lo, hi), abs=1e-5)


def test_wilson_edge_cases() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    lo, hi = wilson_interval(30, 60)
    assert lo < 0.5 < hi and hi - 0.5 == pytest.approx(0.5 - lo)


def test_summarize() -> None:
    results = [EpisodeOutcome(i, 100 + i, i % 2 == 0, float(i), 10 + i) for i in range(4)]
    s = summarize(results)
    assert s["episodes"] == 4 and s["successes"] == 2 and s["success_rate"] == 0.5
    assert s["mean_return"] == 1.5 and s["episode_lengths"] == [10, 11, 12, 13]
    assert s["success_ci95"] == list(wilson_interval(2, 4))


def test_learning_curve_and_video(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    rows = [{"step": i, "loss": 1.0 / i, "lr": 1e-3} for i in range(1, 101)]
    rows.append({"step": 100, "eval": {"success_rate": 0.5, "success_ci95": [0.2, 0.8]}})
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    png = plot_learning_curve(log, tmp_path / "curve.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    frames = np.random.default_rng(0).integers(0, 255, (5, 32, 48, 3), dtype=np.uint8)
    mp4 = write_video(tmp_path / "v.mp4", frames, 10.0)
    import av

    with av.open(str(mp4)) as c:
        decoded = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(decoded) == 5 and decoded[0].shape == (32, 48, 3)
