"""Names, groups and units of every feature dimension (the layout contract, readable).

Numpy-free and import-free, so every layer may use it. The names are what LeRobot
records as a feature's ``names`` in ``meta/info.json``:

* ``observation.state`` (:func:`state_names`): ``joint_pos.<joint>`` [rad] …,
  ``joint_vel.<joint>`` [rad/s] …, ``ee_pos.x/y/z`` [m], ``ee_quat.w/x/y/z``, ``gripper``
  (0 = closed, 1 = open), in the order of
  :data:`~armgym.contracts.observation.STATE_FIELDS`;
* ``action`` (:func:`action_names`), per control mode: ``ee_delta`` →
  ``dx, dy, dz, droll, dpitch, dyaw, gripper``; ``joint_pos`` → ``<joint>…, gripper``;
  ``joint_delta`` → ``d<joint>…, gripper`` (all normalised to [-1, 1]);
* ``observation.environment_state``: the task's ``object_state_names``
  (``cube.pos.x`` …, ``cube.quat.w`` …).

:func:`feature_groups` splits a named vector into plot groups by meaning (joints, end
effector, gripper, object, action translation / rotation / gripper), each with a unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

EE_DELTA_ACTION_NAMES = ("dx", "dy", "dz", "droll", "dpitch", "dyaw", "gripper")

#: unit of an action dimension: every control mode's action is normalised
ACTION_UNIT = "normalised, -1…1"

#: prefix of a state/object name -> (plot title, unit)
_PREFIX_MEANING: dict[str, tuple[str, str]] = {
    "joint_pos": ("joint positions", "rad"),
    "joint_vel": ("joint velocities", "rad/s"),
    "ee_pos": ("end-effector position", "m"),
    "ee_quat": ("end-effector quaternion", "w-x-y-z"),
    "gripper": ("gripper opening", "0 = closed, 1 = open"),
    "pos": ("position", "m"),
    "quat": ("quaternion", "w-x-y-z"),
    "yaw": ("yaw", "rad"),
}


def state_names(arm_joints: Sequence[str]) -> list[str]:
    """Names of ``observation.state`` (length 2 n_arm + 8) for an arm with ``arm_joints``."""
    return (
        [f"joint_pos.{j}" for j in arm_joints]
        + [f"joint_vel.{j}" for j in arm_joints]
        + ["ee_pos.x", "ee_pos.y", "ee_pos.z"]
        + ["ee_quat.w", "ee_quat.x", "ee_quat.y", "ee_quat.z"]
        + ["gripper"]
    )


def action_names(control: str | None, arm_joints: Sequence[str]) -> list[str] | None:
    """Names of ``action`` for a control mode (None when the mode is unknown)."""
    if control == "ee_delta":
        return list(EE_DELTA_ACTION_NAMES)
    if control == "joint_pos":
        return [*arm_joints, "gripper"]
    if control == "joint_delta":
        return [f"d{j}" for j in arm_joints] + ["gripper"]
    return None


def position_names(obj: str) -> list[str]:
    """``<obj>.pos.x/y/z`` (metres)."""
    return [f"{obj}.pos.{a}" for a in "xyz"]


def pose_names(obj: str) -> list[str]:
    """``<obj>.pos.x/y/z`` (metres) then ``<obj>.quat.w/x/y/z``."""
    return position_names(obj) + [f"{obj}.quat.{a}" for a in "wxyz"]


def generic_names(dim: int, prefix: str = "s") -> list[str]:
    """Placeholder names ``s0, s1, …`` for a vector nobody named."""
    return [f"{prefix}{i}" for i in range(dim)]


@dataclass(frozen=True)
class FeatureGroup:
    """Dimensions of one feature that belong in one plot.

    Attributes:
        title: what they are (``joint positions``).
        unit: their unit (``rad``), shown on the y axis.
        indices: positions in the feature vector.
        labels: legend entries (the names without the group prefix).
    """

    title: str
    unit: str
    indices: tuple[int, ...]
    labels: tuple[str, ...]


def _split(name: str) -> tuple[str, str]:
    """``cube.pos.x`` -> (``cube.pos``, ``x``); ``gripper`` -> (``gripper``, ``gripper``)."""
    head, _, tail = name.rpartition(".")
    if not head or tail in _PREFIX_MEANING:  # ``hole.yaw``: a group of its own
        return name, tail
    return head, tail


def _meaning(prefix: str) -> tuple[str, str]:
    if prefix in _PREFIX_MEANING:
        return _PREFIX_MEANING[prefix]
    owner, _, last = prefix.rpartition(".")
    if owner and last in _PREFIX_MEANING:
        title, unit = _PREFIX_MEANING[last]
        return f"{owner} {title}", unit
    return prefix, ""


def _action_groups(names: Sequence[str]) -> list[FeatureGroup]:
    parts: dict[str, list[int]] = {}
    for i, n in enumerate(names):
        if n == "gripper":
            title = "gripper command (-1 = close, +1 = open)"
        elif n in ("dx", "dy", "dz"):
            title = "end-effector translation step"
        elif n in ("droll", "dpitch", "dyaw"):
            title = "end-effector rotation step"
        else:
            title = "joint commands"
        parts.setdefault(title, []).append(i)
    return [
        FeatureGroup(t, ACTION_UNIT, tuple(ix), tuple(names[i] for i in ix))
        for t, ix in parts.items()
    ]


def feature_groups(key: str, names: Sequence[str] | None, dim: int) -> list[FeatureGroup]:
    """Plot groups of a vector feature ``key`` of length ``dim`` named ``names``.

    Unnamed or mis-sized names give one group of ``s0 …`` lines.
    """
    if not names or len(names) != dim:
        return [FeatureGroup(key, "", tuple(range(dim)), tuple(generic_names(dim)))]
    if key == "action" or key.endswith("policy_action"):
        return _action_groups(names)
    groups: dict[str, list[int]] = {}
    for i, n in enumerate(names):
        groups.setdefault(_split(n)[0], []).append(i)
    out = []
    for prefix, ix in groups.items():
        title, unit = _meaning(prefix)
        out.append(FeatureGroup(title, unit, tuple(ix), tuple(_split(names[i])[1] for i in ix)))
    return out


@runtime_checkable
class NamedFeatures(Protocol):
    """An env that names each dimension of its vector features (armgym's envs do)."""

    def feature_names(self) -> dict[str, list[str]]:
        """``{feature key: one name per dimension}`` for ``observation.state``, ``action`` …"""
        ...
