"""Batched rotation helpers in torch, matching MuJoCo's ``mju_*`` functions used on the CPU.

Shapes: matrices ``[..., 3, 3]`` (row-major, as MuJoCo's ``xmat``), quaternions ``[..., 4]``
w-x-y-z, rotation vectors ``[..., 3]`` (axis · angle [rad]).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def mat_to_quat(mat: Tensor) -> Tensor:
    """Unit quaternion [..., 4] (w ≥ 0, one hemisphere as the CPU observation) of ``mat``."""
    m = mat.reshape(*mat.shape[:-2], 9)
    m00, m01, m02, m10, m11, m12, m20, m21, m22 = m.unbind(-1)
    q_abs = torch.sqrt(
        torch.clamp(
            torch.stack(
                [
                    1.0 + m00 + m11 + m22,
                    1.0 + m00 - m11 - m22,
                    1.0 - m00 + m11 - m22,
                    1.0 - m00 - m11 + m22,
                ],
                dim=-1,
            ),
            min=0.0,
        )
    )
    candidates = torch.stack(
        [
            torch.stack([q_abs[..., 0] ** 2, m21 - m12, m02 - m20, m10 - m01], dim=-1),
            torch.stack([m21 - m12, q_abs[..., 1] ** 2, m10 + m01, m02 + m20], dim=-1),
            torch.stack([m02 - m20, m10 + m01, q_abs[..., 2] ** 2, m12 + m21], dim=-1),
            torch.stack([m10 - m01, m20 + m02, m21 + m12, q_abs[..., 3] ** 2], dim=-1),
        ],
        dim=-2,
    ) / (2.0 * torch.clamp(q_abs, min=0.1)[..., None])
    best = q_abs.argmax(dim=-1)
    q = torch.gather(candidates, -2, best[..., None, None].expand(*best.shape, 1, 4))[..., 0, :]
    q = q / torch.linalg.vector_norm(q, dim=-1, keepdim=True)
    return torch.where(q[..., :1] < 0, -q, q)


def quat_to_rotvec(q: Tensor) -> Tensor:
    """Rotation vector [..., 3] of quaternion ``q`` (as ``mju_quat2Vel(v, q, 1)``)."""
    axis = q[..., 1:]
    s = torch.linalg.vector_norm(axis, dim=-1, keepdim=True)
    angle = 2.0 * torch.atan2(s, q[..., :1])
    angle = torch.where(angle > math.pi, angle - 2.0 * math.pi, angle)
    scale = torch.where(s > 1e-7, angle / torch.clamp(s, min=1e-12), 2.0 / q[..., :1])
    return axis * scale


def mat_to_rotvec(mat: Tensor) -> Tensor:
    """Rotation vector [..., 3] of rotation matrices [..., 3, 3]."""
    return quat_to_rotvec(mat_to_quat(mat))


def skew(v: Tensor) -> Tensor:
    """Cross-product matrices [..., 3, 3] of vectors [..., 3]."""
    x, y, z = v.unbind(-1)
    o = torch.zeros_like(x)
    return torch.stack([o, -z, y, z, o, -x, -y, x, o], dim=-1).reshape(*v.shape[:-1], 3, 3)


def rotvec_to_mat(v: Tensor) -> Tensor:
    """Rotation matrices [..., 3, 3] of rotation vectors (Rodrigues; zero -> identity)."""
    angle = torch.linalg.vector_norm(v, dim=-1, keepdim=True)
    k = skew(torch.where(angle > 0, v / torch.clamp(angle, min=1e-30), torch.zeros_like(v)))
    s, c = torch.sin(angle)[..., None], torch.cos(angle)[..., None]
    eye = torch.eye(3, dtype=v.dtype, device=v.device).expand_as(k)
    return eye + s * k + (1.0 - c) * (k @ k)
