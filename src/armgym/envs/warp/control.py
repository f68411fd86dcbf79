"""The arm controllers of :mod:`armgym.robots.controllers`, batched over worlds in torch.

Every fact (joint addresses, limits, home pose, workspace box, gains, step sizes) is read
from the CPU :class:`~armgym.robots.controllers.ArmController` built for the same compiled
model, so the two backends cannot disagree about them. The maths is the CPU controller's:
``ee_delta`` integrates an end-effector goal (clamped to lead the measured pose by at most
``max_goal_lead`` and kept in the workspace box) and solves damped least squares
``Δq = Jᵀ (J Jᵀ + λ² I)⁻¹ e`` with a null-space pull to home for arms with more than six
joints. Tensors are float32 on the env's device; ``N`` = number of worlds.
"""

from __future__ import annotations

import mujoco
import numpy as np
import torch
from torch import Tensor

from armgym.envs.warp.rotations import mat_to_rotvec, rotvec_to_mat
from armgym.errors import ConfigError
from armgym.robots.controllers import ArmController

#: control modes ported to the device (a mode added on the CPU must be ported here too)
SUPPORTED_MODES = ("ee_delta", "ee_pos", "joint_pos", "joint_delta")


def _is_ancestor(model: mujoco.MjModel, ancestor: int, body: int) -> bool:
    while body > 0:
        if body == ancestor:
            return True
        body = int(model.body_parentid[body])
    return ancestor == 0


