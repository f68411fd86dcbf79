"""``armgym show``: watch an env in the interactive MuJoCo viewer (needs a display).

The viewer runs the task's scripted expert (or random actions) in real time, resetting
at the end of each episode. The window opens framed on the task (the robot's object area
and the gripper working above it, seen from in front of the robot), with MuJoCo's
settings panels hidden (Tab / Shift+Tab show them), and ``ViewerWrapper`` draws an
overlay: the key map of the viewer's keyboard teleop (when a person drives), whether the
human is in control, episode, step and success. On a machine without a display use ``xvfb-run`` or render
offscreen (``obs="pixels"``) instead; this command then fails with a clear message.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
import tyro

from armgym.contracts.info import INTERVENTION, TELEOP_EVENTS
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
    rerun: Path | None = None
    """Also record what is shown to this rerun file (.rrd: joints, EE trajectory, actions,
    reward, success per episode; open with `rerun FILE`; needs `pip install armgym[viz]`)."""
    rerun_connect: str | None = None
    """Stream the same to a running rerun viewer instead: its port (9876), host:port, or a
    rerun+http://HOST:PORT/proxy URL (start one with `rerun`)."""


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

    handle = mujoco.viewer.launch_passive(  # type: ignore[attr-defined]
        robot.model,
        robot.data,
        key_callback=key_callback,
        show_left_ui=False,
        show_right_ui=False,
    )
    frame_on_task(handle, env)
    return handle


def task_view(env: Any) -> tuple[np.ndarray, float, float, float]:
    """(lookat [m, world], distance [m], azimuth [deg], elevation [deg]) of a free camera
    that frames the task: the object area of the robot spec and the gripper above it, seen
    from in front of the robot, slightly from its left."""
    task = env.unwrapped.task
    base = np.asarray(task.robot.base_pos, np.float64)
    centre = np.array([task.center[0], task.center[1], base[2] + 0.08 * task.scale])
    reach = float(np.linalg.norm(centre[:2] - base[:2]))
    heading = float(np.degrees(np.arctan2(centre[1] - base[1], centre[0] - base[0])))
    return centre, max(0.6, 2.0 * reach + 0.4), heading + 180.0 - 25.0, -35.0


def frame_on_task(handle: Any, env: Any) -> None:
    """Point the viewer's free camera at the task (:func:`task_view`)."""
    import mujoco

    lookat, distance, azimuth, elevation = task_view(env)
    with handle.lock():
        handle.cam.type = mujoco.mjtCamera.mjCAMERA_FREE
        handle.cam.lookat[:] = lookat
        handle.cam.distance, handle.cam.azimuth, handle.cam.elevation = (
            distance,
            azimuth,
            elevation,
        )


def overlay_texts(
    *, episode: int, step: int, success: bool, intervention: bool | None, keys: bool
) -> list[tuple[int, int, str, str]]:
    """The viewer overlay: status (top left) and, when a person drives, the key map
    (bottom left). ``intervention`` None: no human in this loop."""
    import mujoco

    status = [
        ("episode", str(episode)),
        ("step", str(step)),
        ("success", "yes" if success else "no"),
    ]
    if intervention is not None:
        status.insert(0, ("control", "HUMAN" if intervention else "policy"))
    texts = [
        (
            mujoco.mjtFontScale.mjFONTSCALE_150,
            mujoco.mjtGridPos.mjGRID_TOPLEFT,
            "\n".join(k for k, _ in status),
            "\n".join(v for _, v in status),
        )
    ]
    if keys:
        texts.append(
            (
                mujoco.mjtFontScale.mjFONTSCALE_100,
                mujoco.mjtGridPos.mjGRID_BOTTOMLEFT,
                "\n".join(k for k, _ in KEY_HELP),
                "\n".join(v for _, v in KEY_HELP),
            )
        )
    return texts


#: the viewer's teleop keys (``armgym.teleop.viewer_keys``), as the overlay lists them
KEY_HELP = (
    ("up / down", "forward / back (x)"),
    ("left / right", "left / right (y)"),
    ("page up / down", "up / down (z)"),
    ("home / end", "yaw"),
    ("keypad 4 6 / 8 2", "roll / pitch"),
    ("space", "open / close gripper"),
    ("insert", "take over / hand back"),
    ("enter / F9", "success / failure"),
    ("F10 / esc", "re-record / stop"),
)


