"""``LeaderArm``: a second arm moved by hand (e.g. an SO-101 leader) as a ``TeleopDevice``.

The leader's joints are read through any :class:`~armgym.robots.real.driver.ArmDriver`
(torque off) and turned into an action of the follower's control mode, using the sim
model of the follower's spec:

``joint_pos``  the leader's joint angles mapped onto [-1, 1] over the model's joint
               ranges (the follower mirrors the leader; LeRobot's leader/follower mode).
               The action is float32[n_arm + 1].
``ee_delta``   the leader's tool motion since the previous poll (forward kinematics of
               the model), Δp / ``pos_step`` and Δθ / ``rot_step`` clipped to [-1, 1]:
               float32[7], like every other armgym teleop device.

The last entry is the gripper: leader fraction f ∈ [0, 1] -> 2f - 1 (+1 open).
"""

from __future__ import annotations

import mujoco
import numpy as np

from armgym.registry import check_choice
from armgym.robots.base import RobotSpec
from armgym.robots.controllers import ControllerConfig, _mat_to_rotvec
from armgym.robots.real.driver import ArmDriver
from armgym.robots.sim import SimRobot
from armgym.teleop.base import TeleopCommand


class LeaderArm:
    """Read ``driver`` (the leader) as teleop actions for a follower of ``spec``.

    Args:
        driver: the leader arm's driver (its joints in the follower's convention).
        spec: the follower's robot spec.
        control: ``joint_pos`` or ``ee_delta`` (the follower env's control mode).
        controller: step sizes for ``ee_delta`` (use the env's).
    """

    def __init__(
        self,
        driver: ArmDriver,
        spec: RobotSpec,
        control: str = "joint_pos",
        controller: ControllerConfig | None = None,
    ):
        check_choice("leader-arm control mode", control, ("joint_pos", "ee_delta"))
        self.driver, self.control = driver, control
        self.cfg = controller or ControllerConfig()
        self.kin = SimRobot(spec, None, control=control, controller=self.cfg)
        c = self.kin.controller
        self.q_low, self.q_high = c.q_low, c.q_high
        self.intervention = True
        self._prev: tuple[np.ndarray, np.ndarray] | None = None

    def _fk(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d, c = self.kin.data, self.kin.controller
        d.qpos[c.qadr] = q
        mujoco.mj_kinematics(self.kin.model, d)
        return d.site_xpos[c.site_id].copy(), d.site_xmat[c.site_id].reshape(3, 3).copy()

    def poll(self) -> TeleopCommand:
        reading = self.driver.read()
        grip = 2.0 * float(np.clip(reading.gripper, 0.0, 1.0)) - 1.0
        if self.control == "joint_pos":
            a = 2.0 * (reading.q - self.q_low) / (self.q_high - self.q_low) - 1.0
            action = np.append(np.clip(a, -1.0, 1.0), grip)
        else:
            pos, rot = self._fk(reading.q)
            delta = np.zeros(6)
            if self._prev is not None:
                delta[:3] = (pos - self._prev[0]) / self.cfg.pos_step
                delta[3:] = _mat_to_rotvec(rot @ self._prev[1].T) / self.cfg.rot_step
            self._prev = (pos, rot)
            action = np.append(np.clip(delta, -1.0, 1.0), grip)
        return TeleopCommand(action=action.astype(np.float32), intervention=self.intervention)

    def close(self) -> None:
        self.driver.close()
        self.kin.close()
