"""Keyboard teleoperation in the MuJoCo viewer window, end to end under a virtual X server.

``armgym collect --source keyboard --viewer`` runs under ``xvfb-run``; ``xdotool`` types
into the viewer window as a person would (make test installs both from Debian). The
recorded dataset must show the documented motion: arrow up moves the tool forward (+x),
space closes the gripper, enter ends the episode as a success.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from armgym.data.reader import LeRobotReader

# timing-sensitive (keys typed into a software-rendered window): `make test` runs the
# `serial` tests alone, after the parallel run
pytestmark = pytest.mark.serial

DRIVER = textwrap.dedent(
    """
    import json, subprocess, sys, time
    collect_args, script = json.loads(sys.argv[1])
    collect = subprocess.Popen([sys.executable, "-m", "armgym.cli", "collect", *collect_args])
    try:  # never leave collect (and its viewer) running behind a failed script
        win = subprocess.run(["xdotool", "search", "--sync", "--name", "MuJoCo"],
                             capture_output=True, text=True, timeout=60).stdout.split()[0]
        time.sleep(1.0)
        for keys, pause_s in script:  # one key per control period (100 ms), then a pause
            subprocess.run(["xdotool", "key", "--window", win, "--delay", "100", *keys],
                           check=True)
            time.sleep(pause_s)
        sys.exit(collect.wait(timeout=120))
    finally:
        if collect.poll() is None:
            collect.kill()
    """
)


def run_group(cmd: list[str], timeout_s: float = 240) -> subprocess.CompletedProcess:
    """Run ``cmd`` (xvfb-run, its driver, collect and the viewer) in its own process group;
    past ``timeout_s`` the whole group is killed and the test fails — ``subprocess.run``'s
    timeout kills only xvfb-run and then waits for the grandchildren holding its pipes."""
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env={**os.environ, "MUJOCO_GL": "glfw"},
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(
            f"viewer run exceeded {timeout_s} s:\n{out[-2000:]}{err[-3000:]}"
        ) from None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def run_in_viewer(out: Path, collect_args: list[str], script: list) -> LeRobotReader:
    """Run ``armgym collect --viewer`` under Xvfb, type ``script`` into its window."""
    xvfb, xdotool = shutil.which("xvfb-run"), shutil.which("xdotool")
    assert xvfb and xdotool, (
        "xvfb-run / xdotool missing: `make test` installs Debian's xvfb and xdotool"
    )
    args = ["--out", str(out), "--viewer", "--episodes", "1", "--obs", "state", "--no-progress"]
    proc = run_group(
        [xvfb, "-a", sys.executable, "-c", DRIVER, json.dumps([args + collect_args, script])]
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return LeRobotReader(out)


def test_keyboard_teleop_in_the_viewer_window(tmp_path: Path) -> None:
    script = [
        (["Up"] * 8, 0.5),  # +x for ~8 steps
        (["space"], 1.5),  # close the gripper
        (["Return"], 0.0),  # episode_success: ends and keeps the episode
    ]
    reader = run_in_viewer(tmp_path / "ds", ["--source", "keyboard", "--max-steps", "3000"], script)
    assert reader.num_episodes == 1
    ep = reader.episode(0)
    actions, state = ep["action"], ep["observation.state"]
    assert len(actions) < 3000, "enter did not end the episode"
    forward = actions[:, 0] == 1.0
    assert forward.sum() >= 4, actions[:, 0]  # the up-arrow presses arrived as +x
    assert np.all(actions[:, 1:6] == 0.0)  # and nothing else moved
    closed = np.flatnonzero(actions[:, 6] == -1.0)
    assert len(closed) and actions[0, 6] == 1.0, actions[:, 6]  # open until space
    assert np.all(actions[closed[0] :, 6] == -1.0) and closed[0] > np.flatnonzero(forward)[-1]
    ee_x = state[:, 14]  # observation.state = [q (7), qd (7), ee_pos (3), ...] for the Panda
    assert ee_x[-1] - ee_x[0] > 0.06, ee_x  # about 2 cm per forward step
    assert reader.episode_info(0).extras["armgym/success"] is True


def test_human_intervention_in_the_viewer_window(tmp_path: Path) -> None:
    """The expert acts; Insert hands control to the person (page up = +z), Insert hands it
    back; the expert still finishes the task and every frame says who acted."""
    script = [(["Insert"], 0.0), (["Prior"] * 4, 0.0), (["Insert"], 0.0)]  # Prior: page up
    reader = run_in_viewer(
        tmp_path / "ds",
        ["--source", "scripted", "--intervene", "keyboard", "--max-steps", "120"],
        script,
    )
    ep = reader.episode(0)
    human = ep["complementary_info.is_intervention"].reshape(-1) == 1.0
    assert 3 <= human.sum() <= 30, human  # the human acted for a few steps, then handed back
    assert np.any(ep["action"][human, 2] == 1.0)  # page up arrived as +z
    np.testing.assert_array_equal(
        ep["action"][~human], ep["complementary_info.policy_action"][~human]
    )
    info = reader.episode_info(0).extras
    assert info["armgym/intervention_frames"] == int(human.sum())
    assert info["armgym/success"] is True  # the expert recovered


def test_viewer_without_display_says_what_to_do(tmp_path: Path, monkeypatch) -> None:
    from armgym.apps.collect import CollectConfig, collect
    from armgym.errors import ArmgymError

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    cfg = CollectConfig(out=tmp_path / "ds", source="keyboard", viewer=True, obs="state")
    with pytest.raises(ArmgymError, match="xvfb-run"):
        collect(cfg)
    assert not (tmp_path / "ds").exists()  # nothing half-written


SHOT_DRIVER = textwrap.dedent(
    """
    import json, subprocess, sys, time
    import numpy as np
    from PIL import ImageGrab
    collect_args, shot = json.loads(sys.argv[1])

    def drawn(img):  # the scene (red cube) and the overlay (its dark boxes) are on screen
        a = np.asarray(img.convert("RGB"), np.int32)
        red = (a[..., 0] > 120) & (a[..., 1] < 70) & (a[..., 2] < 70)
        box = (a.max(axis=-1) < 115) & (a.min(axis=-1) > 45)  # the overlay's darkened boxes
        return red.sum() > 150 and box.sum() > 5000

    collect = subprocess.Popen([sys.executable, "-m", "armgym.cli", "collect", *collect_args])
    win = subprocess.run(["xdotool", "search", "--sync", "--name", "MuJoCo"],
                         capture_output=True, text=True, timeout=60).stdout.split()[0]
    geometry = subprocess.run(["xdotool", "getwindowgeometry", "--shell", win],
                              capture_output=True, text=True, check=True).stdout
    deadline = time.monotonic() + 60  # poll until drawn (a loaded machine is slow)
    while True:
        img = ImageGrab.grab()
        if drawn(img) or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    img.save(shot)
    print("GEOMETRY", json.dumps(dict(l.split("=") for l in geometry.split())))
    subprocess.run(["xdotool", "key", "--window", win, "Return"], check=True)
    sys.exit(collect.wait(timeout=60))
    """
)


def test_viewer_window_is_framed_on_the_task_with_an_overlay(tmp_path: Path) -> None:
    """Under Xvfb: the cube is in view, MuJoCo's panels are hidden, the overlay is drawn."""
    from PIL import Image

    xvfb = shutil.which("xvfb-run")
    assert xvfb and shutil.which("xdotool"), "`make test` installs Debian's xvfb and xdotool"
    shot = tmp_path / "viewer.png"
    args = ["--out", str(tmp_path / "ds"), "--viewer", "--episodes", "1", "--obs", "state",
            "--no-progress", "--source", "keyboard", "--max-steps", "1000"]  # fmt: skip
    proc = run_group(
        [xvfb, "-a", "-s", "-screen 0 1280x800x24", sys.executable, "-c", SHOT_DRIVER,
         json.dumps([args, str(shot)])]
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    geo = json.loads(proc.stdout.split("GEOMETRY", 1)[1].splitlines()[0])
    x, y, w, h = (int(geo[k]) for k in ("X", "Y", "WIDTH", "HEIGHT"))
    img = np.asarray(Image.open(shot).convert("RGB"), np.int32)[y : y + h, x : x + w]
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    cube = (r > 120) & (g < 70) & (b < 70)  # PickCube's red cube
    assert cube.sum() > 150, f"cube not in view ({cube.sum()} red pixels)"
    cy, cx = np.argwhere(cube).mean(axis=0)
    assert 0.15 * w < cx < 0.85 * w and 0.15 * h < cy < 0.85 * h, (cx, cy)  # framed, not at an edge
    # the overlay: light text on MuJoCo's dark overlay boxes, top left (status) and bottom
    # left (key map); MuJoCo's settings panel would cover the left third instead
    text = (r > 200) & (g > 200) & (b > 200)
    # MuJoCo's overlay boxes darken what is behind them (backdrop or table) to about half
    dark_box = (img.max(axis=-1) < 115) & (img.min(axis=-1) > 45)
    top, bottom = slice(0, h // 6), slice(h // 2, h)
    assert text[top, : w // 6].sum() > 40 and dark_box[top, : w // 6].sum() > 500
    assert text[bottom, : w // 3].sum() > 300 and dark_box[bottom, : w // 3].sum() > 5000
    table = (r > 140) & (r > g) & (g > b) & (r - b > 40)  # the warm table top
    assert table[:, w // 3 : 2 * w // 3].mean() > 0.3  # the scene, not a panel
