"""Helpers for the real-robot tests: an SO-101 calibration and a fake bus at a pose."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from armgym.robots.real.calibration import MotorCalibration, save_calibration
from armgym.robots.real.sim.fake_feetech import FakeFeetechBus
from armgym.robots.real.so101 import SO101_MOTORS, SO101Config


def so101_calibration() -> dict[str, MotorCalibration]:
    """A plausible calibration: offsets of a few hundred ticks, ±~1.9 rad ranges."""
    cal = {}
    for i, name in enumerate(SO101_MOTORS, start=1):
        drive = 1 if name == "elbow_flex" else 0
        cal[name] = MotorCalibration(i, drive, 150 * i - 400, 800, 3294)
    return cal


def actual_ticks(cal: dict[str, MotorCalibration], q: np.ndarray, gripper: float) -> dict[int, int]:
    """Shaft positions (without homing offset) that read as joints ``q`` [rad]."""
    out = {}
    for name, v in zip(SO101_MOTORS[:-1], q, strict=True):
        m = cal[name]
        out[m.id] = m.to_ticks(float(v)) + m.homing_offset
    g = cal["gripper"]
    out[g.id] = g.from_fraction(gripper) + g.homing_offset
    return out


def so101_setup(tmp_path: Path, q: np.ndarray, gripper: float = 0.5, **bus_kw):
    """(fake bus at pose ``q``, config for it); the caller closes the bus."""
    cal = so101_calibration()
    path = tmp_path / "so101_follower.json"
    save_calibration(path, cal)
    bus = FakeFeetechBus(actual_ticks(cal, q, gripper), **bus_kw)
    return bus, SO101Config(port=bus.port, calibration=path, timeout_s=0.2)


def wait_for(cond, timeout_s: float = 5.0, what: str = "condition") -> None:
    """Poll ``cond()`` until it is true; fail the test after ``timeout_s``."""
    import time

    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.005)
