"""``ScriptedPolicy``: a task's scripted expert behind the :class:`Policy` protocol.

It reads env observations (``observation.state`` + ``observation.environment_state``,
i.e. ``obs="state"`` or ``"both"``) and returns ``{"actions": float32[1, 7]}``, so it can be
served, evaluated and recorded like any learned policy.
"""

from __future__ import annotations

import numpy as np

from armgym.contracts.observation import robot_obs_from_env_obs
from armgym.contracts.policy import FeatureSpec, PolicyMetadata
from armgym.errors import ConfigError
from armgym.policies.runner import first_action
from armgym.tasks.base import Task


class ScriptedPolicy:
    """Privileged-state expert for ``task`` (ee_delta control only)."""

    def __init__(self, task: Task, control_hz: float = 10.0):
        self.task = task
        self.n_arm = task.robot.n_arm
        self._expert = task.make_expert()
        self.metadata = PolicyMetadata(
            observation={
                "observation.state": FeatureSpec("float32", (2 * self.n_arm + 8,)),
                "observation.environment_state": FeatureSpec("float32", (task.object_state_size,)),
            },
            action_dim=7,
            action_horizon=1,
            fps=control_hz,
            name=f"scripted:{task.name}",
            extra={"task": task.name, "robot": task.robot.name, "control": "ee_delta"},
        )

    @classmethod
    def for_env(cls, env) -> ScriptedPolicy:
        """The expert of a (possibly wrapped) ``ManipulationEnv`` using ee_delta control."""
        base = env.unwrapped
        if base.robot.control != "ee_delta":
            raise ConfigError(
                "scripted experts act in ee_delta control; make the env with control='ee_delta'"
            )
        return cls(base.task, base.robot.control_hz)

    def reset(self) -> None:
        self._expert.reset()

    def infer(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if "observation.environment_state" not in obs:
            raise ConfigError(
                "the scripted expert needs observation.environment_state (obs='state' or 'both')"
            )
        action = self._expert(robot_obs_from_env_obs(obs, self.n_arm))
        return {"actions": np.asarray(action, dtype=np.float32)[None, :]}

    def __call__(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """Single action float32[7] (convenience for rollouts; the chunk has one row)."""
        return first_action(self.infer(obs))
