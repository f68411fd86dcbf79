"""``RealRobot``: a real arm behind the :class:`~armgym.robots.base.Robot` protocol.

It has the same observation and action spaces as the ``SimRobot`` of the same spec and
control mode, because it *contains* one (without a task) as its kinematic model: each
measurement is written into the sim's joint positions, so ``ee_pos`` / ``ee_quat`` are the
sim's forward kinematics, and each action goes through the sim's own controller (the same
damped least-squares IK for ``ee_delta``). The joint targets it produces pass the
:class:`~armgym.robots.real.safety.SafetyLayer` and then the driver.

Timing: ``act`` sends the command and returns the observation measured ``1 / control_hz``
s after the previous command (it sleeps the rest of the period; ``late_steps`` counts
periods that overran). ``reset`` moves the arm in joint space to the spec's home pose at
the safety velocity limit (no randomisation on hardware) and opens the gripper; it is
done when every joint is within ``home_tolerance``, or, for a redundant arm (> 6 joints),
when the TCP is within 5 mm and ~2° of the home TCP pose (behind a Cartesian server, e.g.
SERL's, it may settle in another null-space configuration).

Task: a *virtual* task (``task.virtual``: its objects are markers the arm never touches,
e.g. Reach's target) lives in the kinematic model: ``reset(seed=...)`` places its objects
with the seed's generator after the arm is home, and ``object_state`` is read from the
model, so the task scores the real arm exactly as it scores the sim. A task with physical
objects needs their poses measured (perception), which a real arm does not have yet.

Errors: any :class:`~armgym.errors.HardwareError` from the driver or a camera first holds
the arm (torque on, goal = present position; see :mod:`armgym.robots.real.driver`), then
propagates; ``reset()`` is the way to continue.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

import gymnasium as gym
import mujoco
import numpy as np

from armgym.contracts.observation import Obs
from armgym.contracts.scene import SceneTask
from armgym.errors import ConfigError, HardwareError, InvalidActionError
from armgym.robots.base import RobotSpec
from armgym.robots.controllers import ControllerConfig
from armgym.robots.real.driver import ArmDriver, JointReading
from armgym.robots.real.safety import SafetyConfig, SafetyLayer
from armgym.robots.sim import SimRobot

T = TypeVar("T")


class Camera(Protocol):
    """A camera giving RGB uint8[H, W, 3] frames; ``read`` raises HardwareError if stale."""

    shape: tuple[int, int]

    def read(self) -> np.ndarray: ...

    def close(self) -> None: ...


def check_real_task(task: SceneTask | None) -> None:
    """Raise :class:`ConfigError` unless ``task`` is None or virtual (runs on a real arm)."""
    if task is not None and not task.virtual:
        raise ConfigError(
            f"task {task.name!r} scores objects a real arm does not measure (no perception "
            "yet); on a real arm use a task whose objects are virtual markers, e.g. Reach"
        )


class RealRobot:
    """A real arm: ``driver`` for the joints, ``cameras`` for ``images.<name>``.

    Args:
        spec: the arm's facts (the same spec the sim uses).
        driver: the connected device.
        control: control mode (``ee_delta``, ``joint_pos``, ``joint_delta``).
        control_hz: control rate [Hz].
        safety: limits applied to every command.
        cameras: name -> camera; each gives ``images.<name>`` of its ``shape``.
        controller: controller gains / step sizes (as in the sim).
        device_range: the device's own joint range (low, high) [rad], e.g. from calibration.
        home_tolerance: reset is done when every joint is this close to home [rad].
        reset_timeout_s: give up reaching the home pose after this long [s].
        task: a virtual task (``task.virtual``) kept in the kinematic model (see above).
    """

    def __init__(
        self,
        spec: RobotSpec,
        driver: ArmDriver,
        *,
        control: str = "ee_delta",
        control_hz: float = 10.0,
        safety: SafetyConfig | None = None,
        cameras: Mapping[str, Camera] | None = None,
        controller: ControllerConfig | None = None,
        device_range: tuple[np.ndarray, np.ndarray] | None = None,
        home_tolerance: float = 0.03,
        reset_timeout_s: float = 15.0,
        task: SceneTask | None = None,
    ):
        check_real_task(task)
        if driver.n_joints != spec.n_arm:
            raise HardwareError(
                f"the driver reports {driver.n_joints} joints but robot {spec.name!r} has "
                f"{spec.n_arm}: wrong --robot for this arm?"
            )
        self.spec, self.driver, self.control = spec, driver, control
        self.task = task
        self.kin = SimRobot(
            spec, task, control=control, control_hz=control_hz, controller=controller
        )
        self.model, self.data, self.controller = self.kin.model, self.kin.data, self.kin.controller
        self.control_hz = self.kin.control_hz
        self.safety = SafetyLayer(
            self.model, spec, self.control_hz, safety or SafetyConfig(), device_range
        )
        self.cameras = dict(cameras or {})
        self.home = np.asarray(spec.home_qpos, dtype=np.float64)
        self.home_tolerance, self.reset_timeout_s = home_tolerance, reset_timeout_s
        spaces = dict(self.kin.observation_space.spaces)
        for name, cam in self.cameras.items():
            spaces[f"images.{name}"] = gym.spaces.Box(0, 255, (*cam.shape, 3), np.uint8)
        self.observation_space: gym.spaces.Dict = gym.spaces.Dict(spaces)
        self.action_space: gym.spaces.Box = self.kin.action_space
        self._fingers = [self.model.joint(j).qposadr[0] for j in spec.gripper_joints]
        self._prev: tuple[float, np.ndarray] | None = None
        self._deadline: float | None = None
        self._last_cmd: np.ndarray | None = None  # joint targets last sent [rad]
        self.late_steps = 0

    # -- Robot protocol -------------------------------------------------------------------
    @property
    def robot_name(self) -> str:
        """Registry name of the arm's spec (``so101`` ...)."""
        return self.spec.name

    @property
    def task_name(self) -> str | None:
        """The virtual task in the kinematic model, if any (physical objects would need
        perception)."""
        return self.task.name if self.task is not None else None

    @property
    def randomization(self) -> str | None:
        """Randomisation level of the virtual task's objects, if any."""
        return self.task.level if self.task is not None else None

    def step_held(self) -> None:
        """Nothing to do: the servos' own position loop keeps the hold."""

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Obs:
        """Clear device errors, move to the home pose (joint space, velocity-limited), open
        the gripper, place a virtual task's objects (``seed``: their generator's seed).
        ``options["home_qpos"]`` replaces the spec's home pose [rad]."""
        c = self.controller
        target = self.home
        if options and "home_qpos" in options:
            target = np.asarray(options["home_qpos"], dtype=np.float64).reshape(self.spec.n_arm)
        self._guard(self.driver.recover)
        self._last_cmd = None
        t_end = time.monotonic() + self.reset_timeout_s
        home_pos, home_quat = self.safety.kin.fk(target)
        while True:
            reading = self._read()
            if np.max(np.abs(reading.q - target)) <= self.home_tolerance:
                break
            if self.spec.n_arm > 6:  # redundant: may settle in another null-space pose
                pos, quat = self.safety.kin.fk(reading.q)
                if np.linalg.norm(pos - home_pos) < 0.005 and abs(quat @ home_quat) > 0.9995:
                    break
            if time.monotonic() > t_end:
                self.hold()
                raise HardwareError(
                    f"the arm did not reach the home pose within {self.reset_timeout_s} s "
                    f"(joint error {np.round(reading.q - target, 3).tolist()} rad); it is "
                    "held where it stopped. Check for obstacles, overload or a loose joint."
                )
            q = self._last_cmd = self.safety.limit(reading.q, target, workspace=False)
            self._guard(functools.partial(self.driver.command, q, 1.0))
            self._wait_period()
        # the episode's goal is the commanded home pose (what the arm sags from), if any
        base = reading.q if self._last_cmd is None else self._last_cmd
        self._sync(JointReading(q=base, gripper=reading.gripper))
        c.start_episode(self.data)
        self.data.ctrl[c.grip_id] = self.spec.gripper_range[1]
        if self.task is not None:
            if seed is not None:
                self.kin.np_random = np.random.default_rng(seed)
            self.task.initialize(self.data, self.kin.np_random)
            mujoco.mj_kinematics(self.model, self.data)
        self._prev = None
        return self.observe()

    def act(self, action: np.ndarray) -> Obs:
        """Apply ``action`` (float32[action_dim], clipped to [-1, 1]) for one control period."""
        a = np.asarray(action, dtype=np.float32)
        if a.shape != self.action_space.shape or not np.all(np.isfinite(a)):
            raise InvalidActionError(
                f"action must be finite float32{list(self.action_space.shape)}, got shape {a.shape}"
            )
        a = np.clip(a, -1.0, 1.0)
        c, d = self.controller, self.data
        reading = self._read()
        # The controller steps from the last *command*, not the measurement: a position
        # servo's steady-state error (sag under gravity) would otherwise add up every step.
        base = reading.q if self._last_cmd is None else self._last_cmd
        self._sync(JointReading(q=base, gripper=reading.gripper))
        c.apply(d, a)
        q = self.safety.limit(reading.q, d.ctrl[c.act_ids].copy())
        d.ctrl[c.act_ids] = q  # joint_delta integrates from what was really sent
        self._last_cmd = q
        g_closed, g_open = self.spec.gripper_range
        grip = float((d.ctrl[c.grip_id] - g_closed) / (g_open - g_closed))
        self._guard(lambda: self.driver.command(q, grip))
        self._wait_period()
        return self.observe()

    def observe(self) -> Obs:
        reading = self._read()
        now = time.monotonic()
        self._sync(reading)
        obs = self.kin.observe(images=False)
        if reading.qvel is not None:
            qvel = reading.qvel
        elif self._prev is not None and now > self._prev[0]:
            qvel = (reading.q - self._prev[1]) / (now - self._prev[0])
        else:
            qvel = np.zeros(self.spec.n_arm)
        self._prev = (now, reading.q.copy())
        obs["joint_vel"] = qvel.astype(np.float32)
        obs["gripper"] = np.array([reading.gripper], dtype=np.float32)
        for name, cam in self.cameras.items():
            obs[f"images.{name}"] = self._guard(cam.read)
        return obs

    def hold(self) -> None:
        """Stop where the arm is (torque on); the controller's goal becomes the present pose."""
        self.driver.hold()
        with_reading = self._guard(self.driver.read)
        self._sync(with_reading)
        self.controller.hold(self.data)
        self._deadline = None
        self._last_cmd = None

    def close(self) -> None:
        try:
            self.driver.close()
        finally:
            for cam in self.cameras.values():
                cam.close()
            self.kin.close()

    # -- helpers ---------------------------------------------------------------------------
    def _guard(self, fn: Callable[[], T]) -> T:
        """Run a device call; on a device error hold the arm (best effort) and re-raise."""
        try:
            return fn()
        except (HardwareError, OSError) as e:
            self._last_cmd = None  # the arm holds where it is now
            with contextlib.suppress(Exception):  # the device may be gone; the error says so
                self.driver.hold()
            if isinstance(e, HardwareError):
                raise
            raise HardwareError(f"device I/O failed: {e}; the arm was told to hold") from e

    def _read(self) -> JointReading:
        reading = self._guard(self.driver.read)
        try:
            self.safety.check_reading(reading.q)
        except HardwareError:
            self._guard(self.driver.hold)
            raise
        return reading

    def _sync(self, reading: JointReading) -> None:
        """Write a measurement into the kinematic model (arm joints and fingers)."""
        d = self.data
        d.qpos[self.controller.qadr] = reading.q
        d.qpos[self._fingers] = reading.gripper * self.kin.finger_max
        mujoco.mj_kinematics(self.model, d)
        mujoco.mj_comPos(self.model, d)

    def _wait_period(self) -> None:
        """Sleep until one control period after the previous command."""
        now = time.monotonic()
        period = 1.0 / self.control_hz
        if self._deadline is None or now - self._deadline > period:
            if self._deadline is not None:
                self.late_steps += 1
            self._deadline = now + period
        else:
            self._deadline += period
        time.sleep(max(0.0, self._deadline - time.monotonic()))
