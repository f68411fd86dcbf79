"""The pose stream server over real sockets: keys, bad messages, the phone page over
HTTPS; and synthetic 30 Hz / 90 Hz streams sent through the real server driving a real
env (in virtual time, so the checks hold on a loaded machine).

Stated tracking errors (Panda, Reach, 10 Hz control, default PoseTeleopConfig): the tool
stays within 3 mm of the scaled device path while moving and ends within 2 mm of it.
"""

from __future__ import annotations

import json
import socket
import ssl
import stat
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import gymnasium as gym
import mujoco
import numpy as np
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

import armgym  # noqa: F401  (registers the envs)
from armgym.cli import main as armgym_cli
from armgym.data.reader import LeRobotReader
from armgym.teleop.phone import PhoneConfig, PhoneTeleop, ensure_certificate
from armgym.teleop.pose import PoseTeleopConfig
from armgym.teleop.pose_replay import PoseStreamClient, Waypoint, circle, hold, line, yaw_quat
from armgym.teleop.pose_stream import PoseStreamConfig, PoseStreamTeleop

MOVE_TOL, END_TOL = 0.003, 0.002  # [m], see the module docstring


def wait_for(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met within the deadline")
        time.sleep(0.005)


@pytest.fixture
def stream() -> Iterator[PoseStreamTeleop]:
    dev = PoseStreamTeleop(PoseStreamConfig(port=0, api_key="sesame"))
    yield dev
    dev.close()


def test_key_required_header_or_query(stream: PoseStreamTeleop) -> None:
    with pytest.raises(InvalidStatus) as info, connect(stream.url, proxy=None):
        pass
    assert info.value.response.status_code == 401
    with pytest.raises(InvalidStatus):
        PoseStreamClient(stream.url, api_key="wrong")
    with urllib.request.urlopen(f"http://127.0.0.1:{stream.thread.port}/healthz") as r:
        assert r.status == 200
    with connect(f"{stream.url}/ws?key=sesame", proxy=None) as ws:
        ws.send(json.dumps({"position": [0, 0, 0], "orientation": [1, 0, 0, 0]}))
        wait_for(lambda: stream.server.messages == 1)
    assert stream.server.host == "127.0.0.1"


def test_bad_message_is_answered_and_the_stream_goes_on(stream: PoseStreamTeleop) -> None:
    with PoseStreamClient(stream.url, api_key="sesame", binary=True) as c:
        c.ws.send(json.dumps({"position": [0, 0], "orientation": [1, 0, 0, 0]}))
        reply = c.ws.recv(timeout=5)
        assert isinstance(reply, str) and reply.startswith("ProtocolError: 'position'")
        c.send(Waypoint((0.0, 0.0, 0.0)))  # msgpack frame
        wait_for(lambda: stream.server.messages == 1)
    assert stream.server.errors == 1
    wait_for(lambda: stream.device._latest is None)  # disconnect released the clutch


def test_certificate_is_made_once_and_private(tmp_path: Path) -> None:
    first = ensure_certificate(tmp_path, ["127.0.0.1", "localhost"])
    again = ensure_certificate(tmp_path, ["127.0.0.1", "localhost"])
    assert first.created and not again.created and first.sha256 == again.sha256
    assert stat.S_IMODE(first.key.stat().st_mode) == 0o600
    other = ensure_certificate(tmp_path, ["127.0.0.1", "192.168.7.7"])  # new LAN address
    assert other.created and other.sha256 != first.sha256


def test_phone_page_over_https_drives_the_device(tmp_path: Path) -> None:
    pose = PoseTeleopConfig(frame="webxr", smoothing_s=0.0)
    cfg = PhoneConfig(host="127.0.0.1", port=0, api_key="k3y", cert_dir=tmp_path, pose=pose)
    phone = PhoneTeleop(cfg)
    try:
        assert phone.page_url.startswith("https://127.0.0.1:") and "?key=k3y" in phone.page_url
        ctx = ssl.create_default_context(cafile=str(phone.certificate.cert))  # trusted once
        with urllib.request.urlopen(phone.page_url, context=ctx) as r:
            html = r.read().decode()
        assert "/ws${window.location.search}" in html and "navigator.xr" in html
        base = phone.page_url.split("?")[0]
        with urllib.request.urlopen(f"{base}assets/teleop-ui.js", context=ctx) as r:
            assert b"customElements" in r.read()  # the page's <script src> has no key
        with urllib.request.urlopen(f"{base}cert.pem", context=ctx) as r:
            assert r.read() == phone.certificate.cert.read_bytes()
        with pytest.raises(InvalidStatus, match="401"), connect(f"{phone.url}/ws", ssl=ctx):
            pass
        webxr = {"position": {"x": 0.0, "y": 0.0, "z": 0.0}, "move": True, "gripper": "close"}
        webxr["orientation"] = {"x": 0.0, "y": 0.0, "z": 0.0, "w": 1.0}
        with connect(f"{phone.url}/ws?key=k3y", ssl=ctx, proxy=None) as ws:
            ws.send(json.dumps({"type": "log", "data": "page loaded"}))
            ws.send(json.dumps({"type": "pose", "data": webxr}))
            wait_for(lambda: phone.server.messages == 1)
            phone.poll()  # "move" pressed: anchored here
            webxr["position"] = {"x": 0.0, "y": 0.01, "z": -0.01}  # up 1 cm, forward 1 cm
            ws.send(json.dumps({"type": "pose", "data": webxr}))
            wait_for(lambda: phone.server.messages == 2)
            total = np.zeros(3)
            for _ in range(3):
                cmd = phone.poll()
                total += cmd.action[:3] * 0.02
            assert cmd.action[6] == -1.0
        np.testing.assert_allclose(total, [0.01, 0, 0.01], atol=1e-4)  # the webxr frame
    finally:
        phone.close()


# -- real env, stream in virtual time --------------------------------------------------


class VirtualClock:
    """Time the test sets: sample k arrives at k / rate, the env steps every period."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def drive(
    rate_hz: float, waypoints: list[Waypoint], tail_s: float = 0.5, **cfg: object
) -> tuple[np.ndarray, np.ndarray, PoseStreamTeleop]:
    """Send ``waypoints`` through a real socket to a real server, sample k at k / rate_hz
    of virtual time, while a real env steps at its control rate in the same time (each
    sample is received before time moves on: deterministic whatever the machine's load).

    Returns the tool's positions [m] relative to its start, float[T, 3]; its rotations
    relative to its start, float[T, 3, 3]; and the device.
    """
    env = gym.make("armgym/Reach-v0", obs="state")
    clock = VirtualClock()
    pose = PoseTeleopConfig(**cfg)  # type: ignore[arg-type]
    dev = PoseStreamTeleop(PoseStreamConfig(port=0, pose=pose), clock=clock)
    try:
        env.reset(seed=0)
        robot = env.unwrapped
        obs = robot.robot_obs  # type: ignore[attr-defined]
        ee0, r0 = obs["ee_pos"].copy(), quat_mat(obs["ee_quat"])
        period = 1.0 / robot.metadata["render_fps"]
        pos, rot, tick = [], [], 0

        def run_until(t_end: float) -> None:
            nonlocal tick
            while tick * period < t_end - 1e-9:
                clock.t = tick * period
                env.step(dev.poll().action)
                obs = robot.robot_obs  # type: ignore[attr-defined]
                pos.append(obs["ee_pos"] - ee0)
                rot.append(quat_mat(obs["ee_quat"]) @ r0.T)
                tick += 1

        with PoseStreamClient(dev.url) as client:
            for k, wp in enumerate(waypoints):
                run_until(k / rate_hz)
                clock.t = k / rate_hz
                client.send(wp)
                wait_for(lambda k=k: dev.server.messages == k + 1)  # type: ignore[misc]
            run_until(len(waypoints) / rate_hz + tail_s)
        return np.array(pos), np.array(rot), dev
    finally:
        dev.close()
        env.close()


def quat_mat(q: np.ndarray) -> np.ndarray:
    m = np.empty(9)
    mujoco.mju_quat2Mat(m, np.asarray(q, np.float64))
    return m.reshape(3, 3)


def dist_to_path(points: np.ndarray, path: np.ndarray) -> np.ndarray:
    """Distance of each point to the nearest sample of a densely sampled path."""
    return np.min(np.linalg.norm(points[:, None, :] - path[None, :, :], axis=-1), axis=1)


@pytest.mark.parametrize("rate_hz", [30, 90])
def test_circle_is_followed(rate_hz: int) -> None:
    ref = circle(0.05, period_s=3.0, rate_hz=rate_hz)
    path, _, dev = drive(rate_hz, [*ref, *hold((0, 0, 0), 0.5, rate_hz)])
    assert dev.device.anchors == 1 and dev.device.jumps == 0
    dense = np.array([w.position for w in circle(0.05, 3.0, 1000)])
    err = dist_to_path(path, dense)
    assert err.max() < MOVE_TOL, f"max distance to the circle {err.max() * 1e3:.1f} mm"
    assert np.ptp(path[:, 1]) > 0.095  # it went round, not stayed put
    assert np.linalg.norm(path[-1]) < END_TOL


@pytest.mark.parametrize("rate_hz", [30, 90])
def test_lift_and_twist_with_a_jump_is_limited(rate_hz: int) -> None:
    n = round(1.0 * rate_hz)
    lift = [  # up 5 cm (the Panda's workspace top) while twisting 0.4 rad about z
        Waypoint((0.0, 0.0, 0.05 * i / n), yaw_quat(0.4 * i / n)) for i in range(n + 1)
    ]
    top = hold((0, 0, 0.05), 0.5, rate_hz)
    top = [Waypoint(w.position, yaw_quat(0.4)) for w in top]
    glitch = [Waypoint((0.4, 0.0, 0.05), yaw_quat(0.4))]  # 40 cm sideways in one sample
    after = [Waypoint((0.4, 0.0, 0.05), yaw_quat(0.4))] * round(0.5 * rate_hz)
    path, rot, dev = drive(rate_hz, lift + top + glitch + after)
    assert dev.device.jumps == 1
    assert abs(path[-1, 2] - 0.05) < END_TOL and np.abs(path[-1, :2]).max() < END_TOL
    twist = np.arctan2(rot[-1, 1, 0], rot[-1, 0, 0])
    assert abs(twist - 0.4) < 0.03, f"tool turned {twist:.3f} rad, the hand 0.4"
    steps = np.linalg.norm(np.diff(path, axis=0), axis=1)
    assert steps.max() < 0.017  # max_step_m (1.5 cm) per control step, plus servo slack


@pytest.mark.parametrize("rate_hz", [30, 90])
def test_clutch_and_release_reanchors(rate_hz: int) -> None:
    off = {"move": False}
    seq = (
        line((0, 0, 0), (0.04, 0, 0), 1.0, rate_hz)  # move held: +4 cm
        + line((0.04, 0, 0), (0.0, 0, 0), 1.0, rate_hz, off)  # released: hand comes back
        + line((0, 0, 0), (0.04, 0, 0), 1.0, rate_hz)  # held again: +4 cm more
        + hold((0.04, 0, 0), 0.5, rate_hz)
    )
    path, _, dev = drive(rate_hz, seq)
    assert dev.device.anchors == 2
    first = path[int(1.3 * 10)]  # 0.3 s after the release
    assert abs(first[0] - 0.04) < END_TOL  # the first stroke completed, then stayed
    assert path[int(1.3 * 10) : int(2.0 * 10), 0].min() > 0.037  # not following the hand back
    assert abs(path[-1, 0] - 0.08) < END_TOL


def test_dropped_stream_holds_the_arm() -> None:
    rate = 30
    seq = line((0, 0, 0), (0.0, 0.1, 0), 1.0, rate)
    # the stream dies half way (nothing more arrives, the socket stays open)
    path, _, dev = drive(rate, seq[: len(seq) // 2], tail_s=1.5)
    assert dev.device.last_sample is None
    held = path[-12:]  # the last 1.2 s: stale after 0.25 s
    assert np.linalg.norm(held - held[0], axis=1).max() < 0.001
    assert 0.03 < path[-1, 1] < 0.06  # stopped about half way


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_collect_from_a_pose_stream(tmp_path: Path, monkeypatch) -> None:
    """`armgym collect --source pose-stream` records what a tracker streams (real time)."""
    from armgym.teleop import pose_stream

    port = free_port()
    monkeypatch.setattr(pose_stream, "PoseStreamConfig", partial(PoseStreamConfig, port=port))
    stroke = hold((0, 0, 0), 0.3, 30) + line((0, 0, 0), (0.05, 0, 0), 1.0, 30)
    stroke += hold((0.05, 0, 0), 2.0, 30)

    def tracker() -> None:
        deadline = time.monotonic() + 60
        while True:  # the server starts inside collect
            try:
                client = PoseStreamClient(f"ws://127.0.0.1:{port}")
                break
            except OSError:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.05)
        with client:
            client.replay(stroke, 30)

    sender = threading.Thread(target=tracker, daemon=True)
    sender.start()
    out = tmp_path / "ds"
    args = ["collect", "--out", str(out), "--task", "Reach", "--source", "pose-stream"]
    args += ["--episodes", "1", "--max-steps", "30", "--obs", "state", "--no-progress"]
    assert armgym_cli(args) == 0
    sender.join(10)
    actions = LeRobotReader(out).episode(0)["action"]
    assert actions.shape == (30, 7)
    assert actions[:, 0].sum() * 0.02 == pytest.approx(0.05, abs=0.005)  # the 5 cm stroke
    assert np.abs(actions[:, 1:6]).max() < 0.05
