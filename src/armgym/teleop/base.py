"""The one teleoperation interface: ``TeleopDevice.poll() -> TeleopCommand``.

Every device maps its inputs onto the env's ``ee_delta`` action, float32[7] in [-1, 1]:
``(dx, dy, dz, droll, dpitch, dyaw, gripper)`` with translations along the robot base
frame axes (x forward, y left, z up), rotations about them, and ``gripper`` absolute as
the env reads it: +1 open, -1 closed (``GRIPPER_OPEN`` / ``GRIPPER_CLOSED`` of
``armgym.robots.controllers``). ``intervention`` says whether the human is in control (HIL: when False the
policy acts and the device's action is ignored). ``events`` are one-shot signals:

=====================  ======================================================
``episode_success``    end the episode and mark it successful
``episode_failure``    end the episode and mark it failed
``rerecord``           discard the current episode and record it again
``stop``               stop collecting after this episode
=====================  ======================================================

Devices read hardware through an injectable *source* (a zero-argument callable), so tests
drive them with ``ScriptedEvents`` instead of a keyboard, a SpaceMouse or a gamepad.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar, runtime_checkable

import numpy as np

EVENTS = ("episode_success", "episode_failure", "rerecord", "stop")


@dataclass(frozen=True)
class TeleopCommand:
    """One poll of a device.

    action: float32[7] ee_delta action in [-1, 1] (see module docstring).
    intervention: True while the human is in control.
    events: subset of ``EVENTS`` that fired since the previous poll.
    """

    action: np.ndarray
    intervention: bool = True
    events: frozenset[str] = field(default_factory=frozenset)


T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


@runtime_checkable
class InputSource(Protocol[T_co]):
    """A device's raw input: each call returns what happened since the last call."""

    def __call__(self) -> T_co: ...

    def close(self) -> None:
        """Release the device (terminal mode, file handle); calling it twice is harmless."""


@runtime_checkable
class TeleopDevice(Protocol):
    """A human input device. ``poll`` never blocks for long (<= a few ms).

    ``intervention`` is the state of the device's intervention toggle (True: the human is
    in control); ``InterventionWrapper`` sets it to False so a policy starts in control.
    """

    intervention: bool

    def poll(self) -> TeleopCommand: ...

    def close(self) -> None: ...


class ScriptedEvents(Generic[T]):
    """A scripted input stream: each call returns the next item, then ``default`` forever.

    For the keyboard an item is the list of keys pressed during one poll; for the
    SpaceMouse a ``SpaceMouseState``; for the gamepad a ``GamepadState``.
    """

    def __init__(self, items: Iterable[T], default: T):
        self.items: list[T] = list(items)
        self.default = default
        self.position = 0

    def __call__(self) -> T:
        if self.position < len(self.items):
            self.position += 1
            return self.items[self.position - 1]
        return self.default

    @property
    def exhausted(self) -> bool:
        return self.position >= len(self.items)

    def close(self) -> None:
        """Nothing to release (a scripted stream holds no device)."""


def clip_action(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """float32[7] clipped to [-1, 1]."""
    return np.clip(np.asarray(values, dtype=np.float32), -1.0, 1.0)


def deadzone(x: float, dz: float) -> float:
    """Zero inside ``[-dz, dz]``, rescaled linearly to reach +-1 at +-1 outside."""
    if abs(x) <= dz:
        return 0.0
    return float(np.sign(x) * (abs(x) - dz) / (1.0 - dz))
