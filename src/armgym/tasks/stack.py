"""Stack: pick cube A and place it on cube B."""

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
    shaped,
    tool_yaw,
    wrap,
    yaw_of_quat,
)
from armgym.tasks.experts import WaypointExpert


class Stack(Task):
    """Put cube A (red, 4 cm · scale) on cube B (green, 5 cm · scale) and let go.

    Success: A's centre within 1.5 cm (xy) of B's, A resting on B's top (centre height
    within 8 mm of B top + A half size) and the gripper opened wider than A (released).
    Dense reward: ``shaped(progress)`` with progress = 0.25 · reach (``closeness`` of tool
    and A) + 0.15 · grasp + 0.6 · ``closeness`` of A to its place on B; −1 … 0, 0 at success.
    """

    name = "Stack"
    instruction = "stack the red cube on the green cube"
    max_episode_steps = 150
    object_state_size = 14
    object_state_doc = (
        "cube A position xyz [m] (3), cube A quaternion wxyz (4), "
        "cube B position xyz [m] (3), cube B quaternion wxyz (4)"
    )
    object_state_names = tuple(pose_names("cube_a") + pose_names("cube_b"))
    xy_tolerance = 0.015

    def configure(self) -> None:
        self.half_a = 0.02 * self.scale
        self.half_b = 0.025 * self.scale
        gap = float(self.robot.finger_gap)
        self.released = min(0.95, 2.0 * self.half_a / gap + 0.15)

    def build(self, spec: mujoco.MjSpec) -> None:
        add_box(spec, "cube_a", (self.half_a,) * 3, (0.85, 0.15, 0.15, 1.0), mass=0.05)
        add_box(spec, "cube_b", (self.half_b,) * 3, (0.15, 0.7, 0.2, 1.0), mass=0.2)
        # opening (fraction) above which the fingers no longer touch A

    def initialize(self, data: mujoco.MjData, rng: np.random.Generator) -> None:
        a, b = self.sample_apart(rng, 0.09 * self.scale, 0.13 * self.scale)
        self.set_free_pose(data, "cube_a_joint", [a[0], a[1], self.half_a], self.sample_yaw(rng))
        self.set_free_pose(data, "cube_b_joint", [b[0], b[1], self.half_b], self.sample_yaw(rng))

    def object_state(self, data: mujoco.MjData) -> np.ndarray:
        return np.concatenate(
            [self.free_pose(data, "cube_a_joint"), self.free_pose(data, "cube_b_joint")]
        ).astype(np.float32)

    def goal(self, s: np.ndarray) -> np.ndarray:
        """Where A's centre belongs: on top of B."""
        return s[7:10] + np.array([0.0, 0.0, self.half_b + self.half_a], dtype=np.float32)

    def evaluate(self, obs: Obs) -> TaskResult:
        s = obs["object_state"]
        a, goal = s[:3], self.goal(s)
        d_reach = float(np.linalg.norm(obs["ee_pos"] - a))
        reach = closeness(d_reach, self.scale)
        grasp = float(d_reach < 1.5 * self.half_a and obs["gripper"][0] < self.released)
        place = closeness(float(np.linalg.norm(a - goal)), self.scale)
        success = bool(
            np.linalg.norm(a[:2] - goal[:2]) < self.xy_tolerance
            and abs(float(a[2] - goal[2])) < 0.008
            and obs["gripper"][0] > self.released
        )
        return TaskResult(shaped(0.25 * reach + 0.15 * grasp + 0.6 * place, success), success)

    def make_expert(self) -> Expert:
        ha, hb = self.half_a, self.half_b
        carry = 2.0 * hb + 2.0 * ha + 0.04  # A's centre height while carrying

        def grasp_yaw_err(obs: Obs) -> float:
            """Yaw error to the grasp that puts the fingers across the A -> B line."""
            s = obs["object_state"]
            tool = tool_yaw(obs["ee_quat"])
            base = yaw_of_quat(s[3:7])
            ab = s[7:9] - s[:2]
            line = float(np.arctan2(ab[1], ab[0]))
            best, best_score = 0.0, -1.0
            for k in range(4):
                err = wrap(base + k * np.pi / 2 - tool)
                fingers = tool + err + np.pi / 2  # fingers close along the tool y axis
                score = abs(np.sin(wrap(fingers - line)))
                score -= 0.05 * abs(err)  # prefer small turns among equals
                if score > best_score:
                    best, best_score = err, score
            return best

        def plan(obs: Obs, phase: int) -> tuple[np.ndarray, float, float, bool]:
            s = obs["object_state"].astype(np.float64)
            a, b = s[:3], s[7:10]
            tcp = obs["ee_pos"].astype(np.float64)
            if phase == 0:  # hover above A, fingers across the A-B line
                return a + [0.0, 0.0, 0.08 + ha], 1.0, grasp_yaw_err(obs), True
            if phase == 1:  # descend
                return a, 1.0, grasp_yaw_err(obs), True
            if phase == 2:  # close
                return a, -1.0, 0.0, False
            # from here on, servo A (not the tool): tool target = tool + (A goal - A)
            if phase == 3:  # lift
                return tcp + [0.0, 0.0, carry - a[2]], -1.0, 0.0, False
            if phase == 4:  # carry over B
                return tcp + np.array([b[0], b[1], carry]) - a, -1.0, 0.0, False
            if phase == 5:  # lower onto B
                goal = b + [0.0, 0.0, hb + ha + 0.002]
                return tcp + goal - a, -1.0, 0.0, False
            if phase == 6:  # release
                return tcp, 1.0, 0.0, False
            return np.array([tcp[0], tcp[1], a[2] + 0.08]), 1.0, 0.0, False  # retreat

        def jump(obs: Obs, phase: int, steps: int) -> int | None:
            s = obs["object_state"]
            lost = float(np.linalg.norm(obs["ee_pos"] - s[:3])) > 3.0 * ha
            if 3 <= phase <= 5 and lost:  # dropped A: grasp again
                return 0
            return None

        return WaypointExpert(
            plan,
            tolerances=(0.01, 0.006, 0.0, 0.01, 0.006, 0.004, 0.0, 0.0),
            hold_steps=(0, 0, 5, 0, 0, 0, 4, 0),
            speeds=(1.0, 1.0, 1.0, 1.0, 1.0, 0.4, 1.0, 1.0),
            timeouts=(0, 40, 0, 40, 40, 25, 0, 0),
            jump=jump,
        )
