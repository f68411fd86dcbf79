"""The Interbotix (WidowX / ViperX) driver via roslibpy against a stand-in rosbridge."""

from __future__ import annotations

import numpy as np
import pytest

from armgym.errors import HardwareError
from armgym.robots.real.interbotix import InterbotixArm, InterbotixConfig
from armgym.robots.real.robot import RealRobot
from armgym.robots.real.safety import SafetyConfig
from armgym.robots.real.sim.fake_rosbridge import FakeRosbridge
from armgym.robots.specs import ROBOTS
from tests._real import wait_for

pytest.importorskip("roslibpy")

SPEC = ROBOTS.get("widowx250")


@pytest.fixture
def widowx():
    bridge = FakeRosbridge("wx250s", np.zeros(6), speed=3.0)
    # a stale-state limit a loaded test machine cannot trip by accident (xs_sdk publishes at
    # 100 Hz; the driver's default limit is 0.5 s)
    cfg = InterbotixConfig(port=bridge.port, moving_time_s=0.1, max_state_age_s=2.0)
    driver = InterbotixArm(cfg, SPEC)
    robot = RealRobot(
        SPEC, driver, control="ee_delta", control_hz=20.0,
        safety=SafetyConfig(max_joint_vel=2.0), device_range=driver.device_range(),
    )  # fmt: skip
    yield robot, bridge
    robot.close()
    bridge.close()


def test_connect_uses_xs_sdk_services(widowx):
    robot, bridge = widowx
    assert bridge.arm.torque
    mode = bridge.arm.modes[0]
    assert mode["name"] == "arm" and mode["mode"] == "position" and mode["profile_velocity"] == 100
    ops = {(m["op"], m.get("topic") or m.get("service")) for m in bridge.received}
    assert ("subscribe", "/wx250s/joint_states") in ops
    assert ("call_service", "/wx250s/get_robot_info") in ops
    low, _high = robot.driver.device_range()
    assert low[1] == pytest.approx(-1.88)


def test_reset_then_ee_delta_and_gripper(widowx):
    robot, bridge = widowx
    obs = robot.reset()
    np.testing.assert_allclose(obs["joint_pos"], SPEC.home_qpos, atol=robot.home_tolerance)
    x0 = obs["ee_pos"][0]
    for _ in range(6):
        obs = robot.act(np.array([1, 0, 0, 0, 0, 0, -1], dtype=np.float32))
    assert obs["ee_pos"][0] - x0 > 0.03
    assert bridge.arm.pwm < 0  # closing
    wait_for(lambda: robot.observe()["gripper"][0] < 0.5, what="the gripper to close")
    singles = [m for m in bridge.received if m.get("topic", "").endswith("joint_single")]
    assert len([m for m in singles if m["op"] == "publish"]) == 2  # open at reset, then close


def test_a_silent_driver_node_holds_and_reports(widowx):
    robot, bridge = widowx
    robot.reset()
    bridge.silent = True
    with pytest.raises(HardwareError, match=r"joint_states is .* old"):
        wait_for(lambda: robot.observe() is None, timeout_s=20.0)
    bridge.silent = False
    wait_for(lambda: _observes(robot), what="joint states to resume")


def _observes(robot: RealRobot) -> bool:
    try:
        robot.observe()
    except HardwareError:
        return False
    return True


def test_wrong_arm_and_no_bridge_are_clear_errors():
    bridge = FakeRosbridge("wx250s", np.zeros(6))
    try:
        with pytest.raises(HardwareError, match="wrong --robot"):
            InterbotixArm(InterbotixConfig(port=bridge.port), ROBOTS.get("so101"))
    finally:
        bridge.close()
    with pytest.raises(HardwareError, match="no rosbridge"):
        InterbotixArm(InterbotixConfig(port=9, timeout_s=1.0), SPEC)
