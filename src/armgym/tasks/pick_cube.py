"""PickCube: grasp a cube and lift it 10 cm (as HIL-SERL's pick_cube_sim)."""

from __future__ import annotations

import mujoco
import numpy as np

from armgym.contracts.names import pose_names
from armgym.contracts.observation import Obs
from armgym.tasks.base import (
    Expert,
    Task,
    TaskResult,
    add_box,
    closeness,
    offset_features,
    shaped,
    tool_yaw,
    wrap,
    yaw_of_quat,
)
from armgym.tasks.experts import WaypointExpert


class PickCube(Task):
    """Lift the cube so its centre is ≥ 10 cm above its resting height.

    Dense reward: ``shaped(progress)`` with progress = 0.3 · reach (``closeness`` of tool
    and cube) + 0.2 · grasp (closed around the cube) + 0.5 · lift progress; −1 … 0, 0 at
    success. Success ends the episode.
    """

    name = "PickCube"
    instruction = "pick up the cube"
    max_episode_steps = 100
    object_state_size = 7
    object_state_doc = "cube position xyz [m] (3), cube orientation quaternion wxyz (4)"
    object_state_names = tuple(pose_names("cube"))
    lift_height = 0.10
    relative_feature_names = (
        *(f"cube_from_tool.{a}" for a in "xyz"),
        *(f"cube_from_tool.{a}.squashed" for a in "xyz"),
        "cube_yaw_from_tool",
        "lift_to_go",
    )

    def configure(self) -> None:
        self.half = 0.02 * self.scale

    def build(self, spec: mujoco.MjSpec) -> None:
        add_box(spec, "cube", (self.half,) * 3, (0.85, 0.15, 0.15, 1.0), mass=0.05)

    def initialize(self, data: mujoco.MjData, rng: np.random.Generator) -> None:
        xy = self.sample_xy(rng)
        self.set_free_pose(data, "cube_joint", [xy[0], xy[1], self.half], self.sample_yaw(rng))

    def object_state(self, data: mujoco.MjData) -> np.ndarray:
        return self.free_pose(data, "cube_joint").astype(np.float32)

    def evaluate(self, obs: Obs) -> TaskResult:
        cube = obs["object_state"][:3]
        dist = float(np.linalg.norm(obs["ee_pos"] - cube))
        reach = closeness(dist, self.scale)
        grasp = float(dist < 1.5 * self.half and obs["gripper"][0] < 0.9)
        lift = float(np.clip((cube[2] - self.half) / self.lift_height, 0.0, 1.0))
        success = bool(cube[2] - self.half >= self.lift_height)
        return TaskResult(shaped(0.3 * reach + 0.2 * grasp + 0.5 * lift, success), success)

    def relative_features(self, obs: Obs) -> np.ndarray:
        """float32[8]: cube − tool [m] (raw, then squashed), the cube's heading from the
        tool's [rad, wrapped to ±π/4] and the height still to lift [m]."""
        cube = obs["object_state"].astype(np.float64)
        reach = cube[:3] - obs["ee_pos"].astype(np.float64)
        heading = wrap(yaw_of_quat(cube[3:7]) - tool_yaw(obs["ee_quat"]), np.pi / 2)
        to_go = self.lift_height - (cube[2] - self.half)
        return np.concatenate([*offset_features(reach), [heading, to_go]]).astype(np.float32)

    def make_expert(self) -> Expert:
        half, lift = self.half, self.lift_height

        def plan(obs: Obs, phase: int) -> tuple[np.ndarray, float, float, bool]:
            cube = obs["object_state"][:3].astype(np.float64)
            yaw_err = wrap(
                yaw_of_quat(obs["object_state"][3:7]) - tool_yaw(obs["ee_quat"]), np.pi / 2
            )
            above = cube + [0.0, 0.0, 0.08 + half]
            if phase == 0:  # hover above, aligned
                return above, 1.0, yaw_err, True
            if phase == 1:  # descend
                return cube, 1.0, yaw_err, True
            if phase == 2:  # close
                return cube, -1.0, 0.0, False
            return cube + [0.0, 0.0, lift + 0.05], -1.0, 0.0, False  # lift

        return WaypointExpert(plan, tolerances=(0.01, 0.006, 0.0, 0.0), hold_steps=(0, 0, 5, 0))