def close_viewer(handle: Any) -> None:
    """Close the window and let the viewer thread tear it down before the process exits."""
    handle.close()
    time.sleep(0.5)


class ViewerWrapper(gym.Wrapper):
    """Show every frame of ``env`` in the passive viewer ``handle``, with an overlay.

    Before each step the viewer is synced to the env's current state; after it the overlay
    (:func:`overlay_texts`) shows episode, step, success and, when ``human`` (a person
    drives or may take over), who is in control (``info["intervention"]``) and the key
    map. Once the window is closed the step's ``info["teleop_events"]`` includes ``stop``
    (the recorder then ends the episode and the collection).
    """

    def __init__(self, env: gym.Env, handle: Any, *, human: bool = False, takeover: bool = False):
        super().__init__(env)
        self.handle, self.human, self.takeover = handle, human, takeover
        # episodes are counted from 1 when their first step runs (a reset that is never
        # stepped, such as the recorder's feature probe, does not count)
        self.episode, self.steps, self.started = 0, 0, False

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self.steps, self.started = 0, False
        self.show(info)
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        self.handle.sync()
        obs, reward, terminated, truncated, info = self.env.step(action)
        if not self.started:
            self.episode, self.started = self.episode + 1, True
        self.steps += 1
        self.show(info)
        if not self.handle.is_running():
            info = {**info, TELEOP_EVENTS: frozenset(info.get(TELEOP_EVENTS, ())) | {"stop"}}
        return obs, reward, terminated, truncated, info

    def show(self, info: dict[str, Any]) -> None:
        intervention = bool(info.get(INTERVENTION, False)) if self.takeover else None
        texts = overlay_texts(episode=self.episode + (not self.started), step=self.steps,
                              success=bool(info.get("is_success", False)),
                              intervention=intervention, keys=self.human)  # fmt: skip
        self.handle.set_texts(texts)


def show(cfg: ShowConfig) -> int:
    """Run episodes in the passive viewer in real time; return the number of steps."""
    env = build_env(EnvConfig(task=cfg.task, robot=cfg.robot, randomization=cfg.randomization))
    expert = ScriptedPolicy.for_env(env) if cfg.policy == "expert" else None
    if cfg.policy not in ("expert", "random"):
        raise ArmgymError(f"--policy must be 'expert' or 'random', got {cfg.policy!r}")
    recording = None
    if cfg.rerun is not None or cfg.rerun_connect is not None:
        from armgym.data.recorder import env_feature_names
        from armgym.viz.rerun_log import EpisodeRecording

        names, hz = env_feature_names(env), env.robot.control_hz
        recording = EpisodeRecording(cfg.rerun, names, hz, connect=cfg.rerun_connect)
    obs, _ = env.reset(seed=cfg.seed)
    seed, steps, ep_steps = cfg.seed, 0, 0
    period = 1.0 / env.robot.control_hz
    with open_viewer(env) as viewer:
        start = time.monotonic()  # once the window is up
        while viewer.is_running() and (cfg.seconds <= 0 or time.monotonic() - start < cfg.seconds):
            tick = time.monotonic()
            action = expert(obs) if expert else env.action_space.sample()
            before = obs
            obs, reward, terminated, truncated, info = env.step(action)
            if recording is not None:
                recording.add(before, action, float(reward), bool(info.get("is_success")))
            steps, ep_steps = steps + 1, ep_steps + 1
            viewer.set_texts(overlay_texts(episode=seed - cfg.seed + 1, step=ep_steps,
                                           success=bool(info.get("is_success")),
                                           intervention=None, keys=False))  # fmt: skip
            if terminated or truncated or ep_steps >= 200:
                if recording is not None:
                    recording.end_episode()
                seed, ep_steps = seed + 1, 0
                obs, _ = env.reset(seed=seed)
                if expert:
                    expert.reset()
            viewer.sync()
            time.sleep(max(0.0, period - (time.monotonic() - tick)))
        close_viewer(viewer)
    env.close()
    if recording is not None:
        print(f"armgym show: rerun recording {recording.close()}")
    return steps


def main(argv: list[str]) -> int:
    steps = show(tyro.cli(ShowConfig, args=argv, prog="armgym show"))
    print(f"armgym show: {steps} control steps")
    return 0
