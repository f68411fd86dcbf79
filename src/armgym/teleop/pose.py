"""Six-degree-of-freedom teleoperation from a tracked pose (phone, VR controller, tracker).

``PoseTeleop`` is a ``TeleopDevice`` fed by a pose stream at the stream's own rate
(``update(sample)``, from any thread: phones send ~30 Hz, VR controllers ~90 Hz) and
polled at the env's control rate (``poll()``), where it produces ``ee_delta`` actions.

Clutching: while the sample's ``move`` button is held, the tool follows the device's
motion *relative to where the button was pressed*; releasing it freezes the target (the
tool finishes the way to where the hand was, then stays), so the hand can be brought
back and the button pressed again elsewhere (re-anchoring). With ``M`` =
``PoseTeleopConfig.frame`` (device frame -> robot base frame) and ``p0, R0`` the device
pose at the press, the tool's target relative to its target at the press is::

    Δp = scale · M (p − p0)                  [m, robot base frame]
    ΔR = (M R R0ᵀ Mᵀ) ^ rot_scale            (rotation about base-frame axes)

The target is low-pass filtered (time constant ``smoothing_s``), then each control step
moves the commanded goal towards it by at most ``max_step_m`` / ``max_step_rad``, so a
tracking glitch cannot jerk the arm. A sample that jumps more than ``jump_m`` /
``jump_rad`` from the previous one (lost tracking, a re-localised headset) re-anchors
the clutch there: the tool does not follow the jump. A stream silent for ``stale_s``
(dropped connection, frozen tracker) releases the clutch and drops the target: the arm
holds where it is at once.

The device keeps its own estimate of the controller's integrated goal (the sum of the
actions it has issued), so it needs no observation; ``ee_delta`` integrates the same
sums (``armgym.robots.controllers``).

Buttons (``PoseSample.buttons``): ``move`` (held: follow), ``gripper`` (held or latched by
the sender: closed), ``intervention`` (press toggles who is in control), ``success`` /
``failure`` / ``rerecord`` / ``stop`` (press fires the matching event of
``armgym.teleop.base.EVENTS``).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from armgym.errors import ConfigError, UnknownNameError
from armgym.robots.controllers import (
    GRIPPER_CLOSED,
    GRIPPER_OPEN,
    ControllerConfig,
    _mat_to_rotvec,
    _quat_to_mat,
    _rotvec_to_mat,
)
from armgym.teleop.base import TeleopCommand

#: Device frame -> robot base frame (x forward, y left, z up), as rotation matrices.
FRAMES: dict[str, tuple[tuple[float, ...], ...]] = {
    # the sender already reports poses in the robot base frame
    "identity": ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
    # WebXR reference spaces are x right, y up, z backwards (towards the user); a user
    # facing along the robot's +x sees forward = -z, left = -x, up = +y
    "webxr": ((0, 0, -1), (-1, 0, 0), (0, 1, 0)),
}

#: Button name -> event fired on its press.
BUTTON_EVENTS = {
    "success": "episode_success",
    "failure": "episode_failure",
    "rerecord": "rerecord",
    "stop": "stop",
}

_DEFAULT_CTRL = ControllerConfig()


@dataclass(frozen=True)
class PoseTeleopConfig:
    """How device motion maps onto the tool (see the module docstring)."""

    scale: float = 1.0
    """Tool metres per device metre."""
    rot_scale: float = 1.0
    """Tool rotation per device rotation (0 ignores the device's rotation)."""
    frame: str = "identity"
    """Device frame -> robot base frame: identity | webxr."""
    yaw_deg: float = 0.0
    """Extra rotation of the device frame about the base z axis [deg] (the operator
    stands at another side of the table)."""
    smoothing_s: float = 0.05
    """Low-pass time constant of the target [s] (0: no filtering)."""
    max_step_m: float = 0.015
    """Largest tool translation per control step [m]."""
    max_step_rad: float = 0.08
    """Largest tool rotation per control step [rad]."""
    jump_m: float = 0.10
    """A sample further than this from the previous one re-anchors the clutch [m]."""
    jump_rad: float = 0.6
    """A sample rotated more than this from the previous one re-anchors [rad]."""
    stale_s: float = 0.25
    """No sample for this long releases the clutch and holds the arm [s]."""
    pos_step: float = _DEFAULT_CTRL.pos_step
    """The env's ee_delta metres per step at |a| = 1 (``ControllerConfig.pos_step``)."""
    rot_step: float = _DEFAULT_CTRL.rot_step
    """The env's ee_delta radians per step at |a| = 1 (``ControllerConfig.rot_step``)."""

    def __post_init__(self) -> None:
        if self.frame not in FRAMES:
            raise UnknownNameError("pose frame", self.frame, FRAMES)
        positive = ("scale", "max_step_m", "max_step_rad", "jump_m", "jump_rad", "stale_s")
        for name in (*positive, "pos_step", "rot_step"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"PoseTeleopConfig.{name} must be > 0, got {getattr(self, name)}")
        if self.rot_scale < 0 or self.smoothing_s < 0:
            raise ConfigError("PoseTeleopConfig.rot_scale and smoothing_s must be >= 0.")
        if self.max_step_m > self.pos_step or self.max_step_rad > self.rot_step:
            raise ConfigError(
                f"max_step_m / max_step_rad ({self.max_step_m}, {self.max_step_rad}) must not "
                f"exceed the env's pos_step / rot_step ({self.pos_step}, {self.rot_step}): an "
                "action is limited to [-1, 1]."
            )

    def frame_matrix(self) -> np.ndarray:
        """float64[3, 3] rotation taking device-frame vectors to the robot base frame."""
        c, s = math.cos(math.radians(self.yaw_deg)), math.sin(math.radians(self.yaw_deg))
        yaw = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        return yaw @ np.asarray(FRAMES[self.frame], dtype=np.float64)


@dataclass(frozen=True)
class PoseSample:
    """One message of a pose stream.

    position: float64[3], device position [m] in the device frame.
    quat: float64[4], device orientation (w, x, y, z) in the device frame, unit norm.
    buttons: button name -> pressed (see the module docstring for the names).
    scale: extra translation scale from the sender (e.g. the phone page's slider).
    sent_t: sender's ``time.time()`` when sent [s], if the sender stamped it.
    recv_t: arrival time on the receiving device's clock [s] (``PoseTeleop.clock``).
    """

    position: np.ndarray
    quat: np.ndarray
    buttons: Mapping[str, bool] = field(default_factory=dict)
    scale: float = 1.0
    sent_t: float | None = None
    recv_t: float = 0.0

    @property
    def move(self) -> bool:
        return bool(self.buttons.get("move", False))

    def rotation(self) -> np.ndarray:
        """float64[3, 3] orientation matrix."""
        return _quat_to_mat(self.quat)


class PoseTeleop:
    """``TeleopDevice`` driven by ``update(PoseSample)`` (see the module docstring).

    Args:
        config: mapping, filtering and limits.
        clock: seconds, monotonic (default ``time.perf_counter``; samples' ``recv_t`` must
            use the same clock).

    Attributes:
        intervention: the intervention toggle (True: the human is in control).
        last_sample: the sample the latest ``poll`` used (None when holding).
        jumps: how many samples were rejected as tracking jumps.
        anchors: how many times the clutch anchored (a press, a jump, a resumed stream).
    """

    def __init__(
        self, config: PoseTeleopConfig | None = None, clock: Callable[[], float] = time.perf_counter
    ):
        self.cfg = config or PoseTeleopConfig()
        self.clock = clock
        self.frame = self.cfg.frame_matrix()
        self.intervention = True
        self.gripper = GRIPPER_OPEN
        self.jumps = self.anchors = 0
        self.last_sample: PoseSample | None = None
        self._lock = threading.Lock()
        self._latest: PoseSample | None = None
        self._press: PoseSample | None = None  # the sample where "move" was pressed
        self._pending: set[str] = set()
        self._reanchor = False
        # the controller's goal as the device has commanded it (arbitrary origin)
        self._cmd_pos, self._cmd_rot = np.zeros(3), np.eye(3)
        self._filt_pos, self._filt_rot = np.zeros(3), np.eye(3)
        self._anchor: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
        self._target: tuple[np.ndarray, np.ndarray] | None = None  # (pos, rot), goal space
        self._last_poll: float | None = None

    # -- stream side (any thread) -------------------------------------------------------
    def update(self, sample: PoseSample) -> None:
        """Take one stream sample: jump check, button edges; the pose is used at ``poll``."""
        with self._lock:
            prev = self._latest
            pressed = sample.move and (
                prev is None or not prev.move or sample.recv_t - prev.recv_t > self.cfg.stale_s
            )
            if prev is not None and self._is_jump(prev, sample):
                self.jumps += 1
                pressed = sample.move
            if pressed:  # anchor at this very sample, whenever the next poll comes
                self._press, self._reanchor = sample, True
            before = prev.buttons if prev is not None else {}
            for name, down in sample.buttons.items():
                if down and not before.get(name, False):
                    if name == "intervention":
                        self._pending.add("intervention")
                    elif name in BUTTON_EVENTS:
                        self._pending.add(BUTTON_EVENTS[name])
            self._latest = sample

    def _is_jump(self, a: PoseSample, b: PoseSample) -> bool:
        if float(np.linalg.norm(b.position - a.position)) > self.cfg.jump_m:
            return True
        turn = _mat_to_rotvec(b.rotation() @ a.rotation().T)
        return float(np.linalg.norm(turn)) > self.cfg.jump_rad

    def disconnect(self) -> None:
        """The stream ended: release the clutch (the arm holds until a new press)."""
        with self._lock:
            self._latest = None

    # -- control side ---------------------------------------------------------------------
    def poll(self) -> TeleopCommand:
        """The ee_delta action for this control step (float32[7], see ``TeleopCommand``)."""
        now = self.clock()
        dt = 0.0 if self._last_poll is None else max(now - self._last_poll, 0.0)
        self._last_poll = now
        with self._lock:
            sample, press, pending, reanchor = (
                self._latest,
                self._press,
                self._pending,
                self._reanchor,
            )
            self._press, self._pending, self._reanchor = None, set(), False
        events = frozenset(pending - {"intervention"})
        if "intervention" in pending:
            self.intervention = not self.intervention
            reanchor, self._target = True, None  # a takeover starts from where the tool is
        action = np.zeros(7, dtype=np.float32)
        if sample is None or now - sample.recv_t > self.cfg.stale_s:
            # no stream: hold the arm where it is, at once
            self._anchor = self._target = self.last_sample = None
        else:
            self.gripper = GRIPPER_CLOSED if sample.buttons.get("gripper") else GRIPPER_OPEN
            if sample.move:
                if self._anchor is None or reanchor:
                    self._anchor_at(press if press is not None else sample)
                self._target = self._target_of(sample)
                self.last_sample = sample
            else:  # released: the tool finishes the way to the last target, then stays
                self._anchor = self.last_sample = None
            if self._target is not None:
                action[:6] = self._step_towards(*self._target, dt)
        action[6] = self.gripper
        return TeleopCommand(action, self.intervention, events)

    def _anchor_at(self, press: PoseSample) -> None:
        """Clutch: device motion from ``press`` on moves the tool from its current target
        (or, with none, from the commanded goal)."""
        self.anchors += 1
        if self._target is None:
            self._target = self._cmd_pos.copy(), self._cmd_rot.copy()
            self._filt_pos, self._filt_rot = self._target
        self._anchor = (press.position.copy(), press.rotation(), *self._target)

    def _target_of(self, sample: PoseSample) -> tuple[np.ndarray, np.ndarray]:
        """The tool target (goal space) for ``sample``: anchor + mapped device motion."""
        cfg, m = self.cfg, self.frame
        assert self._anchor is not None
        p0, r0, base_pos, base_rot = self._anchor
        pos = base_pos + cfg.scale * sample.scale * (m @ (sample.position - p0))
        rel = m @ (sample.rotation() @ r0.T) @ m.T
        return pos, _rotvec_to_mat(cfg.rot_scale * _mat_to_rotvec(rel)) @ base_rot

    def _step_towards(self, pos: np.ndarray, rot: np.ndarray, dt: float) -> np.ndarray:
        """Low-pass the target, then move the commanded goal towards it within the
        per-step limits; return action[:6] (in [-1, 1])."""
        cfg = self.cfg
        alpha = 1.0 if cfg.smoothing_s == 0 else 1.0 - math.exp(-dt / cfg.smoothing_s)
        self._filt_pos = self._filt_pos + alpha * (pos - self._filt_pos)
        turn = _mat_to_rotvec(rot @ self._filt_rot.T)
        self._filt_rot = _rotvec_to_mat(alpha * turn) @ self._filt_rot
        dp = _limit(self._filt_pos - self._cmd_pos, cfg.max_step_m)
        dr = _limit(_mat_to_rotvec(self._filt_rot @ self._cmd_rot.T), cfg.max_step_rad)
        a = np.clip(np.concatenate([dp / cfg.pos_step, dr / cfg.rot_step]), -1.0, 1.0)
        self._cmd_pos = self._cmd_pos + a[:3] * cfg.pos_step
        self._cmd_rot = _rotvec_to_mat(a[3:] * cfg.rot_step) @ self._cmd_rot
        return a

    def close(self) -> None:
        self.disconnect()


def _limit(v: np.ndarray, norm: float) -> np.ndarray:
    """``v`` scaled down to length ``norm`` if longer."""
    n = float(np.linalg.norm(v))
    return v if n <= norm else v * (norm / n)
