"""``ScriptedPolicy``: a task's scripted expert behind the :class:`Policy` protocol.

It reads env observations (``observation.state`` + ``observation.environment_state``,
i.e. ``obs="state"`` or ``"both"``) and returns ``{"actions": float32[1, 7]}`` (``ee_delta``)
or ``float32[1, 4]`` (``ee_pos``: the expert's rotation dropped, which at ``low``
randomisation, where objects are not turned, costs the experts nothing), so it can be
served, evaluated and recorded like any learned policy.
"""

from __future__ import annotations

import numpy as np

from armgym.contracts.observation import robot_obs_from_env_obs, state_size
from armgym.contracts.policy import FeatureSpec, PolicyMetadata
from armgym.errors import ConfigError
from armgym.policies.runner import first_action
from armgym.registry import check_choice
from armgym.robots.controllers import EE_ACTION_DIM
from armgym.tasks.base import Expert, Task

#: control modes the experts can drive (their 7-dim ee_delta action, or its xyz + gripper)
SCRIPTED_CONTROLS = tuple(EE_ACTION_DIM)


def expert_action(action: np.ndarray, control: str) -> np.ndarray:
    """An expert's float32[7] ee_delta action in ``control`` (``ee_pos``: xyz + gripper)."""
    a = np.asarray(action, np.float32)
    return a[[0, 1, 2, 6]] if control == "ee_pos" else a


DEMO_EXPERTS = ("scripted", "reactive")


def make_demo_expert(task: Task, kind: str = "scripted") -> Expert:
    """The task's ``scripted`` expert (``make_expert``: phases) or its ``reactive`` one
    (``make_reactive_expert``: a function of the observation alone).

    Raises:
        UnknownNameError: ``kind`` is neither.
        ConfigError: the task has no reactive expert.
    """
    check_choice("demo expert", kind, DEMO_EXPERTS)
    expert = task.make_expert() if kind == "scripted" else task.make_reactive_expert()
    if expert is None:
        raise ConfigError(
            f"task {task.name} has no reactive expert (Task.make_reactive_expert); "
            "use the scripted one (--demo-expert scripted)"
        )
    return expert


class ScriptedPolicy:
    """Privileged-state expert for ``task`` (``ee_delta`` or ``ee_pos`` control)."""

    def __init__(self, task: Task, control_hz: float = 10.0, control: str = "ee_delta"):
        self.task = task
        self.control = check_choice("scripted control mode", control, SCRIPTED_CONTROLS)
        self.n_arm = task.robot.n_arm
        self._expert = task.make_expert()
        self.metadata = PolicyMetadata(
            observation={
                "observation.state": FeatureSpec("float32", (state_size(self.n_arm),)),
                "observation.environment_state": FeatureSpec("float32", (task.object_state_size,)),
            },
            action_dim=EE_ACTION_DIM[self.control],
            action_horizon=1,
            fps=control_hz,
            name=f"scripted:{task.name}",
            extra={"task": task.name, "robot": task.robot.name, "control": self.control},
        )

    @classmethod
    def for_env(cls, env) -> ScriptedPolicy:
        """The expert of a (possibly wrapped) ``ManipulationEnv`` using ee_delta/ee_pos control."""
        base = env.unwrapped
        control = base.robot.control or "ee_delta"
        if control not in SCRIPTED_CONTROLS:
            raise ConfigError(
                f"scripted experts act in {' or '.join(SCRIPTED_CONTROLS)} control, not "
                f"{control!r}; make the env with control='ee_delta' or control='ee_pos'"
            )
        return cls(base.task, base.robot.control_hz, control)

    def reset(self) -> None:
        self._expert.reset()

    def infer(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if "observation.environment_state" not in obs:
            raise ConfigError(
                "the scripted expert needs observation.environment_state (obs='state' or 'both')"
            )
        action = expert_action(self._expert(robot_obs_from_env_obs(obs, self.n_arm)), self.control)
        return {"actions": np.asarray(action, dtype=np.float32)[None, :]}

    def __call__(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """Single action float32[action_dim] (convenience for rollouts; the chunk has one row)."""
        return first_action(self.infer(obs))
