"""Protocol-agnostic fake servo bus on a pseudo-terminal, for driving real serial drivers.

:class:`FakeBus` opens a pty pair; a driver opens :attr:`FakeBus.port` (the slave, e.g.
``/dev/pts/7``) with pyserial exactly as it would ``/dev/ttyACM0``, and a thread answers on
the master side. A subclass decodes requests and encodes replies in its protocol
(:mod:`.fake_feetech`, :mod:`.fake_dynamixel`); :class:`FakeMotor` is one servo's register
memory and a shaft that moves toward its goal at ``speed`` ticks/s while torque is on.

Fault injection (each counts down per reply): ``corrupt_replies`` (the last byte of the
checksum / CRC flipped), ``drop_replies`` (no answer: the driver times out),
``garbage_before`` (noise bytes before a reply), and ``unplugged`` (ids that never answer).
"""

from __future__ import annotations

import os
import select
import threading
import time
import tty
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

Read = Callable[[int, float], bytes]


class FakeMotor(ABC):
    """Register memory (``size`` bytes, registers by name from ``table``) and a shaft.

    Subclasses say where the shaft is heading (:meth:`goal`) and what the servo reports
    (:meth:`present`); positions are encoder ticks.
    """

    def __init__(
        self, id_: int, actual: float, speed: float, table: Mapping[str, tuple[int, int]], size: int
    ):
        self.id, self.speed, self.table = id_, float(speed), table
        self.mem = bytearray(size)
        self.actual = float(actual)  # encoder ticks of the shaft, before any offset
        self._t = time.monotonic()

    def get(self, name: str) -> int:
        addr, size = self.table[name]
        return int.from_bytes(self.mem[addr : addr + size], "little")

    def set(self, name: str, value: int) -> None:
        addr, size = self.table[name]
        self.mem[addr : addr + size] = (int(value) % (1 << (8 * size))).to_bytes(size, "little")

    @abstractmethod
    def goal(self) -> float:
        """Where the shaft is heading [ticks, shaft frame]."""

    @abstractmethod
    def present(self) -> int:
        """The position register's value for the shaft at ``actual``."""

    def torque(self) -> bool:
        return bool(self.get("Torque_Enable"))

    def advance(self) -> None:
        """Move the shaft toward the goal for the time since the last call."""
        now = time.monotonic()
        dt, self._t = now - self._t, now
        if not self.torque():
            self.set("Moving", 0)
            return
        goal, step = self.goal(), self.speed * dt
        err = goal - self.actual
        self.actual = goal if abs(err) <= step else self.actual + step * (1 if err > 0 else -1)
        self.set("Moving", int(abs(goal - self.actual) > 0.5))

    def read(self, addr: int, size: int) -> bytes:
        self.advance()
        self.set("Present_Position", self.present())
        return bytes(self.mem[addr : addr + size])


M = TypeVar("M", bound=FakeMotor)


class FakeBus(ABC, Generic[M]):
    """A bus of ``motors`` (id -> motor) behind a pty; subclasses speak the protocol.

    Args:
        motors: the servos on the bus.
        reply_delay_s: time before each reply (the servo's return delay + transit).
    """

    def __init__(self, motors: dict[int, M], reply_delay_s: float = 0.0):
        self.servos = motors
        self.reply_delay_s = reply_delay_s
        self.corrupt_replies = 0
        self.drop_replies = 0
        self.garbage_before = 0
        self.unplugged: set[int] = set()
        self.requests: list[Any] = []
        self.lock = threading.Lock()
        self._master, self._slave = os.openpty()
        self._poller = select.poll()
        self._poller.register(self._master, select.POLLIN)
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-servo-bus", daemon=True)
        self._thread.start()

    # -- the protocol (subclasses) -----------------------------------------------------------
    @abstractmethod
    def read_request(self, read: Read, deadline: float) -> Any:
        """One request packet; raise TimeoutError when the deadline passes and ValueError
        on a corrupt one (a servo ignores it)."""

    @abstractmethod
    def handle(self, request: Any) -> list[bytes]:
        """The reply packets of ``request`` (in order; none for a write to all)."""

    # -- test helpers ---------------------------------------------------------------------
    def servo(self, id_: int) -> M:
        return self.servos[id_]

    def set_actual(self, positions: dict[int, float]) -> None:
        """Move shafts by hand (torque off: as a person would back-drive the arm)."""
        with self.lock:
            for i, p in positions.items():
                self.servos[i].actual = float(p)

    def live(self, ids: Iterable[int]) -> list[M]:
        """The motors of ``ids`` that are on the bus and answer."""
        return [self.servos[i] for i in ids if i in self.servos and i not in self.unplugged]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        for fd in (self._master, self._slave):
            os.close(fd)

    def __enter__(self) -> FakeBus[M]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the bus thread -------------------------------------------------------------------
    def _ready(self, timeout: float) -> bool:
        """Whether the master side has bytes within ``timeout`` [s]. ``poll``, not
        ``select``: select fails on descriptors above 1023, which a long test process
        reaches."""
        return bool(self._poller.poll(max(0.0, timeout) * 1000.0))

    def _read(self, n: int, timeout: float) -> bytes:
        ready = self._ready(min(timeout, 0.05))
        if self._stop.is_set():
            raise TimeoutError("stopped")
        return os.read(self._master, n) if ready else b""

    def _serve(self) -> None:
        while not self._stop.is_set():
            if not self._ready(0.05):
                continue
            try:  # a request arrives whole; the deadline only guards a truncated one
                packet = self.read_request(self._read, time.monotonic() + 0.5)
            except (TimeoutError, ValueError):
                continue  # a servo ignores a truncated or corrupted request
            except OSError:
                return
            with self.lock:
                self.requests.append(packet)
                replies = self.handle(packet)
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
