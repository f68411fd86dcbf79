"""``ServoBus``: named registers of serial bus servos, with retries and armgym errors.

Feetech (:mod:`.feetech`, SO-101) and Dynamixel (:mod:`.dynamixel`, WidowX / ViperX)
servos are both addressed by id on one half-duplex serial line with PING, READ, WRITE,
SYNC_READ and SYNC_WRITE. A subclass speaks its protocol in five primitives; this class
gives them one public API (registers by name, unsigned or two's-complement values), retries
a request whose reply timed out or was corrupt (:class:`TransientBusError`), and turns
every failure into :class:`~armgym.errors.HardwareError` naming the servo, the register
and what to check. A status error byte that reports a fault is an error at once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from armgym.errors import ConfigError, HardwareError

T = TypeVar("T")


class TransientBusError(Exception):
    """A reply that timed out or failed its checksum: worth another try (internal)."""


def open_serial(port: str, baudrate: int) -> Any:
    """A non-blocking pyserial port, or :class:`HardwareError` saying what to check."""
    try:
        import serial
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ConfigError(
            "real arms on a serial bus need pyserial: pip install 'armgym[real]'"
        ) from e
    try:
        return serial.Serial(port, baudrate=baudrate, timeout=0, write_timeout=1.0)
    except (serial.SerialException, OSError) as e:
        raise port_error(port, e) from e


def port_error(port: str, e: object) -> HardwareError:
    """The error of a serial port that cannot be opened."""
    return HardwareError(
        f"cannot open serial port {port!r}: {e}. Check the USB cable, that the port "
        "exists (ls /dev/ttyACM* /dev/ttyUSB*) and that you may use it (group dialout)."
    )


def io_error(port: str, e: object) -> HardwareError:
    """The error of a serial port that failed after it was opened."""
    return HardwareError(f"I/O on {port} failed ({e}); is the bus adapter still plugged in?")


def close_on_failure(bus: ServoBus, connect: Callable[[], None]) -> None:
    """Run ``connect()`` (an arm's handshake over ``bus``); if it raises, close the bus (the
    port is released for the next try) and re-raise."""
    try:
        connect()
    except BaseException:
        bus.close()
        raise


class ServoBus(ABC):
    """Servos on ``port``, registers by name from ``table``.

    Args:
        port: serial device (``/dev/ttyACM0``) or a pty path (tests).
        table: register name -> (address, size in bytes).
        retries: extra attempts after a timeout or a corrupt reply.
        signed: registers read and written as two's complement.
    """

    #: servo family and baud hint, for messages
    family: ClassVar[str] = "servo"
    baud_hint: ClassVar[str] = ""

    def __init__(
        self,
        port: str,
        table: Mapping[str, tuple[int, int]],
        *,
        retries: int = 2,
        signed: Iterable[str] = (),
    ):
        if retries < 0:
            raise ConfigError(f"retries must be >= 0, got {retries}")
        self.port, self.table, self.retries = port, table, retries
        self.signed = frozenset(signed)
        self.errors = 0  # replies that timed out or were corrupt (retried or not)

    # -- the protocol (subclasses) ---------------------------------------------------------
    @abstractmethod
    def _ping(self, id_: int) -> int:
        """PING ``id_``; its status error byte. Raises TransientBusError."""

    @abstractmethod
    def _read(self, id_: int, addr: int, size: int) -> tuple[bytes, int]:
        """READ ``size`` bytes at ``addr``; (data, status error byte)."""

    @abstractmethod
    def _write(self, id_: int, addr: int, data: bytes) -> int:
        """WRITE ``data`` at ``addr``; the status error byte."""

    @abstractmethod
    def _sync_read(self, ids: list[int], addr: int, size: int) -> dict[int, bytes]:
        """SYNC_READ of ``size`` bytes at ``addr`` from every id, in order."""

    @abstractmethod
    def _sync_write(self, addr: int, size: int, data: Mapping[int, bytes]) -> None:
        """SYNC_WRITE (no reply) of each id's ``size`` bytes at ``addr``."""

    @abstractmethod
    def fault(self, err: int) -> str | None:
        """What a status error byte reports, or None when it is no fault."""

    @abstractmethod
    def close(self) -> None:
        """Release the port."""

    # -- values ---------------------------------------------------------------------------
    def encode(self, name: str, value: int) -> bytes:
        """Register ``name``'s bytes for ``value`` (little-endian)."""
        size = self.table[name][1]
        return int(value).to_bytes(size, "little", signed=name in self.signed)

    def decode(self, name: str, data: bytes) -> int:
        return int.from_bytes(data, "little", signed=name in self.signed)

    # -- requests with retries --------------------------------------------------------------
    def _retry(self, id_: int, what: str, fn: Callable[[], tuple[T, int]]) -> T:
        last: Exception | None = None
        for _ in range(self.retries + 1):
            try:
                value, err = fn()
            except TransientBusError as e:
                self.errors += 1
                last = e
                continue
            problem = self.fault(err)
            if problem is not None:
                raise HardwareError(
                    f"{self.family} {id_} reports {problem} during {what} on {self.port}: "
                    "power the arm off, check it is free to move, then reconnect."
                )
            return value
        raise HardwareError(
            f"{self.family} {id_} did not answer {what} on {self.port} after "
            f"{self.retries + 1} tries ({last}); check the servo's power supply, the cable "
            f"to it, its id and the baud rate{self.baud_hint}."
        )

    def ping(self, id_: int) -> bool:
        """True if servo ``id_`` answers a PING."""
        try:
            self._retry(id_, "PING", lambda: (None, self._ping(id_)))
        except HardwareError:
            return False
        return True

    def require(self, ids: Sequence[int], check: str) -> None:
        """Raise :class:`HardwareError` naming the servos of ``ids`` that do not answer a
        PING; ``check`` says what to look at (supply, cabling)."""
        missing = [i for i in ids if not self.ping(i)]
        if missing:
            raise HardwareError(
                f"servos {missing} do not answer on {self.port} (expected ids {list(ids)}): "
                f"{check}, and that this is the right port"
            )

    def read(self, id_: int, name: str) -> int:
        """Register ``name`` of servo ``id_``."""
        addr, size = self.table[name]
        data = self._retry(id_, f"READ {name}", lambda: self._read(id_, addr, size))
        if len(data) != size:
            raise HardwareError(f"servo {id_} answered READ {name} with {len(data)} bytes")
        return self.decode(name, data)

    def write(self, id_: int, name: str, value: int) -> None:
        """Write register ``name`` of servo ``id_`` and wait for its status reply."""
        addr, data = self.table[name][0], self.encode(name, value)
        self._retry(id_, f"WRITE {name}", lambda: (None, self._write(id_, addr, data)))

    def sync_read(self, ids: Iterable[int], name: str) -> dict[int, int]:
        """Register ``name`` of every servo in ``ids`` with one SYNC_READ."""
        ids = list(ids)
        addr, size = self.table[name]
        last: Exception | None = None
        for _ in range(self.retries + 1):
            try:
                raw = self._sync_read(ids, addr, size)
            except TransientBusError as e:
                self.errors += 1
                last = e
                continue
            return {i: self.decode(name, raw[i]) for i in ids}
        missing = [i for i in ids if not self.ping(i)]
        hint = f"servos {missing} do not answer PING" if missing else f"last error: {last}"
        raise HardwareError(
            f"SYNC_READ {name} of servos {ids} on {self.port} failed {self.retries + 1} times "
            f"({hint}); check power, the daisy-chain cables and the ids."
        )

    def sync_write(self, name: str, values: Mapping[int, int]) -> None:
        """Write register ``name`` of several servos with one SYNC_WRITE (no reply)."""
        addr, size = self.table[name]
        self._sync_write(addr, size, {i: self.encode(name, v) for i, v in values.items()})
