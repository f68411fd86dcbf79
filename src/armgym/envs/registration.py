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
        control: action space: ``ee_delta`` | ``ee_pos`` | ``joint_pos`` | ``joint_delta``.
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
    return build_env(config_from_kwargs(task, kwargs), render_mode=render_mode)


def config_from_kwargs(task: str, kwargs: dict[str, Any]) -> EnvConfig:
    """Validate ``gymnasium.make`` kwargs into an :class:`EnvConfig` (closest-match errors)."""
    valid = set(EnvConfig.__dataclass_fields__) - {"task"}
    for key in kwargs:
        if key not in valid:
            raise UnknownNameError("env option", key, valid)
    return EnvConfig(task=task, **kwargs).validate()


def build_env(
    cfg: EnvConfig, *, render_mode: str | None = None, share_with: ManipulationEnv | None = None
) -> ManipulationEnv:
    """Build the env for ``cfg``.

    ``share_with``: an env built from the same config whose compiled model and (stateless)
    task object are reused, so N envs cost one compile ("one model, many MjData").
    """
    from armgym.robots.sim import SimRobot

    spec = ROBOTS.get(cfg.robot)
    if share_with is not None:
        task_obj, model = share_with.task, share_with.robot.model  # type: ignore[attr-defined]
    else:
        task_obj, model = TASKS.get(cfg.task)(spec, cfg.randomization), None
    robot = SimRobot(
        spec,
        task_obj,
        control=cfg.control,
        control_hz=cfg.control_hz,
        cameras=tuple(cfg.cameras) if cfg.obs != "state" else (),
        image_size=(int(cfg.image_size[0]), int(cfg.image_size[1])),
        controller=cfg.controller,
        model=model,
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
