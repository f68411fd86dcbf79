"""Push: push a cube (gripper closed, no grasp) into a target region on the floor."""

from __future__ import annotations

import mujoco
import numpy as np

from armgym.contracts.names import pose_names, position_names
from armgym.contracts.observation import Obs
from armgym.tasks.base import Expert, Task, TaskResult, add_box, add_target, closeness, shaped
from armgym.tasks.experts import WaypointExpert


class Push(Task):
    """Push the cube until its centre is within 3 cm (xy) of the target, cube on the floor.

    The gripper stays closed; the target is a flat, non-colliding marker on the floor,
    8–12 cm (· object scale) from the cube at reset. Dense reward: ``shaped(progress)``
    with progress = 0.3 · reach (``closeness`` of tool and cube) + 0.7 · ``closeness`` of
    the cube to the target; −1 … 0, 0 at success.
    """

    name = "Push"
    instruction = "push the cube to the target"
    max_episode_steps = 150
    object_state_size = 10
    object_state_doc = (
        "cube position xyz [m] (3), cube orientation quaternion wxyz (4), "
        "target position xyz [m] (3; z = floor)"
    )
    object_state_names = tuple(pose_names("cube") + position_names("target"))
    tolerance = 0.03

    def configure(self) -> None:
        self.half = 0.02 * self.scale

    def build(self, spec: mujoco.MjSpec) -> None:
        add_box(spec, "cube", (self.half,) * 3, (0.85, 0.15, 0.15, 1.0), mass=0.05)
        add_target(
            spec, "push_target", (self.tolerance, self.tolerance, 0.0005), (0.1, 0.8, 0.2, 0.5)
        )

    def bind(self, model: mujoco.MjModel) -> None:
        super().bind(model)
        self._mocap = int(model.body("push_target").mocapid[0])

    def initialize(self, data: mujoco.MjData, rng: np.random.Generator) -> None:
        cube, target = self.sample_apart(rng, 0.08 * self.scale, 0.12 * self.scale)
        self.set_free_pose(data, "cube_joint", [cube[0], cube[1], self.half], self.sample_yaw(rng))
        data.mocap_pos[self._mocap] = [target[0], target[1], 0.0005]

    def object_state(self, data: mujoco.MjData) -> np.ndarray:
        target = data.mocap_pos[self._mocap].copy()
        target[2] = 0.0
        return np.concatenate([self.free_pose(data, "cube_joint"), target]).astype(np.float32)

    def evaluate(self, obs: Obs) -> TaskResult:
        s = obs["object_state"]
        cube, target = s[:3], s[7:10]
        reach = closeness(float(np.linalg.norm(obs["ee_pos"] - cube)), self.scale)
        dist = float(np.linalg.norm(cube[:2] - target[:2]))
        place = closeness(dist, self.scale)
        on_floor = cube[2] < 1.5 * self.half
        success = bool(dist < self.tolerance and on_floor)
        return TaskResult(shaped(0.3 * reach + 0.7 * place, success), success)

    def make_expert(self) -> Expert:
        half = self.half
        pusher = 0.012 * self.scale  # half thickness of the closed fingers (about)
        standoff = half * np.sqrt(2.0) + pusher + 0.012  # clear of the cube's corners
        z_push = max(half, 0.012)  # tool height while pushing (fingertips below)
        z_safe = 2.0 * half + 0.04
        lead = 0.012  # how far ahead of the contact point the tool is sent per step

        def geometry(obs: Obs) -> tuple[np.ndarray, np.ndarray, float]:
            s = obs["object_state"].astype(np.float64)
            cube, target = s[:2], s[7:9]
            d = target - cube
            dist = float(np.linalg.norm(d))
            u = d / dist if dist > 1e-6 else np.array([1.0, 0.0])
            return cube, u, dist

        def plan(obs: Obs, phase: int) -> tuple[np.ndarray, float, float, bool]:
            cube, u, dist = geometry(obs)
            behind = cube - standoff * u
            if phase == 0:  # above the pre-push point (rising first when low: go over the cube)
                tcp = obs["ee_pos"].astype(np.float64)
                if tcp[2] < z_safe - 0.015 and np.linalg.norm(tcp[:2] - behind) > 0.02:
                    return np.array([tcp[0], tcp[1], z_safe]), -1.0, 0.0, False
                return np.array([*behind, z_safe]), -1.0, 0.0, False
            if phase == 1:  # down behind the cube
                return np.array([*behind, z_push]), -1.0, 0.0, False
            # push along the cube -> target line; the goal slides with the cube
            contact = cube - (half + pusher) * u
            step = min(lead, max(dist - 0.005, 0.0))
            return np.array([*(contact + step * u), z_push]), -1.0, 0.0, False

        def jump(obs: Obs, phase: int, steps: int) -> int | None:
            if phase != 2 or steps < 3:
                return None
            cube, u, _ = geometry(obs)
            rel = obs["ee_pos"][:2].astype(np.float64) - cube
            along = float(rel @ u)
            lateral = abs(float(rel @ np.array([-u[1], u[0]])))
            # off the push line, or no longer behind the cube: go round and start again
            if lateral > 0.6 * half or along > -0.5 * half:
                return 0
            return None

        return WaypointExpert(
            plan,
            tolerances=(0.01, 0.006, 0.0),
            hold_steps=(0, 0, 0),
            jump=jump,
            speeds=(1.0, 1.0, 0.6),
        )
