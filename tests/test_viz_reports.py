"""Run reports (eval / demo / training share one page) and the TensorBoard scalar logger."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from armgym.eval.report import write_video
from armgym.train.logger import ScalarLogger, scalars
from armgym.viz.run_report import RunPage, eval_page, read_log, write_run_page


def _report(tmp_path: Path) -> dict:
    per = [
        {"index": i, "seed": 100 + i, "success": i % 3 != 1, "return": 1.5 * i, "length": 20 + i}
        for i in range(6)
    ]
    frames = np.zeros((5, 32, 32, 3), np.uint8)
    videos = [
        str(write_video(tmp_path / f"videos/episode_{i:03d}.mp4", frames, 10)) for i in (0, 1)
    ]
    return {"per_episode": per, "videos": videos, "policy": "mlp", "env": {"task": "PickCube"}}


def _log(path: Path) -> Path:
    with ScalarLogger(path.parent, tensorboard=False) as log:
        for step in range(1, 41):
            log.log(step, {"loss": 1.0 / step, "lr": 1e-3})
        log.log(20, {"eval": {"success_rate": 0.5, "success_ci95": [0.2, 0.8]}})
        log.log(40, {"eval": {"success_rate": 0.9, "success_ci95": [0.6, 0.98]}})
    with open(path, "a") as f:
        f.write('{"step": 41, "loss"')  # a run killed mid-line: skipped, not fatal
    return path


def test_eval_page_grid_table_curve(tmp_path: Path) -> None:
    log = _log(tmp_path / "run" / "log.jsonl")
    page = eval_page(_report(tmp_path), "mlp on PickCube", log=log)
    index = write_run_page(tmp_path, page)
    html = index.read_text()
    assert "success 4/6 = 67%" in html and "95% CI" in html
    # clips: failures first, labelled with seed and outcome, linked relatively
    first, second = html.index("episode 1 · seed 101 · failure"), html.index("seed 100 · success")
    assert first < second
    assert "src='videos/episode_001.mp4'" in html and "class='clip f'" in html
    assert html.count("<tr>") == 1 + 6 + 3  # per-seed header + rows, facts table rows
    assert "training loss" in html and "evaluation success" in html
    assert "nan" not in html.lower() and "<script" not in html


def test_read_log_splits_losses_and_evals(tmp_path: Path) -> None:
    losses, evals = read_log(_log(tmp_path / "log.jsonl"))
    assert len(losses) == 40 and [e["step"] for e in evals] == [20, 40]


def test_training_page_without_episodes(tmp_path: Path) -> None:
    log = _log(tmp_path / "log.jsonl")
    html = write_run_page(tmp_path, RunPage("BC run", log=log, facts=[("steps", "40")])).read_text()
    assert "No evaluation episodes" in html and "training loss" in html


def test_scalars_flatten_rows() -> None:
    row = {"loss": 0.5, "ok": True, "bad": float("nan"), "eval": {"success_ci95": [0.1, 0.9]}}
    assert dict(scalars(row)) == {
        "train/loss": 0.5, "eval/success_ci95_low": 0.1, "eval/success_ci95_high": 0.9,
    }  # fmt: skip


def test_tensorboard_scalars_beside_jsonl(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard", reason="pip install armgym[viz] for TensorBoard logs")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    with ScalarLogger(tmp_path) as log:
        assert log.tb is not None
        for step in (1, 2, 3):
            log.log(step, {"loss": 1.0 / step, "samples_per_s": 100.0})
        log.log(3, {"eval": {"success_rate": 0.75, "success_ci95": [0.3, 0.95]}})
    lines = [json.loads(x) for x in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [1, 2, 3, 3]
    acc = EventAccumulator(str(tmp_path / "tb"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {
        "train/loss",
        "train/samples_per_s",
        "eval/success_rate",
        "eval/success_ci95_low",
    } <= tags
    loss = acc.Scalars("train/loss")
    assert [e.step for e in loss] == [1, 2, 3]
    assert loss[-1].value == pytest.approx(1 / 3)
