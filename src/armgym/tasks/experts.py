"""Scripted experts shared by the tasks: a waypoint follower over task-defined phases.

Experts use privileged state (``object_state``) and produce ``ee_delta`` actions
(float32[7] in [-1, 1]) for the sim robot's default step sizes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from armgym.robots.base import Obs
from armgym.robots.controllers import ControllerConfig

#: plan(obs, phase) -> (target tool position [m], gripper command, yaw error [rad], align?)
Plan = Callable[[Obs, int], tuple[np.ndarray, float, float, bool]]


class WaypointExpert:
    """Move the tool through a sequence of phases, each ending at a target.

    A phase ends when the tool is within ``tolerances[phase]`` metres of the target (and
    the yaw error is under 0.05 rad when ``align``) and ``hold_steps[phase]`` control
    steps have passed in it. The last phase never ends.
    """

    def __init__(
        self,
        plan: Plan,
        tolerances: tuple[float, ...],
        hold_steps: tuple[int, ...],
        cfg: ControllerConfig | None = None,
        gain: float = 1.5,
    ):
        if len(tolerances) != len(hold_steps):
            raise ValueError("tolerances and hold_steps need one entry per phase")
        self.plan, self.tol, self.hold = plan, tolerances, hold_steps
        self.cfg = cfg or ControllerConfig()
        self.gain = gain
        self.reset()

    def reset(self) -> None:
        self.phase, self.steps_in_phase = 0, 0

    def __call__(self, obs: Obs) -> np.ndarray:
        target, grip, yaw_err, align = self.plan(obs, self.phase)
        err = target - obs["ee_pos"].astype(np.float64)
        last = self.phase == len(self.tol) - 1
        reached = float(np.linalg.norm(err)) <= self.tol[self.phase] or self.tol[self.phase] == 0.0
        aligned = (not align) or abs(yaw_err) < 0.05
        if not last and reached and aligned and self.steps_in_phase >= self.hold[self.phase]:
            self.phase, self.steps_in_phase = self.phase + 1, 0
            target, grip, yaw_err, align = self.plan(obs, self.phase)
            err = target - obs["ee_pos"].astype(np.float64)
        self.steps_in_phase += 1
        action = np.zeros(7, dtype=np.float32)
        action[:3] = np.clip(self.gain * err / self.cfg.pos_step, -1.0, 1.0)
        if align:
            action[5] = np.clip(yaw_err / self.cfg.rot_step, -1.0, 1.0)
        action[6] = grip
        return action
