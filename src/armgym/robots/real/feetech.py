"""``FeetechBus``: Feetech STS/SCS bus servos over a serial port (pyserial).

One request at a time, each answered by a status packet (except SYNC_WRITE and
broadcasts). Before each request stale input is dropped, so a late reply to a timed-out
request cannot be taken for the next one. A request whose reply times out or fails its
checksum is retried ``retries`` times; then :class:`~armgym.errors.HardwareError` says
which servo and register failed and what to check.
"""

from __future__ import annotations

import select
import time
from collections.abc import Iterable, Mapping
from typing import Any

from armgym.errors import ConfigError, HardwareError
from armgym.robots.real import feetech_protocol as fp


def _open_serial(port: str, baudrate: int) -> Any:
    try:
        import serial
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ConfigError("the Feetech driver needs pyserial: pip install 'armgym[real]'") from e
    try:
        return serial.Serial(port, baudrate=baudrate, timeout=0, write_timeout=1.0)
    except (serial.SerialException, OSError) as e:
        raise HardwareError(
            f"cannot open serial port {port!r}: {e}. Check the USB cable, that the port "
            "exists (ls /dev/ttyACM* /dev/ttyUSB*) and that you may use it (group dialout)."
        ) from e


class FeetechBus:
    """A Feetech servo bus on ``port``.

    Args:
        port: serial device (``/dev/ttyACM0``) or a pty path (tests).
        baudrate: bits/s; STS3215 servos ship at 1,000,000.
        timeout_s: how long to wait for each reply [s].
        retries: extra attempts after a timeout or a checksum error.
        table: register name -> (address, size).
    """

    def __init__(
        self,
        port: str,
        *,
        baudrate: int = 1_000_000,
        timeout_s: float = 0.02,
        retries: int = 2,
        table: Mapping[str, tuple[int, int]] = fp.STS3215,
    ):
        if timeout_s <= 0 or retries < 0:
            raise ConfigError(f"timeout_s must be > 0 and retries >= 0, got {timeout_s}, {retries}")
        self.port, self.timeout_s, self.retries, self.table = port, timeout_s, retries, table
        self.serial = _open_serial(port, baudrate)
        self.errors = 0  # replies that timed out or failed the checksum (retried or not)

    def close(self) -> None:
        self.serial.close()

    # -- transport ----------------------------------------------------------------------
    def _read(self, n: int, timeout: float) -> bytes:
        # select() on the non-blocking port: changing pyserial's ``timeout`` per read
        # re-applies termios settings, which loses bytes already queued on a pty.
        try:
            ready, _, _ = select.select([self.serial.fileno()], [], [], timeout)
            return bytes(self.serial.read(n)) if ready else b""
        except (OSError, ValueError) as e:
            raise HardwareError(
                f"reading from {self.port} failed ({e}); is the bus adapter still plugged in?"
            ) from e

    def _send(self, packet: bytes) -> None:
        try:
            self.serial.reset_input_buffer()
            self.serial.write(packet)
            self.serial.flush()
        except (OSError, ValueError) as e:  # SerialException is an OSError
            raise HardwareError(
                f"writing to {self.port} failed ({e}); is the bus adapter still plugged in?"
            ) from e

    def _reply(self, id_: int) -> fp.Packet:
        deadline = time.monotonic() + self.timeout_s
        while True:
            p = fp.read_packet(self._read, deadline)
            if p.id == id_:
                return p  # a reply of another id (bus noise) is skipped

    def _transact(self, id_: int, inst: int, params: bytes, what: str) -> fp.Packet:
        last: Exception | None = None
        for _ in range(self.retries + 1):
            self._send(fp.encode(id_, inst, params))
            try:
                reply = self._reply(id_)
            except fp.PacketError as e:
                self.errors += 1
                last = e
                continue
            if reply.code & ~0x20:  # overload alone still answers; anything else is a fault
                raise HardwareError(
                    f"servo {id_} reports {fp.describe_status(reply.code)} during {what} on "
                    f"{self.port}: power the arm off, check it is free to move, then reconnect."
                )
            return reply
        raise HardwareError(
            f"servo {id_} did not answer {what} on {self.port} after {self.retries + 1} tries "
            f"({last}); check the servo's power supply, the cable to it, its id and the "
            "baud rate (1 Mbaud for STS3215)."
        )

    # -- instructions ---------------------------------------------------------------------
    def ping(self, id_: int) -> bool:
        """True if servo ``id_`` answers a PING."""
        try:
            self._transact(id_, fp.PING, b"", "PING")
        except HardwareError:
            return False
        return True

    def read(self, id_: int, name: str) -> int:
        """Register ``name`` of servo ``id_`` (unsigned)."""
        addr, size = self.table[name]
        reply = self._transact(id_, fp.READ, bytes([addr, size]), f"READ {name}")
        if len(reply.params) != size:
            raise HardwareError(f"servo {id_} answered READ {name} with {len(reply.params)} bytes")
        return fp.from_bytes(reply.params)

    def write(self, id_: int, name: str, value: int) -> None:
        """Write register ``name`` of servo ``id_`` and wait for its status reply."""
        addr, size = self.table[name]
        self._transact(id_, fp.WRITE, bytes([addr]) + fp.to_bytes(value, size), f"WRITE {name}")

    def sync_read(self, ids: Iterable[int], name: str) -> dict[int, int]:
        """Register ``name`` of every servo in ``ids`` with one SYNC_READ (0x82)."""
        ids = list(ids)
        addr, size = self.table[name]
        last: Exception | None = None
        for _ in range(self.retries + 1):
            self._send(fp.encode(fp.BROADCAST_ID, fp.SYNC_READ, bytes([addr, size, *ids])))
            try:
                out = {}
                for id_ in ids:
                    p = self._reply(id_)
                    if len(p.params) != size:
                        raise fp.PacketError(f"servo {id_} sent {len(p.params)} bytes")
                    out[id_] = fp.from_bytes(p.params)
                return out
            except fp.PacketError as e:
                self.errors += 1
                last = e
        missing = [i for i in ids if not self.ping(i)]
        hint = f"servos {missing} do not answer PING" if missing else f"last error: {last}"
        raise HardwareError(
            f"SYNC_READ {name} of servos {ids} on {self.port} failed {self.retries + 1} times "
            f"({hint}); check power, the daisy-chain cables and the ids."
        )

    def sync_write(self, name: str, values: Mapping[int, int]) -> None:
        """Write register ``name`` of several servos with one SYNC_WRITE (0x83), no reply."""
        addr, size = self.table[name]
        params = bytearray([addr, size])
        for id_, value in values.items():
            params += bytes([id_]) + fp.to_bytes(value, size)
        self._send(fp.encode(fp.BROADCAST_ID, fp.SYNC_WRITE, bytes(params)))
