"""Servo calibration in LeRobot's JSON format, and ticks <-> radians.

LeRobot stores one file per arm (``~/.cache/huggingface/lerobot/calibration/robots/
so101_follower/<id>.json``)::

    {"shoulder_pan": {"id": 1, "drive_mode": 0, "homing_offset": -1470,
                      "range_min": 758, "range_max": 3292}, ...}

``homing_offset`` is written to the servo (``Present = actual - offset``) so the middle
of the calibration pose reads 2,047; ``range_min`` / ``range_max`` are the extreme
``Present_Position`` values seen while calibrating and become the servo's position
limits. armgym reads and writes exactly this file, so an existing LeRobot calibration
works unchanged.

Joint angle convention (matches the SO-101 MJCF, built from ``so101_new_calib``):
``q = sign · (ticks - mid) · 2π / 4096`` with ``mid = (range_min + range_max) / 2`` and
``sign = -1`` when ``drive_mode`` is 1. The gripper is a fraction
``(ticks - range_min) / (range_max - range_min)`` (0 = closed, 1 = open).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from armgym.atomic import write_json_atomic
from armgym.errors import ConfigError
from armgym.robots.real.feetech_protocol import TICKS_PER_TURN

RAD_PER_TICK = 2.0 * math.pi / TICKS_PER_TURN
FIELDS = ("id", "drive_mode", "homing_offset", "range_min", "range_max")


@dataclass(frozen=True)
class MotorCalibration:
    """One motor's entry of a LeRobot calibration file (all in servo ticks)."""

    id: int
    drive_mode: int
    homing_offset: int
    range_min: int
    range_max: int

    def __post_init__(self) -> None:
        if not 0 <= self.range_min < self.range_max < TICKS_PER_TURN:
            raise ConfigError(
                f"motor id {self.id}: need 0 <= range_min < range_max < {TICKS_PER_TURN}, got "
                f"{self.range_min}..{self.range_max}; recalibrate (armgym calibrate) "
                "moving each joint through its whole range"
            )
        if self.drive_mode not in (0, 1) or abs(self.homing_offset) > 2047:
            raise ConfigError(
                f"motor id {self.id}: drive_mode must be 0 or 1 and |homing_offset| <= 2047, "
                f"got {self.drive_mode}, {self.homing_offset}"
            )

    @property
    def mid(self) -> float:
        return 0.5 * (self.range_min + self.range_max)

    @property
    def sign(self) -> float:
        return -1.0 if self.drive_mode else 1.0

    def to_rad(self, ticks: float) -> float:
        return self.sign * (ticks - self.mid) * RAD_PER_TICK

    def to_ticks(self, rad: float) -> int:
        ticks = self.mid + self.sign * rad / RAD_PER_TICK
        return round(min(max(ticks, self.range_min), self.range_max))

    def rad_range(self) -> tuple[float, float]:
        a, b = self.to_rad(self.range_min), self.to_rad(self.range_max)
        return (min(a, b), max(a, b))

    def to_fraction(self, ticks: float) -> float:
        f = (ticks - self.range_min) / (self.range_max - self.range_min)
        return float(np.clip(f, 0.0, 1.0))

    def from_fraction(self, fraction: float) -> int:
        f = float(np.clip(fraction, 0.0, 1.0))
        return round(self.range_min + f * (self.range_max - self.range_min))


Calibration = dict[str, MotorCalibration]


def load_calibration(path: str | Path, motors: tuple[str, ...] | None = None) -> Calibration:
    """Read a LeRobot calibration JSON; ``motors`` (if given) must all be present."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError as e:
        raise ConfigError(
            f"calibration file {path} does not exist; run `armgym calibrate` or point "
            "--calibration at LeRobot's file for this arm"
        ) from e
    except json.JSONDecodeError as e:
        raise ConfigError(f"calibration file {path} is not valid JSON: {e}") from e
    if not isinstance(raw, dict):
        raise ConfigError(f"calibration file {path}: expected an object of motors")
    cal: Calibration = {}
    for name, entry in raw.items():
        missing = [f for f in FIELDS if not isinstance(entry, dict) or f not in entry]
        if missing:
            raise ConfigError(f"calibration file {path}: motor {name!r} lacks {missing}")
        cal[name] = MotorCalibration(**{f: int(entry[f]) for f in FIELDS})
    absent = [m for m in motors or () if m not in cal]
    if absent:
        raise ConfigError(
            f"calibration file {path} has no entry for {absent} (it has {sorted(cal)}); "
            "is it the calibration of another arm?"
        )
    return cal


def save_calibration(path: str | Path, cal: Calibration) -> None:
    """Write ``cal`` as LeRobot's calibration JSON (indent 4, motor order kept)."""
    write_json_atomic(Path(path), {k: asdict(v) for k, v in cal.items()}, indent=4)
