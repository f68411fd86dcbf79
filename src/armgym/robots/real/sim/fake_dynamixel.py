"""A fake Dynamixel X-series bus (Protocol 2.0) on a pseudo-terminal: a WidowX / ViperX
as ROBOTIS' ``dynamixel-sdk`` (and so armgym's ``DynamixelArm``) sees it.

``FakeDynamixelBus`` is a :class:`~armgym.robots.real.sim.fake_bus.FakeBus` (pty, bus
thread, fault injection: ``corrupt_replies``, ``drop_replies``, ``garbage_before``,
``unplugged``) answering PING, READ, WRITE, REBOOT, SYNC_READ and SYNC_WRITE, written from
the protocol description in :mod:`armgym.robots.real.dynamixel_protocol`. Each servo has
the X-series control table: EEPROM (below address 64) is writable only with torque off
(else *access error*), a ``Goal_Position`` outside the position limits is refused (*data
limit error*; ignored in a SYNC_WRITE), ``Present_Position = actual + Homing_Offset``,
and the shaft moves toward the goal at ``speed`` ticks/s while torque is on.
``Secondary_ID`` makes a servo follow writes to another id (the shoulder / elbow shadow
motors of Interbotix arms). :meth:`FakeDynamixelBus.overload` raises a hardware error:
torque drops, every status carries the alert bit, torque cannot come back until a REBOOT.
"""

from __future__ import annotations

from armgym.robots.real import dynamixel_protocol as dp
from armgym.robots.real.sim.fake_bus import FakeBus, FakeMotor, Read

ACCESS_ERROR, DATA_LIMIT_ERROR = 7, 6


class FakeXServo(FakeMotor):
    """Register memory and shaft of one X-series servo (model ``model``)."""

    def __init__(self, id_: int, actual: int, speed: float, model: int = 1020):
        super().__init__(id_, actual, speed, dp.XSERIES, 256)
        self.set("Model_Number", model)
        self.set("Firmware_Version", 45)
        self.set("ID", id_)
        self.set("Baud_Rate", 3)  # 1 Mbaud
        self.set("Secondary_ID", 255)  # none
        self.set("Max_Position_Limit", dp.TICKS_PER_TURN - 1)
        self.set("Operating_Mode", dp.POSITION_MODE)
        self.set("Goal_Position", int(actual))

    def signed(self, name: str) -> int:
        value, bits = self.get(name), 8 * self.table[name][1]
        return value - (1 << bits) if value >= 1 << (bits - 1) else value

    def goal(self) -> float:
        return float(self.signed("Goal_Position") - self.signed("Homing_Offset"))

    def present(self) -> int:
        return round(self.actual) + self.signed("Homing_Offset")

    def alert(self) -> int:
        return dp.ALERT if self.get("Hardware_Error_Status") else 0

    def write(self, addr: int, data: bytes) -> int:
        """Apply a WRITE; its status error (0 = written)."""
        self.advance()
        if addr < dp.EEPROM_END and self.torque():
            return ACCESS_ERROR
        if addr == dp.XSERIES["Goal_Position"][0] and len(data) == 4:
            goal = int.from_bytes(data, "little", signed=True)
            if not self.signed("Min_Position_Limit") <= goal <= self.signed("Max_Position_Limit"):
                return DATA_LIMIT_ERROR
        if addr == dp.XSERIES["Torque_Enable"][0] and data[:1] == b"\x01" and self.alert():
            return ACCESS_ERROR  # a hardware error keeps torque off until a reboot
        self.mem[addr : addr + len(data)] = data
        return 0


class FakeDynamixelBus(FakeBus[FakeXServo]):
    """X-series servos with ids ``positions.keys()`` at ``positions`` [ticks].

    Args:
        positions: id -> initial shaft position [ticks, 0..4095; 2048 = 0 rad].
        speed: shaft speed while moving [ticks/s] (XM430 at 12 V: ~3,000).
        models: id -> model number (default XM430-W350, 1020).
        secondary: shadow id -> primary id (``Secondary_ID``).
        reply_delay_s: time before each reply.
    """

    def __init__(
        self,
        positions: dict[int, int],
        speed: float = 3000.0,
        models: dict[int, int] | None = None,
        secondary: dict[int, int] | None = None,
        reply_delay_s: float = 0.0,
    ):
        models = models or {}
        servos = {i: FakeXServo(i, p, speed, models.get(i, 1020)) for i, p in positions.items()}
        for shadow, primary in (secondary or {}).items():
            servos[shadow].set("Secondary_ID", primary)
        super().__init__(servos, reply_delay_s)

    def overload(self, id_: int) -> None:
        """Servo ``id_`` trips its overload protection: torque off, alert bit on."""
        with self.lock:
            s = self.servos[id_]
            s.set("Hardware_Error_Status", 0x20)
            s.set("Torque_Enable", 0)

    def read_request(self, read: Read, deadline: float) -> dp.Packet:
        return dp.read_packet(read, deadline)  # PacketTimeout / PacketError: ignored

    def _followers(self, id_: int) -> list[FakeXServo]:
        """Servo ``id_`` and those whose Secondary_ID is ``id_`` (they obey its writes)."""
        ids = [i for i, s in self.servos.items() if s.get("Secondary_ID") == id_]
        return self.live([id_, *ids])

    def handle(self, p: dp.Packet) -> list[bytes]:
        if p.id == dp.BROADCAST_ID and p.code in (dp.SYNC_READ, dp.SYNC_WRITE):
            addr, size = (
                int.from_bytes(p.params[:2], "little"),
                int.from_bytes(p.params[2:4], "little"),
            )
            if p.code == dp.SYNC_READ:
                return [dp.encode_status(s.id, s.alert(), s.read(addr, size))
                        for s in self.live(p.params[4:])]  # fmt: skip
            for k in range(4, len(p.params), size + 1):
                for s in self._followers(p.params[k]):
                    s.write(addr, p.params[k + 1 : k + 1 + size])
            return []
        servos = self.live([p.id])
        if not servos:
            return []
        s, out = servos[0], b""
        if p.code == dp.PING:
            out = s.get("Model_Number").to_bytes(2, "little") + bytes([s.get("Firmware_Version")])
            err = 0
        elif p.code == dp.READ:
            addr, size = (
                int.from_bytes(p.params[:2], "little"),
                int.from_bytes(p.params[2:4], "little"),
            )
            out, err = s.read(addr, size), 0
        elif p.code == dp.WRITE:
            addr = int.from_bytes(p.params[:2], "little")
            errs = [f.write(addr, p.params[2:]) for f in self._followers(p.id)]
            err = errs[0]
        elif p.code == dp.REBOOT:
            s.set("Hardware_Error_Status", 0)
            s.set("Torque_Enable", 0)
            err = 0
        else:
            err = 2  # instruction error
        return [dp.encode_status(s.id, err | s.alert(), out)]
