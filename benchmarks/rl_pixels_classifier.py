"""PickCube from pixels with a learned reward: SAC/RLPD on front + wrist 84² images, the
reward from HIL-SERL's success classifier, no simulator reward to the learner (issue 11).

    PYTHONPATH=src MUJOCO_GL=egl python benchmarks/reward_classifier.py --work /tmp/pix/clf
    PYTHONPATH=src MUJOCO_GL=egl python benchmarks/rl_pixels_classifier.py \\
        --classifier /tmp/pix/clf/ck --out /tmp/pix/sac_s0 --minutes 60
    python benchmarks/rl_pixels_classifier.py --out /tmp/pix/sac_s0 --report-only

The classifier is the one ``reward_classifier.py`` trains (20 successful + 20 near-miss
episodes, both cameras; its report is ``results/reward_classifier.json``). The run is
``armgym train sac --obs pixels --cameras front wrist --image-size 84 --demos 20
--reward-classifier CK --batch-size 128`` (UTD 1, the pixel encoder's defaults: (16, 32,
32) channels, ReLU), one torch thread, seed 0, evaluated with the task's own success check
on 50 unseen seeds every ``--eval-every`` env steps; it is stopped after ``--minutes`` of
wall clock (the issue's budget: 60) and the curve is read from its log, so a run cut short
still reports. Writes ``results/rl_pixels_classifier_s<seed><tag>.json``.

``--encoder-from CK`` freezes the image encoders of pixel BC checkpoint CK in SAC (as
HIL-SERL freezes a pretrained backbone, with its trainable bottleneck after them;
``armgym.train.pretrained_encoder``), e.g. the MLP
of ``bc_task.py --obs pixels --demos 20 --encoder-channels 16 32 32 --encoder-activation
relu`` trained on 20 scripted demos (the same number SAC gets).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import machine_info, write_json
from rl_pickcube import curve_of

from armgym.train.sac_utils import plot_curves

PACKAGES = ("armgym", "torch", "mujoco")


def command(a: argparse.Namespace) -> list[str]:
    return [sys.executable, "-m", "armgym.cli", "train", "sac", "--task", "PickCube",
            "--robot", "panda", "--obs", "pixels", "--cameras", "front", "wrist",
            "--image-size", "84", "--demos", "20", "--reward-classifier", str(a.classifier),
            "--batch-size", str(a.batch_size), "--steps", str(a.steps),
            "--eval-every", str(a.eval_every), "--eval-episodes", "50", "--seed", str(a.seed),
            "--out", str(a.out), "--no-progress", "--overwrite",
            *(["--encoder-from", str(a.encoder_from)] if a.encoder_from else [])]  # fmt: skip


def run(a: argparse.Namespace) -> float:
    """Train for at most ``a.minutes``; returns the wall clock [s]."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    proc = subprocess.Popen(command(a), env=env, start_new_session=True)
    try:
        proc.wait(timeout=a.minutes * 60)
    except subprocess.TimeoutExpired:
        proc.terminate()
        proc.wait(timeout=60)
    return time.perf_counter() - t0


def training_episodes(out: Path) -> dict[str, Any]:
    rows = [json.loads(ln) for ln in (out / "log.jsonl").read_text().splitlines() if ln]
    eps = [r["episode"] for r in rows if "episode" in r]
    return {
        "episodes": len(eps),
        "classifier_successes": sum(bool(e["success"]) for e in eps),
        "task_successes": sum(bool(e.get("task_success", e["success"])) for e in eps),
        "env_steps": max((r["step"] for r in rows if "step" in r), default=0),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--classifier", type=Path, default=Path("/tmp/pix/clf/ck"))
    ap.add_argument("--out", type=Path, default=Path("/tmp/pix/sac_s0"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=14_000)
    ap.add_argument("--eval-every", type=int, default=2000)
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument(
        "--encoder-from",
        type=Path,
        default=None,
        help="a pixel BC checkpoint whose image encoders SAC copies and freezes",
    )
    ap.add_argument("--tag", default="", help="suffix of the result names (a variant)")
    ap.add_argument("--report-only", action="store_true")
    a = ap.parse_args()
    wall = None if a.report_only else run(a)
    curve = curve_of(a.out)
    within = [c for c in curve if c["wall_s"] <= a.minutes * 60]
    payload = {
        "benchmark": "rl_pixels_classifier",
        "command": " ".join(command(a)[1:]),
        "budget_minutes": a.minutes,
        "target": ">= 90 % within 60 min (issue 11)",
        "seed": a.seed,
        "curve": curve,
        "best_within_budget": max((c["success"] for c in within), default=None),
        "training": training_episodes(a.out),
        "wall_s": wall,
        "machine": machine_info(PACKAGES),
    }
    path = write_json(f"rl_pixels_classifier_s{a.seed}{a.tag}.json", payload)
    png = plot_curves(a.out)  # success vs env steps and vs wall clock, from the log
    if png is not None:
        shutil.copyfile(png, path.with_suffix(".png"))
    print(path, payload["best_within_budget"], payload["training"])


if __name__ == "__main__":
    main()
