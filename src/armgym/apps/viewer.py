"""``armgym show``: watch an env in the interactive MuJoCo viewer (needs a display).

The viewer runs the task's scripted expert (or random actions) in real time, resetting
at the end of each episode. On a machine without a display use ``xvfb-run`` or render
offscreen (``obs="pixels"``) instead; this command then fails with a clear message.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, SupportsFloat

import gymnasium as gym
import tyro

from armgym.contracts.info import TELEOP_EVENTS
from armgym.contracts.robot import MujocoRobot
from armgym.envs import EnvConfig, build_env
from armgym.errors import ArmgymError
from armgym.policies.scripted import ScriptedPolicy


@dataclass(frozen=True)
class ShowConfig:
    """Open the MuJoCo viewer on an armgym env."""

    task: str = "PickCube"
    """Task name."""
    robot: str = "panda"
    """Robot name."""
    randomization: str = "low"
    """Randomisation level."""
    policy: str = "expert"
    """``expert`` (scripted, privileged state) or ``random``."""
    seconds: float = 0.0
    """Close after this many seconds (0 = when the window is closed)."""
    seed: int = 0
    """Seed of the first episode (the next ones use seed + 1, ...)."""


def open_viewer(env: Any, key_callback: Callable[[int], None] | None = None) -> Any:
    """Open MuJoCo's passive viewer on ``env``'s sim robot; return its handle.

    ``key_callback(glfw_keycode)`` receives the window's key-down events (see
    ``armgym.teleop.viewer_keys``). The caller steps the env and calls ``handle.sync()``.
    Raises ``ArmgymError`` without a display or for an env with no local MuJoCo model.
    """
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        raise ArmgymError(
            "no display for the MuJoCo viewer: run under a desktop session or prefix the "
            "command with `xvfb-run -a`"
        )
    robot = env.unwrapped.robot
    if not isinstance(robot, MujocoRobot):
        raise ArmgymError(f"the viewer needs a local sim robot; this env runs {robot!r}")
    import mujoco.viewer

    return mujoco.viewer.launch_passive(  # type: ignore[attr-defined]
        robot.model, robot.data, key_callback=key_callback
    )


def close_viewer(handle: Any) -> None:
    """Close the window and let the viewer thread tear it down before the process exits."""
    handle.close()
    time.sleep(0.5)


class ViewerWrapper(gym.Wrapper):
    """Show every frame of ``env`` in the passive viewer ``handle``.

    Before each step the viewer is synced to the env's current state; once the window is
    closed the step's ``info["teleop_events"]`` includes ``stop`` (the recorder then ends
    the episode and the collection).
    """

    def __init__(self, env: gym.Env, handle: Any):
        super().__init__(env)
        self.handle = handle

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        self.handle.sync()
        obs, reward, terminated, truncated, info = self.env.step(action)
        if not self.handle.is_running():
            info = {**info, TELEOP_EVENTS: frozenset(info.get(TELEOP_EVENTS, ())) | {"stop"}}
        return obs, reward, terminated, truncated, info


def show(cfg: ShowConfig) -> int:
    """Run episodes in the passive viewer in real time; return the number of steps."""
    env = build_env(EnvConfig(task=cfg.task, robot=cfg.robot, randomization=cfg.randomization))
    expert = ScriptedPolicy.for_env(env) if cfg.policy == "expert" else None
    if cfg.policy not in ("expert", "random"):
        raise ArmgymError(f"--policy must be 'expert' or 'random', got {cfg.policy!r}")
    obs, _ = env.reset(seed=cfg.seed)
    seed, steps = cfg.seed, 0
    period = 1.0 / env.robot.control_hz
    with open_viewer(env) as viewer:
        start = time.monotonic()  # once the window is up
        while viewer.is_running() and (cfg.seconds <= 0 or time.monotonic() - start < cfg.seconds):
            tick = time.monotonic()
            action = expert(obs) if expert else env.action_space.sample()
            obs, _, terminated, truncated, _ = env.step(action)
            steps += 1
            if terminated or truncated or steps % 200 == 0:
                seed += 1
                obs, _ = env.reset(seed=seed)
                if expert:
                    expert.reset()
            viewer.sync()
            time.sleep(max(0.0, period - (time.monotonic() - tick)))
        close_viewer(viewer)
    env.close()
    return steps


def main(argv: list[str]) -> int:
    steps = show(tyro.cli(ShowConfig, args=argv, prog="armgym show"))
    print(f"armgym show: {steps} control steps")
    return 0
