"""The SERL HTTP robot-server driver against a stand-in server on 127.0.0.1."""

from __future__ import annotations

import numpy as np
import pytest

from armgym.errors import ConfigError, HardwareError
from armgym.robots.real.kinematics import ArmKinematics
from armgym.robots.real.robot import RealRobot
from armgym.robots.real.safety import SafetyConfig
from armgym.robots.real.serl_http import SerlHttpArm, SerlHttpConfig
from armgym.robots.real.sim.serl_server import FakeSerlServer
from armgym.robots.sim import SimRobot
from armgym.robots.specs import ROBOTS

SPEC = ROBOTS.get("panda")


@pytest.fixture
def panda():
    model = SimRobot(SPEC, None).model
    home = np.asarray(SPEC.home_qpos)
    server = FakeSerlServer(ArmKinematics(model, SPEC), home + 0.2, speed=3.0)
    driver = SerlHttpArm(SerlHttpConfig(url=server.url), ArmKinematics(model, SPEC))
    robot = RealRobot(
        SPEC, driver, control="ee_delta", control_hz=20.0, safety=SafetyConfig(max_joint_vel=2.0)
    )
    yield robot, server
    robot.close()
    server.close()


def test_reset_and_ee_delta_through_pose_targets(panda):
    robot, server = panda
    assert server.routes[0] == "clearerr"
    obs = robot.reset()
    home_pos, _ = robot.safety.kin.fk(np.asarray(SPEC.home_qpos))
    np.testing.assert_allclose(obs["ee_pos"], home_pos, atol=0.006)  # null space may differ
    z0 = obs["ee_pos"][2]
    for _ in range(6):
        obs = robot.act(np.array([0, 0, 1, 0, 0, 0, -1], dtype=np.float32))
    assert obs["ee_pos"][2] - z0 > 0.03
    assert "pose" in server.routes and "close_gripper" in server.routes
    assert obs["gripper"][0] == 0.0
    assert server.routes.count("close_gripper") == 1  # sent on change only


def test_a_reflex_holds_and_reports_then_clears(panda):
    robot, server = panda
    robot.reset()
    server.in_reflex = True
    with pytest.raises(HardwareError, match="answered 500 to /pose"):
        robot.act(np.zeros(7, dtype=np.float32))
    robot.reset()  # recover() clears the reflex first
    assert not server.in_reflex
    assert server.routes.count("clearerr") == 3  # connect, reset before, reset after
    robot.driver.joint_reset()
    assert server.routes[-2:] == ["clearerr", "jointreset"]


def test_no_server_is_a_clear_error():
    kin = ArmKinematics(SimRobot(SPEC, None).model, SPEC)
    with pytest.raises(HardwareError, match=r"is franka_server\.py running"):
        SerlHttpArm(SerlHttpConfig(url="http://127.0.0.1:9", timeout_s=0.5), kin)
    with pytest.raises(ConfigError, match="http://"):
        SerlHttpConfig(url="172.16.0.1:5000")
