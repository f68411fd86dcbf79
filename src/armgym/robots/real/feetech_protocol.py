"""Feetech SCS/STS bus-servo packets (STS3215: SO-100 / SO-101), shared by driver and fake.

Instruction packet ``FF FF ID LEN INST PARAMS CHK`` and status packet
``FF FF ID LEN ERR PARAMS CHK`` with ``LEN = len(PARAMS) + 2`` and
``CHK = ~(ID + LEN + INST + ΣPARAMS) & 0xFF``. Multi-byte registers are little-endian.
``SYNC_READ`` (0x82) and ``SYNC_WRITE`` (0x83) go to the broadcast id 0xFE; for SYNC_READ
each addressed servo answers with its own status packet, in the order asked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from armgym.robots.real.serial_io import exact_reader

HEADER = b"\xff\xff"
BROADCAST_ID = 0xFE
PING, READ, WRITE, SYNC_READ, SYNC_WRITE = 0x01, 0x02, 0x03, 0x82, 0x83

#: STS3215 control table: name -> (address, size in bytes).
STS3215: dict[str, tuple[int, int]] = {
    "Model_Number": (3, 2),
    "ID": (5, 1),
    "Baud_Rate": (6, 1),
    "Min_Position_Limit": (9, 2),
    "Max_Position_Limit": (11, 2),
    "Homing_Offset": (31, 2),
    "Operating_Mode": (33, 1),
    "Torque_Enable": (40, 1),
    "Acceleration": (41, 1),
    "Goal_Position": (42, 2),
    "Lock": (55, 1),
    "Present_Position": (56, 2),
    "Present_Velocity": (58, 2),
    "Moving": (66, 1),
}
STS3215_MODEL = 777
TICKS_PER_TURN = 4096
#: Registers below this address live in EEPROM and are written only while ``Lock`` is 0.
EEPROM_END = 40
#: Sign bit of the sign-magnitude registers.
SIGN_BITS = {"Homing_Offset": 11, "Present_Velocity": 15}

#: Bits of a status packet's error byte.
STATUS_ERRORS = {
    0x01: "input voltage",
    0x02: "angle sensor",
    0x04: "overheat",
    0x08: "overcurrent",
    0x20: "overload",
}


class PacketError(Exception):
    """A malformed, truncated or corrupted packet (internal; drivers re-raise their own)."""


class PacketTimeout(PacketError):
    """No complete packet arrived before the deadline."""


@dataclass(frozen=True)
class Packet:
    """One decoded packet: ``code`` is the instruction (requests) or error byte (status)."""

    id: int
    code: int
    params: bytes


def checksum(body: bytes) -> int:
    """``~(ID + LEN + INST/ERR + ΣPARAMS) & 0xFF`` of ``body`` = ID..last param."""
    return (~sum(body)) & 0xFF


def encode(id_: int, code: int, params: bytes = b"") -> bytes:
    """One packet, header and checksum included."""
    body = bytes([id_, len(params) + 2, code]) + bytes(params)
    return HEADER + body + bytes([checksum(body)])


def to_bytes(value: int, size: int) -> bytes:
    return int(value).to_bytes(size, "little", signed=False)


def from_bytes(data: bytes) -> int:
    return int.from_bytes(data, "little", signed=False)


def encode_sign_magnitude(value: int, sign_bit: int) -> int:
    """Feetech sign-magnitude: ``|value|`` in the low bits, bit ``sign_bit`` set if negative."""
    limit = (1 << sign_bit) - 1
    if abs(value) > limit:
        raise ValueError(f"{value} does not fit sign-magnitude with sign bit {sign_bit}")
    return (abs(value) | (1 << sign_bit)) if value < 0 else value


def decode_sign_magnitude(raw: int, sign_bit: int) -> int:
    magnitude = raw & ((1 << sign_bit) - 1)
    return -magnitude if raw & (1 << sign_bit) else magnitude


def describe_status(err: int) -> str:
    """Human-readable names of the bits set in a status error byte."""
    names = [name for bit, name in STATUS_ERRORS.items() if err & bit]
    return ", ".join(names) or f"error 0x{err:02x}"


def read_packet(read: Callable[[int, float], bytes], deadline: float) -> Packet:
    """Read one packet with ``read(n, timeout_s) -> up to n bytes`` before ``deadline``.

    Bytes before the ``FF FF`` header are skipped. Raises :class:`PacketTimeout` when the
    deadline passes and :class:`PacketError` on a bad length or checksum.
    """

    take = exact_reader(read, deadline, PacketTimeout)

    prev = b""
    while True:  # find FF FF followed by a non-FF id
        byte = take(1)
        if prev == b"\xff" and byte == b"\xff":
            break
        prev = byte
    id_ = take(1)[0]
    while id_ == 0xFF:
        id_ = take(1)[0]
    length = take(1)[0]
    if length < 2:
        raise PacketError(f"packet from id {id_} has LEN {length} < 2")
    rest = take(length)
    body = bytes([id_, length]) + rest[:-1]
    if checksum(body) != rest[-1]:
        raise PacketError(f"checksum mismatch in packet from id {id_}")
    return Packet(id_, rest[0], rest[1:-1])
