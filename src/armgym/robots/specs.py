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
        workspace_low=(0.2, -0.35, 0.005),
        workspace_high=(0.75, 0.35, 0.55),
        max_reach=0.855,
        object_center=(0.5, 0.0),
        object_halfspan=0.15,
        finger_gap=0.08,
        description="Franka Emika Panda, 7-DoF + parallel gripper (default)",
        source="Franka FCI kinematics and limits; primitive geometry; Apache-2.0",
    ),
)


ROBOTS.register(
    "widowx250",
    RobotSpec(
        name="widowx250",
        mjcf="widowx250.xml",
        arm_joints=("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate"),
        arm_actuators=("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate"),
        gripper_actuator="gripper",
        gripper_joints=("left_finger", "right_finger"),
        gripper_range=(0.0, 0.037),
        ee_site="tcp",
        # tool straight down, tcp at (0.30, 0, 0.20)
        home_qpos=(0.0, 0.001, -0.0026, 0.0, 1.5724, 0.0),
        workspace_low=(0.15, -0.25, 0.005),
        workspace_high=(0.45, 0.25, 0.35),
        max_reach=0.65,
        object_center=(0.30, 0.0),
        object_halfspan=0.10,
        object_scale=1.0,
        finger_gap=0.074,
        description="Trossen/Interbotix WidowX 250 6-DoF (wx250s) + parallel gripper (BridgeData)",
        source="Interbotix wx250s URDF kinematics and limits, Trossen datasheet; primitive geometry; Apache-2.0",
    ),
)

ROBOTS.register(
    "so101",
    RobotSpec(
        name="so101",
        mjcf="so101.xml",
        arm_joints=("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll"),
        arm_actuators=("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll"),
        gripper_actuator="gripper",
        gripper_joints=("left_jaw", "right_jaw"),
        gripper_range=(0.0, 0.025),
        ee_site="tcp",
        # tool straight down, tcp at (0.17, 0, 0.09)
        home_qpos=(0.0, -0.2032, 0.2136, 1.5604, 0.0),
        workspace_low=(0.08, -0.2, 0.005),
        workspace_high=(0.30, 0.2, 0.16),
        max_reach=0.39,
        object_center=(0.16, 0.0),
        object_halfspan=0.06,
        object_scale=0.75,
        finger_gap=0.05,
        description="LeRobot / TheRobotStudio SO-101 5-DoF + jaw gripper (modelled parallel)",
        source="SO-101 URDF (so101_new_calib) kinematics and limits; primitive geometry; Apache-2.0",
    ),
)

ROBOTS.register(
    "vx300",
    RobotSpec(
        name="vx300",
        mjcf="vx300.xml",
        arm_joints=("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate"),
        arm_actuators=("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate"),
        gripper_actuator="gripper",
        gripper_joints=("left_finger", "right_finger"),
        gripper_range=(0.0, 0.045),
        ee_site="tcp",
        # tool straight down, tcp at (0.40, 0, 0.25)
        home_qpos=(0.0, 0.1372, -0.1494, 0.0, 1.583, 0.0),
        workspace_low=(0.2, -0.35, 0.005),
        workspace_high=(0.6, 0.35, 0.45),
        max_reach=0.75,
        object_center=(0.40, 0.0),
        object_halfspan=0.12,
        object_scale=1.0,
        finger_gap=0.09,
        description="Trossen/Interbotix ViperX 300 6-DoF (vx300s) + parallel gripper (ALOHA)",
        source="Interbotix vx300s URDF kinematics and limits, Trossen datasheet; primitive geometry; Apache-2.0",
    ),
)
