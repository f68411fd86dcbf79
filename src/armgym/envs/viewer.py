"""``armgym show``: watch an env in the interactive MuJoCo viewer (needs a display).

The viewer runs the task's scripted expert (or random actions) in real time, resetting
at the end of each episode. On a machine without a display use ``xvfb-run`` or render
offscreen (``obs="pixels"``) instead; this command then fails with a clear message.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import tyro

from armgym.envs.registration import make_env
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


def show(cfg: ShowConfig) -> int:
    """Run episodes in the passive viewer in real time; return the number of steps."""
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        raise ArmgymError("no display: run under a desktop session or `xvfb-run armgym show ...`")
    import mujoco.viewer

    env = make_env(cfg.task, robot=cfg.robot, randomization=cfg.randomization)
    expert = ScriptedPolicy.for_env(env) if cfg.policy == "expert" else None
    if cfg.policy not in ("expert", "random"):
        raise ArmgymError(f"--policy must be 'expert' or 'random', got {cfg.policy!r}")
    robot = env.robot
    obs, _ = env.reset(seed=cfg.seed)
    seed, steps = cfg.seed, 0
    period = 1.0 / robot.control_hz
    with mujoco.viewer.launch_passive(robot.model, robot.data) as viewer:  # type: ignore[attr-defined]
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
        viewer.close()
    time.sleep(0.5)  # let the viewer thread tear its window down before the process exits
    env.close()
    return steps


def main(argv: list[str]) -> int:
    steps = show(tyro.cli(ShowConfig, args=argv, prog="armgym show"))
    print(f"armgym show: {steps} control steps")
    return 0
