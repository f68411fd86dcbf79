"""``RealRobotConfig`` + ``make_real_robot``: one config for every real arm, one registry
record per driver.

A config names the sim robot (``so101``, ``widowx250``, ``vx300``, ``panda``) and the
device's address; the driver defaults to the one registered for that robot::

    armgym robot-server --real --robot so101 --port /dev/ttyACM0 \\
        --calibration ~/.cache/huggingface/lerobot/calibration/robots/so101_follower/arm.json

or ``--real-config arm.json`` with the same fields as JSON (``safety`` as an object).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from armgym.contracts.scene import SceneTask
from armgym.errors import ConfigError
from armgym.registry import Registry
from armgym.robots.base import RobotSpec
from armgym.robots.real.cameras import CameraConfig, OpenCVCamera
from armgym.robots.real.driver import ArmDriver
from armgym.robots.real.robot import RealRobot, check_real_task
from armgym.robots.real.safety import SafetyConfig
from armgym.robots.specs import ROBOTS

DeviceRange = tuple[np.ndarray, np.ndarray] | None


@dataclass(frozen=True)
class RealRobotConfig:
    """A real arm: which robot, which device, which cameras, which limits."""

    robot: str = "so101"
    """Sim robot of the same kind (its spec, spaces, IK): so101, widowx250, vx300, panda."""
    driver: str = "auto"
    """Driver: feetech, interbotix, dynamixel, serl_http, franky (auto = the first for
    --robot: feetech for so101, interbotix for widowx250 / vx300, serl_http for panda)."""
    port: str = "/dev/ttyACM0"
    """Serial port of a Feetech bus (SO-101 / SO-100) or, with driver dynamixel, of a
    WidowX / ViperX's U2D2 adapter (/dev/ttyUSB0)."""
    calibration: Path | None = None
    """LeRobot calibration JSON of a Feetech arm."""
    ros_host: str = "127.0.0.1"
    """rosbridge host (Interbotix arms)."""
    ros_port: int = 9090
    """rosbridge websocket port (Interbotix arms)."""
    robot_name: str = ""
    """xs_sdk namespace (default: wx250s for widowx250, vx300s for vx300)."""
    url: str = "http://127.0.0.1:5000"
    """SERL robot server URL (Franka, driver serl_http)."""
    franka_host: str = "172.16.0.2"
    """Franka FCI address (driver franky)."""
    cameras: tuple[str, ...] = ()
    """Cameras as NAME=SOURCE (front=0, wrist=/dev/video2); images.NAME in observations."""
    image_size: tuple[int, int] = (128, 128)
    """Camera image size (height, width) [px]."""
    control: str = "ee_delta"
    """Control mode: ee_delta, joint_pos or joint_delta."""
    control_hz: float = 10.0
    """Control rate [Hz]."""
    torque_off_on_close: bool = False
    """Switch torque off at close (the arm drops under gravity)."""
    safety: SafetyConfig = field(default_factory=SafetyConfig)
    """Joint, velocity and workspace limits."""


def load_real_config(path: str | Path, **overrides: Any) -> RealRobotConfig:
    """A :class:`RealRobotConfig` from a JSON file (unknown keys are an error)."""
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"cannot read real-robot config {path}: {e}") from e
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a real-robot config is a JSON object of RealRobotConfig fields")
    raw.update(overrides)
    return real_config_from_dict(raw, where=str(path))


def real_config_from_dict(
    raw: Mapping[str, Any], *, where: str = "real-robot config"
) -> RealRobotConfig:
    """Inverse of :func:`real_config_to_dict` (``safety`` as a map, lists as tuples).

    Raises:
        ConfigError: an unknown key (in the main config or in ``safety``) or a bad value.
    """
    kw = dict(raw)
    names = {f.name for f in dataclasses.fields(RealRobotConfig)}
    unknown = sorted(set(kw) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}; valid: {sorted(names)}")
    try:
        if isinstance(kw.get("safety"), Mapping):
            kw["safety"] = SafetyConfig(**kw["safety"])
        for key in ("cameras", "image_size"):
            if key in kw:
                kw[key] = tuple(kw[key])
        if kw.get("calibration") is not None:
            kw["calibration"] = Path(kw["calibration"]).expanduser()
        return RealRobotConfig(**kw)
    except TypeError as e:
        raise ConfigError(f"{where}: {e}") from None


def real_config_to_dict(cfg: RealRobotConfig) -> dict[str, Any]:
    """JSON-ready dict of ``cfg`` (paths as strings, tuples as lists)."""
    out = dataclasses.asdict(cfg)
    out["calibration"] = None if cfg.calibration is None else str(cfg.calibration)
    out["cameras"], out["image_size"] = list(cfg.cameras), list(cfg.image_size)
    return out


Builder = Callable[[RealRobotConfig, RobotSpec], tuple[ArmDriver, DeviceRange]]


@dataclass(frozen=True)
class DriverRecord:
    """A registered driver: the robots it serves and how to connect it."""

    robots: tuple[str, ...]
    build: Builder


