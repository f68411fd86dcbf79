"""The Franka driver (franky) against franky-sim, a libfranka-protocol server on MuJoCo.

franky-sim runs libfranka's 1 kHz loop in a Python thread, which falls behind on a loaded
2-core machine (the run stalls): these tests run in the serial phase, alone."""

from __future__ import annotations

import numpy as np
import pytest

from armgym.errors import HardwareError
from armgym.robots.real.check import check_robot
from armgym.robots.real.franky_arm import FrankyArm, FrankyConfig
from armgym.robots.real.robot import RealRobot
from armgym.robots.real.safety import SafetyConfig
from armgym.robots.specs import ROBOTS

franky = pytest.importorskip("franky")
franky_sim = pytest.importorskip("franky_sim")

pytestmark = pytest.mark.serial

SPEC = ROBOTS.get("panda")


@pytest.fixture
def fr3_host():
    """A fresh franky-sim per test: libfranka lets one client connect at a time."""
    from franky_sim.mujoco_simulator import MujocoSimulator

    with MujocoSimulator(enable_visualization=False) as sim:
        model = sim.add_robot()
        with franky_sim.SimulationServer(sim) as server:
            server.run_async()
            yield model.hostname


@pytest.fixture
def panda(fr3_host):
    cfg = FrankyConfig(host=fr3_host, ignore_realtime=True, dynamics_factor=0.3)
    robot = RealRobot(
        SPEC, FrankyArm(cfg), control="ee_delta", control_hz=10.0,
        safety=SafetyConfig(max_joint_vel=1.0), home_tolerance=0.04,
    )  # fmt: skip
    yield robot
    robot.close()


def test_reset_ee_delta_gripper_and_fk_against_franky(panda):
    robot = panda
    obs = robot.reset()
    np.testing.assert_allclose(obs["joint_pos"], SPEC.home_qpos, atol=0.04)
    start = obs["ee_pos"].copy()
    for _ in range(12):  # franky re-plans each target smoothly: the arm lags a little
        obs = robot.act(np.array([0, 0, 1, 0, 0, 0, -1], dtype=np.float32))
    moved = obs["ee_pos"] - start
    assert moved[2] > 0.03 and np.linalg.norm(moved[:2]) < 0.4 * moved[2], moved
    assert obs["gripper"][0] < 0.9  # closing
    report = check_robot(robot)
    diff = report["fk_difference"]
    print("sim TCP vs franky EE:", diff)
    assert np.isfinite(diff["position_m"]) and diff["position_m"] < 0.25


def test_commands_are_limited_before_franky(panda):
    robot = panda
    robot.reset()
    safety, qs = robot.safety, [robot.driver.read().q]
    for _ in range(15):  # full-scale ee_delta steps: the safety layer, not a reflex, limits them
        robot.act(np.array([1, 1, -1, 0, 0, 0, 1], dtype=np.float32))
        qs.append(robot.driver.read().q)
    steps = np.abs(np.diff(np.array(qs), axis=0)).max(axis=1)
    assert safety.counts["velocity"] > 0
    assert steps.max() <= 1.5 * safety.max_step, (steps, safety.max_step)  # franky follows
    assert np.all(qs[-1] >= safety.q_low - 0.01) and np.all(qs[-1] <= safety.q_high + 0.01)
    robot.reset()  # recover_from_errors(), then home
    assert not robot.driver.robot.has_errors


def test_a_dropped_connection_is_a_hardware_error():
    from franky_sim.mujoco_simulator import MujocoSimulator

    with MujocoSimulator(enable_visualization=False) as sim:
        model = sim.add_robot()
        server = franky_sim.SimulationServer(sim)
        with server:
            server.run_async()
            arm = FrankyArm(FrankyConfig(host=model.hostname, ignore_realtime=True))
            assert arm.read().q.shape == (7,)
        # the server is gone: libfranka's UDP state times out, the arm says so
        with pytest.raises(HardwareError, match=r"Franka .*read failed.*reset"):
            arm.read()
