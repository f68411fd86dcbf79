"""Scripted experts shared by the tasks: a waypoint follower over task-defined phases.

Experts use privileged state (``object_state``) and produce ``ee_delta`` actions
(float32[7] in [-1, 1]) for the sim robot's default step sizes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from armgym.contracts.observation import Obs
from armgym.errors import ConfigError
from armgym.robots.controllers import ControllerConfig

#: plan(obs, phase) -> (target tool position [m], gripper command, yaw error [rad], align?)
Plan = Callable[[Obs, int], tuple[np.ndarray, float, float, bool]]
#: jump(obs, phase, steps_in_phase) -> phase to switch to now, or None to stay
Jump = Callable[[Obs, int, int], "int | None"]


class WaypointExpert:
    """Move the tool through a sequence of phases, each ending at a target.

    A phase ends when the tool is within ``tolerances[phase]`` metres of the target (and
    the yaw error is under ``yaw_tol`` rad when ``align``) and ``hold_steps[phase]`` control
    steps have passed in it. A tolerance of 0 means the phase ends on time alone. The last
    phase never ends.

    Optional per-phase extras (one entry per phase):

    * ``speeds``: cap on the translation action magnitude (1 = full ``pos_step``); slow
      phases for precise contact (insertion, placing).
    * ``timeouts``: a phase also ends after this many steps even when its target was not
      reached (0 = no limit); keeps the expert moving when contact blocks the tool.
    * ``jump``: called every step before planning; returning a phase index switches to it
      (re-approach after a failed push, re-grasp after a drop).
    """

    def __init__(
        self,
        plan: Plan,
        tolerances: tuple[float, ...],
        hold_steps: tuple[int, ...],
        cfg: ControllerConfig | None = None,
        gain: float = 1.5,
        *,
        speeds: tuple[float, ...] | None = None,
        timeouts: tuple[int, ...] | None = None,
        jump: Jump | None = None,
        yaw_tol: float = 0.05,
    ):
        n = len(tolerances)
        if len(hold_steps) != n:
            raise ConfigError("tolerances and hold_steps need one entry per phase")
        if (speeds is not None and len(speeds) != n) or (
            timeouts is not None and len(timeouts) != n
        ):
            raise ConfigError("speeds and timeouts need one entry per phase")
        self.plan, self.tol, self.hold = plan, tolerances, hold_steps
        self.speeds = speeds or (1.0,) * n
        self.timeouts = timeouts or (0,) * n
        self.jump = jump
        self.yaw_tol = yaw_tol
        self.cfg = cfg or ControllerConfig()
        self.gain = gain
        self.reset()

    def reset(self) -> None:
        self.phase, self.steps_in_phase = 0, 0

    def target(self, obs: Obs) -> np.ndarray:
        """Tool position [m, robot base frame] the current phase drives to (no state change)."""
        return np.asarray(self.plan(obs, self.phase)[0], np.float64)

    def _goto(self, phase: int) -> None:
        self.phase, self.steps_in_phase = phase, 0

    def __call__(self, obs: Obs) -> np.ndarray:
        if self.jump is not None:
            nxt = self.jump(obs, self.phase, self.steps_in_phase)
            if nxt is not None and nxt != self.phase:
                self._goto(nxt)
        target, grip, yaw_err, align = self.plan(obs, self.phase)
        err = target - obs["ee_pos"].astype(np.float64)
        p = self.phase
        last = p == len(self.tol) - 1
        reached = float(np.linalg.norm(err)) <= self.tol[p] or self.tol[p] == 0.0
        aligned = (not align) or abs(yaw_err) < self.yaw_tol
        timed_out = 0 < self.timeouts[p] <= self.steps_in_phase
        if (
            not last
            and ((reached and aligned) or timed_out)
            and self.steps_in_phase >= self.hold[p]
        ):
            self._goto(p + 1)
            target, grip, yaw_err, align = self.plan(obs, self.phase)
            err = target - obs["ee_pos"].astype(np.float64)
        self.steps_in_phase += 1
        action = np.zeros(7, dtype=np.float32)
        v = self.gain * err / self.cfg.pos_step
        cap = self.speeds[self.phase]
        norm = float(np.max(np.abs(v)))
        action[:3] = v * (cap / norm) if norm > cap else v  # keep the direction when capping
        if align:
            action[5] = np.clip(yaw_err / self.cfg.rot_step, -1.0, 1.0)
        action[6] = grip
        return action
