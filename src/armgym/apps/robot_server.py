"""``armgym robot-server``: expose a sim robot (with a task scene) over websockets."""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import tyro

from armgym.contracts.robot import Robot
from armgym.serve.robot_server import RobotServer


@dataclass(frozen=True)
class RobotServerConfig:
    """armgym robot-server: expose a sim robot (with a task scene) over websockets."""

    robot: str = "panda"
    """Robot name from the robot registry."""
    task: str = "PickCube"
    """Task whose objects are placed in the scene ('none' for an empty scene)."""
    randomization: str = "low"
    """Task randomisation level: low, med or high."""
    control: str = "ee_delta"
    """Control mode: ee_delta, joint_pos or joint_delta."""
    control_hz: float = 10.0
    """Control rate [Hz]."""
    cameras: tuple[str, ...] = ()
    """Cameras to render into the observation (front, wrist)."""
    image_size: tuple[int, int] = (128, 128)
    """Rendered image size (height, width) [px]."""
    host: str = "127.0.0.1"
    """Interface to bind. Use 0.0.0.0 only on a trusted network, and with --api-key."""
    port: int = 8001
    """TCP port (0 = any free port)."""
    api_key: str | None = None
    """Require ``Authorization: Api-Key <key>`` (default: $ARMGYM_API_KEY if set)."""
    watchdog_ms: float = 500.0
    """Hold the robot after this long without a command [ms] (0 = only on disconnect)."""
    hold_physics: bool = True
    """Keep stepping physics at the control rate while the robot is held."""
    log_level: str = "INFO"
    """Python logging level."""
    real_config: Path | None = None
    """Serve the real arm this JSON RealRobotConfig describes (robot, serial port,
    calibration, cameras, control, limits; docs/real-robots.md) instead of the sim."""


def build_robot(cfg: RobotServerConfig) -> Robot:
    """The SimRobot ``cfg`` describes, or the real arm of ``--real-config``."""
    if cfg.real_config is not None:
        from armgym.robots.real.config import load_real_config, make_real_robot

        return make_real_robot(load_real_config(cfg.real_config))
    from armgym.robots.sim import SimRobot
    from armgym.robots.specs import ROBOTS
    from armgym.tasks import TASKS

    spec = ROBOTS.get(cfg.robot)
    task = None if cfg.task.lower() == "none" else TASKS.get(cfg.task)(spec, cfg.randomization)
    return SimRobot(
        spec,
        task,
        control=cfg.control,
        control_hz=cfg.control_hz,
        cameras=cfg.cameras,
        image_size=cfg.image_size,
    )


def main(argv: list[str] | None = None) -> int:
    cfg = tyro.cli(RobotServerConfig, args=argv, prog="armgym robot-server")
    logging.basicConfig(level=cfg.log_level.upper(), format="%(asctime)s %(name)s: %(message)s")
    robot = build_robot(cfg)
    server = RobotServer(
        robot,
        host=cfg.host,
        port=cfg.port,
        api_key=cfg.api_key or os.environ.get("ARMGYM_API_KEY") or None,
        watchdog_ms=cfg.watchdog_ms,
        hold_physics=cfg.hold_physics,
    )
    try:
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
    finally:
        robot.close()
    return 0
