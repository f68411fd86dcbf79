"""Compose one MuJoCo scene: arena (floor, light, front camera) + robot MJCF + task objects.

Composition uses ``mujoco.MjSpec`` so robot files stay standalone MJCF and tasks add their
objects in code. Renderer settings are chosen for CPU rendering speed: no shadows, no
multisampling (see benchmarks/env_throughput.py for the figures).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mujoco
import numpy as np

from armgym.robots.base import RobotSpec
from armgym.robots.specs import mjcf_path

if TYPE_CHECKING:
    from armgym.tasks.base import Task


def _look_at_xyaxes(eye: np.ndarray, target: np.ndarray) -> list[float]:
    """Camera ``xyaxes`` for a camera at ``eye`` looking at ``target`` (z up in world)."""
    forward = target - eye
    forward /= np.linalg.norm(forward)
    x = np.cross(forward, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    y = np.cross(x, forward)
    return [*x.tolist(), *y.tolist()]


def build_scene(
    robot: RobotSpec, task: Task | None = None, *, image_size: tuple[int, int] = (128, 128)
) -> mujoco.MjModel:
    """Compile the scene for ``robot`` (+ ``task`` objects).

    Args:
        robot: robot facts; its MJCF must contain the joints/actuators/site it names.
        task: adds its objects through ``task.build(spec)``; ``None`` for the bare arm.
        image_size: (height, width) of offscreen renders; sets the offscreen buffer.
    """
    spec = mujoco.MjSpec.from_file(str(mjcf_path(robot)))
    base = spec.worldbody.first_body()
    if base is not None:
        base.pos = list(robot.base_pos)
    spec.visual.quality.shadowsize = 0
    spec.visual.quality.offsamples = 0
    spec.visual.global_.offheight = max(int(image_size[0]), 64)
    spec.visual.global_.offwidth = max(int(image_size[1]), 64)
    spec.visual.headlight.ambient = [0.4, 0.4, 0.4]
    spec.visual.headlight.diffuse = [0.6, 0.6, 0.6]
    spec.worldbody.add_geom(
        name="floor",
        type=mujoco.mjtGeom.mjGEOM_PLANE,
        size=[2.0, 2.0, 0.05],
        rgba=[0.55, 0.5, 0.45, 1.0],
        contype=1,
        conaffinity=3,
        condim=3,
        friction=[1.0, 0.005, 0.0001],
    )
    spec.worldbody.add_light(pos=[0.5, 0.0, 2.0], dir=[0.0, 0.0, -1.0], castshadow=False)
    center = np.array([*robot.extra.get("object_center", (0.5, 0.0)), 0.0])
    span = float(robot.extra.get("object_halfspan", 0.15))
    eye = center + np.array([2.6 * span + 0.5, 0.0, 2.0 * span + 0.35])
    spec.worldbody.add_camera(
        name="front", pos=eye.tolist(), xyaxes=_look_at_xyaxes(eye, center + [0, 0, 0.05]), fovy=50
    )
    if task is not None:
        task.build(spec)
    return spec.compile()
