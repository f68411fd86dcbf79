"""Record env episodes into a ``LeRobotWriter``, honestly timed.

Frame ``t`` of an episode holds the observation the agent saw, the action it then sent, and
what followed: ``next.reward`` (float32), ``next.done`` (bool), ``next.success`` (bool), plus
``complementary_info.sim_state`` (float64[S], the full physics state before the action, when
the env exposes ``get_sim_state``; not an ``observation.*`` so LeRobot does not take it as a
policy input) so that ``armgym replay`` can re-run the episode.

``RateTimer`` measures the real control period (``armgym/target_fps`` is the control rate
the frames stand for, ``armgym/measured_fps`` the rate the loop achieved). With ``realtime=True`` (teleoperation) it
paces the loop at the env's control rate and counts a frame *late* when its period exceeds
1.5 target periods and a *dropped* frame for every control slot that passed without a
frame (the schedule then realigns instead of bursting to catch up); these land in the
episode's ``armgym/*`` metadata columns and in the collection summary. Without pacing
(scripted collection) it reports the rate actually achieved.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from armgym.contracts.info import (
    ENDING_EVENTS,
    EXECUTED_ACTION,
    INSTRUCTION,
    INTERVENTION,
    POLICY_ACTION,
    TELEOP_EVENTS,
)
from armgym.contracts.names import NamedFeatures
from armgym.contracts.robot import SimStateful
from armgym.data import lerobot_format as fmt

#: Per-frame outcome features the recorder adds.
OUTCOME_FEATURES: dict[str, dict[str, Any]] = {
    "next.reward": {"dtype": "float32", "shape": [1], "names": None},
    "next.done": {"dtype": "bool", "shape": [1], "names": None},
    "next.success": {"dtype": "bool", "shape": [1], "names": None},
}
SIM_STATE_KEY = fmt.SIM_STATE_KEY
#: LeRobot's human-in-the-loop columns (its own HIL recordings use these names).
IS_INTERVENTION = "complementary_info.is_intervention"
POLICY_ACTION_COLUMN = "complementary_info.policy_action"


def intervention_features(
    action_dim: int, action_names: list[str] | None = None
) -> dict[str, dict[str, Any]]:
    """LeRobot feature specs of the two per-frame intervention columns: ``is_intervention``
    float32[1] (1.0 while a person acts) and ``policy_action`` float32[A] (what the policy
    proposed, also when overridden; named like ``action``)."""
    names = action_names if action_names and len(action_names) == action_dim else None
    return {
        IS_INTERVENTION: {"dtype": "float32", "shape": [1], "names": ["is_intervention"]},
        POLICY_ACTION_COLUMN: fmt.vector_feature(action_dim, names),
    }


def env_feature_names(env: Any) -> dict[str, list[str]]:
    """Per-dimension names of an env's vector features (``observation.state``, ``action``,
    ``observation.environment_state``), or ``{}`` for an env that is not armgym's."""
    base = env.unwrapped
    return base.feature_names() if isinstance(base, NamedFeatures) else {}


def env_features(env: Any, *, sim_state: bool = True) -> dict[str, dict[str, Any]]:
    """LeRobot features for an armgym env: its observation keys 1:1, action, outcomes; every
    vector named per dimension (:func:`env_feature_names`), the way LeRobot records ``names``.

    ``sim_state`` adds ``complementary_info.sim_state`` (float64[S]) when the env supports it
    (an armgym env on a real arm does not).
    """
    fps = float(env.unwrapped.metadata.get("render_fps", 10))
    names = env_feature_names(env)
    feats: dict[str, dict[str, Any]] = {}
    for key, space in env.observation_space.spaces.items():
        if not isinstance(space, gym.spaces.Box):  # e.g. the instruction's Text space
            continue
        if space.dtype == np.uint8 and len(space.shape) == 3:
            feats[key] = fmt.video_feature(space.shape[0], space.shape[1], fps)
        else:
            feats[key] = fmt.vector_feature(int(np.prod(space.shape)), names.get(key))
    base = env.unwrapped  # an armgym env has sim state when its robot has (not a real arm)
    if (
        sim_state
        and isinstance(base, SimStateful)
        and isinstance(getattr(base, "robot", base), SimStateful)
    ):
        env.reset(seed=0)
        n = int(np.asarray(env.unwrapped.get_sim_state()).size)
        feats[SIM_STATE_KEY] = fmt.vector_feature(n, dtype="float64")
    dim = int(np.prod(env.action_space.shape))
    feats["action"] = fmt.vector_feature(
        dim, names.get("action", fmt.ACTION_NAMES if dim == 7 else None)
    )
    feats.update(OUTCOME_FEATURES)
    return feats


