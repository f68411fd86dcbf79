"""A scripted "human" for human-in-the-loop RL: the task's expert takes over from a policy
by a stated rule, drives for a stretch and hands back, and steps in less often as the
policy succeeds on its own. For tests and benchmarks of ``armgym train sac --intervene
scripted``; it speaks the same ``info`` keys as a keyboard, SpaceMouse or gamepad.

The rule (every number is a :class:`ScriptedHumanConfig` field):

* **Watching.** Before every env step the human runs the task's scripted expert on the
  privileged robot observation (``ee_pos``, ``gripper``, ``object_state`` …, the env's
  ``robot_obs``), so the expert's phase follows the scene whoever drives, and reads the
  expert's current waypoint (where it would drive the tool, metres in the robot base
  frame) and the task's dense progress (``Task.evaluate(obs).reward``, −1 … 0, whatever
  reward the learner is given).
* **Triggers.** *Stray*: the tool is more than ``stray_m`` farther from the expert's
  waypoint than the closest it has come to it since the waypoint's phase began (or since
  the last trigger or hand-back). *Stall*: the progress has not risen ``progress_eps``
  above its best for ``stall_steps`` steps.
* **Taking over.** A trigger makes the human take over with probability
  ``p = max(min_prob, 1 − max(s, e))``, where ``s`` is the fraction of the last ``window``
  episodes that succeeded without a takeover (``p = 1`` before any episode ended) and
  ``e`` the success rate of the policy's latest evaluation when the trainer reports one
  (``watch_evaluations``; a person watching the policy's test runs): without ``e``, a
  human who steps into every episode never sees an unassisted success, so ``s`` and ``p``
  stay put however good the policy has become. At most ``max_takeovers`` times per
  episode. A declined trigger restarts the references, so the
  next one needs a new stray or stall.
* **Driving.** The expert restarts from its first phase (it re-plans from wherever the
  policy left the tool) and drives for at least ``min_hold`` steps, then hands back when
  its phase changes, and at the latest after ``max_hold`` steps.

With the expert itself as the policy neither trigger fires (its progress keeps rising and
it closes on its waypoints), so the intervention rate is ~0; a policy that stands still
stalls, one that wanders strays. Use it through :class:`ScriptedInterventionWrapper`
(an ``InterventionWrapper`` that also tells the human when episodes start and end).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from armgym.errors import ConfigError
from armgym.tasks.base import Task
from armgym.tasks.experts import WaypointExpert
from armgym.teleop.base import TeleopCommand
from armgym.teleop.intervention import InterventionWrapper


@dataclass(frozen=True)
class ScriptedHumanConfig:
    """When the scripted human (``--intervene scripted``) takes over and hands back."""

    stray_m: float = 0.04
    """Take over when the tool is this much farther [m] from the expert's waypoint than
    the closest it has come since the waypoint's phase began."""
    stall_steps: int = 20
    """Take over when the task's dense progress has not improved for this many steps."""
    progress_eps: float = 0.002
    """Smallest rise of the dense progress (−1 … 0) that counts as progress."""
    min_hold: int = 10
    """Steps the human drives at least before it may hand back at a phase change (45,
    longer than the expert's whole PickCube episode, makes a takeover finish the task;
    10 learned better in benchmarks/rl_hil.py)."""
    max_hold: int = 60
    """Steps after which the human hands back even mid-phase."""
    max_takeovers: int = 2
    """Takeovers per episode at most."""
    window: int = 20
    """Recent episodes whose unassisted success rate s scales p = max(min_prob, 1 − s)."""
    watch_evaluations: bool = True
    """Also lower p by the success rate of the policy's latest evaluation (see above)."""
    min_prob: float = 0.0
    """Floor of the takeover probability p."""

    def __post_init__(self) -> None:
        if self.stray_m <= 0 or self.progress_eps < 0:
            raise ConfigError("--human.stray-m must be > 0 and --human.progress-eps >= 0")
        if min(self.stall_steps, self.min_hold, self.window) < 1 or self.max_takeovers < 0:
            raise ConfigError(
                "--human.stall-steps, --human.min-hold and --human.window must be >= 1, "
                "--human.max-takeovers >= 0"
            )
        if self.max_hold < self.min_hold:
            raise ConfigError(
                f"--human.max-hold ({self.max_hold}) must be >= --human.min-hold ({self.min_hold})"
            )
        if not 0.0 <= self.min_prob <= 1.0:
            raise ConfigError(f"--human.min-prob must be in [0, 1], got {self.min_prob}")


