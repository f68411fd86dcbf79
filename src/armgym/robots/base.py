"""The ``Robot`` protocol and ``RobotSpec``: robot facts as data.

A Robot is anything that can be reset, observed and commanded at a fixed control rate:
the MuJoCo sim robot (:mod:`armgym.robots.sim`), a robot in another process
(:mod:`armgym.robots.remote`), and later real arms. ``ManipulationEnv`` only talks to
this protocol, so a policy runs unchanged on any of them.

Observation dict returned by ``reset`` / ``act`` / ``observe`` (all float32 unless noted;
world frame = robot base frame, metres, radians, quaternions w-x-y-z):

====================  ===========  ===================================================
key                   shape        meaning
====================  ===========  ===================================================
``joint_pos``         (n_arm,)     arm joint positions [rad]
``joint_vel``         (n_arm,)     arm joint velocities [rad/s]
``ee_pos``            (3,)         end-effector (tool centre point) position [m]
``ee_quat``           (4,)         end-effector orientation, w-x-y-z
``gripper``           (1,)         gripper opening, 0 = closed, 1 = fully open
``object_state``      (n_obj,)     task objects (layout given by the task), privileged
``images.<camera>``   (H, W, 3)    uint8 RGB, only for cameras that were asked for
====================  ===========  ===================================================

Actions given to ``act`` are float32 vectors in the robot's control mode (see
:mod:`armgym.robots.controllers`): for ``ee_delta`` the 7-vector
(Δx, Δy, Δz, Δroll, Δpitch, Δyaw, gripper), each in [-1, 1].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np

Obs = dict[str, np.ndarray]


@dataclass(frozen=True)
class RobotSpec:
    """Everything armgym needs to know about an arm; no code, only facts.

    Attributes:
        name: registry name (``panda``, ``widowx250``, ...).
        mjcf: path of the MJCF file, relative to ``armgym/robots/assets`` or absolute.
        arm_joints: names of the arm's hinge joints, base to tip.
        arm_actuators: names of position actuators driving ``arm_joints`` (same order).
        gripper_actuator: name of the actuator that opens/closes the gripper.
        gripper_joints: finger joints (to read the opening); first one is used.
        gripper_range: (closed, open) actuator control values.
        ee_site: site at the tool centre point (between the fingertips).
        home_qpos: arm joint positions of the home pose [rad].
        base_pos: where the robot base is mounted in the scene [m].
        workspace_low / workspace_high: end-effector box the ee controller keeps to [m].
        max_reach: distance from the shoulder the arm can reach [m] (for task support).
        description: one line for docs and ``armgym robots``.
        source: where the kinematics come from (datasheet, URDF) and the licence.
    """

    name: str
    mjcf: str
    arm_joints: tuple[str, ...]
    arm_actuators: tuple[str, ...]
    gripper_actuator: str
    gripper_joints: tuple[str, ...]
    gripper_range: tuple[float, float]
    ee_site: str
    home_qpos: tuple[float, ...]
    base_pos: tuple[float, float, float] = (0.0, 0.0, 0.0)
    workspace_low: tuple[float, float, float] = (0.25, -0.35, 0.0)
    workspace_high: tuple[float, float, float] = (0.75, 0.35, 0.5)
    max_reach: float = 0.8
    description: str = ""
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.arm_joints)
        if n == 0:
            raise ValueError(f"RobotSpec {self.name!r}: arm_joints is empty")
        if len(self.arm_actuators) != n or len(self.home_qpos) != n:
            raise ValueError(
                f"RobotSpec {self.name!r}: arm_joints ({n}), arm_actuators "
                f"({len(self.arm_actuators)}) and home_qpos ({len(self.home_qpos)}) must have "
                "the same length"
            )

    @property
    def n_arm(self) -> int:
        return len(self.arm_joints)


@runtime_checkable
class Robot(Protocol):
    """A robot arm commanded at a fixed control rate.

    Attributes:
        observation_space: ``gym.spaces.Dict`` of the keys listed in the module docstring.
        action_space: ``gym.spaces.Box`` of the control mode's action.
        control_hz: control rate [Hz]; one ``act`` call advances time by ``1 / control_hz`` s.
    """

    observation_space: gym.spaces.Dict
    action_space: gym.spaces.Box
    control_hz: float

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Obs:
        """Move to the (possibly randomised) initial state and return the first observation."""
        ...

    def act(self, action: np.ndarray) -> Obs:
        """Apply ``action`` for one control period and return the observation after it."""
        ...

    def observe(self) -> Obs:
        """Return the current observation without moving."""
        ...

    def close(self) -> None:
        """Release resources (renderers, sockets, hardware)."""
        ...
