"""Crash safety: a writer SIGKILLed mid-episode loses only that episode; the next run
drops its leftovers and appends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

from armgym.data.reader import LeRobotReader
from armgym.data.testing import synthetic_episode, synthetic_features
from armgym.data.writer import LeRobotWriter

CHILD = textwrap.dedent("""
    import os, signal, sys, time
    from armgym.data import _io
    from armgym.data.testing import synthetic_episode, synthetic_features
    from armgym.data.writer import LeRobotWriter

    root, mode = sys.argv[1], sys.argv[2]
    if mode == "before-commit":  # die inside save_episode of episode 2, just before info.json
        real = _io.write_json_atomic
        def dying(path, obj):
            if path.name == "info.json" and obj.get("total_episodes") == 3:
                os.kill(os.getpid(), signal.SIGKILL)
            real(path, obj)
        _io.write_json_atomic = dying
    w = LeRobotWriter(root, synthetic_features(), fps=10)
    for e in range(5):
        for i, f in enumerate(synthetic_episode(e, 10)):
            w.add_frame(f, task=f"task {e % 2}")
            print(f"frame {e} {i}", flush=True)
            if mode == "mid-episode" and e == 2:
                time.sleep(0.05)
        w.save_episode()
        print(f"saved {e}", flush=True)
""")


def run_child(root: Path, mode: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(root), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def check_recovers(root: Path, expect_dropped: bool) -> None:
    r = LeRobotReader(root)
    assert r.num_episodes == 2 and r.num_frames == 20
    for k in range(2):
        ep = r.episode(k)
        truth = synthetic_episode(k, 10)
        np.testing.assert_array_equal(ep["action"], np.stack([f["action"] for f in truth]))
        assert ep["observation.images.front"].shape == (10, 64, 64, 3)
    with LeRobotWriter(root, synthetic_features(), fps=10) as w:
        assert bool(w.recovered_files) == expect_dropped, w.recovered_files
        assert w.total_episodes == 2
        for f in synthetic_episode(7, 6):
            w.add_frame(f, task="appended")
        w.save_episode()
    r = LeRobotReader(root)
    assert r.num_episodes == 3 and r.num_frames == 26
    assert r.tasks == ["task 0", "task 1", "appended"]
    np.testing.assert_array_equal(r.columns()["index"], np.arange(26))
    np.testing.assert_array_equal(
        r.episode(2)["action"], np.stack([f["action"] for f in synthetic_episode(7, 6)])
    )
    assert not list(root.rglob("*.partial")) and not list(root.rglob("*.tmp"))
    assert r.stats["action"]["count"].tolist() == [26]


def test_sigkill_mid_episode(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    proc = run_child(root, "mid-episode")
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    for line in proc.stdout:
        if line.strip() == "frame 2 4":  # episode index 2 (the third) is half recorded
            os.kill(proc.pid, signal.SIGKILL)
            break
        assert time.monotonic() < deadline
    assert proc.wait(timeout=30) == -signal.SIGKILL
    assert not (root / "data/chunk-000/file-002.parquet").exists()
    # the encoder may or may not have flushed a partial mp4 before the kill
    check_recovers(root, expect_dropped=bool(list(root.rglob("*.partial"))))


def test_sigkill_inside_save_before_commit(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    proc = run_child(root, "before-commit")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert "saved 1" in out and "saved 2" not in out
    # episode 2's data/video/meta files are on disk but info.json never counted them
    assert (root / "data/chunk-000/file-002.parquet").exists()
    check_recovers(root, expect_dropped=True)
