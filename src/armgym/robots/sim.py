"""``SimRobot``: the MuJoCo robot (+ task scene) behind the :class:`Robot` protocol.

Hot path: ``act`` = one controller call (a Jacobian and a 6×6 solve for ``ee_delta``),
``mj_step(model, data, nstep=k)`` in C, and an observation filled from precomputed
addresses. Cameras are rendered only when asked for, with one reused renderer.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

from armgym.contracts.observation import Obs
from armgym.contracts.scene import SceneTask as Task
from armgym.errors import ConfigError, PhysicsError
from armgym.registry import check_choice
from armgym.robots.base import RobotSpec
from armgym.robots.controllers import CONTROL_MODES, ArmController, ControllerConfig
from armgym.robots.scene import build_scene

_STATE_SPEC = mujoco.mjtState.mjSTATE_INTEGRATION | mujoco.mjtState.mjSTATE_WARMSTART
_BAD_WARNINGS = (
    mujoco.mjtWarning.mjWARN_BADQACC,
    mujoco.mjtWarning.mjWARN_BADQVEL,
    mujoco.mjtWarning.mjWARN_BADQPOS,
    mujoco.mjtWarning.mjWARN_BADCTRL,
)


class SimRobot:
    """A simulated arm in a MuJoCo scene, optionally with a task's objects.

    Args:
        spec: robot facts (see :class:`~armgym.robots.base.RobotSpec`).
        task: task whose objects are added to the scene and placed at reset.
        control: one of ``CONTROL_MODES``.
        control_hz: control rate [Hz]; physics substeps = round(1 / (control_hz · timestep)).
        cameras: camera names to render into ``images.<name>`` (``front``, ``wrist``).
        image_size: (height, width) of rendered images [px].
        controller: gains and step sizes.
    """

    def __init__(
        self,
        spec: RobotSpec,
        task: Task | None = None,
        *,
        control: str = "ee_delta",
        control_hz: float = 10.0,
        cameras: tuple[str, ...] = (),
        image_size: tuple[int, int] = (128, 128),
        controller: ControllerConfig | None = None,
        model: mujoco.MjModel | None = None,
    ):
        check_choice("control mode", control, CONTROL_MODES)
        if control_hz <= 0:
            raise ConfigError(f"control_hz must be > 0, got {control_hz}")
        self.spec, self.task, self.control = spec, task, control
        self.model = model if model is not None else build_scene(spec, task, image_size=image_size)
        self.data = mujoco.MjData(self.model)
        self.control_hz = float(control_hz)
        self.n_substeps = max(1, round(1.0 / (self.control_hz * self.model.opt.timestep)))
        for cam in cameras:
            if mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_CAMERA, cam) < 0:
                names = [self.model.camera(i).name for i in range(self.model.ncam)]
                check_choice("camera", cam, names)
        self.cameras = tuple(cameras)
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.controller = ArmController(self.model, spec, control, controller or ControllerConfig())
        if task is not None:
            task.bind(self.model)
        c = self.controller
        #: qpos address of the first finger joint and its open limit [m or rad]
        self.finger_adr = int(self.model.joint(spec.gripper_joints[0]).qposadr[0])
        self.finger_max = float(self.model.joint(spec.gripper_joints[0]).range[1]) or 1.0
        # gripper_range = (closed, open); closed > open: the finger joints grow as it closes
        self._grip_inverted = spec.gripper_range[0] > spec.gripper_range[1]
        self._finger_open = 0.0 if self._grip_inverted else self.finger_max
        self._renderer: mujoco.Renderer | None = None
        self.np_random = np.random.default_rng()
        n, k = spec.n_arm, (task.object_state_size if task else 0)
        inf = np.inf
        obs_spaces: dict[str, gym.Space] = {
            "joint_pos": gym.spaces.Box(c.q_low.astype(np.float32), c.q_high.astype(np.float32)),
            "joint_vel": gym.spaces.Box(-inf, inf, (n,), np.float32),
            "ee_pos": gym.spaces.Box(-inf, inf, (3,), np.float32),
            "ee_quat": gym.spaces.Box(-1.0, 1.0, (4,), np.float32),
            "gripper": gym.spaces.Box(0.0, 1.0, (1,), np.float32),
            "object_state": gym.spaces.Box(-inf, inf, (k,), np.float32),
        }
        h, w = self.image_size
        for cam in self.cameras:
            obs_spaces[f"images.{cam}"] = gym.spaces.Box(0, 255, (h, w, 3), np.uint8)
        self.observation_space: gym.spaces.Dict = gym.spaces.Dict(obs_spaces)
        self.action_space: gym.spaces.Box = gym.spaces.Box(-1.0, 1.0, (c.action_dim,), np.float32)
        self._ee_quat = np.empty(4)

    # -- Robot protocol -------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Obs:
        if seed is not None:
            self.np_random = np.random.default_rng(seed)
        m, d, c = self.model, self.data, self.controller
        mujoco.mj_resetData(m, d)
        noise = self.task.joint_noise(self.np_random, c.n) if self.task else 0.0
        d.qpos[c.qadr] = np.clip(c.home + noise, c.q_low, c.q_high)
        d.qpos[self.finger_adr] = self._finger_open
        for j in self.spec.gripper_joints[1:]:
            d.qpos[m.joint(j).qposadr[0]] = self._finger_open
        if self.task is not None:
            self.task.initialize(d, self.np_random)
        mujoco.mj_forward(m, d)
        c.start_episode(d)
        d.ctrl[c.grip_id] = self.spec.gripper_range[1]
        mujoco.mj_forward(m, d)
        return self.observe()

    def act(self, action: np.ndarray) -> Obs:
        """Apply a validated action (float32[action_dim] in [-1, 1]) for one control period.

        Raises:
            PhysicsError: the simulation became unstable; reset before stepping again.
        """
        self.controller.apply(self.data, action)
        self.step_physics()
        self.check_physics()
        return self.observe()

    def step_physics(self) -> None:
        """Advance one control period in C (releases the GIL), then refresh kinematics.

        ``mj_step`` leaves positions-derived quantities (site poses, Jacobians) one substep
        stale; recomputing kinematics makes observations match ``qpos`` and makes a state
        restored with :meth:`set_sim_state` continue bit-identically.
        """
        m, d = self.model, self.data
        mujoco.mj_step(m, d, nstep=self.n_substeps)
        mujoco.mj_kinematics(m, d)
        mujoco.mj_comPos(m, d)

    def check_physics(self) -> None:
        """Raise :class:`PhysicsError` if MuJoCo warned of divergence or the state is not finite."""
        d = self.data
        for w in _BAD_WARNINGS:
            if d.warning[w].number:
                raise PhysicsError(f"MuJoCo warning {w.name} at t={d.time:.3f}s")
        if not (np.isfinite(d.qpos).all() and np.isfinite(d.qvel).all()):
            raise PhysicsError(f"non-finite physics state at t={d.time:.3f}s")

    def observe(self, images: bool = True) -> Obs:
        """The observation dict; ``images=False`` skips the cameras (see :meth:`images`)."""
        d, c = self.data, self.controller
        mujoco.mju_mat2Quat(self._ee_quat, d.site_xmat[c.site_id])
        if self._ee_quat[0] < 0:  # one hemisphere, so the feature is continuous
            self._ee_quat *= -1.0
        obs: Obs = {
            "joint_pos": d.qpos[c.qadr].astype(np.float32),
            "joint_vel": d.qvel[c.dofadr].astype(np.float32),
            "ee_pos": d.site_xpos[c.site_id].astype(np.float32),
            "ee_quat": self._ee_quat.astype(np.float32),
            "gripper": np.array([self._opening(d.qpos[self.finger_adr])], dtype=np.float32),
            "object_state": (
                self.task.object_state(d) if self.task else np.zeros(0, dtype=np.float32)
            ),
        }
        if images:
            obs.update(self.images())
        return obs

    @property
    def gripper_inverted(self) -> bool:
        """True when the gripper actuator closes toward larger finger positions (its
        ``gripper_range`` is (closed, open) with closed > open, e.g. a Robotiq)."""
        return self._grip_inverted

    def _opening(self, q: float) -> float:
        """Gripper opening in [0, 1] (0 = closed) from the first finger joint's position."""
        g = q / self.finger_max
        return 1.0 - g if self._grip_inverted else g

    def images(self) -> Obs:
        """``images.<camera>`` for every camera of this robot.

        Rendering uses this robot's GL context, which is bound to the thread that created
        it: call from that thread (``BatchedEnv`` renders in its calling thread).
        """
        return {f"images.{cam}": self.render(cam) for cam in self.cameras}

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    # -- extras of the sim robot -------------------------------------------------------------
    def render(self, camera: str = "front", size: tuple[int, int] | None = None) -> np.ndarray:
        """RGB uint8[H, W, 3] from ``camera``; one renderer is kept and reused."""
        h, w = size or self.image_size
        r = self._renderer
        if r is None or (r.height, r.width) != (h, w):
            if r is not None:
                r.close()
            vis = self.model.vis.global_  # grow the offscreen buffer if a bigger frame is asked for
            vis.offheight, vis.offwidth = max(vis.offheight, h), max(vis.offwidth, w)
            r = self._renderer = mujoco.Renderer(self.model, height=h, width=w)
        r.update_scene(self.data, camera=camera)
        return r.render()

    def hold(self) -> None:
        """Freeze the arm at its current joint positions (watchdogs, lost connections)."""
        self.controller.hold(self.data)

    def step_held(self) -> None:
        """One control period of physics while held (the arm stays put under gravity)."""
        self.step_physics()

    @property
    def robot_name(self) -> str:
        """Registry name of the arm (``spec.name``)."""
        return self.spec.name

    @property
    def task_name(self) -> str | None:
        """Name of the task whose objects are in the scene, or None."""
        return self.task.name if self.task is not None else None

    @property
    def randomization(self) -> str | None:
        """The task's randomisation level, or None without a task."""
        return self.task.level if self.task is not None else None

    def get_sim_state(self) -> np.ndarray:
        """Full physics state (time, qpos, qvel, act, ctrl, mocap, warm start) + controller goal.

        Returns float64[S]; :meth:`set_sim_state` restores it bit-identically.
        """
        size = mujoco.mj_stateSize(self.model, _STATE_SPEC)
        phys = np.empty(size)
        mujoco.mj_getState(self.model, self.data, phys, _STATE_SPEC)
        return np.concatenate([phys, self.controller.state()])

    def set_sim_state(self, state: np.ndarray) -> None:
        size = mujoco.mj_stateSize(self.model, _STATE_SPEC)
        expected = size + ArmController.STATE_SIZE
        state = np.asarray(state, dtype=np.float64)
        if state.shape != (expected,):
            raise ConfigError(
                f"sim_state must be float64[{expected}] for this scene, got shape {state.shape}"
            )
        mujoco.mj_setState(self.model, self.data, state[:size], _STATE_SPEC)
        self.controller.set_state(state[size:])
        mujoco.mj_kinematics(self.model, self.data)
        mujoco.mj_comPos(self.model, self.data)
