"""WidowX 250 / ViperX 300 without ROS: their Dynamixel X-series servos driven directly.

``DynamixelBus`` is a :class:`~armgym.robots.real.bus.ServoBus` speaking Protocol 2.0
through ROBOTIS' ``dynamixel-sdk`` (``pip install 'armgym[real]'``); ``DynamixelArm`` is
the :class:`~armgym.robots.real.driver.ArmDriver` of an Interbotix arm on it (the U2D2
adapter on USB, ``/dev/ttyUSB0``, 1 Mbaud), for when xs_sdk / ROS is not running.

Motor ids follow Interbotix's motor configs (``wx250s.yaml``, ``vx300s.yaml``): waist 1,
shoulder 2 (+ shadow 3), elbow 4 (+ shadow 5), forearm_roll 6, wrist_angle 7,
wrist_rotate 8, gripper 9. The shadow motors follow their primary through their own
``Secondary_ID`` (xs_sdk sets it once), so only primaries are read and commanded.

Angles: ``q = (ticks - 2048) * 2π / 4096`` (Interbotix arms are assembled with 0 rad at the
encoders' middle; ``Drive_Mode`` reversals live in the servos). At connect every servo is
pinged and its model checked, torque is switched off, ``Operating_Mode`` set to position
control (3) and read back, the position limits read (the device's joint range for the
safety layer), goal = present, torque on and read back. The gripper runs in position mode
between ``gripper_ticks`` (closed, open) — xs_sdk drives it in PWM mode instead.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from armgym.errors import ConfigError, HardwareError
from armgym.robots.real import dynamixel_protocol as dp
from armgym.robots.real.bus import (
    ServoBus,
    TransientBusError,
    close_on_failure,
    io_error,
    port_error,
)
from armgym.robots.real.driver import JointReading

#: Arm joint -> id of its (primary) servo in Interbotix's 6-dof arms; the gripper is 9.
INTERBOTIX_IDS = {"waist": 1, "shoulder": 2, "elbow": 4, "forearm_roll": 6,
                  "wrist_angle": 7, "wrist_rotate": 8}  # fmt: skip
INTERBOTIX_GRIPPER_ID = 9


def _sdk() -> Any:
    try:
        import dynamixel_sdk
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ConfigError(
            "the Dynamixel driver needs dynamixel-sdk: pip install 'armgym[real]'"
        ) from e
    return dynamixel_sdk


#: sleep between empty polls of the port while waiting for a reply [s] (~2 bytes at 1 Mbaud)
IDLE_POLL_S = 0.0002


def _port_handler(sdk: Any, port: str, margin_ms: float) -> Any:
    """The SDK's ``PortHandler`` waiting ``margin_ms`` longer for each reply than its own
    estimate (transfer time + 2 × the USB latency timer + 2 ms, ~34 ms for a short packet):
    a loaded host or a slow adapter otherwise reads a late reply as a lost one. It also
    sleeps ``IDLE_POLL_S`` when a poll finds no byte: the SDK waits for replies in a busy
    loop, which held the GIL against every other thread of the process (the fake bus's
    thread in the tests, a camera thread in an app) and burnt a core."""

    class Port(sdk.PortHandler):  # type: ignore[misc, name-defined]
        def setPacketTimeout(self, packet_length: int) -> None:
            super().setPacketTimeout(packet_length)
            self.packet_timeout += margin_ms

        def readPort(self, length: int) -> list[int]:
            data = super().readPort(length)
            if not data:  # the SDK polls in a busy loop: yield the CPU (and the GIL) briefly
                time.sleep(IDLE_POLL_S)
            return data

    return Port(port)


class DynamixelBus(ServoBus):
    """Dynamixel Protocol 2.0 servos on ``port`` through ``dynamixel-sdk``.

    The SDK waits for each reply for about 34 ms (its USB latency allowance); a timed-out
    or corrupt reply is retried ``retries`` times.
    """

    baud_hint = " (1 Mbaud for Interbotix arms)"

    def __init__(
        self, port: str, *, baudrate: int = 1_000_000, retries: int = 2, reply_margin_s: float = 0.1
    ):
        super().__init__(port, dp.XSERIES, retries=retries, signed=dp.SIGNED)
        sdk = self.sdk = _sdk()
        self.handler = _port_handler(sdk, port, 1000.0 * reply_margin_s)
        try:
            opened = self.handler.setBaudRate(baudrate)  # opens the port
        except Exception as e:  # pyserial's SerialException / OSError
            raise port_error(port, e) from e
        if not opened:
            raise ConfigError(f"dynamixel-sdk does not support {baudrate} baud on {port}")
        self.packets = sdk.PacketHandler(2.0)
        self._transient = {sdk.COMM_RX_TIMEOUT, sdk.COMM_RX_CORRUPT, sdk.COMM_RX_FAIL}

    def close(self) -> None:
        if self.handler.is_open:
            self.handler.closePort()

    def fault(self, err: int) -> str | None:
        # the alert bit alone reports a hardware error the request did not cause; the
        # driver reads Hardware_Error_Status for it
        return dp.describe_status(err & 0x7F) if err & 0x7F else None

    def _io(self, fn: Any, *args: Any) -> Any:
        """An SDK call; pyserial errors become HardwareError."""
        try:
            return fn(*args)
        except OSError as e:  # SerialException is an OSError
            raise io_error(self.port, e) from e

    def _check(self, comm: int) -> None:
        """An SDK result code: a lost or corrupt reply is transient, anything else fails."""
        if comm in self._transient:
            raise TransientBusError(self.packets.getTxRxResult(comm))
        if comm != self.sdk.COMM_SUCCESS:
            raise io_error(self.port, self.packets.getTxRxResult(comm))

    def _ping(self, id_: int) -> int:
        _model, comm, err = self._io(self.packets.ping, self.handler, id_)
        self._check(comm)
        return int(err)

    def _read(self, id_: int, addr: int, size: int) -> tuple[bytes, int]:
        data, comm, err = self._io(self.packets.readTxRx, self.handler, id_, addr, size)
        self._check(comm)
        return bytes(data), int(err)

    def _write(self, id_: int, addr: int, data: bytes) -> int:
        comm, err = self._io(self.packets.writeTxRx, self.handler, id_, addr, len(data), list(data))
        self._check(comm)
        return int(err)

    def reboot(self, id_: int) -> None:
        """REBOOT servo ``id_`` (clears a hardware error; torque comes back off)."""

        def once() -> tuple[None, int]:
            comm, err = self._io(self.packets.reboot, self.handler, id_)
            self._check(comm)
            return None, int(err)

        self._retry(id_, "REBOOT", once)

    def _sync_read(self, ids: list[int], addr: int, size: int) -> dict[int, bytes]:
        group = self.sdk.GroupSyncRead(self.handler, self.packets, addr, size)
        for i in ids:
            group.addParam(i)
        self._check(self._io(group.txRxPacket))
        if not all(group.isAvailable(i, addr, size) for i in ids):
            raise TransientBusError(f"SYNC_READ left servos without data: {ids}")
        return {i: int(group.getData(i, addr, size)).to_bytes(size, "little") for i in ids}

    def _sync_write(self, addr: int, size: int, data: Mapping[int, bytes]) -> None:
        group = self.sdk.GroupSyncWrite(self.handler, self.packets, addr, size)
        for i, value in data.items():
            group.addParam(i, list(value))
        self._check(self._io(group.txPacket))


@dataclass(frozen=True)
class DynamixelConfig:
    """An Interbotix arm's Dynamixel bus.

    Attributes:
        port: serial device of the U2D2 adapter (``/dev/ttyUSB0``).
        joints: arm joint names in the spec's order (their ids in ``ids``).
        ids: joint name -> servo id (primaries); default Interbotix's.
        gripper_id: id of the gripper servo.
        gripper_ticks: gripper positions (closed, open) [ticks]; measure them on your arm.
        baudrate: bus speed [bit/s].
        retries: extra attempts after a timeout or a corrupt reply.
        reply_margin_s: extra wait for each reply beyond the SDK's own estimate [s].
        torque_off_on_close: switch torque off at close (the arm then drops under gravity).
    """

    port: str
    joints: tuple[str, ...] = tuple(INTERBOTIX_IDS)
    ids: Mapping[str, int] = field(default_factory=lambda: dict(INTERBOTIX_IDS))
    gripper_id: int = INTERBOTIX_GRIPPER_ID
    gripper_ticks: tuple[int, int] = (1400, 2700)
    baudrate: int = 1_000_000
    retries: int = 2
    reply_margin_s: float = 0.1
    torque_off_on_close: bool = False

    def __post_init__(self) -> None:
        missing = [j for j in self.joints if j not in self.ids]
        if missing:
            raise ConfigError(f"no Dynamixel id for joints {missing}; ids: {dict(self.ids)}")


def to_rad(ticks: int) -> float:
    return (ticks - dp.CENTER) * 2 * np.pi / dp.TICKS_PER_TURN


def to_ticks(q: float) -> int:
    return round(q * dp.TICKS_PER_TURN / (2 * np.pi)) + dp.CENTER


class DynamixelArm:
    """An Interbotix WidowX / ViperX on its Dynamixel bus: joints [rad], gripper [0, 1]."""

    def __init__(self, cfg: DynamixelConfig):
        self.cfg = cfg
        self.arm_ids = [cfg.ids[j] for j in cfg.joints]
        self.ids = [*self.arm_ids, cfg.gripper_id]
        self.n_joints = len(self.arm_ids)
        self.bus = DynamixelBus(
            cfg.port, baudrate=cfg.baudrate, retries=cfg.retries, reply_margin_s=cfg.reply_margin_s
        )
        close_on_failure(self.bus, self._connect)

    def _connect(self) -> None:
        self.bus.require(self.ids, "check the 12 V supply and the U2D2 cable")
        for i in self.ids:
            model = self.bus.read(i, "Model_Number")
            if model not in dp.XSERIES_MODELS:
                raise HardwareError(
                    f"servo {i} is model {model}, not an X-series servo "
                    f"({sorted(dp.XSERIES_MODELS.values())}); is this an Interbotix arm?"
                )
        self.bus.sync_write("Torque_Enable", dict.fromkeys(self.ids, 0))
        for i in self.ids:
            self.bus.write(i, "Operating_Mode", dp.POSITION_MODE)
        wrong = {i: m for i, m in self.bus.sync_read(self.ids, "Operating_Mode").items()
                 if m != dp.POSITION_MODE}  # fmt: skip
        if wrong:
            raise HardwareError(f"servos {sorted(wrong)} kept operating modes {wrong}; power-cycle")
        low = self.bus.sync_read(self.arm_ids, "Min_Position_Limit")
        high = self.bus.sync_read(self.arm_ids, "Max_Position_Limit")
        self._range = (np.array([to_rad(low[i]) for i in self.arm_ids]),
                       np.array([to_rad(high[i]) for i in self.arm_ids]))  # fmt: skip
        self.recover()

    def device_range(self) -> tuple[np.ndarray, np.ndarray]:
        """The servos' position limits as joint ranges (low, high) float64[n] [rad]."""
        return self._range

    # -- ArmDriver ---------------------------------------------------------------------------
    def read(self) -> JointReading:
        """Joint angles and gripper opening; a servo's hardware error (overload, overheat,
        voltage: its torque is off) raises HardwareError, ``recover`` reboots it."""
        alarms = {
            i: v for i, v in self.bus.sync_read(self.ids, "Hardware_Error_Status").items() if v
        }
        if alarms:
            raise HardwareError(
                f"Dynamixel servos {sorted(alarms)} report hardware errors "
                f"{ {i: hex(v) for i, v in alarms.items()} } and dropped torque: check for "
                "overload or overheating; reset() reboots them and turns torque back on"
            )
        ticks = self.bus.sync_read(self.ids, "Present_Position")
        q = np.array([to_rad(ticks[i]) for i in self.arm_ids])
        closed, opened = self.cfg.gripper_ticks
        grip = (ticks[self.cfg.gripper_id] - closed) / (opened - closed)
        return JointReading(q=q, gripper=float(np.clip(grip, 0.0, 1.0)))

    def command(self, q: np.ndarray, gripper: float) -> None:
        closed, opened = self.cfg.gripper_ticks
        goal = {i: to_ticks(float(v)) for i, v in zip(self.arm_ids, q, strict=True)}
        goal[self.cfg.gripper_id] = round(
            closed + float(np.clip(gripper, 0, 1)) * (opened - closed)
        )
        self.bus.sync_write("Goal_Position", goal)

    def hold(self) -> None:
        self.bus.sync_write("Goal_Position", self.bus.sync_read(self.ids, "Present_Position"))

    def recover(self) -> None:
        """REBOOT servos that report a hardware error (overload ...), then goal = present and
        torque on, read back (SYNC_WRITE has no reply)."""
        errors = self.bus.sync_read(self.ids, "Hardware_Error_Status")
        for i, status in errors.items():
            if status:
                self.bus.reboot(i)
        self.hold()
        self.bus.sync_write("Torque_Enable", dict.fromkeys(self.ids, 1))
        off = [i for i, v in self.bus.sync_read(self.ids, "Torque_Enable").items() if not v]
        if off:
            raise HardwareError(f"servos {off} did not enable torque; power-cycle the arm")

    def close(self) -> None:
        try:
            self.hold()
            if self.cfg.torque_off_on_close:
                self.bus.sync_write("Torque_Enable", dict.fromkeys(self.ids, 0))
        finally:
            self.bus.close()
