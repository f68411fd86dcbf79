"""``RobotSpec``: robot facts as data (joints, actuators, EE site, home pose, placement).

The ``Robot`` protocol itself lives in :mod:`armgym.contracts.robot`; the observation
layout in :mod:`armgym.contracts.observation`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from armgym.errors import ConfigError


@dataclass(frozen=True)
class RobotSpec:
    """Everything armgym needs to know about an arm; no code, only facts.

    Attributes:
        name: registry name (``panda``, ``widowx250``, ...).
        mjcf: path of the MJCF file, relative to ``armgym/robots/assets`` or absolute
            (a spec file's relative path is resolved against the spec file's folder).
        arm_joints: names of the arm's hinge joints, base to tip.
        arm_actuators: names of position actuators driving ``arm_joints`` (same order).
        gripper_actuator: name of the actuator that opens/closes the gripper.
        gripper_joints: finger joints (to read the opening); first one is used.
        gripper_range: (closed, open) actuator control values; closed > open for a
            gripper whose finger joints grow as it closes (Robotiq 2F-85 drivers).
        ee_site: site at the tool centre point (between the fingertips).
        home_qpos: arm joint positions of the home pose [rad].
        base_pos: where the robot base is mounted in the scene [m].
        workspace_low / workspace_high: end-effector box the ee controller keeps to [m].
        max_reach: distance from the shoulder the arm can reach [m] (for task support).
        description: one line for docs and ``armgym robots``.
        source: where the kinematics come from (datasheet, URDF) and the licence.
        object_center: (x, y) centre of the area where tasks place objects, relative to
            ``base_pos`` [m].
        object_halfspan: half-width of that square area at the ``high`` level [m] (> 0).
        object_scale: size factor of task objects for this arm (> 0; 1 = Panda-sized).
        finger_gap: widest opening between the fingertips [m] (> 0); tasks size grasped
            objects to fit.
        tcp_body: when set, the scene adds the site ``ee_site`` to this body at
            ``tcp_offset`` (for an MJCF without a TCP site); empty = ``ee_site`` exists.
        tcp_offset: (x, y, z) of the added TCP site in ``tcp_body``'s frame [m].
        actuation: ``"model"`` keeps the MJCF's actuators (they must be position
            actuators named in ``arm_actuators`` / ``gripper_actuator``); ``"armgym"``
            removes them and adds armgym's position actuators (gains below) plus gravity
            compensation on every arm body, so a model from elsewhere is driven like the
            built-in arms.
        arm_kp / arm_force: position gain [N·m/rad] and torque limit [N·m] of the added arm
            actuators (``actuation="armgym"``), one value or one per joint; critically damped.
        gripper_kp / gripper_force: gain [N/m or N·m/rad] and force limit of the added
            gripper actuator; it drives ``gripper_tendon`` if set, else ``gripper_joints[0]``.
        gripper_tendon: tendon coupling the fingers, driven by the added gripper actuator.
        tcp_quat: (w, x, y, z) orientation of the added TCP site in ``tcp_body``'s frame:
            armgym's tool frame has +z along the tool (pointing down at a straight-down
            home pose), +y across the fingers.
        mesh_dir: folder of the MJCF's meshes when its own ``meshdir`` does not lead to them
            (a package that ships meshes apart from the XML); empty = the file's.
        joint_ranges: (joint, low, high) [rad or m] replacing the MJCF's range of a joint
            (e.g. a limit widened so a straight-down tool can lift); documented per model.
    """

    name: str
    mjcf: str
    arm_joints: tuple[str, ...]
    arm_actuators: tuple[str, ...]
    gripper_actuator: str
    gripper_joints: tuple[str, ...]
    gripper_range: tuple[float, float]
    ee_site: str
    home_qpos: tuple[float, ...]
    base_pos: tuple[float, float, float] = (0.0, 0.0, 0.0)
    workspace_low: tuple[float, float, float] = (0.25, -0.35, 0.0)
    workspace_high: tuple[float, float, float] = (0.75, 0.35, 0.5)
    max_reach: float = 0.8
    description: str = ""
    source: str = ""
    object_center: tuple[float, float] = (0.5, 0.0)
    object_halfspan: float = 0.15
    object_scale: float = 1.0
    finger_gap: float = 0.08
    tcp_body: str = ""
    tcp_offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
    actuation: str = "model"
    arm_kp: float | tuple[float, ...] = 400.0
    arm_force: float | tuple[float, ...] = 40.0
    gripper_kp: float = 400.0
    gripper_force: float = 20.0
    gripper_tendon: str = ""
    tcp_quat: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)
    mesh_dir: str = ""
    joint_ranges: tuple[tuple[str, float, float], ...] = ()

    def __post_init__(self) -> None:
        n = len(self.arm_joints)
        ranges = tuple(tuple(r) for r in self.joint_ranges)  # TOML gives lists
        if any(len(r) != 3 or not float(r[1]) < float(r[2]) for r in ranges):  # type: ignore[arg-type]
            raise ConfigError(
                f"RobotSpec {self.name!r}: joint_ranges entries are (joint, low, high) with "
                f"low < high, got {self.joint_ranges!r}"
            )
        object.__setattr__(self, "joint_ranges", ranges)
        if len(self.tcp_quat) != 4 or not np.isclose(np.linalg.norm(self.tcp_quat), 1.0):
            raise ConfigError(
                f"RobotSpec {self.name!r}: tcp_quat must be a unit (w, x, y, z), got {self.tcp_quat!r}"
            )
        if n == 0:
            raise ConfigError(f"RobotSpec {self.name!r}: arm_joints is empty")
        if self.actuation not in ("model", "armgym"):
            raise ConfigError(
                f"RobotSpec {self.name!r}: actuation must be 'model' or 'armgym', "
                f"got {self.actuation!r}"
            )
        if self.actuation == "armgym" and not self.arm_actuators:
            object.__setattr__(self, "arm_actuators", tuple(self.arm_joints))
        for key in ("arm_kp", "arm_force"):
            value = getattr(self, key)
            if isinstance(value, tuple) and len(value) != n:
                raise ConfigError(
                    f"RobotSpec {self.name!r}: {key} needs one value or {n} (one per arm "
                    f"joint), got {len(value)}"
                )
        if len(self.tcp_offset) != 3:
            raise ConfigError(
                f"RobotSpec {self.name!r}: tcp_offset must be (x, y, z) [m], got {self.tcp_offset!r}"
            )
        if len(self.arm_actuators) != n or len(self.home_qpos) != n:
            raise ConfigError(
                f"RobotSpec {self.name!r}: arm_joints ({n}), arm_actuators "
                f"({len(self.arm_actuators)}) and home_qpos ({len(self.home_qpos)}) must have "
                "the same length"
            )
        if len(self.object_center) != 2:
            raise ConfigError(
                f"RobotSpec {self.name!r}: object_center must be (x, y) [m], "
                f"got {self.object_center!r}"
            )
        for key in ("object_halfspan", "object_scale", "finger_gap"):
            value = getattr(self, key)
            if not (isinstance(value, int | float) and value > 0):
                raise ConfigError(f"RobotSpec {self.name!r}: {key} must be > 0, got {value!r}")

    @property
    def n_arm(self) -> int:
        return len(self.arm_joints)
