"""The ``Robot`` protocol: what every robot (sim, remote, real) offers, and what only sims add.

A Robot is anything that can be reset, observed and commanded at a fixed control rate:
the MuJoCo sim robot (:mod:`armgym.robots.sim`), a robot in another process
(:mod:`armgym.robots.remote`), and later real arms. ``ManipulationEnv`` and the robot
server only talk to these protocols, so a policy runs unchanged on any of them.

Observations are the robot-level dicts of :mod:`armgym.contracts.observation` (float32,
robot base frame, metres, radians, quaternions w-x-y-z; ``images.<camera>`` uint8[H, W, 3]).
Actions given to ``act`` are float32[action_dim] in the robot's control mode (see
:mod:`armgym.robots.controllers`): for ``ee_delta`` the 7-vector
(Δx, Δy, Δz, Δroll, Δpitch, Δyaw, gripper), each in [-1, 1].

Capabilities beyond the base protocol are explicit sub-protocols, checked with
``isinstance``: :class:`SimStateRobot` (save/restore the full physics state) and
:class:`MujocoRobot` (a local MuJoCo model: render, viewer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np

from armgym.contracts.observation import Obs

if TYPE_CHECKING:
    import mujoco


@runtime_checkable
class Robot(Protocol):
    """A robot arm commanded at a fixed control rate.

    Attributes:
        observation_space: ``gym.spaces.Dict`` of the robot-level observation keys.
        action_space: ``gym.spaces.Box`` of the control mode's action, float32[action_dim].
        control_hz: control rate [Hz]; one ``act`` call advances time by ``1 / control_hz`` s.
        robot_name: registry name of the arm (``panda``, ``widowx250`` ...).
        control: control mode (``ee_delta``, ``joint_pos`` ...), or None if unknown.
        task_name: registry name of the task whose scene the robot is in, or None.
        randomization: the task's randomisation level (``low`` | ``med`` | ``high``), or None.
    """

    observation_space: gym.spaces.Dict
    action_space: gym.spaces.Box
    control_hz: float

    @property
    def robot_name(self) -> str: ...

    @property
    def control(self) -> str | None: ...

    @property
    def task_name(self) -> str | None: ...

    @property
    def randomization(self) -> str | None: ...

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Obs:
        """Move to the (possibly randomised) initial state and return the first observation."""
        ...

    def act(self, action: np.ndarray) -> Obs:
        """Apply ``action`` for one control period and return the observation after it."""
        ...

    def observe(self) -> Obs:
        """Return the current observation without moving."""
        ...

    def hold(self) -> None:
        """Freeze the arm where it is now (targets = current joint positions).

        Called by watchdogs and on lost connections; the next ``act`` or ``reset`` resumes.
        """
        ...

    def step_held(self) -> None:
        """Let one control period pass while held.

        A sim robot steps its physics (the arm stays put under gravity and contact); a
        real or remote arm, whose own controller keeps the hold, does nothing.
        """
        ...

    def close(self) -> None:
        """Release resources (renderers, sockets, hardware)."""
        ...


@runtime_checkable
class SimStateful(Protocol):
    """Anything whose full simulation state can be saved and restored (a sim robot, an env)."""

    def get_sim_state(self) -> np.ndarray:
        """Physics + controller state, float64[S]; :meth:`set_sim_state` restores it exactly."""
        ...

    def set_sim_state(self, state: np.ndarray) -> None:
        """Restore a float64[S] state from :meth:`get_sim_state`; the next ``act`` continues it."""
        ...


@runtime_checkable
class SimStateRobot(Robot, SimStateful, Protocol):
    """A robot whose full simulation state can be saved and restored (sim, served sim)."""


@runtime_checkable
class MujocoRobot(SimStateRobot, Protocol):
    """A robot simulated by a MuJoCo model in this process (the viewer and ``render`` need it).

    Attributes:
        model: the compiled scene (arm + task objects).
        data: its state; ``act`` advances it by ``n_substeps`` physics steps.
        n_substeps: physics steps per control period.
    """

    model: mujoco.MjModel
    data: mujoco.MjData
    n_substeps: int

    def render(self, camera: str = "front", size: tuple[int, int] | None = None) -> np.ndarray:
        """RGB uint8[H, W, 3] seen from ``camera`` (``size`` = (H, W) [px], default the robot's)."""
        ...
