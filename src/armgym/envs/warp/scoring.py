"""Object state and task scoring for all worlds at once, from the observation layout.

``ObjectStateReader`` learns where a task's ``object_state`` comes from by asking the task
itself: it fills a scratch ``MjData`` with distinct marker values, calls
``task.object_state`` and maps each entry back to a ``qpos`` / ``mocap_pos`` address, the
heading of a mocap body (PegInsert's hole yaw) or a constant. A task whose features are
not such a gather is read per world on the CPU instead: correct, but slow.

``score`` evaluates reward and success from the env observation (``observation.state``
split with :func:`armgym.contracts.observation.split_state`, plus ``object_state``) with a
torch port of the task's ``evaluate`` for every task (PickCube, Reach, Push, Stack,
PegInsert); thresholds are read from the task object. A task without a port (one added
later) falls back to ``task.evaluate`` per world on the CPU.
``tests/test_warp_scoring.py`` checks each port against ``task.evaluate``, so a change of
a task's reward shows up there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mujoco
import numpy as np
import torch
from torch import Tensor

from armgym.contracts.observation import split_state
from armgym.tasks.base import FAR, NEAR, Task

_QPOS, _MOCAP = 1000.0, 3000.0


class ObjectStateReader:
    """``object_state`` [N, K] float32 from the Warp arrays ``qpos`` and ``mocap_pos``."""

    def __init__(self, model: mujoco.MjModel, task: Task, device: torch.device):
        self.model, self.task, self.device = model, task, device
        self.size = int(task.object_state_size)
        zero = mujoco.MjData(model)  # every source 0: what is left are the constants
        zero.qpos[:], zero.mocap_pos[:], zero.mocap_quat[:] = 0.0, 0.0, [1.0, 0.0, 0.0, 0.0]
        offsets = np.asarray(task.object_state(zero), dtype=np.float64)
        probes = [self._probe(_QPOS, _MOCAP, offsets), self._probe(2 * _QPOS, 2 * _MOCAP, offsets)]
        self.gather = probes[0] is not None and probes[0] == probes[1]
        self._scratch = mujoco.MjData(model)
        if self.gather and probes[0] is not None:
            sources, consts = probes[0]
            self._src = torch.as_tensor(sources, dtype=torch.long, device=device)
            self._const = torch.as_tensor(consts, dtype=torch.float32, device=device)

    def _probe(
        self, q0: float, m0: float, offsets: np.ndarray
    ) -> tuple[list[int], list[float]] | None:
        """Per entry: a source index into ``[qpos, mocap_pos (flat), mocap headings]`` (qpos
        i -> i, mocap_pos j -> nq + j, the heading of mocap k -> nq + 3 nmocap + k) or -1,
        and the constant added to it (``offsets``: the entry with every source at 0, e.g.
        a hole's height above its mocap body)."""
        m = self.model
        d = mujoco.MjData(m)
        d.qpos[:] = q0 + np.arange(m.nq)
        d.mocap_pos[:] = (m0 + np.arange(3 * m.nmocap)).reshape(-1, 3)
        base = 0.3 if q0 == _QPOS else 0.7  # differs per probe: catches derived features
        halves = base + 0.05 * np.arange(m.nmocap)  # and per mocap body: says which
        zeros = np.zeros_like(halves)
        d.mocap_quat[:] = np.stack([np.cos(halves), zeros, zeros, np.sin(halves)], axis=-1)
        out = np.asarray(self.task.object_state(d), dtype=np.float64)
        yaws = 2.0 * halves  # heading of [cos h, 0, 0, sin h]
        sources, consts = [], []
        for v, c in zip(out, offsets, strict=True):
            u = v - c  # float32 features: a source of ~1e3 is known to ~1e-4
            k = np.flatnonzero(np.abs(yaws - u) < 1e-5)
            if q0 <= u < q0 + m.nq and abs(u - round(u)) < 1e-2:
                sources.append(round(u - q0))
            elif m0 <= u < m0 + 3 * m.nmocap and abs(u - round(u)) < 1e-2:
                sources.append(m.nq + round(u - m0))
            elif k.size == 1:
                sources.append(m.nq + 3 * m.nmocap + int(k[0]))
            elif abs(v) < 100.0 and v == c:  # a constant, e.g. a target's z on the floor
                sources.append(-1)
            else:
                return None
            consts.append(float(c))
        return sources, consts

    def __call__(self, qpos: Tensor, mocap_pos: Tensor, mocap_quat: Tensor) -> Tensor:
        if self.gather:
            w, x, y, z = mocap_quat.reshape(qpos.shape[0], -1, 4).unbind(-1)
            yaws = torch.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
            flat = torch.cat([qpos, mocap_pos.reshape(qpos.shape[0], -1), yaws], dim=-1)
            vals = flat[:, torch.clamp(self._src, min=0)]
            return torch.where(self._src >= 0, vals + self._const, self._const)
        d, rows = self._scratch, []
        arrays = [t.detach().cpu().numpy() for t in (qpos, mocap_pos, mocap_quat)]
        for q, mp, mq in zip(*arrays, strict=True):
            d.qpos[:], d.mocap_pos[:], d.mocap_quat[:] = q, mp, mq
            rows.append(self.task.object_state(d))
        return torch.as_tensor(np.stack(rows), dtype=torch.float32, device=qpos.device)


Fields = dict[str, Tensor]
Scorer = Callable[[Task, Fields], tuple[Tensor, Tensor]]


def _norm(v: Tensor) -> Tensor:
    return torch.linalg.vector_norm(v, dim=-1)


def _closeness(dist: Tensor, scale: float) -> Tensor:
    """Torch port of :func:`armgym.tasks.base.closeness` (same ``FAR`` / ``NEAR``)."""
    d = dist / scale
    return 0.5 * (1.0 - torch.clamp(d / FAR, max=1.0)) + 0.5 * (1.0 - torch.tanh(d / NEAR))


def _shaped(progress: Tensor, success: Tensor) -> Tensor:
    """Torch port of :func:`armgym.tasks.base.shaped`: ``progress − 1``, 0 at success."""
    return torch.where(success, torch.zeros_like(progress), progress.clamp(0.0, 1.0) - 1.0)


def _pick_cube(task: Task, f: Fields) -> tuple[Tensor, Tensor]:
    half, lift_h = float(task.half), float(task.lift_height)  # type: ignore[attr-defined]
    cube = f["object_state"][:, :3]
    dist = _norm(f["ee_pos"] - cube)
    reach = _closeness(dist, task.scale)
    grasp = ((dist < 1.5 * half) & (f["gripper"][:, 0] < 0.9)).float()
    lift = torch.clamp((cube[:, 2] - half) / lift_h, 0.0, 1.0)
    success = cube[:, 2] - half >= lift_h
    return _shaped(0.3 * reach + 0.2 * grasp + 0.5 * lift, success), success


def _reach(task: Task, f: Fields) -> tuple[Tensor, Tensor]:
    dist = _norm(f["ee_pos"] - f["object_state"][:, :3])
    success = dist < float(task.tolerance)  # type: ignore[attr-defined]
    return _shaped(_closeness(dist, task.scale), success), success


def _push(task: Task, f: Fields) -> tuple[Tensor, Tensor]:
    half, tol = float(task.half), float(task.tolerance)  # type: ignore[attr-defined]
    s = f["object_state"]
    cube, target = s[:, :3], s[:, 7:10]
    reach = _closeness(_norm(f["ee_pos"] - cube), task.scale)
    dist = _norm(cube[:, :2] - target[:, :2])
    place = _closeness(dist, task.scale)
    success = (dist < tol) & (cube[:, 2] < 1.5 * half)
    return _shaped(0.3 * reach + 0.7 * place, success), success


def _stack(task: Task, f: Fields) -> tuple[Tensor, Tensor]:
    ha, hb = float(task.half_a), float(task.half_b)  # type: ignore[attr-defined]
    released, tol = float(task.released), float(task.xy_tolerance)  # type: ignore[attr-defined]
    s, grip = f["object_state"], f["gripper"][:, 0]
    a = s[:, :3]
    goal = s[:, 7:10] + torch.tensor([0.0, 0.0, hb + ha], dtype=s.dtype, device=s.device)
    d_reach = _norm(f["ee_pos"] - a)
    reach = _closeness(d_reach, task.scale)
    grasp = ((d_reach < 1.5 * ha) & (grip < released)).float()
    place = _closeness(_norm(a - goal), task.scale)
    success = ((_norm(a[:, :2] - goal[:, :2]) < tol) & ((a[:, 2] - goal[:, 2]).abs() < 0.008)) & (
        grip > released
    )
    return _shaped(0.25 * reach + 0.15 * grasp + 0.6 * place, success), success


def _quat_z_axis(q: Tensor) -> Tensor:
    """World direction [N, 3] of a body's local z axis, unit w-x-y-z quaternions [N, 4]
    (the third column of :func:`mujoco.mju_quat2Mat`)."""
    w, x, y, z = q.unbind(-1)
    return torch.stack([2 * (x * z + w * y), 2 * (y * z - w * x), 1 - 2 * (x * x + y * y)], -1)


def _peg_insert(task: Task, f: Fields) -> tuple[Tensor, Tensor]:
    t: Any = task
    s = f["object_state"].double()
    axis = _quat_z_axis(s[:, 3:7])
    bottom = s[:, :3] - t.peg_half_len * axis
    grasp_pt = s[:, :3] + (t.peg_half_len - t.grasp_below_top) * axis
    hole = s[:, 7:10]
    d_reach = _norm(f["ee_pos"].double() - grasp_pt)
    reach = _closeness(d_reach, task.scale)
    grasp = ((d_reach < 0.02 * task.scale) & (f["gripper"][:, 0] < t.released)).double()
    d_xy = _norm(bottom[:, :2] - hole[:, :2])
    align = _closeness(d_xy, task.scale)
    depth = hole[:, 2] - bottom[:, 2]
    inside = d_xy < t.hole_half
    insert = torch.where(inside, torch.clamp(depth / t.depth, 0.0, 1.0), torch.zeros_like(depth))
    success = inside & (depth >= t.depth)
    return _shaped(0.2 * reach + 0.1 * grasp + 0.3 * align + 0.4 * insert, success), success


#: torch ports of ``Task.evaluate``, by task name
BATCHED_SCORERS: dict[str, Scorer] = {
    "PickCube": _pick_cube,
    "Reach": _reach,
    "Push": _push,
    "Stack": _stack,
    "PegInsert": _peg_insert,
}


def observation_fields(state: Tensor, object_state: Tensor, n_arm: int) -> Fields:
    """The robot observation dict (as tasks read it) from env observation tensors."""
    fields: Fields = split_state(state, n_arm)  # type: ignore[arg-type, assignment]
    return {**fields, "object_state": object_state}


def score(task: Task, fields: Fields) -> tuple[Tensor, Tensor]:
    """Dense reward float32[N] and success bool[N] for every world."""
    scorer = BATCHED_SCORERS.get(task.name)
    if scorer is not None:
        reward, success = scorer(task, fields)
        return reward.float(), success
    cpu = {k: v.detach().cpu().numpy() for k, v in fields.items()}
    results = [task.evaluate({k: v[i] for k, v in cpu.items()}) for i in range(len(cpu["ee_pos"]))]
    device = fields["ee_pos"].device
    return (
        torch.tensor([r.reward for r in results], dtype=torch.float32, device=device),
        torch.tensor([r.success for r in results], dtype=torch.bool, device=device),
    )
