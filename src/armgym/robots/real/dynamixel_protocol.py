"""Dynamixel Protocol 2.0 packets and the X-series control table (WidowX 250 / ViperX 300).

Instruction packet ``FF FF FD 00 | ID | LEN_L LEN_H | INST | PARAMS | CRC_L CRC_H`` and
status packet ``FF FF FD 00 | ID | LEN_L LEN_H | 55 | ERR | PARAMS | CRC_L CRC_H``;
``LEN`` counts the bytes after itself (instruction, parameters, CRC), after byte stuffing:
any ``FF FF FD`` from the instruction on is sent as ``FF FF FD FD``. The CRC is CRC-16
with polynomial 0x8005 (initial value 0, not reflected) over every byte before it.
Multi-byte registers are little-endian; positions are 4-byte two's complement.

armgym's driver speaks this through ROBOTIS' ``dynamixel-sdk``; this module is the
independent reading of the protocol that the fake bus (``sim/fake_dynamixel.py``) answers
with, so the two are checked against each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from armgym.robots.real.serial_io import exact_reader

HEADER = b"\xff\xff\xfd\x00"
BROADCAST_ID = 0xFE
STATUS = 0x55
PING, READ, WRITE, REBOOT, SYNC_READ, SYNC_WRITE = 0x01, 0x02, 0x03, 0x08, 0x82, 0x83

#: X-series control table (XM430 / XL430 / XM540): name -> (address, size in bytes).
XSERIES: dict[str, tuple[int, int]] = {
    "Model_Number": (0, 2),
    "Firmware_Version": (6, 1),
    "ID": (7, 1),
    "Baud_Rate": (8, 1),
    "Drive_Mode": (10, 1),
    "Operating_Mode": (11, 1),
    "Secondary_ID": (12, 1),
    "Homing_Offset": (20, 4),
    "Max_Position_Limit": (48, 4),
    "Min_Position_Limit": (52, 4),
    "Torque_Enable": (64, 1),
    "Hardware_Error_Status": (70, 1),
    "Profile_Velocity": (112, 4),
    "Goal_Position": (116, 4),
    "Moving": (122, 1),
    "Present_Position": (132, 4),
}
#: Registers read and written as two's complement.
SIGNED = ("Homing_Offset", "Goal_Position", "Present_Position")
#: Registers below this address are EEPROM: writable only while torque is off.
EEPROM_END = 64
TICKS_PER_TURN = 4096
CENTER = 2048  # ticks at 0 rad (Interbotix arms are assembled at the encoders' middle)
POSITION_MODE = 3
#: Model numbers of X-series servos in Interbotix arms.
XSERIES_MODELS = {1020: "XM430-W350", 1060: "XL430-W250", 1120: "XM540-W270", 1030: "XM430-W210"}

#: Status error byte: bit 7 = a hardware alert, low 7 bits = what went wrong with the request.
ALERT = 0x80
INSTRUCTION_ERRORS = {
    1: "result fail",
    2: "instruction error",
    3: "CRC error",
    4: "data range error",
    5: "data length error",
    6: "data limit error",
    7: "access error",
}


class PacketError(ValueError):
    """A malformed, truncated or corrupted packet."""


class PacketTimeout(TimeoutError):
    """No complete packet arrived before the deadline."""


@dataclass(frozen=True)
class Packet:
    """One decoded packet: ``code`` = the instruction (requests) or the error byte (status)."""

    id: int
    code: int
    params: bytes
    status: bool = False


def crc16(data: bytes) -> int:
    """CRC-16, polynomial 0x8005, initial value 0, MSB first (Protocol 2.0's CRC)."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def stuff(body: bytes) -> bytes:
    """Insert ``FD`` after every ``FF FF FD`` (byte stuffing)."""
    out = bytearray()
    for b in body:
        out.append(b)
        if len(out) >= 3 and out[-3:] == b"\xff\xff\xfd":
            out.append(0xFD)
    return bytes(out)


def unstuff(body: bytes) -> bytes:
    """Inverse of :func:`stuff`."""
    out = bytearray()
    i = 0
    while i < len(body):
        out.append(body[i])
        if len(out) >= 3 and out[-3:] == b"\xff\xff\xfd" and body[i + 1 : i + 2] == b"\xfd":
            i += 1  # drop the stuffed FD
        i += 1
    return bytes(out)


def _packet(id_: int, payload: bytes) -> bytes:
    body = stuff(payload)
    head = HEADER + bytes([id_]) + (len(body) + 2).to_bytes(2, "little")
    crc = crc16(head + body)
    return head + body + crc.to_bytes(2, "little")


def encode(id_: int, inst: int, params: bytes = b"") -> bytes:
    """An instruction packet, stuffed, with its CRC."""
    return _packet(id_, bytes([inst]) + bytes(params))


def encode_status(id_: int, err: int, params: bytes = b"") -> bytes:
    """A status packet (instruction 0x55), stuffed, with its CRC."""
    return _packet(id_, bytes([STATUS, err]) + bytes(params))


def describe_status(err: int) -> str:
    """Human-readable status error byte."""
    parts = []
    if err & ALERT:
        parts.append("a hardware error (read Hardware_Error_Status; a REBOOT clears it)")
    if err & 0x7F:
        parts.append(INSTRUCTION_ERRORS.get(err & 0x7F, f"error {err & 0x7F}"))
    return ", ".join(parts) or "no error"


def read_packet(read: Callable[[int, float], bytes], deadline: float) -> Packet:
    """One packet read with ``read(n, timeout_s)`` before ``deadline``; bytes before the
    header are skipped. Raises :class:`PacketTimeout` or :class:`PacketError`."""

    take = exact_reader(read, deadline, PacketTimeout)

    window = b""
    while window != HEADER:
        window = (window + take(1))[-4:]
    head = take(3)
    length = int.from_bytes(head[1:3], "little")
    if length < 3:
        raise PacketError(f"packet from id {head[0]} has LEN {length} < 3")
    rest = take(length)
    if crc16(HEADER + head + rest[:-2]) != int.from_bytes(rest[-2:], "little"):
        raise PacketError(f"CRC mismatch in packet from id {head[0]}")
    payload = unstuff(rest[:-2])
    if payload[0] == STATUS:
        if len(payload) < 2:
            raise PacketError(f"status packet from id {head[0]} has no error byte")
        return Packet(head[0], payload[1], payload[2:], status=True)
    return Packet(head[0], payload[0], payload[1:])
