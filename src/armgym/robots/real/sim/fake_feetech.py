"""A fake Feetech STS3215 bus on a pseudo-terminal, for driving the real serial driver.

``FakeFeetechBus`` is a :class:`~armgym.robots.real.sim.fake_bus.FakeBus` (pty, bus
thread, fault injection: ``corrupt_replies``, ``drop_replies``, ``garbage_before``,
``unplugged``) speaking Feetech's packets. Each servo has 256 bytes of register memory
(the STS3215 control table), EEPROM writes are ignored while ``Lock`` = 1 (as on the
servo), and the shaft moves toward ``Goal_Position`` (clamped to the position limits) at
``speed`` ticks/s while torque is on. Positions follow the servo's convention:
``Present_Position = actual - Homing_Offset``.
"""

from __future__ import annotations

from armgym.robots.real import feetech_protocol as fp
from armgym.robots.real.sim.fake_bus import FakeBus, FakeMotor, Read


class FakeServo(FakeMotor):
    """Register memory and shaft of one STS3215."""

    def __init__(self, id_: int, actual: int, speed: float):
        super().__init__(id_, actual, speed, fp.STS3215, 256)
        self.set("Model_Number", fp.STS3215_MODEL)
        self.set("ID", id_)
        self.set("Max_Position_Limit", fp.TICKS_PER_TURN - 1)
        self.set("Lock", 1)
        self.set("Goal_Position", int(actual))

    def offset(self) -> int:
        return fp.decode_sign_magnitude(self.get("Homing_Offset"), 11)

    def goal(self) -> float:
        low, high = self.get("Min_Position_Limit"), self.get("Max_Position_Limit")
        return min(max(self.get("Goal_Position"), low), high) + self.offset()

    def present(self) -> int:
        return (round(self.actual) - self.offset()) % fp.TICKS_PER_TURN

    def write(self, addr: int, data: bytes) -> None:
        self.advance()
        if addr < fp.EEPROM_END and self.get("Lock"):
            return  # the servo silently keeps its EEPROM while locked
        self.mem[addr : addr + len(data)] = data


class FakeFeetechBus(FakeBus[FakeServo]):
    """Servos with ids ``positions.keys()`` at ``positions`` (actual encoder ticks).

    Args:
        positions: id -> initial shaft position [ticks, 0..4095].
        speed: shaft speed while moving [ticks/s] (STS3215 at 12 V: ~3,000).
        reply_delay_s: time before each reply (the servo's return delay + transit).
    """

    def __init__(self, positions: dict[int, int], speed: float = 3000.0, reply_delay_s=0.0):
        servos = {i: FakeServo(i, p, speed) for i, p in positions.items()}
        super().__init__(servos, reply_delay_s)

    def read_request(self, read: Read, deadline: float) -> fp.Packet:
        try:
            return fp.read_packet(read, deadline)
        except fp.PacketTimeout as e:
            raise TimeoutError(str(e)) from e
        except fp.PacketError as e:
            raise ValueError(str(e)) from e

    def handle(self, p: fp.Packet) -> list[bytes]:
        if p.code == fp.SYNC_WRITE and p.id == fp.BROADCAST_ID:
            addr, size = p.params[0], p.params[1]
            for k in range(2, len(p.params), size + 1):
                for s in self.live([p.params[k]]):
                    s.write(addr, p.params[k + 1 : k + 1 + size])
            return []
        if p.code == fp.SYNC_READ and p.id == fp.BROADCAST_ID:
            addr, size = p.params[0], p.params[1]
            return [fp.encode(s.id, 0, s.read(addr, size)) for s in self.live(p.params[2:])]
        servos = self.live([p.id])
        if not servos:
            return []
        s = servos[0]
        if p.code == fp.PING:
            return [fp.encode(s.id, 0)]
        if p.code == fp.READ:
            return [fp.encode(s.id, 0, s.read(p.params[0], p.params[1]))]
        if p.code == fp.WRITE:
            s.write(p.params[0], p.params[1:])
            return [fp.encode(s.id, 0)]
        return []
