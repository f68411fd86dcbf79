"""PoseTeleop's clutching, frame mapping, filtering, limits and buttons, on a fake clock;
pose message parsing."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from armgym.errors import ConfigError, ProtocolError, UnknownNameError
from armgym.teleop import DEVICES
from armgym.teleop.pose import PoseSample, PoseTeleop, PoseTeleopConfig
from armgym.teleop.pose_replay import yaw_quat
from armgym.teleop.pose_stream import decode_message, parse_sample
from armgym.transport import wire

STEP = 0.1  # control period [s]


class Rig:
    """A device on a fake clock: ``feed`` a sample now; ``step`` one control period, the
    stream repeating the last sample before each poll unless ``silent``."""

    def __init__(self, **cfg: object):
        self.now = 0.0
        self.dev = PoseTeleop(PoseTeleopConfig(**cfg), clock=lambda: self.now)  # type: ignore[arg-type]
        self.total = np.zeros(6)  # what the actions asked of the controller [m, rad]
        self.last: PoseSample | None = None

    def feed(self, pos, quat=(1, 0, 0, 0), **buttons: bool) -> None:
        btn = {"move": True, **buttons}
        self.last = PoseSample(np.array(pos, float), np.array(quat, float), btn, recv_t=self.now)
        self.dev.update(self.last)

    def step(self, n: int = 1, silent: bool = False) -> np.ndarray:
        for _ in range(n):
            self.now += STEP
            if self.last is not None and not silent:
                self.dev.update(replace(self.last, recv_t=self.now))
            a = self.dev.poll().action
            self.total += np.concatenate([a[:3] * 0.02, a[3:6] * 0.1])
        return a


def test_devices_are_registered() -> None:
    assert {"phone", "pose-stream"} <= set(DEVICES)


def test_clutch_follows_relative_motion_and_reanchors() -> None:
    rig = Rig(smoothing_s=0.0)
    rig.feed((1.0, 2.0, 3.0))  # pressed far from the origin: the tool must not move
    assert np.all(rig.step(3)[:6] == 0)
    rig.feed((1.03, 2.0, 3.0))
    rig.step(5)
    np.testing.assert_allclose(rig.total[:3], [0.03, 0, 0], atol=1e-6)
    # release, bring the hand back 5 cm: the tool stays
    rig.feed((0.98, 2.0, 3.0), move=False)
    rig.step(3)
    np.testing.assert_allclose(rig.total[:3], [0.03, 0, 0], atol=1e-6)
    # press again there, move 2 cm: the tool goes on from where it was
    rig.feed((0.98, 2.0, 3.0))
    rig.step()
    rig.feed((0.98, 2.0, 3.02))
    rig.step(5)
    np.testing.assert_allclose(rig.total[:3], [0.03, 0, 0.02], atol=1e-6)
    assert rig.dev.anchors == 2


def test_scale_and_webxr_frame() -> None:
    rig = Rig(smoothing_s=0.0, frame="webxr", scale=0.5)
    rig.feed((0, 0, 0))
    rig.step()
    rig.feed((0.02, 0.04, -0.06))  # right 2, up 4, forward 6 cm
    rig.step(8)
    np.testing.assert_allclose(rig.total[:3], [0.03, -0.01, 0.02], atol=1e-6)


def test_yaw_offset_rotates_the_device_frame() -> None:
    rig = Rig(smoothing_s=0.0, yaw_deg=90.0)
    rig.feed((0, 0, 0))
    rig.step()
    rig.feed((0.02, 0, 0))
    rig.step(5)
    np.testing.assert_allclose(rig.total[:3], [0, 0.02, 0], atol=1e-6)


def test_rotation_follows_and_rot_scale() -> None:
    rig = Rig(smoothing_s=0.0)
    rig.feed((0, 0, 0))
    rig.step()
    rig.feed((0, 0, 0), yaw_quat(0.3))
    rig.step(8)
    np.testing.assert_allclose(rig.total[3:], [0, 0, 0.3], atol=1e-6)
    still = Rig(smoothing_s=0.0, rot_scale=0.0)
    still.feed((0, 0, 0))
    still.step()
    still.feed((0, 0, 0), yaw_quat(0.3))
    still.step(3)
    assert np.all(still.total[3:] == 0)


def test_per_step_limit_and_filter() -> None:
    rig = Rig(smoothing_s=0.0, max_step_m=0.01)
    rig.feed((0, 0, 0))
    rig.step()
    rig.feed((0.08, 0, 0))  # within the jump threshold, far for one step
    steps = [rig.step()[0] * 0.02 for _ in range(10)]
    assert max(steps) == pytest.approx(0.01)  # never more than max_step_m per step
    assert rig.total[0] == pytest.approx(0.08)
    smooth = Rig(smoothing_s=0.2)
    smooth.feed((0, 0, 0))
    smooth.step()
    smooth.feed((0.01, 0, 0))
    first = smooth.step()[0] * 0.02
    assert first == pytest.approx(0.01 * (1 - math.exp(-STEP / 0.2)), rel=1e-5)
    smooth.step(30)
    assert smooth.total[0] == pytest.approx(0.01, abs=1e-5)


def test_tracking_jump_reanchors_without_moving() -> None:
    rig = Rig(smoothing_s=0.0)
    rig.feed((0, 0, 0))
    rig.step()
    rig.feed((0.5, 0, 0))  # tracking glitch: half a metre in one sample
    rig.step(3)
    assert rig.dev.jumps == 1 and np.all(rig.total == 0)
    rig.feed((0.52, 0, 0))  # the motion after the jump is followed
    rig.step(3)
    assert rig.total[0] == pytest.approx(0.02)
    rig.feed((0.52, 0, 0), yaw_quat(1.2))  # a rotation jump too
    rig.step(3)
    assert rig.dev.jumps == 2 and np.all(rig.total[3:] == 0)


def test_stale_stream_holds_and_resumes_without_a_jump() -> None:
    rig = Rig(smoothing_s=0.0, stale_s=0.25)
    rig.feed((0, 0, 0))
    rig.step()
    rig.feed((0.05, 0, 0))
    rig.step(1)  # 1.5 cm of the 5 done, the last sample arrives at t = 0.2 s
    rig.step(2, silent=True)  # still fresh (<= 0.25 s old): 3 cm more
    assert rig.dev.last_sample is not None
    rig.step(4, silent=True)  # stale from t = 0.5 s: hold
    assert rig.dev.last_sample is None
    assert rig.total[0] == pytest.approx(0.045)
    rig.feed((0.07, 0, 0))  # resumes elsewhere: re-anchored, no catch-up jump
    assert np.all(rig.step()[:6] == 0)
    rig.feed((0.08, 0, 0))
    assert rig.step()[0] > 0
    rig.dev.disconnect()
    assert np.all(rig.step(silent=True)[:6] == 0)


def test_buttons_gripper_intervention_events() -> None:
    rig = Rig()
    rig.feed((0, 0, 0), gripper=True, intervention=True)
    cmd = rig.dev.poll()
    assert cmd.action[6] == -1.0 and cmd.intervention is False  # toggled by the press
    rig.feed((0, 0, 0), gripper=True, intervention=True, success=True)  # still held
    cmd = rig.dev.poll()
    assert cmd.intervention is False and cmd.events == {"episode_success"}
    rig.feed((0, 0, 0), success=True)
    rig.feed((0, 0, 0), intervention=True)  # pressed again between two polls
    cmd = rig.dev.poll()
    assert cmd.action[6] == 1.0 and cmd.intervention is True and cmd.events == set()


def test_config_validation() -> None:
    with pytest.raises(UnknownNameError, match="webxr"):
        PoseTeleopConfig(frame="webrx")
    with pytest.raises(ConfigError, match="pos_step"):
        PoseTeleopConfig(max_step_m=0.05)
    with pytest.raises(ConfigError, match="scale"):
        PoseTeleopConfig(scale=0.0)


def test_parse_messages() -> None:
    s = decode_message(
        json.dumps({"position": [1, 2, 3], "orientation": [0, 0, 0, 1], "t": 5.0}), 1.0
    )
    assert s is not None and s.position.tolist() == [1, 2, 3] and s.sent_t == 5.0
    assert not s.move and s.recv_t == 1.0
    packed = wire.packb(
        {"position": np.zeros(3), "orientation": np.array([1.0, 0, 0, 0]), "buttons": {"move": 1}}
    )
    s = decode_message(packed, 0.0)
    assert s is not None and s.move
    webxr = {
        "type": "pose",
        "data": {
            "position": {"x": 0.1, "y": 0.2, "z": 0.3},
            "orientation": {"x": 0, "y": 0, "z": 0, "w": 1},
            "move": True,
            "gripper": "close",
            "scale": 0.5,
            "reservedButtonA": True,
        },
    }
    s = decode_message(json.dumps(webxr), 0.0)
    assert s is not None and s.quat.tolist() == [1, 0, 0, 0] and s.scale == 0.5
    assert dict(s.buttons) == {
        "move": True,
        "gripper": True,
        "intervention": True,
        "success": False,
    }
    assert decode_message(json.dumps({"type": "log", "data": "hi"}), 0.0) is None


@pytest.mark.parametrize(
    ("msg", "match"),
    [
        ({"orientation": [1, 0, 0, 0]}, "no 'position'"),
        ({"position": [0, 0], "orientation": [1, 0, 0, 0]}, "3 finite numbers"),
        ({"position": [0, 0, "a"], "orientation": [1, 0, 0, 0]}, "position"),
        ({"position": [0, 0, 0], "orientation": [2, 0, 0, 0]}, "unit quaternion"),
        ({"position": [0, 0, 0], "orientation": [1, 0, 0, 0], "buttons": {"jump": 1}}, "unknown"),
        ({"position": [0, 0, 0], "orientation": [1, 0, 0, 0], "scale": -1}, "scale"),
    ],
)
def test_bad_messages_say_what_is_wrong(msg: dict, match: str) -> None:
    with pytest.raises(ProtocolError, match=match):
        parse_sample(msg, 0.0)


def test_bad_frames() -> None:
    with pytest.raises(ProtocolError, match="neither JSON"):
        decode_message("{not json", 0.0)
    with pytest.raises(ProtocolError, match="must be a map"):
        decode_message("[1, 2]", 0.0)
    with pytest.raises(ProtocolError, match="WebXR"):
        decode_message(json.dumps({"type": "pose", "data": {"move": True}}), 0.0)


def test_intervention_wrapper_with_a_pose_device() -> None:
    """The policy acts until the hand presses intervention, then the hand's motion does."""
    import gymnasium as gym

    from armgym.contracts.info import EXECUTED_ACTION, INTERVENTION
    from armgym.teleop.intervention import InterventionWrapper

    rig = Rig(smoothing_s=0.0)
    policy_action = np.array([0, 0, -0.5, 0, 0, 0, 1], np.float32)
    env = InterventionWrapper(gym.make("armgym/Reach-v0", obs="state"), rig.dev)
    env.reset(seed=0)
    try:
        rig.feed((0, 0, 0))
        rig.now += STEP
        info = env.step(policy_action)[4]
        assert np.array_equal(info[EXECUTED_ACTION], policy_action) and not info[INTERVENTION]
        rig.feed((0, 0, 0), intervention=True)  # takes over
        rig.now += STEP
        info = env.step(policy_action)[4]
        assert info[INTERVENTION] and np.all(info[EXECUTED_ACTION][:6] == 0)
        rig.feed((0.01, 0, 0), intervention=True)
        rig.now += STEP
        info = env.step(policy_action)[4]
        assert info[EXECUTED_ACTION][0] == pytest.approx(0.5)  # 1 cm of the hand = half a step
    finally:
        env.close()
