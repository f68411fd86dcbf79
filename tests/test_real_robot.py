"""RealRobot (sim kinematics + safety layer) driving an SO-101 on a fake Feetech bus."""

from __future__ import annotations

import numpy as np
import pytest

from armgym.contracts.robot import Robot
from armgym.errors import HardwareError, InvalidActionError
from armgym.robots.real.robot import RealRobot
from armgym.robots.real.safety import SafetyConfig, SafetyLayer
from armgym.robots.real.so101 import FeetechArm
from armgym.robots.sim import SimRobot
from armgym.robots.specs import ROBOTS
from tests._real import so101_setup

pytest.importorskip("serial")

SPEC = ROBOTS.get("so101")
FAST = SafetyConfig(max_joint_vel=3.0)


@pytest.fixture
def so101(tmp_path):
    bus, cfg = so101_setup(tmp_path, np.zeros(5))
    driver = FeetechArm(cfg)
    robot = RealRobot(
        SPEC, driver, control="ee_delta", control_hz=25.0, safety=FAST,
        device_range=driver.device_range(),
    )  # fmt: skip
    yield robot, bus
    robot.close()
    bus.close()


def test_same_spaces_as_the_sim_and_fk_of_the_sim(so101):
    robot, _ = so101
    assert isinstance(robot, Robot)
    sim = SimRobot(SPEC, None, control="ee_delta", control_hz=25.0)
    assert robot.action_space == sim.action_space
    assert robot.observation_space == sim.observation_space
    obs = robot.reset()
    np.testing.assert_allclose(obs["joint_pos"], SPEC.home_qpos, atol=robot.home_tolerance)
    for key, space in robot.observation_space.spaces.items():
        assert obs[key].shape == space.shape and obs[key].dtype == space.dtype, key
    sim.reset()
    sim.data.qpos[sim.controller.qadr] = obs["joint_pos"]
    import mujoco

    mujoco.mj_kinematics(sim.model, sim.data)
    np.testing.assert_allclose(obs["ee_pos"], sim.data.site_xpos[sim.controller.site_id], atol=1e-5)
    sim.close()


def test_ee_delta_moves_the_tool_with_the_sim_ik(so101):
    robot, _ = so101
    start = robot.reset()["ee_pos"]
    for _ in range(8):
        obs = robot.act(np.array([1, 0, 0, 0, 0, 0, 1], dtype=np.float32))
    moved = obs["ee_pos"] - start
    assert moved[0] > 0.02, moved
    assert abs(moved[1]) < 0.01 and abs(moved[2]) < 0.02, moved
    assert robot.safety.counts["workspace"] == 0


def test_velocity_and_joint_limits_bound_every_command(so101):
    robot, _bus = so101
    robot.reset()
    q0 = robot.observe()["joint_pos"]
    before = dict(robot.safety.counts)
    # joint_pos-like extreme target through the safety layer: one step of max_step at most
    target = np.array([10.0, -10.0, 10.0, 10.0, 10.0])
    safe = robot.safety.limit(q0.astype(np.float64), target, workspace=False)
    assert np.max(np.abs(safe - q0)) <= robot.safety.max_step + 1e-9
    assert np.all(safe <= robot.safety.q_high) and np.all(safe >= robot.safety.q_low)
    assert robot.safety.counts["joint_limit"] == before["joint_limit"] + 1
    assert robot.safety.counts["velocity"] == before["velocity"] + 1


def test_joint_pos_mode_moves_at_most_the_velocity_limit(tmp_path):
    bus, cfg = so101_setup(tmp_path, np.asarray(SPEC.home_qpos))
    driver = FeetechArm(cfg)
    robot = RealRobot(SPEC, driver, control="joint_pos", control_hz=25.0, safety=FAST)
    try:
        q0 = robot.reset()["joint_pos"]
        action = np.array([1.0, 0.0, 0.0, 0.0, 0.0, 1.0], dtype=np.float32)  # pan to +max
        obs = robot.act(action)
        step = robot.safety.max_step
        # the servo moves 3,000 ticks/s: it reaches the limited goal within the period
        assert 0.5 * step < obs["joint_pos"][0] - q0[0] <= step + 0.01
        for _ in range(3):
            obs = robot.act(action)
        assert obs["joint_pos"][0] - q0[0] <= 4 * step + 0.01
        assert obs["joint_vel"][0] > 0.5 * FAST.max_joint_vel
    finally:
        robot.close()
        bus.close()


