"""Object state and task scoring for all worlds at once, from the observation layout.

``ObjectStateReader`` learns where a task's ``object_state`` comes from by asking the task
itself: it fills a scratch ``MjData`` with distinct marker values, calls
``task.object_state`` and maps each entry back to a ``qpos`` / ``mocap_pos`` address or a
constant. A task whose features are not such a gather (PegInsert derives a yaw) is read
per world on the CPU instead: correct, but slow.

``score`` evaluates reward and success from the env observation (``observation.state``
split with :func:`armgym.contracts.observation.split_state`, plus ``object_state``) with a
torch port of the task's ``evaluate`` for PickCube, Reach and Push; thresholds are read
from the task object. Other tasks fall back to ``task.evaluate`` per world on the CPU.
``tests/test_warp_scoring.py`` checks each port against ``task.evaluate``, so a change of
a task's reward shows up there.
"""

from __future__ import annotations

from collections.abc import Callable

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
        probes = [self._probe(_QPOS, _MOCAP), self._probe(2 * _QPOS, 2 * _MOCAP)]
        self.gather = probes[0] is not None and probes[0] == probes[1]
        self._scratch = mujoco.MjData(model)
        if self.gather and probes[0] is not None:
            sources, consts = probes[0]
            self._src = torch.as_tensor(sources, dtype=torch.long, device=device)
            self._const = torch.as_tensor(consts, dtype=torch.float32, device=device)

    def _probe(self, q0: float, m0: float) -> tuple[list[int], list[float]] | None:
        """Per entry: a source index (qpos i -> i, mocap_pos j -> nq + j, constant -> -1)."""
        m = self.model
        d = mujoco.MjData(m)
        d.qpos[:] = q0 + np.arange(m.nq)
        d.mocap_pos[:] = (m0 + np.arange(3 * m.nmocap)).reshape(-1, 3)
        angle = 0.3 if q0 == _QPOS else 0.7  # differs per probe: catches derived features
        d.mocap_quat[:] = [np.cos(angle), 0.0, 0.0, np.sin(angle)]
        out = np.asarray(self.task.object_state(d), dtype=np.float64)
        sources, consts = [], []
        for v in out:
            if q0 <= v < q0 + m.nq and v == round(v):
                sources.append(int(v - q0))
            elif m0 <= v < m0 + 3 * m.nmocap and v == round(v):
                sources.append(m.nq + int(v - m0))
            elif abs(v) < 100.0:  # a constant, e.g. a target's z pinned to the floor
                sources.append(-1)
            else:
                return None
            consts.append(0.0 if sources[-1] >= 0 else float(v))
        return sources, consts

    def __call__(self, qpos: Tensor, mocap_pos: Tensor, mocap_quat: Tensor) -> Tensor:
        if self.gather:
            flat = torch.cat([qpos, mocap_pos.reshape(qpos.shape[0], -1)], dim=-1)
            vals = flat[:, torch.clamp(self._src, min=0)]
            return torch.where(self._src >= 0, vals, self._const)
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
    half_a, released = float(task.half_a), float(task.released)  # type: ignore[attr-defined]
    s, opening = f["object_state"], f["gripper"][:, 0]
    a = s[:, :3]
    goal = s[:, 7:10] + s.new_tensor([0.0, 0.0, float(task.half_b) + half_a])  # type: ignore[attr-defined]
    d_reach = _norm(f["ee_pos"] - a)
    reach = _closeness(d_reach, task.scale)
    grasp = ((d_reach < 1.5 * half_a) & (opening < released)).float()
    place = _closeness(_norm(a - goal), task.scale)
    success = (
        (_norm(a[:, :2] - goal[:, :2]) < float(task.xy_tolerance))  # type: ignore[attr-defined]
        & ((a[:, 2] - goal[:, 2]).abs() < 0.008)
        & (opening > released)
    )
    return _shaped(0.25 * reach + 0.15 * grasp + 0.6 * place, success), success


def quat_z_axis(quat: Tensor) -> Tensor:
    """World direction [..., 3] of a body's local z axis for w-x-y-z quaternions [..., 4]."""
    w, x, y, z = quat.unbind(-1)
    return torch.stack([2 * (x * z + w * y), 2 * (y * z - w * x), 1 - 2 * (x * x + y * y)], -1)


def _peg_insert(task: Task, f: Fields) -> tuple[Tensor, Tensor]:
    t = task
    s, opening = f["object_state"].double(), f["gripper"][:, 0]
    centre, axis, hole = s[:, :3], quat_z_axis(s[:, 3:7]), s[:, 7:10]
    half_len = float(t.peg_half_len)  # type: ignore[attr-defined]
    bottom = centre - half_len * axis
    grasp_pt = centre + (half_len - float(t.grasp_below_top)) * axis  # type: ignore[attr-defined]
    d_reach = _norm(f["ee_pos"].double() - grasp_pt)
    reach = _closeness(d_reach, t.scale)
    grasp = ((d_reach < 0.02 * t.scale) & (opening < float(t.released))).double()  # type: ignore[attr-defined]
    d_xy = _norm(bottom[:, :2] - hole[:, :2])
    align = _closeness(d_xy, t.scale)
    depth, full = hole[:, 2] - bottom[:, 2], float(t.depth)  # type: ignore[attr-defined]
    inside = d_xy < float(t.hole_half)  # type: ignore[attr-defined]
    insert = torch.where(inside, torch.clamp(depth / full, 0.0, 1.0), torch.zeros_like(depth))
    success = inside & (depth >= full)
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
