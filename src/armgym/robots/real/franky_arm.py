"""A Franka (Panda / FR3) through franky (``franky-control``, libfranka), as an ``ArmDriver``.

Every command is an asynchronous ``JointWaypointMotion`` to the safety-checked joint
targets; a new one takes over the running one seamlessly (franky plans a smooth,
limit-respecting trajectory with Ruckig), so the signal type never changes and the arm
never jumps. ``ee_delta`` reaches the driver as joint targets from the sim's IK, like
every other arm. ``hold`` is a motion to the present joints. The Franka Hand is moved
with ``move_async`` (opening) and ``grasp_async`` (closing, with ``grasp_force``), sent
when the command changes by more than ``gripper_deadband``.

A reflex (collision, limit violation) surfaces as a franky exception on the next command
or read: it becomes :class:`~armgym.errors.HardwareError` and is cleared with
``recover_from_errors()`` only by :meth:`FrankyArm.recover` (``RealRobot.reset``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from armgym.errors import ConfigError, HardwareError
from armgym.robots.real.driver import JointReading


@dataclass(frozen=True)
class FrankyConfig:
    """A Franka behind its FCI.

    Attributes:
        host: the robot's FCI address (franky-sim: the hostname it prints).
        dynamics_factor: fraction of Franka's velocity / acceleration / jerk limits used.
        ignore_realtime: run without a real-time kernel (simulators, never a real arm).
        gripper: drive the Franka Hand.
        gripper_speed: finger speed [m/s].
        grasp_force: grasping force when closing [N].
        gripper_deadband: gripper commands closer than this fraction are not resent.
    """

    host: str = "172.16.0.2"
    dynamics_factor: float = 0.1
    ignore_realtime: bool = False
    gripper: bool = True
    gripper_speed: float = 0.05
    grasp_force: float = 20.0
    gripper_deadband: float = 0.1

    def __post_init__(self) -> None:
        if not 0.0 < self.dynamics_factor <= 1.0:
            raise ConfigError(f"dynamics_factor must be in (0, 1], got {self.dynamics_factor}")


def _franky() -> Any:
    try:
        import franky
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ConfigError("the Franka driver needs franky: pip install franky-control") from e
    return franky


class FrankyArm:
    """A 7-joint Franka through franky (see module docstring)."""

    n_joints = 7

    def __init__(self, cfg: FrankyConfig):
        self.cfg = cfg
        fr = self.fr = _franky()
        rt = fr.RealtimeConfig.Ignore if cfg.ignore_realtime else fr.RealtimeConfig.Enforce
        try:
            self.robot = fr.Robot(cfg.host, realtime_config=rt)
            self.robot.recover_from_errors()
            self.robot.relative_dynamics_factor = cfg.dynamics_factor
            self.gripper = fr.Gripper(cfg.host) if cfg.gripper else None
        except fr.Exception as e:
            raise HardwareError(
                f"cannot connect to the Franka at {cfg.host} ({e}); check FCI is enabled in "
                "Desk, the brakes are open, and this computer has a real-time kernel"
            ) from e
        self.max_width = float(self.gripper.max_width) if self.gripper else 0.08
        self._grip_cmd: float | None = None

    def _do(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except self.fr.Exception as e:
            raise HardwareError(
                f"Franka {what} failed ({type(e).__name__}: {e}); the robot stopped. Check "
                "the arm is clear, then reset() (it calls recover_from_errors())"
            ) from e

    def device_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """franky's end-effector pose (position [m], quaternion w-x-y-z)."""
        pose = self._do("read", lambda: self.robot.current_cartesian_state.pose.end_effector_pose)
        xyzw = np.asarray(pose.quaternion, dtype=np.float64)
        return np.asarray(pose.translation, dtype=np.float64), np.array([xyzw[3], *xyzw[:3]])

    # -- ArmDriver --------------------------------------------------------------------------
    def read(self) -> JointReading:
        state = self._do("read", lambda: self.robot.current_joint_state)
        gripper = self.gripper  # a second connection, which fails on its own
        width = (
            float(self._do("gripper read", lambda: gripper.width)) if gripper else self.max_width
        )
        return JointReading(
            q=np.asarray(state.position, dtype=np.float64),
            gripper=float(np.clip(width / self.max_width, 0.0, 1.0)),
            qvel=np.asarray(state.velocity, dtype=np.float64),
        )

    def _move(self, q: np.ndarray) -> None:
        fr = self.fr
        motion = fr.JointWaypointMotion([fr.JointWaypoint([float(v) for v in q])])
        self._do("joint motion", self.robot.move, motion, asynchronous=True)

    def command(self, q: np.ndarray, gripper: float) -> None:
        self._move(q)
        if self.gripper is None:
            return
        if self._grip_cmd is None or abs(gripper - self._grip_cmd) > self.cfg.gripper_deadband:
            width, speed = gripper * self.max_width, self.cfg.gripper_speed
            if self._grip_cmd is not None and gripper < self._grip_cmd:
                self._do("grasp", self.gripper.grasp_async, width, speed, self.cfg.grasp_force,
                         epsilon_inner=1.0, epsilon_outer=1.0)  # fmt: skip
            else:
                self._do("gripper move", self.gripper.move_async, width, speed)
            self._grip_cmd = gripper

    def hold(self) -> None:
        self._move(self.read().q)

    def recover(self) -> None:
        """``recover_from_errors()`` after a reflex."""
        self._do("error recovery", self.robot.recover_from_errors)

    def close(self) -> None:
        self.hold()
        self._do("stop", self.robot.join_motion, 2.0)
