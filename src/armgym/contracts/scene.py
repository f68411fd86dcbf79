"""What a robot's scene needs from a task: the ``SceneTask`` protocol.

``armgym.robots`` composes a MuJoCo scene from a robot and, optionally, a task's objects
(``robots/scene.py``) and places them at reset (``robots/sim.py``). It needs only these
members, so the robots layer depends on this contract rather than on ``armgym.tasks``
(which sits above it: a task is built for a ``RobotSpec``). Every ``armgym.tasks.Task``
satisfies it.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import mujoco
import numpy as np


@runtime_checkable
class SceneTask(Protocol):
    """A task's scene objects and reset randomisation, as a robot uses them."""

    @property
    def name(self) -> str:
        """Registry name, e.g. ``"PickCube"``."""
        ...

    @property
    def level(self) -> str:
        """Randomisation level: ``"low"``, ``"med"`` or ``"high"``."""
        ...

    @property
    def virtual(self) -> bool:
        """True when every object is a marker the arm never touches (a Reach target): the
        task's state then lives in the model alone, so the task also runs on a real arm."""
        ...

    @property
    def object_state_size(self) -> int:
        """Length K of ``object_state`` (privileged object features)."""
        ...

    def build(self, spec: mujoco.MjSpec) -> None:
        """Add the task's bodies, geoms and sites to the scene spec (before compiling)."""

    def bind(self, model: mujoco.MjModel) -> None:
        """Look up ids/addresses in the compiled model (called once)."""

    def initialize(self, data: mujoco.MjData, rng: np.random.Generator) -> None:
        """Place the objects for a new episode (``data.qpos`` / ``data.mocap_pos``)."""

    def object_state(self, data: mujoco.MjData) -> np.ndarray:
        """float32[K] object features in the world frame [m, rad]."""
        ...

    def joint_noise(self, rng: np.random.Generator, n: int) -> np.ndarray | float:
        """Offsets [rad] added to the n arm joints' home pose at reset."""
        ...
