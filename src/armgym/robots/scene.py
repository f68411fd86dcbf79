"""Compose one MuJoCo scene: arena (table, backdrop, lights, front camera) + arm + task objects.

Composition uses ``mujoco.MjSpec`` so robot files stay standalone MJCF (built-in, from an
installed package, or the user's) and tasks add their objects in code. The arm is
prepared from its spec by :func:`load_arm` (TCP site, armgym actuation). Renderer
settings are chosen for CPU rendering speed: no shadows, no multisampling (see
benchmarks/env_throughput.py for the figures).

Frames: world z up; the robot base at ``spec.base_pos``; the table top is the plane
z = 0 on which tasks place objects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mujoco
import numpy as np

from armgym.robots.base import RobotSpec
from armgym.robots.specs import mjcf_path

if TYPE_CHECKING:
    from armgym.contracts.scene import SceneTask as Task

FRONT_FOVY = 45.0  # [deg]
#: fraction of the object half-span the front camera frames: every position at ``med``
#: (0.6) with a margin; at ``high`` an object near a corner can sit at the image edge
FRAMED_SPAN = 0.7
#: direction from the framed area towards the front camera (front, a little to the side, above)
FRONT_DIRECTION = np.array([0.75, 0.3, 1.0]) / np.linalg.norm([0.75, 0.3, 1.0])


def _look_at_xyaxes(eye: np.ndarray, target: np.ndarray) -> list[float]:
    """Camera ``xyaxes`` for a camera at ``eye`` looking at ``target`` (z up in world)."""
    forward = target - eye
    forward /= np.linalg.norm(forward)
    x = np.cross(forward, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    y = np.cross(x, forward)
    return [*x.tolist(), *y.tolist()]


def _arm_bodies(spec: mujoco.MjSpec, robot: RobotSpec) -> list[mujoco.MjsBody]:
    """Bodies moved by the arm joints (the subtree below the first arm joint's body)."""
    first = spec.joint(robot.arm_joints[0])
    if first is None:
        return []
    root = first.parent
    return [root, *root.find_all(mujoco.mjtObj.mjOBJ_BODY)]


def _armgym_actuation(spec: mujoco.MjSpec, robot: RobotSpec) -> None:
    """Replace the model's actuators by armgym's position actuators + gravity compensation."""
    for act in list(spec.actuators):
        spec.delete(act)
    n = robot.n_arm
    kps = robot.arm_kp if isinstance(robot.arm_kp, tuple) else (robot.arm_kp,) * n
    forces = robot.arm_force if isinstance(robot.arm_force, tuple) else (robot.arm_force,) * n
    for joint, act_name, kp, force in zip(
        robot.arm_joints, robot.arm_actuators, kps, forces, strict=True
    ):
        jnt = spec.joint(joint)
        if jnt is None:
            continue  # validate_spec names the missing joint
        act = spec.add_actuator(name=act_name, target=joint, trntype=mujoco.mjtTrn.mjTRN_JOINT)
        act.set_to_position(kp=float(kp), dampratio=1.0)
        act.forcelimited, act.forcerange = True, [-float(force), float(force)]
        act.ctrllimited, act.ctrlrange = True, list(jnt.range)
    grip_target = robot.gripper_tendon or (robot.gripper_joints[0] if robot.gripper_joints else "")
    if grip_target:
        trn = mujoco.mjtTrn.mjTRN_TENDON if robot.gripper_tendon else mujoco.mjtTrn.mjTRN_JOINT
        act = spec.add_actuator(name=robot.gripper_actuator, target=grip_target, trntype=trn)
        act.set_to_position(kp=float(robot.gripper_kp), dampratio=1.0)
        act.forcelimited, act.forcerange = True, [-robot.gripper_force, robot.gripper_force]
        lo, hi = sorted(robot.gripper_range)
        act.ctrllimited, act.ctrlrange = True, [lo, hi]
    for body in _arm_bodies(spec, robot):
        body.gravcomp = 1.0


def load_arm(robot: RobotSpec) -> mujoco.MjSpec:
    """The arm's MJCF as an editable ``MjSpec``, prepared from its spec.

    Points the meshes at ``mesh_dir`` and applies ``joint_ranges`` when the spec has them,
    adds the TCP site ``ee_site`` to ``tcp_body`` at ``tcp_offset`` / ``tcp_quat`` when the
    spec asks for it, and swaps in armgym's actuators when ``actuation == "armgym"``.

    Raises:
        ConfigError: the MJCF file does not exist; ``tcp_body`` is not a body of it; a
            ``joint_ranges`` joint is not a joint of it.
    """
    from armgym.errors import ConfigError

    path = mjcf_path(robot)
    if not path.is_file():
        raise ConfigError(f"robot {robot.name!r}: MJCF file {str(path)!r} does not exist")
    spec = mujoco.MjSpec.from_file(str(path))
    if robot.mesh_dir:
        spec.meshdir = robot.mesh_dir
    for name, low, high in robot.joint_ranges:
        joint = spec.joint(name)
        if joint is None:
            raise ConfigError(
                f"robot {robot.name!r}: joint_ranges names {name!r}, not a joint of {path}"
            )
        joint.range = [low, high]
    if robot.tcp_body:
        body = spec.body(robot.tcp_body)
        if body is None:
            raise ConfigError(
                f"robot {robot.name!r}: tcp_body {robot.tcp_body!r} is not a body of {path}"
            )
        body.add_site(name=robot.ee_site, pos=list(robot.tcp_offset), quat=list(robot.tcp_quat),
                      size=[0.008] * 3, group=4)  # fmt: skip
    if robot.actuation == "armgym":
        _armgym_actuation(spec, robot)
    _add_wrist_camera(spec, robot)
    return spec


def _add_wrist_camera(spec: mujoco.MjSpec, robot: RobotSpec) -> None:
    """Add a ``wrist`` camera to the TCP site's body when the model has none: 6 cm beside
    and 7 cm behind the TCP, looking along the tool axis (+z of the site's frame)."""
    if spec.camera("wrist") is not None:
        return
    site = spec.site(robot.ee_site)
    if site is None:
        return
    pos = np.array([float(v) for v in site.pos])
    flat = np.empty(9)  # the site's frame in its body (armgym's tool frame: +z along the tool)
    mujoco.mju_quat2Mat(flat, np.array([float(v) for v in site.quat]))
    rot = flat.reshape(3, 3)
    cam = site.parent.add_camera(name="wrist", fovy=75.0)
    cam.pos = (pos + rot @ np.array([0.06, 0.0, -0.07])).tolist()
    look = np.array([[0, -1, 0], [-1, 0, 0], [0, 0, -1]], float)  # camera x = -y, y = -x
    quat = np.empty(4)  # looking along the tool's +z
    mujoco.mju_mat2Quat(quat, (rot @ look).ravel())
    cam.quat = quat.tolist()


def framing_points(robot: RobotSpec, home_tcp: np.ndarray | None = None) -> np.ndarray:
    """World points [m], float64[N, 3], the front camera must see: the corners of the
    object area at ``FRAMED_SPAN`` of its half-span and the tool at home (``home_tcp``,
    else above the area)."""
    c = np.asarray(robot.object_center) + np.asarray(robot.base_pos[:2])
    h = FRAMED_SPAN * robot.object_halfspan
    corners = [[c[0] + sx * h, c[1] + sy * h, 0.0] for sx in (-1, 1) for sy in (-1, 1)]
    if home_tcp is None:
        home_tcp = np.array([c[0], c[1], robot.workspace_high[2] * 0.6])
    return np.array([*corners, home_tcp], dtype=np.float64)


def fit_front_camera(points: np.ndarray, fovy: float = FRONT_FOVY) -> tuple[np.ndarray, np.ndarray]:
    """(eye, target) [m] of a camera along ``FRONT_DIRECTION`` that just fits ``points``.

    The target is the points' bounding-box centre; the distance is the smallest at which
    every point projects inside 90 % of the (square) image's half-width.
    """
    lo, hi = points.min(axis=0), points.max(axis=0)
    target = (lo + hi) / 2
    half = 0.9 * np.tan(np.radians(fovy) / 2)
    forward = -FRONT_DIRECTION
    x = np.cross(forward, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    y = np.cross(x, forward)
    rel = points - target
    # a point at offset r from the target, camera at distance D: depth D + r·f, lateral r·x, r·y
    need = np.maximum(np.abs(rel @ x), np.abs(rel @ y)) / half - rel @ forward
    dist = float(max(need.max(), 0.1))
    return target + dist * FRONT_DIRECTION, target


def _add_arena(spec: mujoco.MjSpec, robot: RobotSpec) -> None:
    """Table (top at z = 0), ground below, a backdrop behind the arm, a sky gradient, lights.

    The table-top geom is named ``floor``: it is the surface tasks place objects on (the
    name tasks and tests use); ``ground`` is the plane 0.75 m below it.
    """
    r, base = robot.max_reach, np.asarray(robot.base_pos)
    spec.add_texture(
        name="sky",
        type=mujoco.mjtTexture.mjTEXTURE_SKYBOX,
        builtin=mujoco.mjtBuiltin.mjBUILTIN_GRADIENT,
        rgb1=[0.75, 0.8, 0.86],
        rgb2=[0.35, 0.38, 0.42],
        width=64,
        height=64,
    )
    spec.add_material(name="table_top", specular=0.1, shininess=0.1, rgba=[0.62, 0.5, 0.38, 1.0])
    spec.add_material(name="backdrop", specular=0.0, shininess=0.0, rgba=[0.82, 0.84, 0.86, 1.0])
    spec.add_material(name="floor_matte", specular=0.0, shininess=0.0, rgba=[0.3, 0.3, 0.32, 1.0])
    thick, height = 0.03, 0.75
    half_x, half_y = 0.9 * r + 0.15, 1.1 * r
    cx = base[0] + 0.9 * r - 0.15 - 0.25 * r
    wb = spec.worldbody
    contact = {"contype": 1, "conaffinity": 3, "condim": 3, "friction": [1.0, 0.005, 0.0001]}
    wb.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_BOX, material="table_top",
                size=[half_x, half_y, thick], pos=[cx, base[1], -thick], **contact)  # fmt: skip
    wb.add_geom(name="ground", type=mujoco.mjtGeom.mjGEOM_PLANE, material="floor_matte",
                size=[4.0, 4.0, 0.05], pos=[0, 0, -height], **contact)  # fmt: skip
    wb.add_geom(name="backdrop", type=mujoco.mjtGeom.mjGEOM_BOX, material="backdrop",
                size=[0.01, 3.0, 1.5], pos=[cx - half_x - 0.3 * r, base[1], 0.5],
                contype=0, conaffinity=0)  # fmt: skip
    key = wb.add_light(pos=[0.5, -0.5, 2.0], dir=[0.2, 0.3, -1.0], castshadow=False)
    key.type, key.diffuse = mujoco.mjtLightType.mjLIGHT_DIRECTIONAL, [0.55, 0.55, 0.55]
    fill = wb.add_light(pos=[2.0, 1.0, 1.5], dir=[-1.0, -0.3, -0.6], castshadow=False)
    fill.type, fill.diffuse = mujoco.mjtLightType.mjLIGHT_DIRECTIONAL, [0.25, 0.25, 0.25]


def _home_tcp(model: mujoco.MjModel, robot: RobotSpec) -> np.ndarray:
    """World position [m] of the TCP site with the arm at its home pose."""
    data = mujoco.MjData(model)
    for joint, q in zip(robot.arm_joints, robot.home_qpos, strict=True):
        data.qpos[model.joint(joint).qposadr[0]] = q
    mujoco.mj_kinematics(model, data)
    return data.site(robot.ee_site).xpos.copy()


def _place_front_camera(model: mujoco.MjModel, robot: RobotSpec) -> None:
    """Fit the compiled model's ``front`` camera to the object area and the tool at home."""
    eye, target = fit_front_camera(framing_points(robot, _home_tcp(model, robot)))
    x, y = np.array(_look_at_xyaxes(eye, target)).reshape(2, 3)
    quat = np.empty(4)
    mujoco.mju_mat2Quat(quat, np.column_stack([x, y, np.cross(x, y)]).ravel())
    cam = model.camera("front").id
    model.cam_pos[cam], model.cam_quat[cam] = eye, quat
    model.cam_poscom0[cam], model.cam_pos0[cam] = eye, eye


def build_scene(
    robot: RobotSpec, task: Task | None = None, *, image_size: tuple[int, int] = (128, 128)
) -> mujoco.MjModel:
    """Compile the scene for ``robot`` (+ ``task`` objects).

    Args:
        robot: robot facts; its MJCF must contain the joints/actuators/site it names.
        task: adds its objects through ``task.build(spec)``; ``None`` for the bare arm.
        image_size: (height, width) of offscreen renders; sets the offscreen buffer.
    """
    spec = load_arm(robot)
    base = spec.worldbody.first_body()
    if base is not None:
        base.pos = list(robot.base_pos)
    spec.visual.quality.shadowsize = 0
    spec.visual.quality.offsamples = 0
    spec.visual.global_.offheight = max(int(image_size[0]), 64)
    spec.visual.global_.offwidth = max(int(image_size[1]), 64)
    spec.visual.headlight.ambient = [0.35, 0.35, 0.35]
    spec.visual.headlight.diffuse = [0.3, 0.3, 0.3]
    _add_arena(spec, robot)
    spec.worldbody.add_camera(name="front", fovy=FRONT_FOVY)  # placed after compiling
    if task is not None:
        task.build(spec)
    model = spec.compile()
    _place_front_camera(model, robot)
    return model
