"""Registration: ``import armgym`` registers ``armgym/<Task>-v0`` for every task.

Options are ``gymnasium.make`` kwargs (the fields of :class:`~armgym.envs.config.EnvConfig`),
validated with closest-match errors::

    gymnasium.make("armgym/PickCube-v0", robot="panda", control="ee_delta",
                   obs="state", randomization="low", image_size=(128, 128),
                   cameras=("front", "wrist"), control_hz=10.0, reward="dense")
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from armgym.envs.config import EnvConfig
from armgym.envs.factory import build_env, env_id
from armgym.envs.manipulation import ManipulationEnv
from armgym.tasks import TASKS


def gym_entry_point(
    task: str, render_mode: str | None = None, api_key: str | None = None, **kwargs: Any
) -> ManipulationEnv:
    """Entry point of every registered id: ``gymnasium.make`` kwargs -> ``EnvConfig`` -> env."""
    cfg = EnvConfig.from_make_kwargs(task, kwargs)
    return build_env(cfg, render_mode=render_mode, api_key=api_key)


def register_all() -> None:
    """Register every task with gymnasium (idempotent)."""
    for name in TASKS:
        cls = TASKS.get(name)
        eid = env_id(cls.name)
        if eid in gym.registry:
            continue
        gym.register(
            id=eid,
            entry_point="armgym.envs.registration:gym_entry_point",
            kwargs={"task": cls.name},
            max_episode_steps=cls.max_episode_steps,
            disable_env_checker=True,
        )


def env_ids() -> list[str]:
    """All registered armgym env ids."""
    return [env_id(TASKS.get(n).name) for n in TASKS]
