"""Robot server + RemoteRobot: same trajectories as the local SimRobot, safety, watchdog."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import gymnasium as gym
import numpy as np
import pytest
from websockets.sync.client import connect

import armgym.envs
from armgym.apps.robot_server import RobotServerConfig, build_robot
from armgym.contracts.robot import MujocoRobot, Robot
from armgym.envs import EnvConfig
from armgym.errors import ConfigError, InvalidActionError, ProtocolError
from armgym.robots.remote import RemoteRobot
from armgym.serve.robot_server import RobotServer
from armgym.transport import wire
from armgym.transport.connection import ServerError, ServerThread

PERIOD = 0.1  # 10 Hz control


def make_server(**kwargs: object) -> RobotServer:
    return RobotServer(build_robot(RobotServerConfig(**kwargs)), port=0)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[RobotServer, ServerThread]]:
    server = make_server()
    server.watchdog_s = 30.0  # determinism tests: the watchdog must not step physics
    with server.run_in_thread() as t:
        yield server, t


def test_remote_robot_is_a_robot(served: tuple[RobotServer, ServerThread]) -> None:
    _, t = served
    with RemoteRobot(t.url) as robot:
        assert isinstance(robot, Robot)
        assert robot.control_hz == 10.0 and robot.robot_name == "panda"
        assert (robot.task_name, robot.control) == ("PickCube", "ee_delta")
        assert robot.action_space.shape == (7,) and robot.action_space.dtype == np.float32
        assert robot.observation_space["joint_pos"].shape == (7,)
        assert robot.spec is not None and robot.spec.n_arm == 7


def test_env_on_remote_robot_matches_local(served: tuple[RobotServer, ServerThread]) -> None:
    _, t = served
    local = gym.make("armgym/PickCube-v0", robot="panda", control="ee_delta", obs="state")
    remote = _remote_env(t.url)
    assert remote.observation_space == local.observation_space
    rng = np.random.default_rng(7)
    for seed in (3, 4):
        o_l, i_l = local.reset(seed=seed)
        o_r, i_r = remote.reset(seed=seed)
        assert i_l == i_r
        for step in range(25):
            for k in o_l:
                np.testing.assert_array_equal(o_r[k], o_l[k], err_msg=f"{k} at step {step}")
            action = rng.uniform(-1.2, 1.2, 7).astype(np.float32)  # some clipped
            o_l, r_l, term_l, trunc_l, _ = local.step(action)
            o_r, r_r, term_r, trunc_r, _ = remote.step(action)
            assert (r_l, term_l, trunc_l) == (r_r, term_r, trunc_r)
    np.testing.assert_array_equal(
        remote.unwrapped.get_sim_state(),  # type: ignore[attr-defined]
        local.unwrapped.get_sim_state(),  # type: ignore[attr-defined]
    )
    local.close()
    remote.close()


def test_expert_episode_over_remote_robot_succeeds(
    served: tuple[RobotServer, ServerThread],
) -> None:
    from armgym.policies.scripted import ScriptedPolicy

    _, t = served
    env = _remote_env(t.url)
    expert = ScriptedPolicy.for_env(env)
    obs, _ = env.reset(seed=11)
    expert.reset()
    for _ in range(100):
        obs, _, terminated, truncated, info = env.step(expert(obs))
        if terminated or truncated:
            break
    assert info["is_success"]
    env.close()


def test_safety_clip_nan_and_bad_requests(served: tuple[RobotServer, ServerThread]) -> None:
    _, t = served
    with RemoteRobot(t.url) as robot:
        robot.reset(seed=0)
        answer = robot.request({"cmd": "act", "action": np.full(7, 5.0, np.float32)})
        assert answer["clipped"] is True
        with pytest.raises(InvalidActionError, match="NaN or inf at indices \\[2\\]"):
            robot.act(np.array([0, 0, np.nan, 0, 0, 0, 1], np.float32))
        with pytest.raises(InvalidActionError, match="shape"):
            robot.act(np.zeros(3, np.float32))
        with pytest.raises(ProtocolError, match="unknown cmd 'jump'"):
            robot.request({"cmd": "jump"})
        with pytest.raises(ProtocolError, match="'seed' must be"):
            robot.request({"cmd": "reset", "seed": "x"})
        with pytest.raises(ProtocolError, match="'state' must be"):
            robot.request({"cmd": "set_sim_state", "state": np.zeros(3, np.float32)})
        # the connection survives every error above
        assert robot.observe()["joint_pos"].shape == (7,) and robot.reconnects == 0
    with connect(t.url, compression=None, proxy=None) as ws:
        ws.recv(timeout=5)
        ws.send(b"\xc1\xc1")
        assert str(ws.recv(timeout=5)).startswith("ProtocolError: malformed msgpack")
        ws.send(wire.packb({"cmd": "observe"}))
        assert "obs" in wire.unpackb(ws.recv(timeout=5))


def _kill(robot: RemoteRobot) -> float:
    """Drop the TCP connection without a close handshake (a crashed client); return when."""
    assert robot._ws is not None
    robot._ws.socket.shutdown(socket.SHUT_RDWR)
    t = time.monotonic()
    robot._ws.socket.close()
    robot._ws = None
    return t


def _hold_events(server: RobotServer) -> list[dict]:
    return [e for e in server.events if e["event"] == "hold"]


def _wait_for(what: str, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``predicate`` until it holds; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.005)


def _sim_time(server: RobotServer) -> float:
    assert isinstance(server.robot, MujocoRobot)
    return float(server.robot.data.time)


#: how late a loaded machine may log an event the server promises within a control period
LATE = 1.0


def test_killed_client_robot_holds_then_reconnect_resumes() -> None:
    server = make_server()
    server.watchdog_s = 30.0  # only the dropped connection may trigger the hold
    with server.run_in_thread() as t:
        robot = RemoteRobot(t.url)
        robot.reset(seed=0)
        push = np.array([1, 0, -1, 0, 0, 0, 1], np.float32)  # keep moving the goal
        for _ in range(5):
            robot.act(push)
        killed = _kill(robot)
        _wait_for("the hold after the dropped connection", lambda: bool(_hold_events(server)))
        (hold,) = _hold_events(server)
        assert "dropped" in hold["reason"] and hold["t"] - killed < LATE
        ee0 = server.robot.observe()["ee_pos"].copy()
        t0 = _sim_time(server)  # physics keeps stepping while held: wait for 6 periods of it
        _wait_for("6 held control periods", lambda: _sim_time(server) >= t0 + 6 * PERIOD - 1e-9)
        assert server.held
        ee1 = robot.observe()["ee_pos"]  # reconnects; observing does not resume
        assert robot.reconnects == 1 and server.held
        assert np.linalg.norm(ee1 - ee0) < 0.005, (ee0, ee1)
        moved_from = ee1.copy()
        for _ in range(3):
            obs = robot.act(push)
        assert not server.held and server.events[-1]["event"] == "resume"
        assert obs["ee_pos"][0] - moved_from[0] > 0.01  # control resumed
        robot.close()


def test_watchdog_holds_a_silent_client() -> None:
    server = make_server()
    server.watchdog_s = 0.2
    with server.run_in_thread() as t, RemoteRobot(t.url) as robot:
        robot.reset(seed=0)
        robot.act(np.array([1, 0, 0, 0, 0, 0, 1], np.float32))
        last = server.last_command
        _wait_for("the watchdog's hold", lambda: bool(_hold_events(server)))
        (hold,) = _hold_events(server)
        assert "no command" in hold["reason"]
        assert 0.2 <= hold["t"] - last < 0.2 + LATE  # never early; late only under load
        robot.act(np.zeros(7, np.float32))
        assert not server.held


def test_robot_server_api_key() -> None:
    server = make_server()
    server_keyed = RobotServer(server.robot, port=0, api_key="k")
    with server_keyed.run_in_thread() as t:
        with pytest.raises(ServerError, match="HTTP 401"):
            RemoteRobot(t.url, connect_timeout=2)
        with RemoteRobot(t.url, api_key="k") as robot:
            assert robot.reset(seed=0)["joint_pos"].shape == (7,)


def _remote_env(url: str) -> gym.Env:
    """An env on the served PickCube panda, built by the one env factory."""
    return armgym.envs.make_env(EnvConfig(task="PickCube", robot_server=url))


def test_env_config_must_match_the_served_robot(served: tuple[RobotServer, ServerThread]) -> None:
    _, t = served
    with pytest.raises(ConfigError, match=r"serves .*PickCube.* asks for .*Reach"):
        armgym.envs.make_env(EnvConfig(task="Reach", robot_server=t.url))
