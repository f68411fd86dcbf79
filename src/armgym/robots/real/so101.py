"""SO-101 / SO-100 arms (Feetech STS3215 servos, ids 1-6) as an :class:`ArmDriver`.

The follower arm is commanded; a leader arm (torque off, moved by hand) is read as a
teleoperation device (:class:`LeaderArm`). Both use LeRobot's calibration JSON, so a
LeRobot calibration of the same arm works unchanged (see
:mod:`armgym.robots.real.calibration`).

Connecting writes the calibration to each servo (EEPROM unlocked with ``Lock`` = 0, then
locked again): ``Homing_Offset`` (31, sign-magnitude, bit 11) and the position limits
``Min_Position_Limit`` (9) / ``Max_Position_Limit`` (11) = ``range_min`` / ``range_max``,
so the servos themselves refuse goals outside the calibrated range.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from armgym.errors import ConfigError, HardwareError
from armgym.robots.real import feetech_protocol as fp
from armgym.robots.real.bus import close_on_failure
from armgym.robots.real.calibration import Calibration, MotorCalibration, load_calibration
from armgym.robots.real.driver import JointReading
from armgym.robots.real.feetech import FeetechBus

#: Motor names (LeRobot's), arm joints first; ids 1..6 in this order.
SO101_MOTORS = (
    "shoulder_pan",
    "shoulder_lift",
    "elbow_flex",
    "wrist_flex",
    "wrist_roll",
    "gripper",
)


@dataclass(frozen=True)
class SO101Config:
    """An SO-101 / SO-100 arm on a serial port.

    Attributes:
        port: serial device of the arm's bus adapter (``/dev/ttyACM0``).
        calibration: LeRobot calibration JSON of this arm.
        baudrate: bus speed [bit/s].
        timeout_s: reply timeout per request [s] (a servo answers in ~1 ms; the margin is
            for a loaded host, where Python may read a reply late).
        retries: extra attempts after a timeout or checksum error.
        torque_off_on_close: switch torque off at close (the arm then drops under gravity).
        write_calibration: write homing offset and limits to the servos at connect.
    """

    port: str
    calibration: Path
    baudrate: int = 1_000_000
    timeout_s: float = 0.1
    retries: int = 2
    torque_off_on_close: bool = False
    write_calibration: bool = True


class FeetechArm:
    """An SO-101 on a Feetech bus: joints in radians, the gripper as a fraction.

    Args:
        cfg: port, calibration file and bus settings.
        leader: True for a leader arm (torque stays off; :meth:`command` is refused).
    """

    def __init__(self, cfg: SO101Config, *, leader: bool = False):
        self.cfg, self.leader = cfg, leader
        self.cal: Calibration = load_calibration(cfg.calibration, SO101_MOTORS)
        self.motors = [self.cal[m] for m in SO101_MOTORS]
        self.ids = [m.id for m in self.motors]
        self.n_joints = len(SO101_MOTORS) - 1
        self.bus = FeetechBus(
            cfg.port, baudrate=cfg.baudrate, timeout_s=cfg.timeout_s, retries=cfg.retries
        )
        close_on_failure(self.bus, self._connect)

    def _connect(self) -> None:
        self.bus.require(self.ids, "check the 12 V / 5 V supply and the daisy chain")
        for i in self.ids:
            model = self.bus.read(i, "Model_Number")
            if model != fp.STS3215_MODEL:
                raise HardwareError(
                    f"servo {i} is model {model}, expected STS3215 ({fp.STS3215_MODEL})"
                )
        self.bus.sync_write("Torque_Enable", dict.fromkeys(self.ids, 0))
        if self.cfg.write_calibration:
            write_calibration(self.bus, self.cal)
        if not self.leader:
            self.bus.sync_write("Goal_Position", self._present_ticks())
            self.bus.sync_write("Torque_Enable", dict.fromkeys(self.ids, 1))
            off = [i for i, v in self.bus.sync_read(self.ids, "Torque_Enable").items() if not v]
            if off:  # SYNC_WRITE has no reply: read back before trusting the arm to hold
                raise HardwareError(f"servos {off} did not enable torque; power-cycle the arm")

    def device_range(self) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated joint range (low, high) float64[5] [rad]."""
        ranges = np.array([m.rad_range() for m in self.motors[:-1]])
        return ranges[:, 0], ranges[:, 1]

    def _present_ticks(self) -> dict[int, int]:
        return self.bus.sync_read(self.ids, "Present_Position")

    # -- ArmDriver ---------------------------------------------------------------------------
    def read(self) -> JointReading:
        ticks = self._present_ticks()
        q = np.array([m.to_rad(ticks[m.id]) for m in self.motors[:-1]])
        grip = self.motors[-1]
        return JointReading(q=q, gripper=grip.to_fraction(ticks[grip.id]))

    def command(self, q: np.ndarray, gripper: float) -> None:
        if self.leader:
            raise HardwareError("a leader arm is read, never commanded")
        goal = {m.id: m.to_ticks(float(v)) for m, v in zip(self.motors[:-1], q, strict=True)}
        goal[self.motors[-1].id] = self.motors[-1].from_fraction(gripper)
        self.bus.sync_write("Goal_Position", goal)

    def hold(self) -> None:
        if not self.leader:
            self.bus.sync_write("Goal_Position", self._present_ticks())

    def recover(self) -> None:
        """Torque back on (an STS3215 cuts torque after an overload), goal = present."""
        if not self.leader:
            self.hold()
            self.bus.sync_write("Torque_Enable", dict.fromkeys(self.ids, 1))

    def close(self) -> None:
        try:
            if not self.leader:
                self.hold()
                if self.cfg.torque_off_on_close:
                    self.bus.sync_write("Torque_Enable", dict.fromkeys(self.ids, 0))
        finally:
            self.bus.close()


