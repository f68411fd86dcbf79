"""Human input devices producing ee_delta actions: keyboard, SpaceMouse, gamepad, and
6-DoF pose tracking (a phone over WebXR, any tracker over a websocket pose stream).

``make_device(name)`` builds one by name; every device implements ``TeleopDevice``
(``poll() -> TeleopCommand``). ``TeleopWrapper`` / ``InterventionWrapper`` put a device in
an env (it drives, or it takes over from a policy) and report through ``info``. Optional hardware libraries are imported lazily.
"""

from __future__ import annotations

from typing import Any

from armgym.errors import UnknownNameError
from armgym.teleop.base import ScriptedEvents, TeleopCommand, TeleopDevice
from armgym.teleop.intervention import InterventionWrapper, TeleopWrapper

DEVICES = ("keyboard", "spacemouse", "gamepad", "phone", "pose-stream")


def make_device(name: str, viewer_keys: Any = None) -> TeleopDevice:
    """Open the named device on real hardware.

    ``keyboard`` reads the terminal, or with ``viewer_keys`` (a ``ViewerKeys`` fed by the
    MuJoCo viewer's ``key_callback``) the viewer window, with ``VIEWER_KEYMAP``.
    """
    if name == "keyboard":
        from armgym.teleop.keyboard import KeyboardTeleop

        if viewer_keys is not None:
            from armgym.teleop.viewer_keys import VIEWER_KEYMAP

            return KeyboardTeleop(viewer_keys, keymap=VIEWER_KEYMAP)
        return KeyboardTeleop()
    if name == "spacemouse":
        from armgym.teleop.spacemouse import SpaceMouseTeleop

        return SpaceMouseTeleop()
    if name == "gamepad":
        from armgym.teleop.gamepad import GamepadTeleop

        return GamepadTeleop()
    if name == "phone":  # WebXR page over HTTPS (docs/teleop.md)
        from armgym.teleop.phone import PhoneTeleop

        return PhoneTeleop()
    if name == "pose-stream":  # websocket pose stream on 127.0.0.1:8766 (docs/teleop.md)
        from armgym.teleop.pose_stream import PoseStreamTeleop

        return PoseStreamTeleop()
    raise UnknownNameError("teleop device", name, DEVICES)


__all__ = [
    "DEVICES",
    "InterventionWrapper",
    "ScriptedEvents",
    "TeleopCommand",
    "TeleopDevice",
    "TeleopWrapper",
    "make_device",
]
