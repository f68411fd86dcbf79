"""Controllers: map a normalised action in [-1, 1] to actuator targets, once per control step.

All controllers drive the arm's MuJoCo *position* actuators, so the physics engine does
the servoing in C for every physics step; Python runs once per control step. The gripper
is the last action entry for every mode: an absolute command in [-1, 1], -1 = fully
closed, +1 = fully open, mapped linearly onto the gripper actuator's range.

Modes (``CONTROL_MODES``):

``joint_pos``   arm joint targets, a ∈ [-1, 1]^n mapped linearly onto each joint's range.
``joint_delta`` arm joint increments, Δq = a · ``joint_step`` [rad] from the current target.
``ee_delta``    (Δx, Δy, Δz, Δroll, Δpitch, Δyaw, gripper): end-effector increments in the
                robot base frame, Δp = a[:3] · ``pos_step`` [m], Δθ = a[3:6] · ``rot_step``
                [rad] (extrinsic x-y-z rotation of the tool), solved by damped least-squares
                differential IK with a null-space pull to the home pose; the target stays in
                the spec's workspace box and the joint targets within joint limits.
``ee_pos``      (Δx, Δy, Δz, gripper): ``ee_delta`` with the orientation goal held where the
                episode started (levelled for arms with fewer than 6 joints), so a learner
                explores 4 dimensions, as the RL envs of gym-hil, SERL, Fetch and panda-gym do.
                Same step size, workspace box and IK; works for 7-, 6- and 5-DoF arms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mujoco
import numpy as np

from armgym.robots.base import RobotSpec

#: Gripper commands (last action entry of every control mode).
GRIPPER_OPEN, GRIPPER_CLOSED = 1.0, -1.0

CONTROL_MODES = ("ee_delta", "ee_pos", "joint_pos", "joint_delta")
#: action length of the end-effector modes (the joint modes use n_arm + 1)
EE_ACTION_DIM = {"ee_delta": 7, "ee_pos": 4}


@dataclass(frozen=True)
class ControllerConfig:
    """Gains and step sizes of the controllers.

    Attributes:
        pos_step: metres per control step at |a| = 1 (ee_delta).
        rot_step: radians per control step at |a| = 1 (ee_delta).
        joint_step: radians per control step at |a| = 1 (joint_delta).
        damping: damped least-squares λ (ee_delta).
        nullspace_gain: pull towards the home pose in the Jacobian null space.
        max_goal_lead: how far [m] the integrated goal may run ahead of the measured EE.
        level_underactuated: for arms with fewer than 6 joints, start each episode with
            the orientation goal levelled (tool axis straight down, the current heading
            kept). Such an arm cannot hold an arbitrary world orientation while it moves
            (a tilted tool axis turns with the base), so a tilted start pose (joint noise
            at ``high``) would otherwise stay an unreachable goal all episode.
    """

    pos_step: float = 0.02
    rot_step: float = 0.1
    joint_step: float = 0.1
    damping: float = 0.05
    nullspace_gain: float = 0.2
    max_goal_lead: float = 0.05
    level_underactuated: bool = True


def _quat_to_mat(q: np.ndarray) -> np.ndarray:
    m = np.empty(9)
    mujoco.mju_quat2Mat(m, q)
    return m.reshape(3, 3)


def _rotvec_to_mat(v: np.ndarray) -> np.ndarray:
    angle = float(np.linalg.norm(v))
    q = np.array([1.0, 0.0, 0.0, 0.0])
    if angle > 1e-12:
        mujoco.mju_axisAngle2Quat(q, v / angle, angle)
    return _quat_to_mat(q)


def _mat_to_rotvec(r: np.ndarray) -> np.ndarray:
    q = np.empty(4)
    mujoco.mju_mat2Quat(q, r.reshape(-1))
    v = np.empty(3)
    mujoco.mju_quat2Vel(v, q, 1.0)
    return v


def _level(rot: np.ndarray) -> np.ndarray:
    """The rotation with tool axis (z) straight down and the heading of ``rot``'s x axis."""
    z = np.array([0.0, 0.0, -1.0])
    x = rot[:, 0] - rot[2, 0] * np.array([0.0, 0.0, 1.0])
    norm = float(np.linalg.norm(x))
    if norm < 1e-6:  # x axis vertical: no heading to keep
        return rot
    x /= norm
    return np.column_stack([x, np.cross(z, x), z])


