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
    from armgym.contracts.scene import SceneTask as Task


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
    spec.visual.headlight.diffuse = [0.45, 0.45, 0.45]
    spec.add_material(name="floor_matte", specular=0.0, shininess=0.0, rgba=[0.55, 0.5, 0.45, 1.0])
    spec.worldbody.add_geom(
        name="floor",
        material="floor_matte",
        type=mujoco.mjtGeom.mjGEOM_PLANE,
        size=[2.0, 2.0, 0.05],
        rgba=[0.55, 0.5, 0.45, 1.0],
        contype=1,
        conaffinity=3,
        condim=3,
        friction=[1.0, 0.005, 0.0001],
    )
    spec.worldbody.add_light(
        pos=[0.5, 0.0, 2.0], dir=[0.3, 0.2, -1.0], castshadow=False, diffuse=[0.5, 0.5, 0.5]
    )
    spec.worldbody.lights[-1].type = mujoco.mjtLightType.mjLIGHT_DIRECTIONAL
    # Front camera: a three-quarter view of arm and object area, scaled by the arm's reach.
    center = np.array([*robot.object_center, 0.0]) + robot.base_pos
    target = np.array([0.7 * center[0], center[1], 0.35 * robot.max_reach])
    direction = np.array([1.0, 0.55, 0.75]) / np.linalg.norm([1.0, 0.55, 0.75])
    eye = target + 2.0 * robot.max_reach * direction
    spec.worldbody.add_camera(
        name="front", pos=eye.tolist(), xyaxes=_look_at_xyaxes(eye, target), fovy=45
    )
    if task is not None:
        task.build(spec)
    return spec.compile()
