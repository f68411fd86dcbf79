"""Teleoperation as gymnasium wrappers: a device drives the env, or takes over from a policy.

``TeleopWrapper(env, device)`` executes the device's action whatever the agent passes to
``step`` (``armgym collect --source keyboard``). ``InterventionWrapper(env, device)``
executes the agent's action until the person at ``device`` switches its intervention
toggle on, then the device's, until it is switched off again (``armgym collect --source
policy:CK --intervene keyboard``); the agent starts in control (the toggle is switched off
at construction).

Both write the ``armgym.contracts.info`` keys into every step's ``info``:
``intervention`` (bool), ``policy_action`` (float32[A], what the agent proposed),
``executed_action`` (float32[A]) and ``teleop_events`` (the device's one-shot events). The
recorder stores them as LeRobot's human-in-the-loop columns
(``complementary_info.is_intervention``, ``complementary_info.policy_action``), and an RL
replay buffer reads the same transition.

Devices speak ``ee_delta`` (float32[7]); in an ``ee_pos`` env (the RL action space, xyz +
gripper) the wrappers execute the device's translation and gripper and drop its rotation
(:func:`device_action`).
"""

from __future__ import annotations

from typing import Any, Protocol, SupportsFloat, runtime_checkable

import gymnasium as gym
import numpy as np

from armgym.contracts.info import EXECUTED_ACTION, INTERVENTION, POLICY_ACTION, TELEOP_EVENTS
from armgym.contracts.robot import Robot
from armgym.errors import ConfigError
from armgym.teleop.base import TeleopCommand, TeleopDevice

#: indices of ``ee_pos``'s (dx, dy, dz, gripper) in a device's ee_delta action
EE_POS_FROM_EE_DELTA = (0, 1, 2, 6)


def device_action(action: np.ndarray, action_dim: int, control: str | None) -> np.ndarray:
    """A device's action as float32[action_dim] of the env's control mode.

    An action of the env's length passes unchanged (ee_delta devices in an ee_delta env, a
    leader arm in joint_pos); a float32[7] ee_delta action in an ``ee_pos`` env keeps its
    translation and gripper, ``(dx, dy, dz, gripper)``.
    """
    a = np.asarray(action, np.float32).reshape(-1)
    if a.shape == (action_dim,):
        return a
    if a.shape == (7,) and control == "ee_pos":
        return a[list(EE_POS_FROM_EE_DELTA)]
    raise ConfigError(
        f"the device gives {a.shape[0]}-dim actions but the env ({control} control) takes "
        f"{action_dim}; teleop devices drive ee_delta or ee_pos envs: make the env with "
        "control='ee_delta' or control='ee_pos'"
    )


@runtime_checkable
class DeviceActionEnv(Protocol):
    """An env whose actions are not the arm's (a residual over a base policy): it executes
    a device's arm action float32[A] as the arm's, and reports in ``info["executed_action"]``
    that action in its own action space."""

    def step_device(
        self, action: np.ndarray
    ) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]: ...


def _control(env: gym.Env) -> str | None:
    robot = getattr(env.unwrapped, "robot", None)  # ManipulationEnv's robot, if any
    return robot.control if isinstance(robot, Robot) else None


class TeleopWrapper(gym.Wrapper):
    """A person at ``device`` acts; the action passed to ``step`` is ignored (pass zeros).

    The device's action is in the arm's action space; a :class:`DeviceActionEnv`
    (``ResidualWrapper``) executes it as the arm's and reports it in its own action space
    (``executed_action`` is then that).

    ``interventions`` counts the steps the device acted since the last reset.
    """

    def __init__(self, env: gym.Env, device: TeleopDevice):
        super().__init__(env)
        self.device = device
        self.interventions = 0
        self.action_dim = int(np.prod(env.action_space.shape or (0,)))
        self.control = _control(env)
        # an env whose actions are not the arm's (a residual over a base) executes the arm's
        self.arm_env = env if isinstance(env, DeviceActionEnv) else None

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        self.interventions = 0
        return self.env.reset(**kwargs)

    def _choose(self, cmd: TeleopCommand, policy_action: np.ndarray) -> bool:
        """Whether the device's action is executed this step."""
        return True

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        policy_action = np.asarray(action, dtype=np.float32).reshape(-1)
        cmd = self.device.poll()
        human = self._choose(cmd, policy_action)
        executed = policy_action
        self.interventions += int(human)
        if human and self.arm_env is not None:  # e.g. a residual env: the person drives the arm
            arm = device_action(cmd.action, self.action_dim, self.control)  # same A
            obs, reward, terminated, truncated, info = self.arm_env.step_device(arm)
            executed = np.asarray(info.get(EXECUTED_ACTION, arm), np.float32)
        else:
            if human:
                executed = device_action(cmd.action, self.action_dim, self.control)
            obs, reward, terminated, truncated, info = self.env.step(executed)
        info = {
            **info,
            INTERVENTION: human,
            POLICY_ACTION: policy_action,
            EXECUTED_ACTION: executed,
            TELEOP_EVENTS: frozenset(cmd.events),
        }
        return obs, reward, terminated, truncated, info


class InterventionWrapper(TeleopWrapper):
    """The agent acts unless the person at ``device`` has taken over with its toggle."""

    def __init__(self, env: gym.Env, device: TeleopDevice):
        if not isinstance(device, TeleopDevice):
            raise TypeError(
                f"{type(device).__name__} has no intervention toggle; use a keyboard, "
                "SpaceMouse or gamepad to take over from a policy"
            )
        super().__init__(env, device)
        device.intervention = False  # the policy starts in control

    def _choose(self, cmd: TeleopCommand, policy_action: np.ndarray) -> bool:
        return bool(cmd.intervention)
