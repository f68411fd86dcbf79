"""Gamepad teleoperation (Xbox / PlayStation layout) through pygame's joystick API.

Mapping (SDL / Xbox numbering):

=========================  =====================================================
left stick  up/down, l/r   dx (+ up), dy (+ left)
right stick up/down        dz (+ up)
right stick left/right     dyaw (+ left)
d-pad up/down, left/right  dpitch, droll
right trigger (axis 5)     gripper: closed when pulled past half, else open
A (0) / B (1)              ``episode_success`` / ``episode_failure``
X (2)                      ``rerecord``
Y (3)                      toggle intervention
start (7)                  ``stop``
=========================  =====================================================

pygame is imported only when no ``source`` is given (``pip install pygame``); with no
display set ``SDL_VIDEODRIVER=dummy``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from armgym.errors import ConfigError
from armgym.robots.controllers import GRIPPER_CLOSED, GRIPPER_OPEN
from armgym.teleop.base import TeleopCommand, clip_action, deadzone

BUTTON_EVENTS = {0: "episode_success", 1: "episode_failure", 2: "rerecord", 7: "stop"}
INTERVENTION_BUTTON = 3


@dataclass(frozen=True)
class GamepadState:
    """Raw state: axes in [-1, 1] (SDL order: lx, ly, lt, rx, ry, rt), buttons 0/1, hat."""

    axes: Sequence[float] = field(default_factory=lambda: (0.0, 0.0, -1.0, 0.0, 0.0, -1.0))
    buttons: Sequence[int] = field(default_factory=lambda: (0,) * 8)
    hat: tuple[int, int] = (0, 0)


def pygame_source(index: int = 0) -> Callable[[], GamepadState]:
    """Open joystick ``index`` with pygame; raise ConfigError if pygame or a pad is absent."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    try:
        import pygame
    except ImportError as exc:
        raise ConfigError("gamepad support needs `pip install pygame`.") from exc
    pygame.init()
    pygame.joystick.init()
    if pygame.joystick.get_count() <= index:
        raise ConfigError(
            f"no gamepad #{index} found (pygame sees "
            f"{pygame.joystick.get_count()}); plug one in and retry."
        )
    pad = pygame.joystick.Joystick(index)
    pad.init()

    def read() -> GamepadState:
        pygame.event.pump()
        axes = tuple(pad.get_axis(i) for i in range(pad.get_numaxes()))
        buttons = tuple(pad.get_button(i) for i in range(pad.get_numbuttons()))
        hat = pad.get_hat(0) if pad.get_numhats() else (0, 0)
        return GamepadState(axes, buttons, tuple(hat))  # type: ignore[arg-type]

    return read


class GamepadTeleop:
    """``TeleopDevice`` for a gamepad (see module docstring).

    Args:
        source: zero-arg callable returning a ``GamepadState`` (default: pygame joystick 0).
        dead_zone: stick magnitude below which input is ignored.
        speed: gain on every motion axis.
    """

    def __init__(
        self,
        source: Callable[[], GamepadState] | None = None,
        dead_zone: float = 0.1,
        speed: float = 1.0,
    ):
        self.source = source if source is not None else pygame_source()
        self.dead_zone, self.speed = dead_zone, speed
        self.intervention = True
        self._prev: tuple[int, ...] = ()

    def poll(self) -> TeleopCommand:
        s = self.source()
        ax = list(s.axes) + [0.0] * (6 - len(s.axes))
        dz = self.dead_zone
        action = np.zeros(7, dtype=np.float32)
        action[0] = -deadzone(ax[1], dz)  # stick up is negative in SDL
        action[1] = -deadzone(ax[0], dz)
        action[2] = -deadzone(ax[4], dz)
        action[5] = -deadzone(ax[3], dz)
        action[3], action[4] = float(s.hat[0]), float(s.hat[1])
        action[:6] *= self.speed
        action[6] = GRIPPER_CLOSED if ax[5] > 0.0 else GRIPPER_OPEN
        buttons = tuple(int(b) for b in s.buttons)
        prev = self._prev + (0,) * max(0, len(buttons) - len(self._prev))
        rising = {i for i, b in enumerate(buttons) if b and not prev[i]}
        events = {BUTTON_EVENTS[i] for i in rising if i in BUTTON_EVENTS}
        if INTERVENTION_BUTTON in rising:
            self.intervention = not self.intervention
        self._prev = buttons
        return TeleopCommand(clip_action(action), self.intervention, frozenset(events))

    def close(self) -> None:
        pass
