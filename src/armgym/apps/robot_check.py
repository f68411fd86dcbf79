"""``armgym robot-check``: compare the sim model with a connected real arm.

armgym robot-check --robot so101 --port /dev/ttyACM0 --calibration arm.json --move-home
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import tyro

from armgym.robots.real.check import check_robot, format_report
from armgym.robots.real.config import RealRobotConfig, load_real_config, make_real_robot


@dataclass(frozen=True)
class RobotCheckConfig:
    """armgym robot-check: joints at home and FK of the sim model vs the connected arm."""

    real: Annotated[RealRobotConfig, tyro.conf.OmitArgPrefixes] = field(
        default_factory=RealRobotConfig
    )
    real_config: Path | None = None
    """JSON RealRobotConfig (its fields replace the flags above)."""
    move_home: bool = False
    """Move the arm to the home pose first (it moves! keep clear)."""
    tolerance: float = 0.05
    """Largest joint error at home counted as OK [rad]."""
    out: Path | None = None
    """Also write the report as JSON here."""


def main(argv: list[str] | None = None) -> int:
    cfg = tyro.cli(RobotCheckConfig, args=argv, prog="armgym robot-check")
    real = load_real_config(cfg.real_config) if cfg.real_config else cfg.real
    robot = make_real_robot(real)
    try:
        report = check_robot(robot, move_home=cfg.move_home, tolerance=cfg.tolerance)
    finally:
        robot.close()
    print(format_report(report))
    if cfg.out is not None:
        cfg.out.write_text(json.dumps(report, indent=2))
    return 0 if report["ok"] else 1
