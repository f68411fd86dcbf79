"""PegInsert: pick an upright square peg and insert it into a tight square hole."""

from __future__ import annotations

import mujoco
import numpy as np

from armgym.contracts.names import pose_names, position_names
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
from armgym.tasks.experts import ReactiveExpert, WaypointExpert


def _axis(quat: np.ndarray) -> np.ndarray:
    """World direction of a body's local z axis for a w-x-y-z quaternion."""
    mat = np.empty(9)
    mujoco.mju_quat2Mat(mat, np.asarray(quat, dtype=np.float64))
    return mat[[2, 5, 8]]


class PegInsert(Task):
    """Insert the peg (2 × 2 × 8 cm · scale, standing on the floor) into the fixture's hole.

    The fixture is a static (mocap) block of four walls, 4 cm · scale high, around a square
    hole with 2.5 mm clearance per side that goes down to the floor. Success: the peg's
    bottom face centre is ≥ 3 cm below the fixture top and inside the hole (xy distance to
    the hole axis < hole half width). Dense reward: ``shaped(progress)`` with progress = 0.2 ·
    reach (``closeness`` of tool and the peg's grasp point) + 0.1 · grasp + 0.3 · xy
    alignment (``closeness``) of the peg bottom with the hole + 0.4 · insertion depth
    (counted only when aligned); −1 … 0, 0 at success.
    """

    name = "PegInsert"
    instruction = "insert the peg into the hole"
    max_episode_steps = 200
    object_state_size = 11
    object_state_doc = (
        "peg centre position xyz [m] (3), peg quaternion wxyz (4), "
        "hole opening centre xyz [m] (3; z = fixture top), hole yaw [rad] (1)"
    )
    object_state_names = (*pose_names("peg"), *position_names("hole"), "hole.yaw")
    relative_feature_names = (
        *(f"grasp_from_tool.{a}" for a in "xyz"),
        *(f"peg_bottom_from_hole.{a}" for a in "xyz"),
        *(f"grasp_from_tool.{a}.squashed" for a in "xyz"),
        *(f"peg_bottom_from_hole.{a}.squashed" for a in "xyz"),
        "peg_yaw_from_tool",
        "hole_yaw_from_peg",
        "grasp_from_tool.dist",
        "peg_bottom_from_hole.dist_xy",
    )
    clearance = 0.0025
    depth = 0.03

    def configure(self) -> None:
        s = self.scale
        self.peg_half = 0.01 * s
        self.peg_half_len = 0.04 * s
        self.grasp_below_top = 0.015 * s
        self.hole_half = self.peg_half + self.clearance
        self.height = 0.04 * s
        self.wall = 0.02 * s
        gap = float(self.robot.finger_gap)
        self.released = min(0.95, 2.0 * self.peg_half / gap + 0.15)
        # the experts': peg bottom height above the hole while carrying, insertion target
        self.carry_above = 0.05 * s
        self.target_depth = min(self.depth + 0.008, self.height - 0.003)

    def build(self, spec: mujoco.MjSpec) -> None:
        add_box(
            spec,
            "peg",
            (self.peg_half, self.peg_half, self.peg_half_len),
            (0.9, 0.6, 0.1, 1.0),
            mass=0.03,
        )
        body = spec.worldbody.add_body(name="hole_fixture", mocap=True, pos=[0.0, 0.0, 0.0])
        h, t, H = self.hole_half, self.wall, self.height
        walls = (
            ((h + t / 2, 0.0), (t / 2, h + t)),
            ((-h - t / 2, 0.0), (t / 2, h + t)),
            ((0.0, h + t / 2), (h, t / 2)),
            ((0.0, -h - t / 2), (h, t / 2)),
        )
        for i, (pos, size) in enumerate(walls):
            body.add_geom(
                name=f"hole_wall{i}",
                type=mujoco.mjtGeom.mjGEOM_BOX,
                size=[size[0], size[1], H / 2],
                pos=[pos[0], pos[1], H / 2],
                rgba=[0.3, 0.35, 0.8, 1.0],
                contype=1,
                conaffinity=3,
                condim=4,
                friction=[0.5, 0.01, 0.001],
                solref=[0.01, 1.0],
                solimp=[0.95, 0.99, 0.001, 0.5, 2.0],
            )

    def bind(self, model: mujoco.MjModel) -> None:
        super().bind(model)
        self._mocap = int(model.body("hole_fixture").mocapid[0])

    def initialize(self, data: mujoco.MjData, rng: np.random.Generator) -> None:
        peg, hole = self.sample_apart(rng, 0.10 * self.scale, 0.14 * self.scale)
        self.set_free_pose(
            data, "peg_joint", [peg[0], peg[1], self.peg_half_len], self.sample_yaw(rng)
        )
        yaw = self.sample_yaw(rng)
        data.mocap_pos[self._mocap] = [hole[0], hole[1], 0.0]
        data.mocap_quat[self._mocap] = [np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)]

    def object_state(self, data: mujoco.MjData) -> np.ndarray:
        hole = data.mocap_pos[self._mocap].copy()
        hole[2] += self.height
        yaw = yaw_of_quat(data.mocap_quat[self._mocap])
        return np.concatenate([self.free_pose(data, "peg_joint"), hole, [yaw]]).astype(np.float32)

    def peg_points(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(bottom face centre, grasp point) of the peg from ``object_state``."""
        c = s[:3].astype(np.float64)
        axis = _axis(s[3:7])
        return c - self.peg_half_len * axis, c + (self.peg_half_len - self.grasp_below_top) * axis

    def evaluate(self, obs: Obs) -> TaskResult:
        s = obs["object_state"]
        bottom, grasp_pt = self.peg_points(s)
        hole = s[7:10].astype(np.float64)
        d_reach = float(np.linalg.norm(obs["ee_pos"] - grasp_pt))
        reach = closeness(d_reach, self.scale)
        grasp = float(d_reach < 0.02 * self.scale and obs["gripper"][0] < self.released)
        d_xy = float(np.linalg.norm(bottom[:2] - hole[:2]))
        align = closeness(d_xy, self.scale)
        depth = float(hole[2] - bottom[2])
        inside = d_xy < self.hole_half
        insert = float(np.clip(depth / self.depth, 0.0, 1.0)) if inside else 0.0
        success = bool(inside and depth >= self.depth)
        progress = 0.2 * reach + 0.1 * grasp + 0.3 * align + 0.4 * insert
        return TaskResult(shaped(progress, success), success)

    def relative_features(self, obs: Obs) -> np.ndarray:
        """float32[16]: grasp point − tool and peg bottom − hole opening [m] (raw, then
        squashed), the peg's heading from the tool's and the hole's from the peg's [rad,
        wrapped to ±π/4: the square's symmetry], the tool-grasp distance and the bottom's
        xy distance from the hole axis [m]."""
        s = obs["object_state"].astype(np.float64)
        tool = obs["ee_pos"].astype(np.float64)
        bottom, grasp_pt = self.peg_points(s)
        peg_yaw = yaw_of_quat(s[3:7])
        reach, align = grasp_pt - tool, bottom - s[7:10]
        headings = [
            wrap(peg_yaw - tool_yaw(obs["ee_quat"]), np.pi / 2),
            wrap(s[10] - peg_yaw, np.pi / 2),
        ]
        dists = [np.linalg.norm(reach), np.linalg.norm(align[:2])]
        return np.concatenate([*offset_features(reach, align), headings, dists]).astype(np.float32)

    def make_expert(self) -> Expert:
        above, target_depth = self.carry_above, self.target_depth

        def plan(obs: Obs, phase: int) -> tuple[np.ndarray, float, float, bool]:
            s = obs["object_state"].astype(np.float64)
            tcp = obs["ee_pos"].astype(np.float64)
            bottom, grasp_pt = self.peg_points(s)
            hole = s[7:10]
            peg_yaw = yaw_of_quat(s[3:7])
            if phase <= 1:  # hover above the grasp point, then descend; fingers on the faces
                err = wrap(peg_yaw - tool_yaw(obs["ee_quat"]), np.pi / 2)
                lift = 0.08 * self.scale if phase == 0 else 0.0
                return grasp_pt + [0.0, 0.0, lift], 1.0, err, True
            if phase == 2:  # close
                return grasp_pt, -1.0, 0.0, False
            # from here on, servo the peg's bottom: tool target = tool + (goal - bottom)
            hole_err = wrap(s[10] - peg_yaw, np.pi / 2)
            if phase == 3:  # lift
                return tcp + [0.0, 0.0, hole[2] + above - bottom[2]], -1.0, 0.0, False
            if phase == 4:  # over the hole, peg turned to the hole
                return tcp + hole + [0.0, 0.0, above] - bottom, -1.0, hole_err, True
            if phase == 5:  # just above the opening
                return tcp + hole + [0.0, 0.0, 0.006] - bottom, -1.0, hole_err, True
            if phase == 6:  # insert slowly, keeping the peg on the hole axis
                return tcp + hole - [0.0, 0.0, target_depth] - bottom, -1.0, hole_err, True
            if phase == 7:  # release
                return tcp, 1.0, 0.0, False
            return np.array([tcp[0], tcp[1], hole[2] + 0.12]), 1.0, 0.0, False  # retreat

        def jump(obs: Obs, phase: int, steps: int) -> int | None:
            s = obs["object_state"]
            bottom, grasp_pt = self.peg_points(s)
            lost = float(np.linalg.norm(obs["ee_pos"] - grasp_pt)) > 0.03 * self.scale
            if 3 <= phase <= 6 and lost:  # dropped the peg: grasp again
                return 0
            if phase == 6 and steps >= 12 and bottom[2] > s[9] - 0.003:  # stuck on the rim
                return 5
            return None

        return WaypointExpert(
            plan,
            tolerances=(0.01, 0.005, 0.0, 0.01, 0.004, 0.002, 0.003, 0.0, 0.0),
            hold_steps=(0, 0, 6, 0, 0, 2, 0, 4, 0),
            speeds=(1.0, 1.0, 1.0, 1.0, 1.0, 0.4, 0.25, 1.0, 1.0),
            timeouts=(0, 40, 0, 40, 60, 30, 40, 0, 0),
            jump=jump,
        )

    def make_reactive_expert(self) -> Expert:
        """The expert of :meth:`make_expert` as a function of the observation: held or not
        (tool at the grasp point, fingers closed on the peg), aligned over the hole or not,
        inside the hole or not, decide the target; no phase, counter or timeout."""
        above, target_depth = self.carry_above, self.target_depth
        holding_width = 2.0 * self.peg_half / float(self.robot.finger_gap) + 0.06

        def decide(obs: Obs) -> tuple[np.ndarray, float, float, bool, float]:
            s = obs["object_state"].astype(np.float64)
            tcp = obs["ee_pos"].astype(np.float64)
            bottom, grasp_pt = self.peg_points(s)
            hole = s[7:10]
            peg_yaw = yaw_of_quat(s[3:7])
            d_grasp = float(np.linalg.norm(tcp - grasp_pt))
            if not (d_grasp < 0.02 * self.scale and obs["gripper"][0] < holding_width):
                err = wrap(peg_yaw - tool_yaw(obs["ee_quat"]), np.pi / 2)
                xy = float(np.linalg.norm(tcp[:2] - grasp_pt[:2]))
                if d_grasp < 0.006 and abs(err) < 0.08:  # at the grasp point: close
                    return grasp_pt, -1.0, 0.0, False, 1.0
                if obs["gripper"][0] < 0.9 and d_grasp > 0.006:  # half closed elsewhere: open
                    return tcp + [0.0, 0.0, 0.01], 1.0, err, True, 1.0
                if xy < 0.004 and abs(err) < 0.05:  # above it, turned: descend
                    return grasp_pt, 1.0, err, True, 1.0
                hover = grasp_pt + [0.0, 0.0, 0.08 * self.scale]
                if xy > 0.01 and tcp[2] < grasp_pt[2] + 0.04 * self.scale:  # up first
                    return np.array([tcp[0], tcp[1], hover[2]]), 1.0, err, True, 1.0
                return hover, 1.0, err, True, 1.0
            # held: servo the peg's bottom (tool target = tool + goal − bottom)
            hole_err = wrap(s[10] - peg_yaw, np.pi / 2)
            off = float(np.linalg.norm(bottom[:2] - hole[:2]))
            inside = bottom[2] < hole[2] - 0.002 and off < self.clearance + 0.001
            aligned = off < 0.0015 and abs(hole_err) < 0.05
            if inside or (aligned and bottom[2] < hole[2] + 0.008):  # insert slowly
                return tcp + hole - [0.0, 0.0, target_depth] - bottom, -1.0, hole_err, True, 0.25
            if aligned:  # down to just above the opening
                return tcp + hole + [0.0, 0.0, 0.006] - bottom, -1.0, hole_err, True, 0.4
            if off > 0.01 and bottom[2] < hole[2] + above - 0.01:  # lift before carrying
                return tcp + [0.0, 0.0, hole[2] + above - bottom[2]], -1.0, 0.0, False, 1.0
            if off > 0.004:  # carry over the hole
                return tcp + hole + [0.0, 0.0, above] - bottom, -1.0, hole_err, True, 1.0
            return tcp + hole + [0.0, 0.0, 0.006] - bottom, -1.0, hole_err, True, 0.4  # centre

        return ReactiveExpert(decide)
