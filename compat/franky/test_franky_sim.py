"""The Franka driver (franky) against franky-sim, a libfranka-protocol server on MuJoCo."""

from __future__ import annotations

import os

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

# franky-sim runs libfranka's 1 kHz loop in a Python thread; on a loaded 2-core machine it
# falls behind and libfranka's connection stalls, so this test is opt-in.
pytestmark = pytest.mark.skipif(
    os.environ.get("ARMGYM_FRANKY_SIM") != "1",
    reason="set ARMGYM_FRANKY_SIM=1 to run against franky-sim (needs a quiet multi-core CPU)",
)

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


def test_unreachable_motion_is_a_hardware_error_then_recover(panda):
    robot = panda
    robot.reset()
    with pytest.raises(HardwareError, match="Franka joint motion failed"):
        robot.driver.command(np.array([5.0, 0, 0, 0.5, 0, 0, 0]), 1.0)  # past every limit
    robot.reset()  # recover_from_errors(), then home
    assert not robot.driver.robot.has_errors
