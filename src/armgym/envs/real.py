"""The ``--real`` options of ``armgym collect``, ``run`` and ``eval``: an env on a real arm.

``--robot so101 --real --port /dev/ttyACM0 --calibration arm.json`` or ``--real-config
arm.json`` (the JSON ``RealRobotConfig`` that ``armgym robot-server --real-config`` and
``armgym robot-check`` take) puts :class:`RealArgs` into an :class:`EnvConfig`'s ``real``
field; :func:`~armgym.envs.factory.make_env` then drives the arm directly (a
:class:`~armgym.robots.real.robot.RealRobot`, no robot-server hop). See docs/real-robots.md.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from armgym.envs.config import EnvConfig
from armgym.errors import ConfigError
from armgym.robots.real.config import RealRobotConfig, load_real_config
from armgym.robots.real.safety import SafetyConfig


@dataclass(frozen=True)
class RealArgs:
    """Options selecting a real arm instead of the sim (flags without a prefix)."""

    real: bool = False
    """Drive the real arm of --robot (docs/real-robots.md) instead of the sim; only virtual
    tasks (Reach) run on a real arm."""
    real_config: Path | None = None
    """JSON RealRobotConfig of the real arm (as robot-server --real-config takes; implies
    --real, replaces --port/--calibration/--driver/--real-cameras/--max-joint-vel)."""
    port: str = "/dev/ttyACM0"
    """--real: serial port of a Feetech arm (SO-101 / SO-100)."""
    calibration: Path | None = None
    """--real: LeRobot calibration JSON of a Feetech arm."""
    driver: str = "auto"
    """--real: driver (feetech, interbotix, serl_http, franky; auto = the first for --robot)."""
    real_cameras: tuple[str, ...] = ()
    """--real: cameras as NAME=SOURCE (front=0 wrist=/dev/video2), recorded as images.NAME."""
    max_joint_vel: float = 1.0
    """--real: fastest joint motion the safety layer allows [rad/s]."""

    @property
    def enabled(self) -> bool:
        """True when a real arm is asked for (``--real`` or ``--real-config``)."""
        return self.real or self.real_config is not None

    def robot_config(self, robot: str) -> RealRobotConfig | None:
        """The arm's :class:`RealRobotConfig` for env robot ``robot``, or None for the sim.

        Raises:
            ConfigError: the config file names another robot, or cannot be read.
        """
        if not self.enabled:
            return None
        if self.real_config is not None:
            cfg = load_real_config(self.real_config)
            if cfg.robot.lower() != robot.lower():
                raise ConfigError(
                    f"{self.real_config} drives a {cfg.robot!r} but --robot is {robot!r}: "
                    f"pass --robot {cfg.robot} or use the config of the arm you mean"
                )
            return cfg
        return RealRobotConfig(
            robot=robot, driver=self.driver, port=self.port, calibration=self.calibration,
            cameras=tuple(self.real_cameras), safety=SafetyConfig(max_joint_vel=self.max_joint_vel),
        )  # fmt: skip


def camera_names(real: RealRobotConfig) -> tuple[str, ...]:
    """Names of ``real``'s cameras (``NAME`` of each ``NAME=SOURCE``)."""
    return tuple(entry.partition("=")[0] for entry in real.cameras)


def on_real_arm(
    env: EnvConfig, real: RealRobotConfig | None, *, rate: bool, own_cameras: bool
) -> EnvConfig:
    """``env`` driven on the real arm ``real`` (``env`` itself for None).

    Args:
        rate: take the arm's control rate (collect, run); False keeps ``env``'s (eval: the
            rate the checkpoint was trained at).
        own_cameras: keep ``env.cameras`` (a checkpoint's or a mapping's; the arm must have
            cameras of those names); False records the arm's cameras.
    """
    if real is None:
        return env
    kw: dict[str, Any] = {"real": real}
    if env.obs != "state" and not own_cameras:
        kw["cameras"] = camera_names(real)
    if rate:
        kw["control_hz"] = real.control_hz
    return dataclasses.replace(env, **kw)
