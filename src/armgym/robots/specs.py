"""The robot registry: one ``RobotSpec`` record per embedded arm.

Add an arm by writing its MJCF (or pointing at one on disk, e.g. a MuJoCo Menagerie
checkout) and registering one :class:`~armgym.robots.base.RobotSpec`::

    from armgym.robots import ROBOTS, RobotSpec
    ROBOTS.register("my_arm", RobotSpec(name="my_arm", mjcf="/path/to/arm.xml", ...))
"""

from __future__ import annotations

from pathlib import Path

from armgym.registry import Registry
from armgym.robots.base import RobotSpec

ASSETS = Path(__file__).parent / "assets"

ROBOTS: Registry[RobotSpec] = Registry("robot")


def mjcf_path(spec: RobotSpec) -> Path:
    """Absolute path of a spec's MJCF file (relative paths resolve under ``assets/``)."""
    path = Path(spec.mjcf)
    return path if path.is_absolute() else ASSETS / path


ROBOTS.register(
    "panda",
    RobotSpec(
        name="panda",
        mjcf="panda.xml",
        arm_joints=tuple(f"joint{i}" for i in range(1, 8)),
        arm_actuators=tuple(f"act{i}" for i in range(1, 8)),
        gripper_actuator="gripper",
        gripper_joints=("finger_joint1", "finger_joint2"),
        gripper_range=(0.0, 0.04),
        ee_site="tcp",
        home_qpos=(0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785),
        workspace_low=(0.25, -0.35, 0.005),
        workspace_high=(0.75, 0.35, 0.55),
        max_reach=0.855,
        extra={"object_center": (0.5, 0.0), "object_halfspan": 0.15, "finger_gap": 0.08},
        description="Franka Emika Panda, 7-DoF + parallel gripper (default)",
        source="Franka FCI kinematics and limits; primitive geometry; Apache-2.0",
    ),
)
