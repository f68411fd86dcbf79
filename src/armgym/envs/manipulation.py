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

from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np

from armgym.contracts.names import action_names, state_names
from armgym.contracts.observation import (
    ENV_STATE_KEY,
    STATE_KEY,
    Obs,
    image_key,
    pack_state,
    state_size,
)
from armgym.contracts.robot import MujocoRobot, Robot, SimStateRobot
from armgym.errors import ConfigError, InvalidActionError, PhysicsError
from armgym.registry import check_choice
from armgym.robots.specs import ROBOTS
from armgym.tasks.base import Task

OBS_MODES = ("state", "pixels", "both")
REWARD_MODES = ("dense", "sparse")


StepResult = tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]


class StepScore(NamedTuple):
    """What the task makes of one step: reward, termination and the step's ``info``."""

    reward: float
    terminated: bool
    info: dict[str, Any]


class ManipulationEnv(gym.Env[dict[str, np.ndarray], np.ndarray]):
    """A robot arm doing a task, behind the gymnasium API.

    Args:
        robot: any :class:`~armgym.contracts.robot.Robot` (``SimRobot``, ``RemoteRobot`` ...) whose scene holds the task.
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
            STATE_KEY: gym.spaces.Box(-np.inf, np.inf, (state_size(self.n_arm),), np.float32)
        }
        if obs_mode in ("state", "both"):
            k = int(np.prod(robot.observation_space["object_state"].shape or (0,)))
            spaces[ENV_STATE_KEY] = gym.spaces.Box(-np.inf, np.inf, (k,), np.float32)
        if obs_mode in ("pixels", "both"):
            for cam in self.cameras:
                spaces[image_key(cam)] = robot.observation_space[f"images.{cam}"]
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
        return self.observation(), {"is_success": result.success}

    def step(self, action: np.ndarray) -> StepResult:
        if self._needs_reset:
            raise gym.error.ResetNeeded(
                "call env.reset() before env.step() (and after an episode ends)"
            )
        action = self.check_action(action)
        try:
            robot_obs = self.robot.act(action)
        except PhysicsError as exc:
            return self.physics_failure(exc)
        return self.finish_step(robot_obs, self.score(robot_obs))

    # -- the phases of a step (``BatchedEnv`` runs them too) ----------------------------------
    def score(self, robot_obs: Obs) -> StepScore:
        """Reward (per ``reward_mode``), termination and info of reaching ``robot_obs``.

        Pure (no env state changes), so batched envs call it from worker threads.
        """
        result = self.task.evaluate(robot_obs)
        reward = result.reward if self.reward_mode == "dense" else float(result.success)
        terminated = bool(result.success and self.terminate_on_success)
        return StepScore(float(reward), terminated, {"is_success": result.success})

    def finish_step(self, robot_obs: Obs, scored: StepScore) -> StepResult:
        """Make ``robot_obs`` current and return the gymnasium step tuple (never truncated)."""
        self.robot_obs = robot_obs
        self._needs_reset = scored.terminated
        return self.observation(), scored.reward, scored.terminated, False, scored.info

    def physics_failure(self, exc: PhysicsError) -> StepResult:
        """The step tuple after the physics blew up: truncated, ``info["error"]``, reset needed."""
        self._needs_reset = True
        worst = -1.0 if self.reward_mode == "dense" else 0.0  # dense rewards lie in [-1, 0]
        return self.observation(), worst, False, True, {"is_success": False, "error": str(exc)}

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        if isinstance(self.robot, MujocoRobot):
            return self.robot.render("front")
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

    def feature_names(self) -> dict[str, list[str]]:
        """Names of each vector dimension: ``observation.state``, ``action`` (per control
        mode), ``observation.environment_state`` (the task's ``object_state_names``); see
        :mod:`armgym.contracts.names`. Joints are named from the robot registry when the
        robot is registered, else ``joint1 …``."""
        name = self.robot.robot_name
        joints = (
            ROBOTS.get(name).arm_joints
            if name in ROBOTS
            else tuple(f"joint{i + 1}" for i in range(self.n_arm))
        )
        if len(joints) != self.n_arm:
            joints = tuple(f"joint{i + 1}" for i in range(self.n_arm))
        out = {STATE_KEY: state_names(joints)}
        actions = action_names(self.robot.control, joints)
        if actions is not None and len(actions) == int(np.prod(self.action_space.shape)):
            out["action"] = actions
        objects = list(self.task.object_state_names)
        env_space = self.observation_space.spaces.get(ENV_STATE_KEY)
        if env_space is not None and len(objects) == int(np.prod(env_space.shape or (0,))):
            out[ENV_STATE_KEY] = objects
        return out

    def observation(self) -> dict[str, np.ndarray]:
        """The env observation (``observation_space`` keys) of the current robot observation."""
        ro = self.robot_obs
        out = {STATE_KEY: pack_state(ro)}
        if self.obs_mode != "pixels":
            out[ENV_STATE_KEY] = ro["object_state"]
        if self.obs_mode != "state":
            for cam in self.cameras:
                out[image_key(cam)] = ro[f"images.{cam}"]
        return out

    # -- sim-only extras (SimStateRobot) ---------------------------------------------------------
    def _sim_robot(self) -> SimStateRobot:
        if not isinstance(self.robot, SimStateRobot):
            raise ConfigError(
                f"{type(self.robot).__name__} has no sim state; use a SimRobot (or a served one)"
            )
        return self.robot

    def get_sim_state(self) -> np.ndarray:
        """Full physics + controller state, float64[S] (sim robots only)."""
        return self._sim_robot().get_sim_state()

    def set_sim_state(self, state: np.ndarray) -> None:
        """Restore a state from :meth:`get_sim_state`; the next ``step`` continues from it."""
        self._sim_robot().set_sim_state(state)
        self.robot_obs = self.robot.observe()
        self._needs_reset = False