class ArmController:
    """Turns actions into ``data.ctrl`` for one robot in one compiled model.

    Ids and addresses are looked up once here; ``apply`` allocates only small arrays.
    """

    def __init__(self, model: mujoco.MjModel, spec: RobotSpec, mode: str, cfg: ControllerConfig):
        self.model, self.spec, self.mode, self.cfg = model, spec, mode, cfg
        n = spec.n_arm
        self.n = n
        self.qadr = np.array([model.joint(j).qposadr[0] for j in spec.arm_joints])
        self.dofadr = np.array([model.joint(j).dofadr[0] for j in spec.arm_joints])
        self.act_ids = np.array([model.actuator(a).id for a in spec.arm_actuators])
        self.grip_id = model.actuator(spec.gripper_actuator).id
        self.site_id = model.site(spec.ee_site).id
        self.q_low = np.array([model.joint(j).range[0] for j in spec.arm_joints])
        self.q_high = np.array([model.joint(j).range[1] for j in spec.arm_joints])
        self.home = np.asarray(spec.home_qpos, dtype=np.float64)
        self.ws_low = np.asarray(spec.workspace_low) + np.asarray(spec.base_pos)
        self.ws_high = np.asarray(spec.workspace_high) + np.asarray(spec.base_pos)
        self.g_closed, self.g_open = spec.gripper_range
        self.action_dim = EE_ACTION_DIM.get(mode, n + 1)
        # Jacobian rows 0-2 translational, 3-5 rotational; columns = the arm's dofs.
        self._jac = np.zeros((6, model.nv))
        d0 = int(self.dofadr[0])
        contiguous = np.array_equal(self.dofadr, np.arange(d0, d0 + n))
        self._arm_cols: slice | np.ndarray = slice(d0, d0 + n) if contiguous else self.dofadr
        self._damp = (cfg.damping**2) * np.eye(6)
        # Integrated end-effector goal (ee_delta) so zero actions do not drift.
        self.goal_pos = np.zeros(3)
        self.goal_rot = np.eye(3)

    # -- state carried between control steps (part of sim_state) --------------------
    def state(self) -> np.ndarray:
        return np.concatenate([self.goal_pos, self.goal_rot.reshape(-1)])

    def set_state(self, state: np.ndarray) -> None:
        self.goal_pos = np.array(state[:3], dtype=np.float64)
        self.goal_rot = np.array(state[3:12], dtype=np.float64).reshape(3, 3)

    STATE_SIZE = 12

    def reset(self, data: mujoco.MjData) -> None:
        """Hold the current pose: actuator targets = current joints, goal = current EE."""
        data.ctrl[self.act_ids] = data.qpos[self.qadr]
        self.goal_pos = data.site_xpos[self.site_id].copy()
        self.goal_rot = data.site_xmat[self.site_id].reshape(3, 3).copy()

    def start_episode(self, data: mujoco.MjData) -> None:
        """``reset`` at an episode start (levels the goal of an under-actuated arm)."""
        self.reset(data)
        if self.n < 6 and self.cfg.level_underactuated:
            self.goal_rot = _level(self.goal_rot)

    def hold(self, data: mujoco.MjData) -> None:
        """Freeze the arm where it is (used by watchdogs); gripper target unchanged."""
        self.reset(data)

    def apply(self, data: mujoco.MjData, action: np.ndarray) -> None:
        """Write actuator targets for ``action`` (already validated and clipped to [-1, 1])."""
        a = action.astype(np.float64, copy=False)
        if self.mode == "ee_delta":
            self._apply_ee_delta(data, a[:6])
        elif self.mode == "ee_pos":
            self._apply_ee_delta(data, np.concatenate([a[:3], np.zeros(3)]))
        elif self.mode == "joint_pos":
            target = self.q_low + (a[: self.n] + 1.0) * 0.5 * (self.q_high - self.q_low)
            data.ctrl[self.act_ids] = target
        else:  # joint_delta
            target = data.ctrl[self.act_ids] + a[: self.n] * self.cfg.joint_step
            q = data.qpos[self.qadr]
            lead = 2.0 * self.cfg.joint_step
            data.ctrl[self.act_ids] = np.clip(
                np.clip(target, q - lead, q + lead), self.q_low, self.q_high
            )
        g = (a[-1] + 1.0) * 0.5
        data.ctrl[self.grip_id] = self.g_closed + g * (self.g_open - self.g_closed)

    def _apply_ee_delta(self, data: mujoco.MjData, a: np.ndarray) -> None:
        cfg = self.cfg
        pos = data.site_xpos[self.site_id]
        rot = data.site_xmat[self.site_id].reshape(3, 3)
        # Integrate the goal, but never let it lead the measured pose by too much.
        goal = self.goal_pos + a[:3] * cfg.pos_step
        lead = goal - pos
        dist = math.sqrt(float(lead @ lead))
        if dist > cfg.max_goal_lead:
            goal = pos + lead * (cfg.max_goal_lead / dist)
        self.goal_pos = np.minimum(np.maximum(goal, self.ws_low), self.ws_high)
        if a[3] or a[4] or a[5]:
            self.goal_rot = _rotvec_to_mat(a[3:6] * cfg.rot_step) @ self.goal_rot
        err = np.concatenate([self.goal_pos - pos, _mat_to_rotvec(self.goal_rot @ rot.T)])
        mujoco.mj_jacSite(self.model, data, self._jac[:3], self._jac[3:], self.site_id)
        jac = self._jac[:, self._arm_cols]
        # damped pseudo-inverse J⁺ = Jᵀ (J Jᵀ + λ² I)⁻¹, factored once per step
        pinv = jac.T @ np.linalg.inv(jac @ jac.T + self._damp)
        dq = pinv @ err
        q = data.qpos[self.qadr]
        if self.n > 6:  # null-space pull to home: (I - J⁺J) h
            h = cfg.nullspace_gain * (self.home - q)
            dq += h - pinv @ (jac @ h)
        data.ctrl[self.act_ids] = np.minimum(np.maximum(q + dq, self.q_low), self.q_high)
