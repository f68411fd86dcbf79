"""``ArmKinematics``: forward kinematics and IK of an arm from its sim model.

Used where a real arm needs the sim's geometry: the safety layer's workspace check, the
SERL HTTP driver (joint targets -> Cartesian pose), stand-in servers and
``armgym robot-check``. World frame = the model's (robot base at ``spec.base_pos``).
"""

from __future__ import annotations

import mujoco
import numpy as np

from armgym.robots.base import RobotSpec
from armgym.robots.controllers import _mat_to_rotvec


class ArmKinematics:
    """FK / IK of ``spec``'s arm in ``model`` (its own ``MjData``; ``model`` is not changed)."""

    def __init__(self, model: mujoco.MjModel, spec: RobotSpec):
        self.model, self.spec = model, spec
        self.data = mujoco.MjData(model)
        self.qadr = np.array([model.joint(j).qposadr[0] for j in spec.arm_joints])
        self.dofadr = np.array([model.joint(j).dofadr[0] for j in spec.arm_joints])
        self.site_id = model.site(spec.ee_site).id
        self.q_low = np.array([model.joint(j).range[0] for j in spec.arm_joints])
        self.q_high = np.array([model.joint(j).range[1] for j in spec.arm_joints])
        self._jac = np.zeros((6, model.nv))

    def _set(self, q: np.ndarray) -> None:
        self.data.qpos[self.qadr] = q
        mujoco.mj_kinematics(self.model, self.data)

    def tcp(self, q: np.ndarray) -> np.ndarray:
        """TCP position float64[3] [m] at joint positions ``q`` [rad]."""
        self._set(q)
        return self.data.site_xpos[self.site_id].copy()

    def fk(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(TCP position float64[3] [m], orientation quaternion float64[4] w-x-y-z)."""
        self._set(q)
        quat = np.empty(4)
        mujoco.mju_mat2Quat(quat, self.data.site_xmat[self.site_id])
        return self.data.site_xpos[self.site_id].copy(), quat * (1.0 if quat[0] >= 0 else -1.0)

    def ik(self, pos: np.ndarray, quat: np.ndarray, q0: np.ndarray, iters: int = 50) -> np.ndarray:
        """Joint positions [rad] reaching (pos, quat w-x-y-z) from ``q0`` (damped LS)."""
        target = np.empty(9)
        mujoco.mju_quat2Mat(target, np.asarray(quat, dtype=np.float64))
        rot_goal = target.reshape(3, 3)
        q = np.array(q0, dtype=np.float64)
        cols = self.dofadr
        for _ in range(iters):
            self._set(q)
            mujoco.mj_comPos(self.model, self.data)
            rot = self.data.site_xmat[self.site_id].reshape(3, 3)
            err = np.concatenate(
                [pos - self.data.site_xpos[self.site_id], _mat_to_rotvec(rot_goal @ rot.T)]
            )
            if np.linalg.norm(err) < 1e-6:
                break
            mujoco.mj_jacSite(self.model, self.data, self._jac[:3], self._jac[3:], self.site_id)
            jac = self._jac[:, cols]
            dq = jac.T @ np.linalg.solve(jac @ jac.T + 1e-4 * np.eye(6), err)
            q = np.clip(q + dq, self.q_low, self.q_high)
        return q
