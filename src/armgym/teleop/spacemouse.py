"""3Dconnexion SpaceMouse teleoperation (6-DoF puck + 2 buttons).

Mapping: puck translation x, y, z -> dx, dy, dz and rotation roll, pitch, yaw -> droll,
dpitch, dyaw (each in [-1, 1] after a ``deadzone`` and ``scale``); left button (0)
toggles the gripper on press, right button (1) toggles intervention; pressing both fires
``episode_success``.

Hardware access goes through ``pyspacemouse`` (which uses ``hidapi``), imported only when
no ``source`` is given: ``pip install pyspacemouse hidapi``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from armgym.errors import ConfigError
from armgym.robots.controllers import GRIPPER_CLOSED, GRIPPER_OPEN
from armgym.teleop.base import TeleopCommand, clip_action, deadzone


@dataclass(frozen=True)
class SpaceMouseState:
    """One reading: axes in [-1, 1] and button states (0/1), as pyspacemouse reports."""

    x: float = 0.0
    y: float = 0.0
    z: float = 0.0
    roll: float = 0.0
    pitch: float = 0.0
    yaw: float = 0.0
    buttons: Sequence[int] = field(default_factory=lambda: (0, 0))


def pyspacemouse_source() -> Callable[[], SpaceMouseState]:
    """Open the first SpaceMouse with pyspacemouse; raise ConfigError if unavailable."""
    try:
        import pyspacemouse  # type: ignore[import-not-found]
    except ImportError as exc:
        raise ConfigError(
            "SpaceMouse support needs `pip install pyspacemouse hidapi` (and "
            "read access to /dev/hidraw*)."
        ) from exc
    if not pyspacemouse.open():
        raise ConfigError(
            "no SpaceMouse found (pyspacemouse.open() failed); plug one in and "
            "check permissions on /dev/hidraw*."
        )

    def read() -> SpaceMouseState:
        s = pyspacemouse.read()
        return SpaceMouseState(s.x, s.y, s.z, s.roll, s.pitch, s.yaw, tuple(s.buttons))

    return read


class SpaceMouseTeleop:
    """``TeleopDevice`` for a SpaceMouse (see module docstring).

    Args:
        source: zero-arg callable returning a ``SpaceMouseState`` (default: pyspacemouse).
        scale: gain applied after the dead zone.
        dead_zone: axis magnitude below which input is ignored.
    """

    def __init__(
        self,
        source: Callable[[], SpaceMouseState] | None = None,
        scale: float = 1.0,
        dead_zone: float = 0.05,
    ):
        self.source = source if source is not None else pyspacemouse_source()
        self.scale, self.dead_zone = scale, dead_zone
        self.gripper, self.intervention = GRIPPER_OPEN, True
        self._prev_buttons: tuple[int, ...] = (0, 0)

    def poll(self) -> TeleopCommand:
        s = self.source()
        axes = [s.x, s.y, s.z, s.roll, s.pitch, s.yaw]
        action = np.zeros(7, dtype=np.float32)
        action[:6] = [self.scale * deadzone(float(a), self.dead_zone) for a in axes]
        buttons = (*tuple(int(b) for b in s.buttons), 0, 0)
        prev = (*self._prev_buttons, 0, 0)
        rising = [buttons[i] and not prev[i] for i in range(2)]
        events: set[str] = set()
        if buttons[0] and buttons[1] and any(rising):
            events.add("episode_success")
        elif rising[0]:
            self.gripper = GRIPPER_CLOSED if self.gripper == GRIPPER_OPEN else GRIPPER_OPEN
        elif rising[1]:
            self.intervention = not self.intervention
        self._prev_buttons = buttons[:2]
        action[6] = self.gripper
        return TeleopCommand(clip_action(action), self.intervention, frozenset(events))

    def close(self) -> None:
        pass