class BatchedController:
    """Actions [N, action_dim] in [-1, 1] -> actuator targets, for all worlds at once.

    Args:
        model: the compiled scene (the one the CPU env uses).
        cpu: the CPU controller of that model (source of every fact and gain).
        num_worlds: N.
        device: torch device of the Warp arrays.
    """

    def __init__(
        self, model: mujoco.MjModel, cpu: ArmController, num_worlds: int, device: torch.device
    ):
        if cpu.mode not in SUPPORTED_MODES:
            raise ConfigError(
                f"control mode {cpu.mode!r} has no batched version on the warp backend yet; "
                f"use one of {SUPPORTED_MODES}"
            )
        self.mode, self.cfg, self.n = cpu.mode, cpu.cfg, cpu.n
        self.action_dim = cpu.action_dim

        def f32(v: object) -> Tensor:
            return torch.as_tensor(v, dtype=torch.float32, device=device)

        def idx(v: object) -> Tensor:
            return torch.as_tensor(v, dtype=torch.long, device=device)

        self.qadr, self.act_ids = idx(cpu.qadr), idx(cpu.act_ids)
        self.grip_id, self.site_id = int(cpu.grip_id), int(cpu.site_id)
        self.q_low, self.q_high = f32(cpu.q_low), f32(cpu.q_high)
        self.home = f32(cpu.home)
        self.ws_low, self.ws_high = f32(cpu.ws_low), f32(cpu.ws_high)
        self.g_closed, self.g_open = float(cpu.g_closed), float(cpu.g_open)
        jnt = [model.joint(j).id for j in cpu.spec.arm_joints]
        types = model.jnt_type[jnt]
        if not np.isin(types, [mujoco.mjtJoint.mjJNT_HINGE, mujoco.mjtJoint.mjJNT_SLIDE]).all():
            raise ConfigError(
                "the warp backend's ee_delta supports hinge and slide arm joints only"
            )
        site_body = int(model.site_bodyid[self.site_id])
        if not all(_is_ancestor(model, int(model.jnt_bodyid[j]), site_body) for j in jnt):
            raise ConfigError("every arm joint must move the end-effector site (warp backend)")
        self.jnt_ids = idx(jnt)
        self.hinge = torch.as_tensor(types == mujoco.mjtJoint.mjJNT_HINGE, device=device)[:, None]
        self.damp = f32((self.cfg.damping**2) * np.eye(6))
        self.goal_pos = f32(np.zeros((num_worlds, 3)))
        self.goal_rot = f32(np.tile(np.eye(3), (num_worlds, 1, 1)))

    # -- state carried between control steps (the last 12 entries of sim_state) ----------
    def state(self, worlds: Tensor) -> Tensor:
        """float32[len(worlds), 12]: goal position (3) + goal rotation row-major (9)."""
        return torch.cat([self.goal_pos[worlds], self.goal_rot[worlds].reshape(-1, 9)], dim=-1)

    def set_state(self, worlds: Tensor, state: Tensor) -> None:
        self.goal_pos[worlds] = state[:, :3]
        self.goal_rot[worlds] = state[:, 3:12].reshape(-1, 3, 3)

    def jacobian(self, site_pos: Tensor, xaxis: Tensor, xanchor: Tensor) -> Tensor:
        """Site Jacobian [N, 6, n] (rows: translation xyz, rotation xyz; as ``mj_jacSite``)."""
        axis, anchor = xaxis[:, self.jnt_ids], xanchor[:, self.jnt_ids]
        lin = torch.where(
            self.hinge, torch.cross(axis, site_pos[:, None, :] - anchor, dim=-1), axis
        )
        ang = torch.where(self.hinge, axis, torch.zeros_like(axis))
        return torch.cat([lin, ang], dim=-1).transpose(1, 2)

    def apply(self, action: Tensor, data: dict[str, Tensor]) -> None:
        """Write ``data["ctrl"]`` for validated, clipped actions [N, action_dim].

        ``data`` holds zero-copy views of the Warp arrays: ``qpos`` [N, nq], ``ctrl``
        [N, nu], ``site_xpos`` [N, nsite, 3], ``site_xmat`` [N, nsite, 3, 3], ``xaxis`` and
        ``xanchor`` [N, njnt, 3] (world frame, metres).
        """
        ctrl, q = data["ctrl"], data["qpos"][:, self.qadr]
        if self.mode == "ee_delta":
            ctrl[:, self.act_ids] = self._ee_delta(action[:, :6], q, data)
        elif self.mode == "ee_pos":  # ee_delta with the orientation goal held
            still = torch.zeros_like(action[:, :3])
            ctrl[:, self.act_ids] = self._ee_delta(torch.cat([action[:, :3], still], -1), q, data)
        elif self.mode == "joint_pos":
            ctrl[:, self.act_ids] = self.q_low + (action[:, : self.n] + 1.0) * 0.5 * (
                self.q_high - self.q_low
            )
        else:  # joint_delta
            step = self.cfg.joint_step
            target = ctrl[:, self.act_ids] + action[:, : self.n] * step
            target = torch.minimum(torch.maximum(target, q - 2.0 * step), q + 2.0 * step)
            ctrl[:, self.act_ids] = torch.minimum(torch.maximum(target, self.q_low), self.q_high)
        g = (action[:, -1] + 1.0) * 0.5
        ctrl[:, self.grip_id] = self.g_closed + g * (self.g_open - self.g_closed)

    def _ee_delta(self, a: Tensor, q: Tensor, data: dict[str, Tensor]) -> Tensor:
        cfg = self.cfg
        pos = data["site_xpos"][:, self.site_id]
        rot = data["site_xmat"][:, self.site_id]
        goal = self.goal_pos + a[:, :3] * cfg.pos_step
        lead = goal - pos
        dist = torch.linalg.vector_norm(lead, dim=-1, keepdim=True)
        scale = torch.where(
            dist > cfg.max_goal_lead, cfg.max_goal_lead / torch.clamp(dist, min=1e-12), 1.0
        )
        goal = pos + lead * scale
        self.goal_pos = torch.minimum(torch.maximum(goal, self.ws_low), self.ws_high)
        self.goal_rot = rotvec_to_mat(a[:, 3:6] * cfg.rot_step) @ self.goal_rot
        err = torch.cat(
            [self.goal_pos - pos, mat_to_rotvec(self.goal_rot @ rot.transpose(1, 2))], dim=-1
        )
        jac = self.jacobian(pos, data["xaxis"], data["xanchor"])
        jt = jac.transpose(1, 2)
        a_mat = jac @ jt + self.damp
        dq = (jt @ torch.linalg.solve(a_mat, err[..., None]))[..., 0]
        if self.n > 6:  # null-space pull to home: (I - J⁺J) h
            h = cfg.nullspace_gain * (self.home - q)
            dq = dq + h - (jt @ torch.linalg.solve(a_mat, (jac @ h[..., None])))[..., 0]
        return torch.minimum(torch.maximum(q + dq, self.q_low), self.q_high)
