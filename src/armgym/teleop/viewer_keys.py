"""Keyboard teleoperation inside the MuJoCo viewer window (``armgym collect --viewer``).

MuJoCo's passive viewer hands every key-down event of its window (presses and the
system's auto-repeats, never releases) to ``key_callback(keycode)`` with GLFW key codes.
``ViewerKeys`` turns those codes into key names and queues them for ``KeyboardTeleop``.

The viewer binds most letters, digits and F1-F6 to its own display toggles (wireframe,
contacts, transparency, ...), so the viewer map uses keys it leaves to the user:

=============================  ======================  ==========  =======================
``up`` ``down`` (arrows)       +x / -x (forward/back)  ``space``   toggle gripper (open)
``left`` ``right`` (arrows)    +y / -y (left/right)    ``insert``  toggle intervention
``page_up`` ``page_down``      +z / -z (up/down)       ``enter``   event ``episode_success``
``home`` ``end``               +yaw / -yaw             ``f9``      event ``episode_failure``
keypad ``4`` ``6``             +roll / -roll           ``f10``     event ``rerecord``
keypad ``8`` ``2``             +pitch / -pitch         ``esc``     event ``stop``
=============================  ======================  ==========  =======================

Closing the window also stops the collection. As in a terminal, a key counts as held for
``KeyboardTeleop.hold_s`` after its last press or auto-repeat.
"""

from __future__ import annotations

import threading

from armgym.teleop.keyboard import KeyMap

#: GLFW key codes of the named keys (letters and digits are their ASCII upper-case codes).
GLFW_KEY_NAMES: dict[int, str] = {
    32: "space",
    256: "esc",
    257: "enter",
    258: "tab",
    259: "backspace",
    260: "insert",
    261: "delete",
    262: "right",
    263: "left",
    264: "down",
    265: "up",
    266: "page_up",
    267: "page_down",
    268: "home",
    269: "end",
    335: "enter",  # keypad enter
    **{290 + i: f"f{i + 1}" for i in range(12)},
    **{320 + i: f"kp_{i}" for i in range(10)},
}

VIEWER_KEYMAP = KeyMap(
    motion={
        "up": (0, 1.0),
        "down": (0, -1.0),
        "left": (1, 1.0),
        "right": (1, -1.0),
        "page_up": (2, 1.0),
        "page_down": (2, -1.0),
        "kp_4": (3, 1.0),
        "kp_6": (3, -1.0),
        "kp_8": (4, 1.0),
        "kp_2": (4, -1.0),
        "home": (5, 1.0),
        "end": (5, -1.0),
    },
    events={"enter": "episode_success", "f9": "episode_failure", "f10": "rerecord", "esc": "stop"},
    gripper="space",
    intervention="insert",
)


def key_name(keycode: int) -> str:
    """The name of a GLFW key code: ``"up"``, ``"kp_4"``, ``"a"``; ``"key<code>"`` if unnamed."""
    if keycode in GLFW_KEY_NAMES:
        return GLFW_KEY_NAMES[keycode]
    if 65 <= keycode <= 90 or 48 <= keycode <= 57:
        return chr(keycode).lower()
    return f"key{keycode}"


class ViewerKeys:
    """A key source fed by the viewer's ``key_callback`` (thread-safe).

    Pass ``keys.key_callback`` to ``mujoco.viewer.launch_passive`` (it runs on the
    viewer's thread); ``keys()`` returns and clears the names pressed since the last call.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pressed: list[str] = []

    def close(self) -> None:
        """Nothing to release: the viewer window owns the keyboard."""

    def key_callback(self, keycode: int) -> None:
        with self._lock:
            self._pressed.append(key_name(keycode))

    def __call__(self) -> list[str]:
        with self._lock:
            pressed, self._pressed = self._pressed, []
        return pressed
