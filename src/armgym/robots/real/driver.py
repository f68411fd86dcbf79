"""``ArmDriver``: the few things every real arm's driver does, in the sim's units.

A driver speaks one device's protocol (servo bus, rosbridge, HTTP, libfranka) and knows
nothing of control modes, IK or limits: :class:`~armgym.robots.real.robot.RealRobot`
turns actions into joint targets with the sim's controller and passes them through
:class:`~armgym.robots.real.safety.SafetyLayer` before a driver sees them.

Units: joint angles in radians in the sim model's convention (same zero, same sign),
ordered like ``RobotSpec.arm_joints``; the gripper as a fraction, 0 = closed, 1 = open.

Safe-state policy, the same for every driver:

* ``hold()`` keeps torque on and makes the present position the goal: the arm stops
  where it is and does not fall. Watchdogs and every error path call it.
* ``close()`` holds, then releases the device; torque is switched off only when the
  driver's config says so (``torque_off_on_close``), because an SO-101 or a WidowX with
  torque off drops under gravity.
* A driver error is :class:`~armgym.errors.HardwareError`; ``RealRobot`` calls ``hold()``
  (best effort) before letting it through. Errors are never cleared automatically while
  commands stream: ``recover()`` runs only at the next ``reset()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class JointReading:
    """One reading of the arm.

    q: float64[n_arm] joint positions [rad]; gripper: opening fraction in [0, 1];
    qvel: float64[n_arm] joint velocities [rad/s] if the device reports them, else None
    (``RealRobot`` then differentiates ``q``).
    """

    q: np.ndarray
    gripper: float
    qvel: np.ndarray | None = None


@runtime_checkable
class ArmDriver(Protocol):
    """A connected real arm. ``n_joints`` = ``RobotSpec.n_arm`` (the gripper is separate)."""

    n_joints: int

    def read(self) -> JointReading:
        """Measure joint positions and the gripper now."""
        ...

    def command(self, q: np.ndarray, gripper: float) -> None:
        """Send joint targets float64[n_joints] [rad] and a gripper target in [0, 1].

        Targets have already passed the safety layer; the driver only converts units.
        """
        ...

    def hold(self) -> None:
        """Stop where the arm is, torque on (see module docstring)."""
        ...

    def recover(self) -> None:
        """Clear a device error (a reflex, an overload cut-out) so it takes commands again.

        ``RealRobot.reset`` calls it before moving: a person is expected to have looked
        at the arm after the error that ``act`` raised.
        """
        ...

    def close(self) -> None:
        """Hold, then release the device (torque off only if configured)."""
        ...


@runtime_checkable
class PoseReporter(Protocol):
    """A driver whose device also reports its own end-effector pose (e.g. SERL's server)."""

    def device_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """(position float64[3] [m], quaternion float64[4] w-x-y-z) as the device computes it."""
        ...
