"""`armgym demo --quick`: every promised file is written; a re-run reuses data and model."""

from __future__ import annotations

import json
from pathlib import Path

import torch  # noqa: F401

from armgym.cli import main as armgym_main


def test_demo_quick(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    assert armgym_main(["demo", "--quick", "--out", str(out), "--no-progress"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert 0.0 <= report["success_rate"] <= 1.0 and report["episodes"] == 4
    for key in (
        "dataset",
        "checkpoint",
        "eval_report",
        "learning_curve",
        "rollout_video",
        "index",
        "readme",
    ):
        assert Path(report["files"][key]).exists(), key
    assert (out / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "rollout.mp4").stat().st_size > 0
    page = (out / "index.html").read_text()
    assert "rollout.mp4" in page and "class='clip" in page and "· seed " in page
    assert "Per seed" in page and "training loss" in page and "nan" not in page
    assert (out / "eval" / "index.html").is_file()
    assert "success rate" in (out / "README.md").read_text()
    weights = out / "checkpoint" / "model.safetensors"
    mtime = weights.stat().st_mtime_ns
    assert armgym_main(["demo", "--quick", "--out", str(out), "--no-progress"]) == 0
    assert weights.stat().st_mtime_ns == mtime  # reused, not retrained
    again = json.loads((out / "report.json").read_text())
    assert again["success_rate"] == report["success_rate"]
    assert again["reused"] == ["dataset", "checkpoint"]
