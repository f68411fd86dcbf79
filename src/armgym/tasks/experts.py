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
#: decide(obs) -> (target tool position [m], gripper command, yaw error [rad], align?, speed)
Decide = Callable[[Obs], tuple[np.ndarray, float, float, bool, float]]


def servo_action(
    obs: Obs,
    target: np.ndarray,
    grip: float,
    yaw_err: float,
    align: bool,
    speed: float,
    cfg: ControllerConfig,
    gain: float,
) -> np.ndarray:
    """float32[7] ee_delta action driving the tool toward ``target`` [m]: proportional
    (``gain``) and capped at ``speed`` (1 = full ``pos_step``) with its direction kept;
    the yaw error [rad] is servoed when ``align``; ``grip`` +1 open … −1 closed."""
    action = np.zeros(7, dtype=np.float32)
    v = gain * (np.asarray(target, np.float64) - obs["ee_pos"].astype(np.float64)) / cfg.pos_step
    norm = float(np.max(np.abs(v)))
    action[:3] = v * (speed / norm) if norm > speed else v  # keep the direction when capping
    if align:
        action[5] = np.clip(yaw_err / cfg.rot_step, -1.0, 1.0)
    action[6] = grip
    return action


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
        self.steps_in_phase += 1
        cap = self.speeds[self.phase]
        return servo_action(obs, target, grip, yaw_err, align, cap, self.cfg, self.gain)


class ReactiveExpert:
    """A stateless expert: every action is a function of this observation alone.

    ``decide(obs)`` picks the target from what the observation shows (is the object held?
    is it over the goal?) instead of a phase counter, so two visits of one state get one
    action. A learner that sees the same observation can then imitate it exactly, and an
    expert queried at states it did not lead to (DAgger's labels, the corrections a
    residual is trained toward) gives consistent labels; a :class:`WaypointExpert`'s hold
    counters, timeouts and jumps do not.
    """

    def __init__(self, decide: Decide, cfg: ControllerConfig | None = None, gain: float = 1.5):
        self.decide, self.cfg, self.gain = decide, cfg or ControllerConfig(), gain

    def reset(self) -> None:
        return None

    def __call__(self, obs: Obs) -> np.ndarray:
        target, grip, yaw_err, align, speed = self.decide(obs)
        return servo_action(obs, target, grip, yaw_err, align, speed, self.cfg, self.gain)
