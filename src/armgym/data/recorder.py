"""Record env episodes into a ``LeRobotWriter``, honestly timed.

Frame ``t`` of an episode holds the observation the agent saw, the action it then sent, and
what followed: ``next.reward`` (float32), ``next.done`` (bool), ``next.success`` (bool), plus
``observation.sim_state`` (float64[S], the full physics state before the action, when the
env exposes ``get_sim_state``) so that ``armgym replay`` can re-run the episode.

``RateTimer`` measures the real control period. With ``realtime=True`` (teleoperation) it
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

import numpy as np

from armgym.data import lerobot_format as fmt

#: Per-frame outcome features the recorder adds.
OUTCOME_FEATURES: dict[str, dict[str, Any]] = {
    "next.reward": {"dtype": "float32", "shape": [1], "names": None},
    "next.done": {"dtype": "bool", "shape": [1], "names": None},
    "next.success": {"dtype": "bool", "shape": [1], "names": None},
}
SIM_STATE_KEY = "observation.sim_state"


def env_features(env: Any, *, sim_state: bool = True) -> dict[str, dict[str, Any]]:
    """LeRobot features for an armgym env: its observation keys 1:1, action, outcomes.

    ``sim_state`` adds ``observation.sim_state`` (float64[S]) when the env supports it.
    """
    fps = float(env.unwrapped.metadata.get("render_fps", 10))
    feats: dict[str, dict[str, Any]] = {}
    for key, space in env.observation_space.spaces.items():
        if space.dtype == np.uint8 and len(space.shape) == 3:
            feats[key] = fmt.video_feature(space.shape[0], space.shape[1], fps)
        else:
            feats[key] = fmt.vector_feature(int(np.prod(space.shape)))
    if sim_state and hasattr(env.unwrapped, "get_sim_state"):
        env.reset(seed=0)
        n = int(np.asarray(env.unwrapped.get_sim_state()).size)
        feats[SIM_STATE_KEY] = fmt.vector_feature(n, dtype="float64")
    dim = int(np.prod(env.action_space.shape))
    feats["action"] = fmt.vector_feature(dim, fmt.ACTION_NAMES if dim == 7 else None)
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
            "armgym/target_fps": self.fps if self.realtime else float("nan"),
            "armgym/measured_fps": float(1.0 / p.mean()) if p.mean() > 0 else float("nan"),
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


ActFn = Callable[[Mapping[str, np.ndarray]], np.ndarray]


class EpisodeRecorder:
    """Run ``act(obs) -> action`` in ``env`` and write each episode to ``writer``.

    ``act`` may expose ``events`` (a set of strings, e.g. from a teleop device) after
    each call: ``episode_success`` / ``episode_failure`` end the episode, ``rerecord``
    discards it, ``stop`` ends it and asks the caller to stop. An ``act`` with a
    ``frame_extras()`` method (``InterventionActor``) adds its columns to every frame, and
    its ``interventions`` count is saved per episode as ``armgym/intervention_frames``.
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
        ret, success, events = 0.0, bool(info.get("is_success", False)), set()
        extras = getattr(act, "frame_extras", None)
        self.timer.start()
        for _ in range(max_steps):
            frame: dict[str, Any] = {k: v for k, v in obs.items() if k in writer.features}
            if self.sim_state:
                frame[SIM_STATE_KEY] = env.unwrapped.get_sim_state()
            action = np.asarray(act(obs), dtype=np.float32)
            if extras is not None:
                frame.update(extras())
            events = set(getattr(act, "events", ()) or ())
            t0 = time.perf_counter()
            obs, reward, terminated, truncated, info = env.step(action)
            success = bool(info.get("is_success", False))
            ret += float(reward)
            done = bool(terminated or truncated) or bool(
                events & {"episode_success", "episode_failure", "stop", "rerecord"}
            )
            frame.update(
                {
                    "action": action,
                    "next.reward": np.float32(reward),
                    "next.done": np.bool_(done),
                    "next.success": np.bool_(success),
                }
            )
            writer.add_frame(frame, task=self.task)
            self.step_seconds.append(time.perf_counter() - t0)
            self.timer.tick()
            if done:
                break
        success = success or "episode_success" in events
        if "episode_failure" in events:
            success = False
        timing = self.timer.summary()
        keep = "rerecord" not in events and (success or not only_success)
        n = writer.num_frames
        if keep and n:
            writer.save_episode(
                {
                    **timing,
                    "armgym/success": success,
                    "armgym/return": ret,
                    "armgym/seed": -1 if seed is None else int(seed),
                    **(
                        {"armgym/intervention_frames": int(interventions)}
                        if (interventions := getattr(act, "interventions", None)) is not None
                        else {}
                    ),
                }
            )
        else:
            writer.discard_episode()
        return EpisodeResult(n, success, ret, keep and n > 0, timing, events)
