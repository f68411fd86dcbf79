"""Reach: move the tool centre point to a target point in free space."""

from __future__ import annotations

import mujoco
import numpy as np

from armgym.contracts.names import position_names
from armgym.contracts.observation import Obs
from armgym.tasks.base import POSITION_SCALE, Expert, Task, TaskResult, closeness, shaped
from armgym.tasks.experts import WaypointExpert


class Reach(Task):
    """Bring the tool centre point within 2 cm of a target marker (mocap, non-colliding).

    The target is sampled above the object area: xy as objects (``sample_xy``, so the
    level sets the xy spread), height 0.15 m ± 0.10 m · (0.25 | 0.6 | 1 at low | med |
    high) · object scale, i.e. 0.05–0.25 m at ``high``, kept inside the robot's
    workspace box and at least ``min_start_dist`` (· scale) from the tool at reset where
    possible (else the farthest of ``tries`` draws). Dense reward: ``shaped(closeness(d))``
    (−1 … 0, 0 at success; see :func:`armgym.tasks.base.closeness`).
    """

    name = "Reach"
    instruction = "move the gripper to the target"
    max_episode_steps = 50
    object_state_size = 3
    object_state_doc = "target position xyz [m] (3)"
    object_state_names = tuple(position_names("target"))
    virtual = True  # the target is a marker: Reach runs on a real arm as in the sim
    tolerance = 0.02
    min_start_dist = 0.08
    tries = 20

    def configure(self) -> None:
        self.radius = 0.012 * self.scale
        half = 0.10 * POSITION_SCALE[self.level]
        self.height_range = (0.15 - half, 0.15 + half)  # [m], before scaling

    def build(self, spec: mujoco.MjSpec) -> None:
        body = spec.worldbody.add_body(name="reach_target", mocap=True, pos=[0.0, 0.0, 0.1])
        body.add_geom(
            name="reach_target",
            type=mujoco.mjtGeom.mjGEOM_SPHERE,
            size=[self.radius, 0.0, 0.0],
            rgba=[0.1, 0.8, 0.2, 0.6],
            contype=0,
            conaffinity=0,
        )

    def bind(self, model: mujoco.MjModel) -> None:
        super().bind(model)
        self._mocap = int(model.body("reach_target").mocapid[0])
        self._site = int(model.site(self.robot.ee_site).id)
        base = np.asarray(self.robot.base_pos)
        self._ws_low = np.asarray(self.robot.workspace_low) + base
        self._ws_high = np.asarray(self.robot.workspace_high) + base

    def initialize(self, data: mujoco.MjData, rng: np.random.Generator) -> None:
        mujoco.mj_kinematics(self.model, data)  # the tool where the robot starts
        tool = data.site_xpos[self._site].copy()
        best, best_dist = np.zeros(3), -1.0
        for _ in range(self.tries):
            xy = self.sample_xy(rng)
            z = self.robot.base_pos[2] + self.scale * rng.uniform(*self.height_range)
            pos = np.clip([xy[0], xy[1], z], self._ws_low + 0.01, self._ws_high - 0.01)
            dist = float(np.linalg.norm(pos - tool))
            if dist > best_dist:
                best, best_dist = pos, dist
            if dist >= self.min_start_dist * self.scale:
                break
        data.mocap_pos[self._mocap] = best

    def object_state(self, data: mujoco.MjData) -> np.ndarray:
        return data.mocap_pos[self._mocap].astype(np.float32)

    def evaluate(self, obs: Obs) -> TaskResult:
        target = obs["object_state"][:3]
        dist = float(np.linalg.norm(obs["ee_pos"] - target))
        success = dist < self.tolerance
        return TaskResult(shaped(closeness(dist, self.scale), success), success)

    def make_expert(self) -> Expert:
        def plan(obs: Obs, phase: int) -> tuple[np.ndarray, float, float, bool]:
            return obs["object_state"][:3].astype(np.float64), 1.0, 0.0, False

        return WaypointExpert(plan, tolerances=(0.0,), hold_steps=(0,))
