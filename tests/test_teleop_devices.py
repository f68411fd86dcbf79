"""Each teleop device, driven by a scripted event stream, produces the documented actions."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from armgym.errors import ConfigError, UnknownNameError
from armgym.teleop import ScriptedEvents, TeleopWrapper, make_device
from armgym.teleop.gamepad import GamepadState, GamepadTeleop
from armgym.teleop.keyboard import KeyboardTeleop, TerminalKeys
from armgym.teleop.spacemouse import SpaceMouseState, SpaceMouseTeleop
from armgym.teleop.viewer_keys import VIEWER_KEYMAP, ViewerKeys, key_name


def act(*values: float) -> list[float]:
    return list(values)


def test_scripted_events_then_default() -> None:
    src = ScriptedEvents([["w"], ["s"]], default=[])
    assert src() == ["w"] and src() == ["s"] and src() == [] and src.exhausted


def test_keyboard_actions_and_events() -> None:
    kb = KeyboardTeleop(
        ScriptedEvents(
            [
                ["w"],
                ["a", "r"],
                ["d", "f", "j"],
                ["space"],
                ["u", "i"],
                ["t"],
                ["enter"],
                ["x"],
                ["z"],
                ["esc"],
                ["space"],
            ],
            default=[],
        ),
        hold_s=0.0,
    )
    polls = [kb.poll() for _ in range(12)]
    a = [p.action.tolist() for p in polls]
    assert a[0] == act(1, 0, 0, 0, 0, 0, 1)  # gripper starts open (+1)
    assert a[1] == act(0, 1, 1, 0, 0, 0, 1)
    assert a[2] == act(0, -1, -1, 0, 0, 1, 1)
    assert a[3] == act(0, 0, 0, 0, 0, 0, -1)  # gripper closed (-1) and stays closed
    assert a[4] == act(0, 0, 0, 1, 1, 0, -1)
    assert [p.intervention for p in polls[4:7]] == [True, False, False]
    assert [set(p.events) for p in polls[6:10]] == [
        {"episode_success"},
        {"episode_failure"},
        {"rerecord"},
        {"stop"},
    ]
    assert a[10][6] == 1.0 and a[11] == act(0, 0, 0, 0, 0, 0, 1)
    assert all(p.action.dtype == np.float32 for p in polls)


def test_keyboard_hold_and_speed() -> None:
    now = [0.0]
    kb = KeyboardTeleop(
        ScriptedEvents([["w"], [], []], default=[]), speed=0.5, hold_s=0.1, clock=lambda: now[0]
    )
    assert kb.poll().action[0] == 0.5
    now[0] = 0.05
    assert kb.poll().action[0] == 0.5  # still held (terminal auto-repeat gap)
    now[0] = 0.2
    assert kb.poll().action[0] == 0.0
    with pytest.raises(ConfigError):
        KeyboardTeleop(ScriptedEvents([], []), speed=2.0)


@pytest.mark.skipif(sys.platform == "win32", reason="pty")
def test_terminal_keys_from_a_pty() -> None:
    master, slave = os.openpty()
    try:
        keys = TerminalKeys(slave)
        os.write(master, b"wA \r")
        kb = KeyboardTeleop(keys, hold_s=0.0)
        cmd = kb.poll()
        assert cmd.action.tolist() == act(1, 1, 0, 0, 0, 0, -1)  # w, a (lower-cased), space
        assert cmd.events == {"episode_success"}
        kb.close()
    finally:
        os.close(master)
        os.close(slave)


def test_terminal_keys_needs_tty(tmp_path) -> None:
    with open(tmp_path / "f", "w") as fh, pytest.raises(ConfigError, match="TTY"):
        TerminalKeys(fh.fileno())


def test_spacemouse() -> None:
    states = [
        SpaceMouseState(x=0.5, y=-1.0, z=0.02, yaw=1.0),
        SpaceMouseState(buttons=(1, 0)),
        SpaceMouseState(buttons=(1, 0)),
        SpaceMouseState(buttons=(0, 1)),
        SpaceMouseState(buttons=(0, 0)),
        SpaceMouseState(buttons=(1, 1)),
    ]
    sm = SpaceMouseTeleop(ScriptedEvents(states, SpaceMouseState()), dead_zone=0.05)
    polls = [sm.poll() for _ in range(6)]
    first = polls[0].action
    np.testing.assert_allclose(first, [0.45 / 0.95, -1, 0, 0, 0, 1, 1], atol=1e-6)
    assert polls[1].action[6] == -1.0 and polls[2].action[6] == -1.0  # closed once on press
    assert polls[3].intervention is False
    assert polls[5].events == {"episode_success"}


def test_spacemouse_without_library(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pyspacemouse", None)
    with pytest.raises(ConfigError, match="pip install pyspacemouse"):
        SpaceMouseTeleop()


def test_gamepad() -> None:
    states = [
        GamepadState(axes=(0.0, -1.0, -1.0, 0.5, 1.0, -1.0)),
        GamepadState(axes=(-0.05, 0.0, -1.0, 0.0, 0.0, 0.8), hat=(1, -1)),
        GamepadState(buttons=(1, 0, 0, 0, 0, 0, 0, 0)),
        GamepadState(buttons=(1, 0, 0, 1, 0, 0, 0, 0)),
        GamepadState(buttons=(0, 1, 1, 0, 0, 0, 0, 1)),
    ]
    gp = GamepadTeleop(ScriptedEvents(states, GamepadState()), dead_zone=0.1)
    polls = [gp.poll() for _ in range(5)]
    np.testing.assert_allclose(polls[0].action, [1, 0, -1, 0, 0, -(0.4 / 0.9), 1], atol=1e-6)
    np.testing.assert_allclose(polls[1].action, [0, 0, 0, 1, -1, 0, -1], atol=1e-6)
    assert polls[2].events == {"episode_success"}
    assert polls[3].events == set() and polls[3].intervention is False
    assert polls[4].events == {"episode_failure", "rerecord", "stop"}


def test_gamepad_pygame_no_device(monkeypatch) -> None:
    import pygame  # noqa: F401

    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.setenv("SDL_JOYSTICK_DEVICE", "/nonexistent")
    with pytest.raises(ConfigError, match="no gamepad"):
        GamepadTeleop()


def test_teleop_wrapper_and_registry() -> None:
    import gymnasium as gym

    import armgym  # noqa: F401

    device = KeyboardTeleop(ScriptedEvents([["w", "enter"]], []), hold_s=0.0)
    env = TeleopWrapper(gym.make("armgym/Reach-v0"), device)
    env.reset(seed=0)
    info = env.step(np.zeros(7, np.float32))[4]
    env.close()
    assert info["executed_action"][0] == 1.0 and info["teleop_events"] == {"episode_success"}
    assert info["intervention"] is True and info["policy_action"][0] == 0.0
    with pytest.raises(UnknownNameError, match="keyboard"):
        make_device("keybord")


# --- each device moves a real env's arm as documented -------------------------------------

KEYS_FORWARD_UP_CLOSE = [["w"]] * 5 + [["r"]] * 5 + [["space"]]


def _viewer_keyboard() -> KeyboardTeleop:
    """The viewer map, fed GLFW key codes through ViewerKeys.key_callback like the viewer."""
    keys = ViewerKeys()
    codes = iter([265] * 5 + [266] * 5 + [32])  # up, page up, space

    def source() -> list[str]:
        code = next(codes, None)
        if code is not None:
            keys.key_callback(code)
        return keys()

    return KeyboardTeleop(source, keymap=VIEWER_KEYMAP, hold_s=0.0)


DEVICES = {
    "keyboard": lambda: KeyboardTeleop(ScriptedEvents(KEYS_FORWARD_UP_CLOSE, []), hold_s=0.0),
    "viewer-keyboard": _viewer_keyboard,
    "spacemouse": lambda: SpaceMouseTeleop(
        ScriptedEvents(
            [SpaceMouseState(x=1.0)] * 5
            + [SpaceMouseState(z=1.0)] * 5
            + [SpaceMouseState(buttons=(1, 0))],
            SpaceMouseState(),
        )
    ),
    "gamepad": lambda: GamepadTeleop(
        ScriptedEvents(
            [GamepadState(axes=(0, -1, -1, 0, 0, -1))] * 5  # left stick up: +x
            + [GamepadState(axes=(0, 0, -1, 0, -1, -1))] * 5  # right stick up: +z
            + [GamepadState(axes=(0, 0, -1, 0, 0, 1))],  # right trigger pulled: close
            GamepadState(axes=(0, 0, -1, 0, 0, 1)),
        )
    ),
}


@pytest.mark.parametrize("name", sorted(DEVICES))
def test_device_moves_the_arm_as_documented(name: str) -> None:
    """+x for 5 steps, then +z for 5 steps, then close the gripper and hold."""
    import gymnasium as gym

    import armgym  # noqa: F401

    env = TeleopWrapper(gym.make("armgym/PickCube-v0", obs="state"), DEVICES[name]())
    env.reset(seed=0)
    robot = env.unwrapped.robot_obs
    track = [(robot["ee_pos"].copy(), float(robot["gripper"][0]))]
    for _ in range(20):
        env.step(np.zeros(7, np.float32))
        robot = env.unwrapped.robot_obs
        track.append((robot["ee_pos"].copy(), float(robot["gripper"][0])))
    env.close()
    (p0, g0), (p5, _), (p10, g10), (p20, g20) = track[0], track[5], track[10], track[20]
    dx, dz = p5 - p0, p10 - p5
    assert dx[0] > 0.05 and abs(dx[1]) < 0.01 and abs(dx[2]) < 0.01, dx  # 5 x 2 cm forward
    assert dz[2] > 0.05 and abs(dz[0]) < 0.01 and abs(dz[1]) < 0.01, dz  # then up
    assert g0 > 0.9 and g10 > 0.9, (g0, g10)  # open until the close command
    assert g20 < 0.1, g20  # closed on empty air
    np.testing.assert_allclose(p20, p10, atol=0.01)  # and the tool holds still


def test_viewer_key_names() -> None:
    assert [key_name(c) for c in (265, 266, 32, 257, 335, 298, 324, 65, 49, 999)] == [
        "up", "page_up", "space", "enter", "enter", "f9", "kp_4", "a", "1", "key999"
    ]  # fmt: skip
    keys = ViewerKeys()
    keys.key_callback(264)
    keys.key_callback(256)
    assert keys() == ["down", "esc"] and keys() == []
    kb = KeyboardTeleop(ScriptedEvents([["insert"], ["f9"], ["f10"], ["esc"]], []),
                        keymap=VIEWER_KEYMAP)  # fmt: skip
    polls = [kb.poll() for _ in range(4)]
    assert polls[0].intervention is False
    assert [set(p.events) for p in polls[1:]] == [
        {"episode_failure"}, {"rerecord"}, {"stop"}
    ]  # fmt: skip
