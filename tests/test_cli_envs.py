"""End-to-end smoke tests of the env-side CLI commands (real subprocesses)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import armgym


def _armgym(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "armgym.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_armgym_help_lists_commands() -> None:
    out = _armgym("--help")
    assert out.returncode == 0 and "demo" in out.stdout and "serve" in out.stdout


def test_armgym_envs_json() -> None:
    out = _armgym("envs", "--json")
    assert out.returncode == 0, out.stderr
    cat = json.loads(out.stdout)
    assert cat["env_ids"] == armgym.env_ids()
    assert set(cat["robots"]) == set(armgym.ROBOTS.names())


def test_unknown_command_suggests_closest() -> None:
    out = _armgym("evl")
    assert out.returncode == 2 and "Did you mean 'eval'" in out.stderr


def test_armgym_bench_quick() -> None:
    out = _armgym("bench", "--steps", "20", "--num-envs", "2")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["env_steps_per_s"] > 0 and result["batched_2_env_steps_per_s"] > 0


def test_armgym_show_without_display_says_what_to_do() -> None:
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    out = subprocess.run(
        [sys.executable, "-m", "armgym.cli", "show", "--seconds", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert out.returncode == 2 and "xvfb-run" in out.stderr


@pytest.mark.serial
def test_armgym_show_runs_the_viewer_under_xvfb(tmp_path: Path) -> None:
    import os
    import shutil

    from tests.test_viz_rerun import read_rrd

    xvfb = shutil.which("xvfb-run")
    assert xvfb, "xvfb-run missing: `make test` installs Debian's xvfb (apt-get install xvfb)"
    env = {**os.environ, "MUJOCO_GL": "glfw"}
    out = subprocess.run(
        [
            xvfb,
            "-a",
            sys.executable,
            "-m",
            "armgym.cli",
            "show",
            "--seconds",
            "3",
            "--rerun",
            str(tmp_path / "show.rrd"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    steps = int(out.stdout.split("armgym show: ")[-1].split()[0])
    assert steps >= 3  # real time at 10 Hz, slower under load
    ent = read_rrd(tmp_path / "show.rrd")  # what was shown, step by step
    assert {"/action/dx", "/state/joint_pos/joint1", "/world/ee", "/reward"} <= set(ent)
    assert sum(rb.num_rows for rb in ent["/action/dx"]) == steps