class ScriptedHuman:
    """The task's expert as a :class:`~armgym.teleop.base.TeleopDevice` that takes over by
    the rule of the module docstring.

    ``poll()`` reads the current robot observation of ``env`` (an armgym env, possibly
    wrapped, in ``ee_delta`` or ``ee_pos`` control) and returns the expert's float32[7]
    ee_delta action with ``intervention`` True while the human drives. Call
    :meth:`start_episode` on reset and :meth:`end_episode` when an episode ends
    (:class:`ScriptedInterventionWrapper` does both).
    """

    def __init__(self, env: gym.Env, cfg: ScriptedHumanConfig | None = None, seed: int = 0):
        base: Any = env.unwrapped  # a ManipulationEnv: robot_obs, task
        self.base = base
        self.task: Task = base.task
        self.cfg = cfg or ScriptedHumanConfig()
        self.expert = self.task.make_expert()
        self.rng = np.random.default_rng(seed)
        self.recent: deque[bool] = deque(maxlen=self.cfg.window)
        self.eval_success: float | None = None
        self.intervention = False
        self.start_episode()

    @property
    def takeover_prob(self) -> float:
        """p = max(min_prob, 1 − max(s, e)): s the unassisted success rate of the last
        ``window`` episodes, e the latest evaluation's (0 before one, or when not watched)."""
        s = float(np.mean(self.recent)) if self.recent else 0.0
        e = self.eval_success if self.cfg.watch_evaluations and self.eval_success else 0.0
        return max(self.cfg.min_prob, 1.0 - max(s, e))

    def observe_evaluation(self, success_rate: float) -> None:
        """The policy's success rate in its latest (unassisted) evaluation, in [0, 1]."""
        if not 0.0 <= success_rate <= 1.0:
            raise ConfigError(f"an evaluation success rate is in [0, 1], got {success_rate}")
        self.eval_success = float(success_rate)

    def start_episode(self) -> None:
        self.expert.reset()
        self.intervention = False
        self.takeovers = 0
        self._held = self._drive_phase = 0
        self._phase = -1
        self._best_dist = self._best_progress = np.inf
        self._since_progress = 0

    def end_episode(self, success: bool) -> None:
        """Record the episode's outcome (unassisted success lowers the takeover rate)."""
        self.recent.append(bool(success) and self.takeovers == 0)
        self.intervention = False

    def _restart_references(self, dist: float, progress: float) -> None:
        self._best_dist, self._best_progress, self._since_progress = dist, progress, 0

    def _triggered(self, obs: Any) -> bool:
        """Stray or stall (updates the references); see the module docstring."""
        progress = float(self.task.evaluate(obs).reward)
        dist = 0.0
        if isinstance(self.expert, WaypointExpert):
            dist = float(np.linalg.norm(self.expert.target(obs) - obs["ee_pos"]))
            if self.expert.phase != self._phase:
                self._phase, self._best_dist = self.expert.phase, dist
        if not np.isfinite(self._best_progress):  # first look this episode / after a hand-back
            self._restart_references(dist, progress)
            return False
        self._best_dist = min(self._best_dist, dist)
        if progress > self._best_progress + self.cfg.progress_eps:
            self._best_progress, self._since_progress = progress, 0
        else:
            self._since_progress += 1
        stray = dist > self._best_dist + self.cfg.stray_m
        stall = self._since_progress >= self.cfg.stall_steps
        if stray or stall:
            self._restart_references(dist, progress)
            return True
        return False

    def _phase_of_expert(self) -> int:
        return self.expert.phase if isinstance(self.expert, WaypointExpert) else 0

    def _hand_back(self) -> bool:
        """While driving: hand back at a phase change after ``min_hold`` steps, or at
        ``max_hold``."""
        self._held += 1
        changed = self._phase_of_expert() != self._drive_phase
        self._drive_phase = self._phase_of_expert()
        return (self._held >= self.cfg.min_hold and changed) or self._held >= self.cfg.max_hold

    def poll(self) -> TeleopCommand:
        obs = self.base.robot_obs
        action = self.expert(obs)  # keeps the expert's phase in step with the scene
        if self.intervention:
            if self._hand_back():  # this step is the policy's again; fresh references
                self.intervention, self._phase, self._best_progress = False, -1, np.inf
        elif (
            self._triggered(obs)
            and self.takeovers < self.cfg.max_takeovers
            and self.rng.random() < self.takeover_prob
        ):
            self.intervention, self.takeovers, self._held = True, self.takeovers + 1, 0
            self.expert.reset()  # re-plan from where the policy left the tool
            action = self.expert(obs)
            self._drive_phase = self._phase_of_expert()
        return TeleopCommand(np.asarray(action, np.float32), self.intervention)

    def close(self) -> None:
        """Nothing to release."""


class ScriptedInterventionWrapper(InterventionWrapper):
    """``InterventionWrapper`` with a :class:`ScriptedHuman` at the device: the same
    ``info`` keys (``intervention``, ``policy_action``, ``executed_action``), and the human
    is told when each episode starts and how it ended (``info["is_success"]``)."""

    def __init__(self, env: gym.Env, cfg: ScriptedHumanConfig | None = None, seed: int = 0):
        self.human = ScriptedHuman(env, cfg, seed)
        super().__init__(env, self.human)

    def observe_evaluation(self, success_rate: float) -> None:
        """Tell the human how the policy did in its latest evaluation."""
        self.human.observe_evaluation(success_rate)

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        self.human.start_episode()
        return super().reset(**kwargs)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = super().step(action)
        if terminated or truncated:
            self.human.end_episode(bool(info.get("is_success")))
        return obs, reward, terminated, truncated, info
