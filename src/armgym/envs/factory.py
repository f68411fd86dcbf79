"""The one env factory: :func:`make_env` turns an :class:`EnvConfig` into an env.

``make_env(cfg)`` returns what ``gymnasium.make("armgym/<Task>-v0", ...)`` returns (the
``ManipulationEnv`` inside gymnasium's ``TimeLimit`` at the task's episode length); the
registered entry point and ``BatchedEnv`` build the bare env with :func:`build_env`.
The robot is a local :class:`~armgym.robots.sim.SimRobot`, a
:class:`~armgym.robots.remote.RemoteRobot` when ``cfg.robot_server`` names a server, or a
:class:`~armgym.robots.real.robot.RealRobot` when ``cfg.real`` describes a real arm.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from armgym.contracts.robot import MujocoRobot
from armgym.envs.config import EnvConfig
from armgym.envs.manipulation import ManipulationEnv
from armgym.errors import ConfigError
from armgym.robots.specs import ROBOTS
from armgym.tasks import TASKS

NAMESPACE = "armgym"


def env_id(task: str) -> str:
    """Gymnasium id of ``task``: ``armgym/<Task>-v0``."""
    return f"{NAMESPACE}/{task}-v0"


def make_env(
    cfg: EnvConfig,
    *,
    render_mode: str | None = None,
    max_episode_steps: int | None = None,
    api_key: str | None = None,
) -> gym.Env[Any, Any]:
    """The env ``cfg`` describes, wrapped as ``gymnasium.make`` wraps it.

    Args:
        cfg: the env (task, robot, control, observations, reward, optional robot server).
        render_mode: ``None`` or ``"rgb_array"``.
        max_episode_steps: truncation limit (default: the task's).
        api_key: sent to ``cfg.robot_server`` (never stored in the config).
    """
    from armgym.envs.registration import register_all

    register_all()
    extra: dict[str, Any] = {} if api_key is None else {"api_key": api_key}
    return gym.make(
        env_id(cfg.task),
        render_mode=render_mode,
        max_episode_steps=max_episode_steps,
        **cfg.make_kwargs(),
        **extra,
    )


def build_env(
    cfg: EnvConfig,
    *,
    render_mode: str | None = None,
    share_with: ManipulationEnv | None = None,
    api_key: str | None = None,
) -> ManipulationEnv:
    """The bare ``ManipulationEnv`` for ``cfg`` (no gymnasium wrappers).

    ``share_with``: an env built from the same config whose compiled model and (stateless)
    task object are reused, so N envs cost one compile ("one model, many MjData").
    """
    if cfg.robot_server is not None:
        if share_with is not None:
            raise ConfigError("envs on a robot server cannot share a model; build each alone")
        return _remote_env(cfg, render_mode=render_mode, api_key=api_key)
    if cfg.real is not None:
        if share_with is not None:
            raise ConfigError("a real arm is one env: build it alone (num_envs 1)")
        return _real_env(cfg, render_mode=render_mode)
    from armgym.robots.sim import SimRobot

    spec = ROBOTS.get(cfg.robot)
    if share_with is not None:
        if not isinstance(share_with.robot, MujocoRobot):
            raise ConfigError("share_with must be an env on a local sim robot")
        task_obj, model = share_with.task, share_with.robot.model
    else:
        task_obj, model = TASKS.get(cfg.task)(spec, cfg.randomization), None
    robot = SimRobot(
        spec,
        task_obj,
        control=cfg.control,
        control_hz=cfg.control_hz,
        cameras=cfg.cameras if cfg.obs != "state" else (),
        image_size=cfg.image_size,
        controller=cfg.controller,
        model=model,
    )
    return _env(robot, task_obj, cfg, render_mode)


def _remote_env(cfg: EnvConfig, *, render_mode: str | None, api_key: str | None) -> ManipulationEnv:
    """An env on the robot served at ``cfg.robot_server``, scored by a local copy of the task."""
    from armgym.robots.remote import RemoteRobot

    robot = RemoteRobot(cfg.robot_server or "", api_key=api_key)
    served = {"task": robot.task_name, "robot": robot.robot_name, "control": robot.control}
    wanted = {"task": cfg.task, "robot": cfg.robot, "control": cfg.control}
    wrong = [k for k in served if served[k] is not None and served[k] != wanted[k]]
    if wrong or robot.task_name is None:
        robot.close()
        raise ConfigError(
            f"robot server {robot.url} serves {served}, the env config asks for {wanted}; "
            "make the config match the server (armgym robot-server --task/--robot/--control)"
        )
    # The task only scores here; the scene lives on the server.
    task = TASKS.get(cfg.task)(ROBOTS.get(cfg.robot), robot.randomization or cfg.randomization)
    return _env(robot, task, cfg, render_mode)


def _real_env(cfg: EnvConfig, *, render_mode: str | None) -> ManipulationEnv:
    """An env on the real arm ``cfg.real`` describes (connected here), with the task's
    virtual objects in the arm's kinematic model; cameras only for image observations."""
    import dataclasses

    from armgym.robots.real.config import make_real_robot

    assert cfg.real is not None
    task = TASKS.get(cfg.task)(ROBOTS.get(cfg.robot), cfg.randomization)
    real = cfg.real if cfg.obs != "state" else dataclasses.replace(cfg.real, cameras=())
    return _env(make_real_robot(real, task), task, cfg, render_mode)


def _env(robot: Any, task: Any, cfg: EnvConfig, render_mode: str | None) -> ManipulationEnv:
    return ManipulationEnv(
        robot,
        task,
        obs_mode=cfg.obs,
        reward=cfg.reward,
        terminate_on_success=cfg.terminate_on_success,
        render_mode=render_mode,
    )