def test_workspace_box_stops_a_step_that_leaves_it():
    model = SimRobot(SPEC, None).model
    layer = SafetyLayer(model, SPEC, 10.0, SafetyConfig(max_joint_vel=100.0))
    home = np.asarray(SPEC.home_qpos)
    # lifting the shoulder far up takes the tool above the box (z high = 0.16 m + margin)
    target = home + np.array([0.0, -1.2, 0.0, 0.0, 0.0])
    assert layer.outside(target) > 0.0
    safe = layer.limit(home, target)
    assert layer.outside(safe) == 0.0
    assert 0.0 < np.linalg.norm(safe - home) < np.linalg.norm(target - home)
    assert layer.counts["workspace"] == 1


def test_bad_actions_are_refused(so101):
    robot, _ = so101
    robot.reset()
    with pytest.raises(InvalidActionError, match="float32"):
        robot.act(np.zeros(3, dtype=np.float32))
    with pytest.raises(InvalidActionError):
        robot.act(np.full(7, np.nan, dtype=np.float32))


def test_a_servo_lost_mid_episode_holds_the_arm_and_says_so(so101):
    robot, bus = so101
    robot.reset()
    bus.unplugged = {3}
    with pytest.raises(HardwareError, match=r"servos \[3\] do not answer PING"):
        robot.act(np.zeros(7, dtype=np.float32))
    bus.unplugged = set()
    # the others were told to hold: their goal is where they are
    for i in (1, 2, 4, 5):
        s = bus.servo(i)
        present = s.read(56, 2)
        assert abs(int.from_bytes(present, "little") - s.get("Goal_Position")) <= 2
    robot.hold()  # the bus is back: hold() works and the robot can continue
    robot.act(np.zeros(7, dtype=np.float32))


def test_a_reading_far_outside_the_calibrated_range_is_an_error(so101):
    robot, bus = so101
    robot.reset()
    s = bus.servo(1)
    with bus.lock:
        s.set("Torque_Enable", 0)  # a person pushes the joint far past its limit
    bus.set_actual({1: 3294 + s.offset() + 400})
    with pytest.raises(HardwareError, match="joint 0 reads"):
        robot.observe()


def test_reset_recovers_a_servo_that_cut_its_torque(so101):
    robot, bus = so101
    robot.reset()
    with bus.lock:
        bus.servo(2).set("Torque_Enable", 0)  # overload protection tripped
    robot.reset()
    assert bus.servo(2).get("Torque_Enable") == 1


class SaggingArm:
    """An in-memory arm whose joints settle ``sag`` rad below each target (gravity)."""

    n_joints = 5

    def __init__(self, q0: np.ndarray, sag: float):
        self.q, self.sag = np.array(q0, float), sag
        self.sent: list[np.ndarray] = []

    def read(self):
        from armgym.robots.real.driver import JointReading

        return JointReading(q=self.q.copy(), gripper=1.0)

    def command(self, q, gripper):
        self.sent.append(np.array(q))
        self.q = np.array(q) - self.sag

    def hold(self):
        pass

    def recover(self):
        pass

    def close(self):
        pass


def test_servo_sag_does_not_accumulate_into_drift():
    home = np.asarray(SPEC.home_qpos)
    arm = SaggingArm(home - 0.2, sag=0.01)
    robot = RealRobot(SPEC, arm, control="ee_delta", control_hz=50.0, home_tolerance=0.02)
    robot.reset()
    np.testing.assert_allclose(arm.sent[-1], home, atol=1e-9)  # home commanded, 0.01 below
    for _ in range(10):
        robot.act(np.array([0, 0, 0, 0, 0, 0, 1], np.float32))  # hold still
    drift = np.abs(arm.sent[-1] - home)
    assert drift.max() < 2e-3, drift  # measured-based stepping would drift 0.01 rad/step
