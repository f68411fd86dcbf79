"""``SafetyLayer``: joint, velocity and workspace limits, in one place below every driver.

Every joint target a real arm receives passes :meth:`SafetyLayer.limit` first, whatever
the control mode or driver:

1. **joint limits**: the sim model's joint ranges, narrowed by the device's own range
   (e.g. an SO-101's calibration) and by ``joint_margin`` [rad];
2. **velocity**: the target is at most ``max_joint_vel / control_hz`` [rad] from the
   measured position in every joint (the whole step is scaled, keeping its direction),
   so one control period can never ask for a jump;
3. **workspace**: forward kinematics of the target (the sim model) must keep the tool
   centre point in the spec's workspace box grown by ``workspace_margin`` [m]. A step
   that would leave the box is shortened (bisection) to the longest part that stays
   inside; from outside, only steps that bring the TCP closer to the box are allowed.

Readings are checked too: a joint outside its range by more than ``reading_tolerance``
[rad] means a wrong calibration or a slipped horn, and raises
:class:`~armgym.errors.HardwareError` (the robot then holds).
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from armgym.errors import ConfigError, HardwareError
from armgym.robots.base import RobotSpec
from armgym.robots.real.kinematics import ArmKinematics


@dataclass(frozen=True)
class SafetyConfig:
    """Limits applied to every command of a real arm.

    Attributes:
        max_joint_vel: fastest joint motion allowed [rad/s].
        joint_margin: stay this far inside each joint limit [rad].
        workspace_margin: how far the TCP may go outside the spec's workspace box [m].
        reading_tolerance: a measured joint this far outside its limits is an error [rad].
    """

    max_joint_vel: float = 1.0
    joint_margin: float = 0.02
    workspace_margin: float = 0.03
    reading_tolerance: float = 0.15

    def __post_init__(self) -> None:
        if self.max_joint_vel <= 0 or self.joint_margin < 0 or self.workspace_margin < 0:
            raise ConfigError(
                "SafetyConfig: max_joint_vel must be > 0, joint_margin and workspace_margin >= 0"
            )


class SafetyLayer:
    """Limits for one arm; ``model`` is the arm's MuJoCo model (used for FK only).

    Args:
        model: compiled model containing the arm (e.g. a ``SimRobot``'s).
        spec: the arm's facts (joint names, TCP site, workspace box, base position).
        control_hz: control rate [Hz] (turns the velocity limit into a step).
        cfg: the limits.
        device_range: (low, high) float64[n] joint range the device itself allows [rad].
    """

    def __init__(
        self,
        model: mujoco.MjModel,
        spec: RobotSpec,
        control_hz: float,
        cfg: SafetyConfig,
        device_range: tuple[np.ndarray, np.ndarray] | None = None,
    ):
        self.cfg = cfg
        self.kin = ArmKinematics(model, spec)
        low, high = self.kin.q_low.copy(), self.kin.q_high.copy()
        if device_range is not None:
            low, high = np.maximum(low, device_range[0]), np.minimum(high, device_range[1])
        if np.any(low >= high):
            bad = [j for j, lo, hi in zip(spec.arm_joints, low, high, strict=True) if lo >= hi]
            raise ConfigError(f"joints {bad}: the device range does not overlap the model's")
        self.range_low, self.range_high = low, high
        m = np.minimum(cfg.joint_margin, 0.25 * (high - low))
        self.q_low, self.q_high = low + m, high - m
        base = np.asarray(spec.base_pos)
        self.ws_low = np.asarray(spec.workspace_low) + base - cfg.workspace_margin
        self.ws_high = np.asarray(spec.workspace_high) + base + cfg.workspace_margin
        self.max_step = cfg.max_joint_vel / control_hz
        self.counts = {"joint_limit": 0, "velocity": 0, "workspace": 0}

    def tcp(self, q: np.ndarray) -> np.ndarray:
        """TCP position [m, world frame] at joint positions ``q`` (forward kinematics)."""
        return self.kin.tcp(q)

    def outside(self, q: np.ndarray) -> float:
        """How far [m] the TCP at ``q`` is outside the (grown) workspace box; 0 inside."""
        p = self.tcp(q)
        excess = np.maximum(self.ws_low - p, 0.0) + np.maximum(p - self.ws_high, 0.0)
        return float(np.linalg.norm(excess))

    def check_reading(self, q: np.ndarray) -> None:
        """Raise :class:`HardwareError` if a measured joint is far outside its range."""
        tol = self.cfg.reading_tolerance
        bad = np.flatnonzero((q < self.range_low - tol) | (q > self.range_high + tol))
        if bad.size:
            i = int(bad[0])
            raise HardwareError(
                f"joint {i} reads {q[i]:.3f} rad, outside its range "
                f"[{self.range_low[i]:.3f}, {self.range_high[i]:.3f}] by more than {tol} rad: "
                "the calibration does not match the arm (recalibrate) or a horn slipped"
            )

    def limit(
        self, q_meas: np.ndarray, q_target: np.ndarray, *, workspace: bool = True
    ) -> np.ndarray:
        """The safe joint target float64[n] for ``q_target`` given the measured ``q_meas``.

        ``workspace=False`` skips the workspace check (the joint-space move to the home
        pose at reset, which may start from a rest pose outside the box).
        """
        q = np.clip(q_target, self.q_low, self.q_high)
        if not np.array_equal(q, q_target):
            self.counts["joint_limit"] += 1
        # Scale the whole step (not per joint) so the direction of motion is kept.
        start = np.clip(q_meas, self.q_low, self.q_high)
        delta = q - start
        biggest = float(np.max(np.abs(delta))) if delta.size else 0.0
        if biggest > self.max_step:
            self.counts["velocity"] += 1
            delta *= self.max_step / biggest
        stepped = start + delta
        if not workspace:
            return stepped
        allowed = self.outside(start)
        out = self.outside(stepped)
        if out == 0.0 or out < allowed:
            return stepped
        self.counts["workspace"] += 1
        lo, hi = 0.0, 1.0  # bisection on the fraction of the step that stays allowed
        for _ in range(8):
            mid = 0.5 * (lo + hi)
            if self.outside(start + mid * (stepped - start)) <= allowed:
                lo = mid
            else:
                hi = mid
        return start + lo * (stepped - start)
