"""``FeetechBus``: Feetech STS/SCS bus servos over a serial port (pyserial).

One request at a time, each answered by a status packet (except SYNC_WRITE and
broadcasts). Before each request stale input is dropped, so a late reply to a timed-out
request cannot be taken for the next one. Retries and errors are
:class:`~armgym.robots.real.bus.ServoBus`'s: a request whose reply times out or fails its
checksum is retried ``retries`` times; then :class:`~armgym.errors.HardwareError` says
which servo and register failed and what to check.
"""

from __future__ import annotations

import select
import time
from collections.abc import Mapping

from armgym.errors import ConfigError
from armgym.robots.real import feetech_protocol as fp
from armgym.robots.real.bus import ServoBus, TransientBusError, io_error, open_serial


class FeetechBus(ServoBus):
    """A Feetech servo bus on ``port``.

    Args:
        port: serial device (``/dev/ttyACM0``) or a pty path (tests).
        baudrate: bits/s; STS3215 servos ship at 1,000,000.
        timeout_s: how long to wait for each reply [s].
        retries: extra attempts after a timeout or a checksum error.
        table: register name -> (address, size).
    """

    baud_hint = " (1 Mbaud for STS3215)"

    def __init__(
        self,
        port: str,
        *,
        baudrate: int = 1_000_000,
        timeout_s: float = 0.1,
        retries: int = 2,
        table: Mapping[str, tuple[int, int]] = fp.STS3215,
    ):
        if timeout_s <= 0:
            raise ConfigError(f"timeout_s must be > 0, got {timeout_s}")
        super().__init__(port, table, retries=retries)
        self.timeout_s = timeout_s
        self.serial = open_serial(port, baudrate)

    def close(self) -> None:
        self.serial.close()

    def fault(self, err: int) -> str | None:
        # overload alone still answers (the servo sheds load); anything else is a fault
        return fp.describe_status(err) if err & ~0x20 else None

    # -- transport ----------------------------------------------------------------------
    def _recv(self, n: int, timeout: float) -> bytes:
        # select() on the non-blocking port: changing pyserial's ``timeout`` per read
        # re-applies termios settings, which loses bytes already queued on a pty.
        try:
            ready, _, _ = select.select([self.serial.fileno()], [], [], timeout)
            return bytes(self.serial.read(n)) if ready else b""
        except (OSError, ValueError) as e:
            raise io_error(self.port, e) from e

    def _send(self, packet: bytes) -> None:
        try:
            self.serial.reset_input_buffer()
            self.serial.write(packet)
            self.serial.flush()
        except (OSError, ValueError) as e:  # SerialException is an OSError
            raise io_error(self.port, e) from e

    def _reply(self, id_: int, deadline: float) -> fp.Packet:
        try:
            while True:
                p = fp.read_packet(self._recv, deadline)
                if p.id == id_:
                    return p  # a reply of another id (bus noise) is skipped
        except fp.PacketError as e:
            raise TransientBusError(str(e)) from e

    def _transact(self, id_: int, inst: int, params: bytes) -> fp.Packet:
        self._send(fp.encode(id_, inst, params))
        return self._reply(id_, time.monotonic() + self.timeout_s)

    # -- ServoBus primitives ----------------------------------------------------------------
    def _ping(self, id_: int) -> int:
        return self._transact(id_, fp.PING, b"").code

    def _read(self, id_: int, addr: int, size: int) -> tuple[bytes, int]:
        reply = self._transact(id_, fp.READ, bytes([addr, size]))
        return reply.params, reply.code

    def _write(self, id_: int, addr: int, data: bytes) -> int:
        return self._transact(id_, fp.WRITE, bytes([addr]) + data).code

    def _sync_read(self, ids: list[int], addr: int, size: int) -> dict[int, bytes]:
        self._send(fp.encode(fp.BROADCAST_ID, fp.SYNC_READ, bytes([addr, size, *ids])))
        out = {}
        for id_ in ids:  # each servo answers in turn, each within the reply timeout
            p = self._reply(id_, time.monotonic() + self.timeout_s)
            if len(p.params) != size:
                raise TransientBusError(f"servo {id_} sent {len(p.params)} bytes")
            out[id_] = p.params
        return out

    def _sync_write(self, addr: int, size: int, data: Mapping[int, bytes]) -> None:
        params = bytearray([addr, size])
        for id_, value in data.items():
            params += bytes([id_]) + value
        self._send(fp.encode(fp.BROADCAST_ID, fp.SYNC_WRITE, bytes(params)))
