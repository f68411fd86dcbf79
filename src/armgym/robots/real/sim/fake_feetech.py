"""A fake Feetech STS3215 bus on a pseudo-terminal, for driving the real serial driver.

``FakeFeetechBus`` opens a pty pair; the driver opens :attr:`FakeFeetechBus.port` (the
slave, e.g. ``/dev/pts/7``) with pyserial exactly as it would ``/dev/ttyACM0``, and a
thread answers on the master side. Each servo has 256 bytes of register memory (the
STS3215 control table), EEPROM writes are ignored while ``Lock`` = 1 (as on the servo),
and the shaft moves toward ``Goal_Position`` at ``speed`` ticks/s while torque is on.
Positions follow the servo's convention: ``Present_Position = actual - Homing_Offset``.

Fault injection (each counts down per request): ``corrupt_replies`` (flip the checksum),
``drop_replies`` (no answer: the driver times out), ``garbage_before`` (noise bytes
before a reply), and ``unplugged`` (ids that never answer).
"""

from __future__ import annotations

import os
import select
import threading
import time
import tty
from collections.abc import Iterable

from armgym.robots.real import feetech_protocol as fp


class FakeServo:
    """Register memory and shaft of one STS3215."""

    def __init__(self, id_: int, actual: int, speed: float):
        self.id, self.speed = id_, float(speed)
        self.mem = bytearray(256)
        self.set("Model_Number", fp.STS3215_MODEL)
        self.set("ID", id_)
        self.set("Max_Position_Limit", fp.TICKS_PER_TURN - 1)
        self.set("Lock", 1)
        self.actual = float(actual)  # encoder ticks, 0..4095, without the homing offset
        self.set("Goal_Position", int(actual))
        self._t = time.monotonic()

    def get(self, name: str) -> int:
        addr, size = fp.STS3215[name]
        return fp.from_bytes(bytes(self.mem[addr : addr + size]))

    def set(self, name: str, value: int) -> None:
        addr, size = fp.STS3215[name]
        self.mem[addr : addr + size] = fp.to_bytes(value, size)

    def offset(self) -> int:
        return fp.decode_sign_magnitude(self.get("Homing_Offset"), 11)

    def advance(self) -> None:
        """Move the shaft toward the goal for the time since the last call."""
        now = time.monotonic()
        dt, self._t = now - self._t, now
        if not self.get("Torque_Enable"):
            self.set("Moving", 0)
            return
        low, high = self.get("Min_Position_Limit"), self.get("Max_Position_Limit")
        goal = min(max(self.get("Goal_Position"), low), high) + self.offset()
        step = self.speed * dt
        err = goal - self.actual
        self.actual = goal if abs(err) <= step else self.actual + step * (1 if err > 0 else -1)
        self.set("Moving", int(abs(goal - self.actual) > 0.5))

    def read(self, addr: int, size: int) -> bytes:
        self.advance()
        present = (round(self.actual) - self.offset()) % fp.TICKS_PER_TURN
        self.set("Present_Position", present)
        return bytes(self.mem[addr : addr + size])

    def write(self, addr: int, data: bytes) -> None:
        self.advance()
        if addr < fp.EEPROM_END and self.get("Lock"):
            return  # the servo silently keeps its EEPROM while locked
        self.mem[addr : addr + len(data)] = data


class FakeFeetechBus:
    """Servos with ids ``positions.keys()`` at ``positions`` (actual encoder ticks).

    Args:
        positions: id -> initial shaft position [ticks, 0..4095].
        speed: shaft speed while moving [ticks/s] (STS3215 at 12 V: ~3,000).
        reply_delay_s: time before each reply (the servo's return delay + transit).
    """

    def __init__(self, positions: dict[int, int], speed: float = 3000.0, reply_delay_s=0.0):
        self.servos = {i: FakeServo(i, p, speed) for i, p in positions.items()}
        self.reply_delay_s = reply_delay_s
        self.corrupt_replies = 0
        self.drop_replies = 0
        self.garbage_before = 0
        self.unplugged: set[int] = set()
        self.requests: list[fp.Packet] = []
        self.lock = threading.Lock()
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-feetech", daemon=True)
        self._thread.start()

    # -- test helpers ---------------------------------------------------------------------
    def servo(self, id_: int) -> FakeServo:
        return self.servos[id_]

    def set_actual(self, positions: dict[int, float]) -> None:
        """Move shafts by hand (torque off: as a person would back-drive the arm)."""
        with self.lock:
            for i, p in positions.items():
                self.servos[i].actual = float(p)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        for fd in (self._master, self._slave):
            os.close(fd)

    def __enter__(self) -> FakeFeetechBus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the bus thread -------------------------------------------------------------------
    def _read(self, n: int, timeout: float) -> bytes:
        ready, _, _ = select.select([self._master], [], [], min(timeout, 0.05))
        if self._stop.is_set():
            raise fp.PacketTimeout("stopped")
        return os.read(self._master, n) if ready else b""

    def _serve(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                continue
            try:  # a request arrives whole; the deadline only guards a truncated one
                packet = fp.read_packet(self._read, time.monotonic() + 0.5)
            except fp.PacketTimeout:
                continue
            except fp.PacketError:
                continue  # a servo ignores a corrupted request
            except OSError:
                return
            with self.lock:
                self.requests.append(packet)
                replies = self._handle(packet)
            for reply in replies:
                self._send(reply)

    def _send(self, reply: bytes) -> None:
        if self.drop_replies > 0:
            self.drop_replies -= 1
            return
        if self.corrupt_replies > 0:
            self.corrupt_replies -= 1
            reply = reply[:-1] + bytes([reply[-1] ^ 0x5A])
        if self.garbage_before > 0:
            self.garbage_before -= 1
            reply = b"\x00\x13\xff" + reply
        if self.reply_delay_s:
            time.sleep(self.reply_delay_s)
        os.write(self._master, reply)

    def _live(self, ids: Iterable[int]) -> list[FakeServo]:
        return [self.servos[i] for i in ids if i in self.servos and i not in self.unplugged]

    def _handle(self, p: fp.Packet) -> list[bytes]:
        if p.code == fp.SYNC_WRITE and p.id == fp.BROADCAST_ID:
            addr, size = p.params[0], p.params[1]
            for k in range(2, len(p.params), size + 1):
                for s in self._live([p.params[k]]):
                    s.write(addr, p.params[k + 1 : k + 1 + size])
            return []
        if p.code == fp.SYNC_READ and p.id == fp.BROADCAST_ID:
            addr, size = p.params[0], p.params[1]
            return [fp.encode(s.id, 0, s.read(addr, size)) for s in self._live(p.params[2:])]
        servos = self._live([p.id])
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
