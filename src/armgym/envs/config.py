"""``EnvConfig``: the one typed, serialisable description of an armgym env.

Every place that builds an env takes one (``armgym.envs.make_env(cfg)``); a dataset stores
one in ``meta/armgym.json``; ``gymnasium.make("armgym/<Task>-v0", **kwargs)`` turns its
kwargs into one. JSON form: the fields below, tuples as lists, ``controller`` as a map::

    {"task": "PickCube", "robot": "panda", "control": "ee_delta", "obs": "state", ...}
"""

from __future__ import annotations

import dataclasses
import json
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from armgym.envs.manipulation import OBS_MODES, REWARD_MODES
from armgym.errors import ConfigError, UnknownNameError
from armgym.registry import check_choice
from armgym.robots.controllers import CONTROL_MODES, ControllerConfig
from armgym.robots.real.config import (
    RealRobotConfig,
    parse_cameras,
    real_config_from_dict,
    real_config_to_dict,
)
from armgym.robots.specs import ROBOTS
from armgym.tasks import RANDOMIZATION_LEVELS, TASKS

DEFAULT_CAMERAS = ("front", "wrist")


@dataclass(frozen=True)
class EnvConfig:
    """Everything that selects an env; also the kwargs of ``gymnasium.make``.

    Attributes:
        task: task name (``PickCube``, ``Push`` ...).
        robot: robot name (``panda``, ``widowx250``, ``so101``, ``vx300``).
        control: action space: ``ee_delta`` | ``ee_pos`` | ``joint_pos`` | ``joint_delta``.
        obs: observations: ``state`` | ``pixels`` | ``both``.
        randomization: initial-state randomisation: ``low`` | ``med`` | ``high``.
        image_size: (height, width) of camera images [px].
        cameras: cameras rendered for ``pixels``/``both``.
        control_hz: control rate [Hz].
        reward: ``dense`` | ``sparse``.
        terminate_on_success: end the episode at success.
        controller: controller gains and step sizes.
        robot_server: ``ws://host:port`` of an ``armgym robot-server`` to drive instead of
            a local sim (task, robot and control must match what it serves; cameras,
            image size and control rate are the server's).
        real: drive this real arm (:class:`~armgym.robots.real.config.RealRobotConfig`)
            directly instead of a sim: its ``robot`` must be ``robot``; its control mode,
            control rate and image size become this config's; with ``pixels``/``both``
            ``cameras`` must name its cameras. Only virtual tasks (Reach) run on a real
            arm; see docs/real-robots.md.

    Raises:
        UnknownNameError: a name (task, robot, mode) is not known; says the closest one.
        ConfigError: a value has the wrong type or range.
    """

    task: str = "PickCube"
    robot: str = "panda"
    control: str = "ee_delta"
    obs: str = "state"
    randomization: str = "low"
    image_size: tuple[int, int] = (128, 128)
    cameras: tuple[str, ...] = DEFAULT_CAMERAS
    control_hz: float = 10.0
    reward: str = "dense"
    terminate_on_success: bool = True
    controller: ControllerConfig = field(default_factory=ControllerConfig)
    robot_server: str | None = None
    real: RealRobotConfig | None = None

    def __post_init__(self) -> None:
        TASKS.get(self.task)
        ROBOTS.get(self.robot)
        check_choice("control mode", self.control, CONTROL_MODES)
        check_choice("obs mode", self.obs, OBS_MODES)
        check_choice("randomization", self.randomization, RANDOMIZATION_LEVELS)
        check_choice("reward mode", self.reward, REWARD_MODES)
        size = tuple(self.image_size)
        if len(size) != 2 or not all(isinstance(v, numbers.Integral) and v > 0 for v in size):
            raise ConfigError(f"image_size must be (height, width) in pixels, got {size!r}")
        size = (int(size[0]), int(size[1]))
        if isinstance(self.cameras, str):
            raise ConfigError(f"cameras must be a sequence of names, got {self.cameras!r}")
        if not self.control_hz > 0:
            raise ConfigError(f"control_hz must be > 0 Hz, got {self.control_hz}")
        if not isinstance(self.controller, ControllerConfig):
            raise ConfigError("controller must be a ControllerConfig (or a map in from_dict)")
        object.__setattr__(self, "image_size", size)
        object.__setattr__(self, "cameras", tuple(self.cameras))
        if self.real is not None:
            object.__setattr__(self, "real", self._checked_real(self.real))

    def _checked_real(self, real: RealRobotConfig) -> RealRobotConfig:
        """``real`` with this env's control mode, rate and image size; mismatches raise."""
        if not isinstance(real, RealRobotConfig):
            raise ConfigError("real must be a RealRobotConfig (or a map in from_dict)")
        if self.robot_server is not None:
            raise ConfigError("give either robot_server or real (a real arm driven here), not both")
        if real.robot.lower() != self.robot.lower():
            raise ConfigError(
                f"the real-robot config drives a {real.robot!r} but the env asks for robot "
                f"{self.robot!r}: pass --robot {real.robot} or fix the config's robot"
            )
        names = tuple(parse_cameras(real))
        if self.obs != "state" and sorted(names) != sorted(self.cameras):
            raise ConfigError(
                f"obs {self.obs!r} records cameras {list(self.cameras)}, the real arm has "
                f"{list(names)}: give its cameras as NAME=SOURCE with the same names"
            )
        return dataclasses.replace(real, control=self.control, control_hz=self.control_hz,
                                   image_size=self.image_size)  # fmt: skip

    # -- conversions ------------------------------------------------------------------------
    def make_kwargs(self) -> dict[str, Any]:
        """The ``gymnasium.make`` kwargs of this config (every field but ``task``)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "task"}

    @classmethod
    def from_make_kwargs(cls, task: str, kwargs: Mapping[str, Any]) -> EnvConfig:
        """Validate ``gymnasium.make`` kwargs into a config (closest-match errors)."""
        valid = {f.name for f in dataclasses.fields(cls)} - {"task"}
        for key in kwargs:
            if key not in valid:
                raise UnknownNameError("env option", key, valid)
        return cls(task=task, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: tuples as lists, ``controller`` as a map."""
        out = dataclasses.asdict(self)
        out["image_size"], out["cameras"] = list(self.image_size), list(self.cameras)
        out["real"] = None if self.real is None else real_config_to_dict(self.real)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EnvConfig:
        """Inverse of :meth:`to_dict`; also reads the partial dicts older datasets stored.

        Missing keys take their defaults; lists become tuples.

        Raises:
            UnknownNameError: an unknown key (with the closest valid one).
            ConfigError: ``data`` is not a map, or a value has the wrong type.
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"an env config must be a map, got {type(data).__name__}")
        kw: dict[str, Any] = dict(data)
        valid = {f.name for f in dataclasses.fields(cls)}
        for key in kw:
            if key not in valid:
                raise UnknownNameError("env config key", str(key), valid)
        for key in ("image_size", "cameras"):
            if isinstance(kw.get(key), list):
                kw[key] = tuple(kw[key])
        if isinstance(kw.get("controller"), Mapping):
            kw["controller"] = _controller_from_dict(kw["controller"])
        if isinstance(kw.get("real"), Mapping):
            kw["real"] = real_config_from_dict(kw["real"], where="env config 'real'")
        try:
            return cls(**kw)
        except TypeError as exc:
            raise ConfigError(f"bad env config {dict(data)!r}: {exc}") from None

    def to_json(self) -> str:
        """One-line JSON of :meth:`to_dict`."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> EnvConfig:
        """Inverse of :meth:`to_json`.

        Raises:
            ConfigError: ``text`` is not JSON; see :meth:`from_dict` for the rest.
        """
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"env config is not valid JSON: {exc}") from None
        return cls.from_dict(data)


def _controller_from_dict(data: Mapping[str, Any]) -> ControllerConfig:
    valid = {f.name for f in dataclasses.fields(ControllerConfig)}
    for key in data:
        if key not in valid:
            raise UnknownNameError("controller option", str(key), valid)
    try:
        return ControllerConfig(**data)
    except TypeError as exc:
        raise ConfigError(f"bad controller config {dict(data)!r}: {exc}") from None
