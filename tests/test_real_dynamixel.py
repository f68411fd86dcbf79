"""Dynamixel Protocol 2.0 (WidowX / ViperX without ROS): ROBOTIS' dynamixel-sdk driving a
fake X-series bus on a pseudo-terminal."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest

from armgym.errors import HardwareError
from armgym.robots.real import dynamixel_protocol as dp
from armgym.robots.real.config import RealRobotConfig, driver_for, make_real_robot
from armgym.robots.real.safety import SafetyConfig
from armgym.robots.real.sim.fake_dynamixel import FakeDynamixelBus
from armgym.robots.specs import ROBOTS
from tests._real import wait_for

pytest.importorskip("serial")
sdk = pytest.importorskip("dynamixel_sdk")
from armgym.robots.real.dynamixel import (  # noqa: E402
    DynamixelArm,
    DynamixelBus,
    DynamixelConfig,
    to_ticks,
)

SPEC = ROBOTS.get("widowx250")
#: an Interbotix 6-dof arm: primaries 1 2 4 6 7 8, shadows 3 -> 2 and 5 -> 4, gripper 9
IDS = range(1, 10)
SHADOWS = {3: 2, 5: 4}


def wx250_bus(q=SPEC.home_qpos, **kw) -> FakeDynamixelBus:
    ticks = dict(zip([1, 2, 4, 6, 7, 8], (to_ticks(v) for v in q), strict=True))
    ticks.update({3: 4096 - ticks[2], 5: 4096 - ticks[4], 9: 2700})
    bus = FakeDynamixelBus(ticks, secondary=SHADOWS, models={7: 1060, 8: 1060, 9: 1060}, **kw)
    for i in (1, 2, 4, 6, 7, 8):  # joint limits of ±2.5 rad in the servos' EEPROM
        bus.servo(i).set("Min_Position_Limit", to_ticks(-2.5))
        bus.servo(i).set("Max_Position_Limit", to_ticks(2.5))
    return bus


def test_packets_match_the_protocol_manual_and_the_sdk():
    # ROBOTIS e-manual, Protocol 2.0: PING id 1, and READ Present_Position (132, 4 bytes)
    assert dp.encode(1, dp.PING) == bytes.fromhex("fffffd0001030001194e")
    assert dp.encode(1, dp.READ, bytes([132, 0, 4, 0])) == bytes.fromhex(
        "fffffd0001070002840004001d15"
    )
    ph = sdk.PacketHandler(2.0)
    rng = np.random.default_rng(0)
    for n in (1, 7, 40):
        data = bytes(rng.integers(0, 256, n).tolist())
        assert dp.crc16(data) == ph.updateCRC(0, list(data), n)
    # byte stuffing: FF FF FD in the parameters travels as FF FF FD FD and comes back whole
    params = bytes([116, 0]) + b"\xff\xff\xfd\x00"
    packet = dp.encode(3, dp.WRITE, params)
    assert b"\xff\xff\xfd\xfd" in packet[4:]
    stream = io.BytesIO(b"\x00\xff" + packet)  # noise before the header is skipped
    p = dp.read_packet(lambda n, t: stream.read(n), deadline=time.monotonic() + 1.0)
    assert (p.id, p.code, p.params) == (3, dp.WRITE, params)


def test_the_sdk_bus_reads_writes_and_retries_on_the_fake():
    with wx250_bus() as fake:
        bus = DynamixelBus(fake.port)
        try:
            assert bus.ping(1) and not bus.ping(42)
            assert bus.read(7, "Model_Number") == 1060
            bus.write(1, "Homing_Offset", -300)  # EEPROM, torque off: signed round trip
            assert bus.read(1, "Homing_Offset") == -300
            bus.write(1, "Torque_Enable", 1)
            with pytest.raises(HardwareError, match="access error"):  # EEPROM with torque on
                bus.write(1, "Homing_Offset", 0)
            bus.sync_write("Goal_Position", {1: 2100, 2: 2000})
            assert bus.sync_read([1, 2], "Goal_Position") == {1: 2100, 2: 2000}
            assert fake.servo(3).get("Goal_Position") == 2000  # the shadow obeys id 2
            before = bus.errors  # ping(42) timed out on every attempt
            fake.corrupt_replies, fake.garbage_before = 1, 1
            assert bus.read(1, "Goal_Position") == 2100 and bus.errors == before + 1
            fake.drop_replies = 1
            assert bus.sync_read([1, 2], "Goal_Position")[2] == 2000
            assert bus.errors == before + 2
            fake.unplugged = {2}
            with pytest.raises(HardwareError, match=r"servos \[2\] do not answer PING"):
                bus.sync_read([1, 2], "Present_Position")
        finally:
            bus.close()


def test_arm_connects_reads_commands_and_holds():
    with wx250_bus() as fake:
        arm = DynamixelArm(DynamixelConfig(port=fake.port))
        try:
            low, high = arm.device_range()
            np.testing.assert_allclose(low, -2.5, atol=2e-3)
            np.testing.assert_allclose(high, 2.5, atol=2e-3)
            for i in IDS:  # position control, torque on, everywhere
                assert fake.servo(i).get("Operating_Mode") == dp.POSITION_MODE
                assert fake.servo(i).get("Torque_Enable") == 1
            reading = arm.read()
            np.testing.assert_allclose(reading.q, SPEC.home_qpos, atol=2e-3)
            assert reading.gripper == pytest.approx(1.0)
            target = np.asarray(SPEC.home_qpos) + 0.2
            arm.command(target, 0.0)
            wait_for(lambda: np.allclose(arm.read().q, target, atol=3e-3), what="the joints")
            wait_for(lambda: arm.read().gripper < 0.01, what="the gripper to close")
            assert fake.servo(5).get("Goal_Position") == fake.servo(4).get("Goal_Position")
        finally:
            arm.close()
        assert all(fake.servo(i).get("Torque_Enable") for i in IDS)  # close holds, torque on


def test_arm_refuses_a_wrong_model_and_missing_servos():
    with wx250_bus() as fake:
        fake.servo(4).set("Model_Number", 777)
        with pytest.raises(HardwareError, match="servo 4 is model 777"):
            DynamixelArm(DynamixelConfig(port=fake.port))
        fake.servo(4).set("Model_Number", 1020)
        fake.unplugged = {9}
        with pytest.raises(HardwareError, match=r"servos \[9\] do not answer"):
            DynamixelArm(DynamixelConfig(port=fake.port))


def test_real_robot_on_dynamixel_recovers_from_an_overload():
    assert driver_for(RealRobotConfig(robot="vx300", driver="dynamixel")) == "dynamixel"
    with wx250_bus(q=np.asarray(SPEC.home_qpos) + 0.1) as fake:
        cfg = RealRobotConfig(robot="widowx250", driver="dynamixel", port=fake.port,
                              control_hz=25.0, safety=SafetyConfig(max_joint_vel=3.0))  # fmt: skip
        robot = make_real_robot(cfg)
        try:
            obs = robot.reset()
            np.testing.assert_allclose(obs["joint_pos"], SPEC.home_qpos, atol=0.03)
            start = obs["ee_pos"]
            for _ in range(4):
                obs = robot.act(np.array([1, 0, 0, 0, 0, 0, 1], np.float32))
            assert obs["ee_pos"][0] - start[0] > 0.01  # +x, as the sim's IK moves it
            fake.overload(4)
            with pytest.raises(HardwareError, match=r"servos \[4\] report hardware errors"):
                robot.act(np.zeros(7, np.float32))
            assert fake.servo(4).get("Torque_Enable") == 0
            robot.reset()  # reboots servo 4, torque back on, home again
            assert fake.servo(4).get("Hardware_Error_Status") == 0
            assert all(fake.servo(i).get("Torque_Enable") for i in IDS)
        finally:
            robot.close()
