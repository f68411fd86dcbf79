"""Keyboard teleoperation from a terminal (no display needed).

Key map (lower case; hold a key / let it auto-repeat to keep moving):

==========  ==========================  ==========  ===========================
``w`` ``s``  +x / -x (forward / back)    ``u`` ``o``  +roll / -roll
``a`` ``d``  +y / -y (left / right)      ``i`` ``k``  +pitch / -pitch
``r`` ``f``  +z / -z (up / down)         ``j`` ``l``  +yaw / -yaw
``space``    toggle gripper (starts open) ``t``       toggle intervention
``enter``    event ``episode_success``    ``x``       event ``episode_failure``
``z``        event ``rerecord``           ``esc``/``q`` event ``stop``
==========  ==========================  ==========  ===========================

A terminal reports key presses (and auto-repeats), not releases, so a key counts as held
for ``hold_s`` seconds after its last press. Each axis moves at ``speed`` (in [0, 1]).
"""

from __future__ import annotations

import os
import select
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from armgym.errors import ConfigError
from armgym.robots.controllers import GRIPPER_CLOSED, GRIPPER_OPEN
from armgym.teleop.base import InputSource, TeleopCommand, clip_action

#: key -> (action axis, sign)
MOTION_KEYS: dict[str, tuple[int, float]] = {
    "w": (0, 1.0),
    "s": (0, -1.0),
    "a": (1, 1.0),
    "d": (1, -1.0),
    "r": (2, 1.0),
    "f": (2, -1.0),
    "u": (3, 1.0),
    "o": (3, -1.0),
    "i": (4, 1.0),
    "k": (4, -1.0),
    "j": (5, 1.0),
    "l": (5, -1.0),
}
EVENT_KEYS = {
    "enter": "episode_success",
    "x": "episode_failure",
    "z": "rerecord",
    "esc": "stop",
    "q": "stop",
}


@dataclass(frozen=True)
class KeyMap:
    """Which key names do what.

    motion: key -> (action axis 0..5, sign); events: key -> event name (``EVENTS``);
    gripper: the key that toggles the gripper; intervention: the key that toggles
    intervention.
    """

    motion: Mapping[str, tuple[int, float]]
    events: Mapping[str, str]
    gripper: str = "space"
    intervention: str = "t"


#: The terminal map of the module docstring.
TERMINAL_KEYMAP = KeyMap(MOTION_KEYS, EVENT_KEYS)
_RAW_NAMES = {"\r": "enter", "\n": "enter", " ": "space", "\x1b": "esc"}


class TerminalKeys:
    """Non-blocking key reader on a TTY (raw mode; restored by ``close``)."""

    def __init__(self, stream: int | None = None):
        import termios
        import tty

        self.fd = sys.stdin.fileno() if stream is None else stream
        if not os.isatty(self.fd):
            raise ConfigError(
                "keyboard teleop needs an interactive terminal (stdin is not a "
                "TTY); run `armgym collect --source keyboard` in a terminal."
            )
        self._saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd)

    def __call__(self) -> list[str]:
        keys: list[str] = []
        while select.select([self.fd], [], [], 0)[0]:
            ch = os.read(self.fd, 1).decode(errors="ignore")
            keys.append(_RAW_NAMES.get(ch, ch.lower()))
        return keys

    def close(self) -> None:
        import termios

        termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)


class KeyboardTeleop:
    """``TeleopDevice`` driven by key names (``keymap``: the module docstring's by default).

    Args:
        source: zero-arg callable returning the keys pressed since the last call
            (default: ``TerminalKeys`` on stdin); tests pass ``ScriptedEvents``.
        keymap: key names -> motions, events, gripper and intervention toggles
            (``TERMINAL_KEYMAP``; ``armgym.teleop.viewer_keys.VIEWER_KEYMAP`` for keys
            read from the MuJoCo viewer window).
        speed: magnitude of each axis while its key is held, in (0, 1].
        hold_s: seconds a key counts as held after its last press (0: this poll only).
        clock: time source in seconds (injectable for tests).
    """

    def __init__(
        self,
        source: InputSource[Sequence[str]] | None = None,
        keymap: KeyMap = TERMINAL_KEYMAP,
        speed: float = 1.0,
        hold_s: float = 0.12,
        clock: Callable[[], float] = time.monotonic,
    ):
        if not 0.0 < speed <= 1.0:
            raise ConfigError(f"keyboard speed must be in (0, 1], got {speed}.")
        self.source = source if source is not None else TerminalKeys()
        self.keymap = keymap
        self.speed, self.hold_s, self.clock = speed, hold_s, clock
        self.gripper = GRIPPER_OPEN
        self.intervention = True
        self._last_press: dict[str, float] = {}

    def poll(self) -> TeleopCommand:
        now = self.clock()
        events: set[str] = set()
        pressed = [k.lower() if len(k) == 1 else k for k in self.source()]
        keymap = self.keymap
        for key in pressed:
            if key == keymap.gripper:
                self.gripper = GRIPPER_CLOSED if self.gripper == GRIPPER_OPEN else GRIPPER_OPEN
            elif key == keymap.intervention:
                self.intervention = not self.intervention
            elif key in keymap.events:
                events.add(keymap.events[key])
            elif key in keymap.motion:
                self._last_press[key] = now
        action = np.zeros(7, dtype=np.float32)
        for key, (axis, sign) in keymap.motion.items():
            held = key in pressed or now - self._last_press.get(key, -np.inf) < self.hold_s
            if held:
                action[axis] += sign * self.speed
        action[6] = self.gripper
        return TeleopCommand(clip_action(action), self.intervention, frozenset(events))

    def close(self) -> None:
        self.source.close()
