"""Registration: ``import armgym`` registers ``armgym/<Task>-v0`` for every task.

Options are ``gymnasium.make`` kwargs, validated with closest-match errors::

    gymnasium.make("armgym/PickCube-v0", robot="panda", control="ee_delta",
                   obs="state", randomization="low", image_size=(128, 128),
                   cameras=("front", "wrist"), control_hz=10.0, reward="dense")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from armgym.envs.manipulation import OBS_MODES, REWARD_MODES, ManipulationEnv
from armgym.errors import UnknownNameError
from armgym.registry import check_choice
from armgym.robots.controllers import CONTROL_MODES, ControllerConfig
from armgym.robots.specs import ROBOTS
from armgym.tasks import RANDOMIZATION_LEVELS, TASKS

NAMESPACE = "armgym"
DEFAULT_CAMERAS = ("front", "wrist")


@dataclass(frozen=True)
class EnvConfig:
    """Everything that selects an env; the kwargs of ``gymnasium.make``.

    Attributes:
        task: task name (``PickCube``, ``Push`` ...).
        robot: robot name (``panda``, ``widowx250``, ``so101``, ``vx300``).
        control: action space: ``ee_delta`` | ``joint_pos`` | ``joint_delta``.
        obs: observations: ``state`` | ``pixels`` | ``both``.
        randomization: initial-state randomisation: ``low`` | ``med`` | ``high``.
        image_size: (height, width) of camera images [px].
        cameras: cameras rendered for ``pixels``/``both``.
        control_hz: control rate [Hz].
        reward: ``dense`` | ``sparse``.
        terminate_on_success: end the episode at success.
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

    def validate(self) -> EnvConfig:
        TASKS.get(self.task)
        ROBOTS.get(self.robot)
        check_choice("control mode", self.control, CONTROL_MODES)
        check_choice("obs mode", self.obs, OBS_MODES)
        check_choice("randomization", self.randomization, RANDOMIZATION_LEVELS)
        check_choice("reward mode", self.reward, REWARD_MODES)
        return self


def make_env(task: str, render_mode: str | None = None, **kwargs: Any) -> ManipulationEnv:
    """Build a ``ManipulationEnv`` on a ``SimRobot`` (entry point of every registered id)."""
    from armgym.robots.sim import SimRobot

    valid = set(EnvConfig.__dataclass_fields__) - {"task"}
    for key in kwargs:
        if key not in valid:
            raise UnknownNameError("env option", key, valid)
    cfg = EnvConfig(task=task, **kwargs).validate()
    spec = ROBOTS.get(cfg.robot)
    task_obj = TASKS.get(cfg.task)(spec, cfg.randomization)
    cameras = cfg.cameras if cfg.obs != "state" or render_mode else ()
    robot = SimRobot(
        spec,
        task_obj,
        control=cfg.control,
        control_hz=cfg.control_hz,
        cameras=tuple(cameras) if cfg.obs != "state" else (),
        image_size=tuple(cfg.image_size),  # type: ignore[arg-type]
        controller=cfg.controller,
    )
    return ManipulationEnv(
        robot,
        task_obj,
        obs_mode=cfg.obs,
        reward=cfg.reward,
        terminate_on_success=cfg.terminate_on_success,
        render_mode=render_mode,
    )


def env_id(task: str) -> str:
    return f"{NAMESPACE}/{task}-v0"


def register_all() -> None:
    """Register every task with gymnasium (idempotent)."""
    for name in TASKS:
        cls = TASKS.get(name)
        eid = env_id(cls.name)
        if eid in gym.registry:
            continue
        gym.register(
            id=eid,
            entry_point="armgym.envs.registration:make_env",
            kwargs={"task": cls.name},
            max_episode_steps=cls.max_episode_steps,
            disable_env_checker=True,
        )


def env_ids() -> list[str]:
    """All registered armgym env ids."""
    return [env_id(TASKS.get(n).name) for n in TASKS]