def _feetech(cfg: RealRobotConfig, spec: RobotSpec) -> tuple[ArmDriver, DeviceRange]:
    from armgym.robots.real.so101 import FeetechArm, SO101Config

    if cfg.calibration is None:
        raise ConfigError("an SO-101 needs --calibration (LeRobot's calibration JSON of the arm)")
    arm = FeetechArm(SO101Config(port=cfg.port, calibration=cfg.calibration,
                                 torque_off_on_close=cfg.torque_off_on_close))  # fmt: skip
    return arm, arm.device_range()


def _interbotix(cfg: RealRobotConfig, spec: RobotSpec) -> tuple[ArmDriver, DeviceRange]:
    from armgym.robots.real.interbotix import InterbotixArm, InterbotixConfig

    name = cfg.robot_name or {"widowx250": "wx250s", "vx300": "vx300s"}.get(spec.name, spec.name)
    arm = InterbotixArm(InterbotixConfig(robot_name=name, host=cfg.ros_host, port=cfg.ros_port,
                                         torque_off_on_close=cfg.torque_off_on_close), spec)  # fmt: skip
    return arm, arm.device_range()


def _dynamixel(cfg: RealRobotConfig, spec: RobotSpec) -> tuple[ArmDriver, DeviceRange]:
    from armgym.robots.real.dynamixel import DynamixelArm, DynamixelConfig

    arm = DynamixelArm(DynamixelConfig(port=cfg.port, joints=spec.arm_joints,
                                       torque_off_on_close=cfg.torque_off_on_close))  # fmt: skip
    return arm, arm.device_range()


def _serl(cfg: RealRobotConfig, spec: RobotSpec) -> tuple[ArmDriver, DeviceRange]:
    from armgym.robots.real.kinematics import ArmKinematics
    from armgym.robots.real.serl_http import SerlHttpArm, SerlHttpConfig
    from armgym.robots.scene import build_scene

    return SerlHttpArm(
        SerlHttpConfig(url=cfg.url), ArmKinematics(build_scene(spec, None), spec)
    ), None


def _franky(cfg: RealRobotConfig, spec: RobotSpec) -> tuple[ArmDriver, DeviceRange]:
    from armgym.robots.real.franky_arm import FrankyArm, FrankyConfig

    return FrankyArm(FrankyConfig(host=cfg.franka_host)), None


DRIVERS: Registry[DriverRecord] = Registry("real-robot driver")
DRIVERS.register("feetech", DriverRecord(("so101",), _feetech))
DRIVERS.register("interbotix", DriverRecord(("widowx250", "vx300"), _interbotix))
DRIVERS.register("dynamixel", DriverRecord(("widowx250", "vx300"), _dynamixel))
DRIVERS.register("serl_http", DriverRecord(("panda",), _serl))
DRIVERS.register("franky", DriverRecord(("panda",), _franky))


def driver_for(cfg: RealRobotConfig) -> str:
    """The driver name ``cfg`` selects (``auto`` = the first registered for its robot)."""
    if cfg.driver != "auto":
        record = DRIVERS.get(cfg.driver)
        if cfg.robot.lower() not in record.robots:
            raise ConfigError(
                f"driver {cfg.driver!r} drives {list(record.robots)}, not {cfg.robot!r}"
            )
        return cfg.driver
    ROBOTS.get(cfg.robot)  # unknown robot: the registry's error with a suggestion
    for name in DRIVERS.names():
        if cfg.robot.lower() in DRIVERS.get(name).robots:
            return name
    raise ConfigError(f"no real-robot driver for {cfg.robot!r}; drivers exist for "
                      f"{sorted(r for n in DRIVERS.names() for r in DRIVERS.get(n).robots)}")  # fmt: skip


def parse_cameras(cfg: RealRobotConfig) -> dict[str, CameraConfig]:
    """``NAME=SOURCE`` entries -> camera configs of ``cfg.image_size``."""
    out = {}
    for entry in cfg.cameras:
        name, sep, source = entry.partition("=")
        if not sep or not name or not source:
            raise ConfigError(
                f"camera {entry!r}: write NAME=SOURCE, e.g. front=0 or wrist=/dev/video2"
            )
        out[name] = CameraConfig(source=source, shape=cfg.image_size)
    return out


def make_real_robot(cfg: RealRobotConfig, task: SceneTask | None = None) -> RealRobot:
    """Connect the arm and cameras ``cfg`` describes; a ``RealRobot`` ready to ``reset``.

    ``task``: a virtual task (``task.virtual``) kept in the arm's kinematic model.
    """
    spec = ROBOTS.get(cfg.robot)
    check_real_task(task)  # before anything connects
    cameras = parse_cameras(cfg)
    driver, device_range = DRIVERS.get(driver_for(cfg)).build(cfg, spec)
    opened = {name: OpenCVCamera(c) for name, c in cameras.items()}
    try:
        return RealRobot(spec, driver, control=cfg.control, control_hz=cfg.control_hz,
                         safety=cfg.safety, cameras=opened, device_range=device_range,
                         task=task)  # fmt: skip
    except BaseException:
        driver.close()
        for cam in opened.values():
            cam.close()
        raise
