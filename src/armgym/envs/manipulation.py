"""``ManipulationEnv``: a gymnasium env = a :class:`Robot` + a :class:`Task`.

Observation modes (``OBS_MODES``), keys named as LeRobot dataset features:

===============================  =========  ===============  =============================
key                              ``state``  ``pixels``       ``both``
===============================  =========  ===============  =============================
``observation.state``            yes        yes              yes
``observation.environment_state`` yes       no               yes
``observation.images.<camera>``  no         yes              yes
===============================  =========  ===============  =============================

``observation.state`` = [joint_pos (n), joint_vel (n), ee_pos (3), ee_quat wxyz (4),
gripper (1)], float32[2n + 8], SI units, robot base frame. ``observation.environment_state``
is the task's privileged object state (float32[K], see ``task.object_state_doc``).
Images are uint8[H, W, 3] RGB.

Actions: float32[action_dim] in [-1, 1] (see :mod:`armgym.robots.controllers`). A NaN/inf
or wrong-shape action raises :class:`~armgym.errors.InvalidActionError`; values outside
[-1, 1] are clipped. A physics blow-up truncates the episode with ``info["error"]``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from armgym.errors import InvalidActionError, PhysicsError
from armgym.registry import check_choice
from armgym.robots.base import Obs, Robot
from armgym.tasks.base import Task

OBS_MODES = ("state", "pixels", "both")
REWARD_MODES = ("dense", "sparse")
STATE_FIELDS = ("joint_pos", "joint_vel", "ee_pos", "ee_quat", "gripper")


def split_state(state: np.ndarray, n_arm: int) -> dict[str, np.ndarray]:
    """Inverse of the ``observation.state`` layout: float32[..., 2n + 8] -> named fields."""
    sizes = (n_arm, n_arm, 3, 4, 1)
    out, i = {}, 0
    for name, size in zip(STATE_FIELDS, sizes, strict=True):
        out[name] = state[..., i : i + size]
        i += size
    return out


def robot_obs_from_env_obs(obs: dict[str, np.ndarray], n_arm: int) -> Obs:
    """Rebuild the robot-level observation dict (what tasks and experts read) from env keys."""
    out = split_state(np.asarray(obs["observation.state"]), n_arm)
    if "observation.environment_state" in obs:
        out["object_state"] = np.asarray(obs["observation.environment_state"])
    return out


class ManipulationEnv(gym.Env[dict[str, np.ndarray], np.ndarray]):
    """A robot arm doing a task, behind the gymnasium API.

    Args:
        robot: any :class:`Robot` (``SimRobot``, ``RemoteRobot`` ...) whose scene holds the task.
        task: scores observations; its objects must be in the robot's scene.
        obs_mode: one of ``OBS_MODES``.
        reward: ``dense`` (shaped, in [-1, 0], 0 at success; see ``armgym.tasks.base.shaped``)
            or ``sparse`` (1 on success, else 0).
        terminate_on_success: end the episode (``terminated=True``) at success.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}
    action_space: gym.spaces.Box
    observation_space: gym.spaces.Dict  # type: ignore[assignment]

    def __init__(
        self,
        robot: Robot,
        task: Task,
        *,
        obs_mode: str = "state",
        reward: str = "dense",
        terminate_on_success: bool = True,
        render_mode: str | None = None,
    ):
        self.robot, self.task = robot, task
        self.obs_mode = check_choice("obs mode", obs_mode, OBS_MODES)
        self.reward_mode = check_choice("reward mode", reward, REWARD_MODES)
        if render_mode is not None:
            check_choice("render mode", render_mode, self.metadata["render_modes"])
        self.render_mode = render_mode
        self.terminate_on_success = terminate_on_success
        self.metadata = {**self.metadata, "render_fps": robot.control_hz}  # type: ignore[misc]
        self.action_space = robot.action_space
        self.cameras = tuple(
            k.split(".", 1)[1] for k in robot.observation_space.spaces if k.startswith("images.")
        )
        if obs_mode != "state" and not self.cameras:
            raise InvalidActionError(
                f"obs_mode={obs_mode!r} needs cameras; create the robot with cameras=('front', ...)"
            )
        self.n_arm = int(np.prod(robot.observation_space["joint_pos"].shape or (0,)))
        spaces: dict[str, gym.Space] = {
            "observation.state": gym.spaces.Box(-np.inf, np.inf, (2 * self.n_arm + 8,), np.float32)
        }
        if obs_mode in ("state", "both"):
            k = int(np.prod(robot.observation_space["object_state"].shape or (0,)))
            spaces["observation.environment_state"] = gym.spaces.Box(
                -np.inf, np.inf, (k,), np.float32
            )
        if obs_mode in ("pixels", "both"):
            for cam in self.cameras:
                spaces[f"observation.images.{cam}"] = robot.observation_space[f"images.{cam}"]
        self.observation_space = gym.spaces.Dict(spaces)
        self.robot_obs: Obs = {}
        self._needs_reset = True

    # -- gymnasium API ---------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        self.robot_obs = self.robot.reset(seed=seed, options=options)
        self._needs_reset = False
        result = self.task.evaluate(self.robot_obs)
        return self._obs(), {"is_success": result.success}

    def step(
        self, action: np.ndarray
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        if self._needs_reset:
            raise gym.error.ResetNeeded(
                "call env.reset() before env.step() (and after an episode ends)"
            )
        action = self.check_action(action)
        try:
            self.robot_obs = self.robot.act(action)
        except PhysicsError as exc:
            self._needs_reset = True
            worst = -1.0 if self.reward_mode == "dense" else 0.0
            return self._obs(), worst, False, True, {"is_success": False, "error": str(exc)}
        result = self.task.evaluate(self.robot_obs)
        reward = result.reward if self.reward_mode == "dense" else float(result.success)
        terminated = bool(result.success and self.terminate_on_success)
        self._needs_reset = terminated
        return self._obs(), float(reward), terminated, False, {"is_success": result.success}

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        render = getattr(self.robot, "render", None)
        if render is not None:
            return render("front")
        key = f"images.{self.cameras[0]}" if self.cameras else None
        return self.robot_obs.get(key) if key else None

    def close(self) -> None:
        self.robot.close()

    # -- helpers -----------------------------------------------------------------------------
    def check_action(self, action: Any) -> np.ndarray:
        """Validate shape and finiteness, clip to the action bounds; return float32[action_dim]."""
        space = self.action_space
        try:
            a = np.asarray(action, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise InvalidActionError(
                f"action must be a float array of shape {space.shape} in [-1, 1]: {exc}"
            ) from None
        if a.shape != space.shape:
            raise InvalidActionError(
                f"action has shape {a.shape}, expected {space.shape} (bounds [{space.low.min():g}, "
                f"{space.high.max():g}]) for control mode of this env"
            )
        if not np.isfinite(a).all():
            raise InvalidActionError(
                f"action contains NaN or inf at indices {np.flatnonzero(~np.isfinite(a)).tolist()}; "
                f"expected finite values in [{space.low.min():g}, {space.high.max():g}]"
            )
        return np.clip(a, space.low, space.high)

    def _obs(self) -> dict[str, np.ndarray]:
        ro = self.robot_obs
        out = {
            "observation.state": np.concatenate([ro[k] for k in STATE_FIELDS]).astype(np.float32)
        }
        if self.obs_mode != "pixels":
            out["observation.environment_state"] = ro["object_state"]
        if self.obs_mode != "state":
            for cam in self.cameras:
                out[f"observation.images.{cam}"] = ro[f"images.{cam}"]
        return out

    # -- sim-only extras (SimRobot) ----------------------------------------------------------------
    def get_sim_state(self) -> np.ndarray:
        """Full physics + controller state, float64[S] (SimRobot only)."""
        return self.robot.get_sim_state()  # type: ignore[attr-defined]

    def set_sim_state(self, state: np.ndarray) -> None:
        """Restore a state from :meth:`get_sim_state`; the next ``step`` continues from it."""
        self.robot.set_sim_state(state)  # type: ignore[attr-defined]
        self.robot_obs = self.robot.observe()
        self._needs_reset = False
