"""Keyboard teleoperation in the MuJoCo viewer window, end to end under a virtual X server.

``armgym collect --source keyboard --viewer`` runs under ``xvfb-run``; ``xdotool`` types
into the viewer window as a person would (make test installs both from Debian). The
recorded dataset must show the documented motion: arrow up moves the tool forward (+x),
space closes the gripper, enter ends the episode as a success.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from armgym.data.reader import LeRobotReader

DRIVER = textwrap.dedent(
    """
    import subprocess, sys, time
    out = sys.argv[1]
    collect = subprocess.Popen([
        sys.executable, "-m", "armgym.cli", "collect", "--out", out, "--source", "keyboard",
        "--viewer", "--episodes", "1", "--max-steps", "150", "--obs", "state",
        "--no-progress",
    ])
    win = subprocess.run(["xdotool", "search", "--sync", "--name", "MuJoCo"],
                         capture_output=True, text=True, timeout=60).stdout.split()[0]
    time.sleep(1.0)

    def key(*names, delay_ms=100):
        subprocess.run(["xdotool", "key", "--window", win, "--delay", str(delay_ms), *names],
                       check=True)

    key(*["Up"] * 8)  # one press per control period: +x for ~8 steps
    time.sleep(0.5)
    key("space")  # close the gripper
    time.sleep(1.5)
    key("Return")  # episode_success: ends and keeps the episode
    sys.exit(collect.wait(timeout=60))
    """
)


def test_keyboard_teleop_in_the_viewer_window(tmp_path: Path) -> None:
    xvfb, xdotool = shutil.which("xvfb-run"), shutil.which("xdotool")
    assert xvfb and xdotool, (
        "xvfb-run / xdotool missing: `make test` installs Debian's xvfb and xdotool"
    )
    out = tmp_path / "ds"
    env = {**os.environ, "MUJOCO_GL": "glfw"}
    proc = subprocess.run(
        [xvfb, "-a", sys.executable, "-c", DRIVER, str(out)],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    reader = LeRobotReader(out)
    assert reader.num_episodes == 1
    ep = reader.episode(0)
    actions, state = ep["action"], ep["observation.state"]
    assert len(actions) < 150, "enter did not end the episode"
    forward = actions[:, 0] == 1.0
    assert forward.sum() >= 4, actions[:, 0]  # the up-arrow presses arrived as +x
    assert np.all(actions[:, 1:6] == 0.0)  # and nothing else moved
    closed = np.flatnonzero(actions[:, 6] == -1.0)
    assert len(closed) and actions[0, 6] == 1.0, actions[:, 6]  # open until space
    assert np.all(actions[closed[0] :, 6] == -1.0) and closed[0] > np.flatnonzero(forward)[-1]
    ee_x = state[:, 14]  # observation.state = [q (7), qd (7), ee_pos (3), ...] for the Panda
    assert ee_x[-1] - ee_x[0] > 0.06, ee_x  # about 2 cm per forward step
    assert reader.episode_info(0).extras["armgym/success"] is True


def test_viewer_without_display_says_what_to_do(tmp_path: Path, monkeypatch) -> None:
    import pytest

    from armgym.data.collect import CollectConfig, collect
    from armgym.errors import ArmgymError

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    cfg = CollectConfig(out=tmp_path / "ds", source="keyboard", viewer=True, obs="state")
    with pytest.raises(ArmgymError, match="xvfb-run"):
        collect(cfg)
    assert not (tmp_path / "ds").exists()  # nothing half-written
