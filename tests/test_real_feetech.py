"""The Feetech serial driver against a fake STS3215 bus on a pseudo-terminal."""

from __future__ import annotations

import json

import numpy as np
import pytest

from armgym.errors import ConfigError, HardwareError
from armgym.robots.real import feetech_protocol as fp
from armgym.robots.real.calibration import load_calibration, save_calibration
from armgym.robots.real.feetech import FeetechBus
from armgym.robots.real.sim.fake_feetech import FakeFeetechBus
from armgym.robots.real.so101 import SO101_MOTORS, FeetechArm, calibrate
from tests._real import so101_calibration, so101_setup, wait_for

pytest.importorskip("serial")


def test_packets_match_the_feetech_manual():
    assert fp.encode(1, fp.PING) == bytes.fromhex("ffff010201fb")
    # READ Present_Position (56 = 0x38), 2 bytes, of id 1
    assert fp.encode(1, fp.READ, bytes([56, 2])) == bytes.fromhex("ffff0104023802be")
    assert fp.encode_sign_magnitude(-5, 11) == 0x805
    assert fp.decode_sign_magnitude(0x805, 11) == -5
    assert fp.decode_sign_magnitude(fp.encode_sign_magnitude(2047, 11), 11) == 2047
    with pytest.raises(ValueError):
        fp.encode_sign_magnitude(2048, 11)


@pytest.fixture
def bus_and_fake():
    fake = FakeFeetechBus({1: 1000, 2: 3000})
    bus = FeetechBus(fake.port, timeout_s=0.2, retries=2)
    yield bus, fake
    bus.close()
    fake.close()


def test_read_write_sync_over_the_pty(bus_and_fake):
    bus, fake = bus_and_fake
    assert bus.ping(1) and bus.ping(2) and not bus.ping(7)
    assert bus.read(1, "Model_Number") == fp.STS3215_MODEL
    assert bus.sync_read([1, 2], "Present_Position") == {1: 1000, 2: 3000}
    bus.sync_write("Torque_Enable", {1: 1, 2: 1})
    bus.sync_write("Goal_Position", {1: 1300, 2: 2900})
    wait_for(lambda: fake.requests[-1].code == fp.SYNC_WRITE, what="the SYNC_WRITE")
    # 300 ticks at 3,000 ticks/s: ~0.1 s
    wait_for(
        lambda: bus.sync_read([1, 2], "Present_Position") == {1: 1300, 2: 2900},
        what="the servos to reach their goals",
    )
    assert fake.servo(1).get("Goal_Position") == 1300


def test_checksum_errors_and_lost_replies_are_retried(bus_and_fake):
    bus, fake = bus_and_fake
    fake.corrupt_replies = 1
    assert bus.read(2, "Present_Position") == 3000
    fake.drop_replies = 1
    assert bus.sync_read([1, 2], "Present_Position") == {1: 1000, 2: 3000}
    fake.garbage_before = 1  # noise bytes before a reply are skipped
    assert bus.read(1, "Present_Position") == 1000
    assert bus.errors == 2


def test_a_servo_that_stays_silent_is_a_clear_error(bus_and_fake):
    bus, fake = bus_and_fake
    fake.drop_replies = 10
    with pytest.raises(HardwareError, match=r"servo 1 did not answer READ Present_Position"):
        bus.read(1, "Present_Position")
    fake.drop_replies = 0
    fake.unplugged = {2}
    with pytest.raises(HardwareError, match=r"servos \[2\] do not answer PING"):
        bus.sync_read([1, 2], "Present_Position")


def test_slow_replies_time_out():
    with FakeFeetechBus({1: 10}, reply_delay_s=0.08) as fake:
        bus = FeetechBus(fake.port, timeout_s=0.02, retries=1)
        try:
            with pytest.raises(HardwareError, match="did not answer"):
                bus.read(1, "Present_Position")
        finally:
            bus.close()


def test_missing_port_says_what_to_check():
    with pytest.raises(HardwareError, match="cannot open serial port"):
        FeetechBus("/dev/does-not-exist-armgym")


def test_lerobot_calibration_json_roundtrip(tmp_path):
    lerobot_file = {
        name: {
            "id": i,
            "drive_mode": 0,
            "homing_offset": -1470 + i,
            "range_min": 758,
            "range_max": 3292,
        }
        for i, name in enumerate(SO101_MOTORS, start=1)
    }
    path = tmp_path / "arm.json"
    path.write_text(json.dumps(lerobot_file, indent=4))
    cal = load_calibration(path, SO101_MOTORS)
    assert cal["gripper"].id == 6 and cal["shoulder_pan"].homing_offset == -1469
    out = tmp_path / "out.json"
    save_calibration(out, cal)
    assert json.loads(out.read_text()) == lerobot_file
    m = cal["elbow_flex"]
    assert m.to_rad(m.mid) == 0.0
    assert m.to_ticks(m.to_rad(1234)) == 1234
    with pytest.raises(ConfigError, match="no entry for"):
        load_calibration(path, (*SO101_MOTORS, "extra_motor"))
    lerobot_file["gripper"]["range_min"] = 4000
    path.write_text(json.dumps(lerobot_file))
    with pytest.raises(ConfigError, match="range_min < range_max"):
        load_calibration(path)


def test_connect_writes_calibration_to_eeprom(tmp_path):
    bus, cfg = so101_setup(tmp_path, np.zeros(5))
    with bus:
        arm = FeetechArm(cfg)
        try:
            for name, m in so101_calibration().items():
                s = bus.servo(m.id)
                assert s.offset() == m.homing_offset, name
                assert s.get("Min_Position_Limit") == m.range_min
                assert s.get("Max_Position_Limit") == m.range_max
                assert s.get("Lock") == 1 and s.get("Torque_Enable") == 1
            np.testing.assert_allclose(arm.read().q, 0.0, atol=2e-3)
        finally:
            arm.close()
        assert bus.servo(1).get("Torque_Enable") == 1  # held, not dropped


def test_connect_reports_missing_servos(tmp_path):
    bus, cfg = so101_setup(tmp_path, np.zeros(5))
    with bus:
        bus.unplugged = {4}
        with pytest.raises(HardwareError, match=r"servos \[4\] do not answer"):
            FeetechArm(cfg)


def test_calibrate_finds_offsets_and_ranges():
    with FakeFeetechBus({1: 2500, 2: 1000}) as fake:
        bus = FeetechBus(fake.port, timeout_s=0.2)
        try:
            import threading
            import time

            def sweep():
                for v in (2000, 3000, 2600):
                    time.sleep(0.1)
                    fake.set_actual({1: v, 2: 1000 + (v - 2000)})

            t = threading.Thread(target=sweep)
            t.start()
            cal = calibrate(bus, {"a": 1, "b": 2}, duration_s=0.6)
            t.join()
        finally:
            bus.close()
    assert cal["a"].homing_offset == 2500 - 2047 and cal["b"].homing_offset == 1000 - 2047
    assert cal["a"].range_min == 2000 - 453 and cal["a"].range_max == 3000 - 453