@dataclass
class RateTimer:
    """Measure (and with ``realtime``, keep) a control rate of ``fps`` Hz."""

    fps: float
    realtime: bool = False
    late_factor: float = 1.5
    periods: list[float] = field(default_factory=list)
    late: int = 0
    dropped: int = 0

    def start(self) -> None:
        self.periods.clear()
        self.late = self.dropped = 0
        self._last = time.perf_counter()
        self._deadline = self._last + 1.0 / self.fps

    def tick(self) -> None:
        """Call once per control step, after the step's work."""
        period = 1.0 / self.fps
        if self.realtime:
            now = time.perf_counter()
            if now < self._deadline:
                time.sleep(self._deadline - now)
            self._deadline += period
            now = time.perf_counter()
            # more than half a period past the next slot: those slots are lost (dropped);
            # realign the schedule instead of bursting to catch up
            if now - self._deadline > 0.5 * period:
                missed = int((now - self._deadline) // period) + 1
                self.dropped += missed
                self._deadline += missed * period
        now = time.perf_counter()
        dt = now - self._last
        self._last = now
        self.periods.append(dt)
        if self.realtime and dt > self.late_factor * period:
            self.late += 1

    def summary(self) -> dict[str, Any]:
        """The ``armgym/*`` timing columns for this episode."""
        p = np.asarray(self.periods) if self.periods else np.array([np.nan])
        return {
            "armgym/target_fps": float(self.fps),
            "armgym/measured_fps": float(1.0 / p.mean()) if p.mean() > 0 else float(self.fps),
            "armgym/max_period_s": float(p.max()),
            "armgym/late_frames": int(self.late),
            "armgym/dropped_frames": int(self.dropped),
        }


@dataclass
class EpisodeResult:
    """What one recorded episode came to (saved or not)."""

    length: int
    success: bool
    ret: float
    saved: bool
    timing: dict[str, Any]
    events: set[str] = field(default_factory=set)
    interventions: int = 0
    """Steps a person's device acted (``info["intervention"]``)."""


ActFn = Callable[[Mapping[str, np.ndarray]], np.ndarray]


def transition_columns(info: Mapping[str, Any], features: Mapping[str, Any]) -> dict[str, Any]:
    """The per-frame columns a step's ``info`` carries that ``features`` asks for.

    ``info["intervention"]`` -> ``complementary_info.is_intervention`` float32[1],
    ``info["policy_action"]`` -> ``complementary_info.policy_action`` float32[A]
    (written by ``armgym.teleop.InterventionWrapper``).
    """
    cols: dict[str, Any] = {}
    if IS_INTERVENTION in features:
        cols[IS_INTERVENTION] = np.array([float(bool(info.get(INTERVENTION)))], np.float32)
    if POLICY_ACTION_COLUMN in features and POLICY_ACTION in info:
        cols[POLICY_ACTION_COLUMN] = np.asarray(info[POLICY_ACTION], np.float32)
    return cols


class EpisodeRecorder:
    """Run ``act(obs) -> action`` in ``env`` and write each episode to ``writer``.

    The transition's ``info`` (``armgym.contracts.info``) drives the rest: the action saved
    is ``info["executed_action"]`` when a wrapper replaced the agent's;
    ``info["teleop_events"]`` ``episode_success`` / ``episode_failure`` end the episode,
    ``rerecord`` discards it, ``stop`` ends it and asks the caller to stop; with the
    intervention features in the writer each frame stores ``info["intervention"]`` and
    ``info["policy_action"]`` and the episode ``armgym/intervention_frames``.
    """

    def __init__(
        self, env: Any, writer: Any, *, realtime: bool = False, sim_state: bool | None = None
    ):
        self.env, self.writer = env, writer
        fps = float(env.unwrapped.metadata.get("render_fps", 10))
        self.timer = RateTimer(fps, realtime=realtime)
        self.sim_state = (SIM_STATE_KEY in writer.features) if sim_state is None else sim_state
        self.task = str(getattr(getattr(env.unwrapped, "task", None), "instruction", "") or "")
        self.step_seconds: list[float] = []

    def record(
        self, act: ActFn, *, seed: int | None, max_steps: int, only_success: bool = False
    ) -> EpisodeResult:
        """Record one episode of at most ``max_steps`` frames; save it unless filtered."""
        env, writer = self.env, self.writer
        obs, info = env.reset(seed=seed)
        task = str(info.get(INSTRUCTION) or self.task)
        ret, success, events, interventions = 0.0, bool(info.get("is_success", False)), set(), 0
        self.timer.start()
        for _ in range(max_steps):
            frame: dict[str, Any] = {k: v for k, v in obs.items() if k in writer.features}
            if self.sim_state:
                frame[SIM_STATE_KEY] = env.unwrapped.get_sim_state()
            action = np.asarray(act(obs), dtype=np.float32)
            t0 = time.perf_counter()
            obs, reward, terminated, truncated, info = env.step(action)
            events = set(info.get(TELEOP_EVENTS, ()))
            interventions += int(bool(info.get(INTERVENTION, False)))
            success = bool(info.get("is_success", False))
            ret += float(reward)
            done = bool(terminated or truncated) or bool(events & ENDING_EVENTS)
            frame.update(transition_columns(info, writer.features))
            frame.update(
                {
                    "action": np.asarray(info.get(EXECUTED_ACTION, action), np.float32),
                    "next.reward": np.float32(reward),
                    "next.done": np.bool_(done),
                    "next.success": np.bool_(success),
                }
            )
            writer.add_frame(frame, task=task)
            self.step_seconds.append(time.perf_counter() - t0)
            self.timer.tick()
            if done:
                break
        success = (success or "episode_success" in events) and "episode_failure" not in events
        keep = "rerecord" not in events and (success or not only_success)
        return self._finish(seed, keep, success, ret, events, interventions)

    def _finish(
        self, seed: int | None, keep: bool, success: bool, ret: float, events: set[str], n_int: int
    ) -> EpisodeResult:
        """Save (``keep``) or discard the episode in the writer; its ``EpisodeResult``."""
        writer, timing = self.writer, self.timer.summary()
        n = writer.num_frames
        if keep and n:
            extras: dict[str, Any] = {
                **timing,
                "armgym/success": success,
                "armgym/return": ret,
                "armgym/seed": -1 if seed is None else int(seed),
            }
            if IS_INTERVENTION in writer.features:
                extras["armgym/intervention_frames"] = n_int
            writer.save_episode(extras)
        else:
            writer.discard_episode()
        return EpisodeResult(n, success, ret, keep and n > 0, timing, events, n_int)
