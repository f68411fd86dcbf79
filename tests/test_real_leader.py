"""A leader SO-101 (torque off, moved by hand) as a TeleopDevice driving a follower."""

from __future__ import annotations

import numpy as np
import pytest

from armgym.errors import HardwareError
from armgym.robots.real.robot import RealRobot
from armgym.robots.real.safety import SafetyConfig, SafetyLayer
from armgym.robots.real.so101 import FeetechArm
from armgym.robots.specs import ROBOTS
from armgym.teleop.base import TeleopDevice
from armgym.teleop.leader_arm import LeaderArm
from tests._real import actual_ticks, so101_calibration, so101_setup

pytest.importorskip("serial")

SPEC = ROBOTS.get("so101")


def test_follower_mirrors_the_leader(tmp_path):
    home = np.asarray(SPEC.home_qpos)
    lead_bus, lead_cfg = so101_setup(tmp_path / "leader", home, gripper=0.2)
    fol_bus, fol_cfg = so101_setup(tmp_path / "follower", home, gripper=1.0)
    leader = LeaderArm(FeetechArm(lead_cfg, leader=True), SPEC, control="joint_pos")
    follower = RealRobot(
        SPEC, FeetechArm(fol_cfg), control="joint_pos", control_hz=25.0,
        safety=SafetyConfig(max_joint_vel=3.0),
    )  # fmt: skip
    try:
        device: TeleopDevice = leader  # the protocol is structural; mypy checks this line
        assert device.intervention
        assert all(lead_bus.servo(i).get("Torque_Enable") == 0 for i in range(1, 7))
        with pytest.raises(HardwareError, match="never commanded"):
            leader.driver.command(home, 0.5)
        follower.reset()
        target = home + np.array([0.4, -0.2, 0.3, -0.3, 0.5])
        lead_bus.set_actual(actual_ticks(so101_calibration(), target, 0.2))  # moved by hand
        for _ in range(30):  # the gripper travels ~2,000 ticks at 3,000 ticks/s
            cmd = leader.poll()
            assert cmd.action.shape == follower.action_space.shape
            obs = follower.act(cmd.action)
        np.testing.assert_allclose(obs["joint_pos"], target, atol=0.01)
        assert abs(obs["gripper"][0] - 0.2) < 0.01
    finally:
        leader.close()
        follower.close()
        lead_bus.close()
        fol_bus.close()


def test_leader_ee_delta_follows_the_tool_motion(tmp_path):
    home = np.asarray(SPEC.home_qpos)
    bus, cfg = so101_setup(tmp_path, home)
    leader = LeaderArm(FeetechArm(cfg, leader=True), SPEC, control="ee_delta")
    try:
        first = leader.poll()
        np.testing.assert_allclose(first.action[:6], 0.0)
        moved = home + np.array([0.0, 0.0, 0.05, 0.0, 0.0])
        bus.set_actual(actual_ticks(so101_calibration(), moved, 0.5))
        cmd = leader.poll()
        fk = SafetyLayer(leader.kin.model, SPEC, 10.0, SafetyConfig())
        expected = (fk.tcp(moved) - fk.tcp(home)) / leader.cfg.pos_step
        assert cmd.action.shape == (7,) and np.linalg.norm(expected) > 0.3
        np.testing.assert_allclose(cmd.action[:3], expected, atol=0.05)
        np.testing.assert_allclose(cmd.action[-1], 0.0, atol=0.01)  # half-open gripper
    finally:
        leader.close()
        bus.close()