def write_calibration(bus: FeetechBus, cal: Calibration) -> None:
    """Write homing offsets and position limits (EEPROM) of every motor in ``cal``.

    Torque must be off. Each value is read back: a servo that kept its old value (e.g.
    still locked) raises :class:`HardwareError`.
    """
    for name, m in cal.items():
        bus.write(m.id, "Lock", 0)
        offset = fp.encode_sign_magnitude(m.homing_offset, fp.SIGN_BITS["Homing_Offset"])
        values = {"Homing_Offset": offset, "Min_Position_Limit": m.range_min,
                  "Max_Position_Limit": m.range_max}  # fmt: skip
        for reg, value in values.items():
            bus.write(m.id, reg, value)
        bus.write(m.id, "Lock", 1)
        for reg, value in values.items():
            if bus.read(m.id, reg) != value:
                raise HardwareError(
                    f"motor {name!r} (id {m.id}) did not keep {reg} = {value}: its EEPROM "
                    "may be locked or worn; power-cycle the arm and try again"
                )


def calibrate(
    bus: FeetechBus, ids: dict[str, int], duration_s: float = 10.0, poll_s: float = 0.02
) -> Calibration:
    """LeRobot's calibration procedure on a bus with torque off.

    Call with the arm in the middle of its range (LeRobot's calibration pose): the homing
    offset makes that pose read 2,047. Then move every joint through its whole range
    within ``duration_s``; the extremes seen become ``range_min`` / ``range_max``.
    Returns the calibration (write it with ``save_calibration``).
    """
    half = fp.TICKS_PER_TURN // 2 - 1
    bus.sync_write("Torque_Enable", dict.fromkeys(ids.values(), 0))
    offsets = {}
    for _name, i in ids.items():
        bus.write(i, "Lock", 0)
        bus.write(i, "Homing_Offset", 0)
        offsets[i] = bus.read(i, "Present_Position") - half
        bus.write(i, "Homing_Offset", fp.encode_sign_magnitude(offsets[i], 11))
        bus.write(i, "Lock", 1)
    low = dict.fromkeys(ids.values(), fp.TICKS_PER_TURN)
    high = dict.fromkeys(ids.values(), -1)
    t_end = time.monotonic() + duration_s
    while time.monotonic() < t_end:
        for i, v in bus.sync_read(list(ids.values()), "Present_Position").items():
            low[i], high[i] = min(low[i], v), max(high[i], v)
        time.sleep(poll_s)
    flat = [n for n, i in ids.items() if high[i] - low[i] < 50]
    if flat:
        raise ConfigError(f"joints {flat} hardly moved while calibrating: move each one fully")
    return {n: MotorCalibration(i, 0, offsets[i], low[i], high[i]) for n, i in ids.items()}
