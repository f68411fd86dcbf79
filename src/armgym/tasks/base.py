"""Task base class: scene objects, randomisation, reward, success and a scripted expert.

A task never reads the physics while scoring: ``evaluate`` works on the robot's
observation dict (``ee_pos``, ``gripper``, ``object_state`` ...), so the same task scores
a local sim robot, a robot in another process, or (with object tracking) a real one.
Physics access is limited to building the scene and placing objects at reset.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Protocol

import mujoco
import numpy as np

from armgym.contracts.observation import Obs
from armgym.registry import check_choice
from armgym.robots.base import RobotSpec

RANDOMIZATION_LEVELS = ("low", "med", "high")
#: fraction of the robot's object half-span used for object positions, per level
POSITION_SCALE = {"low": 0.25, "med": 0.6, "high": 1.0}
#: half-range of object yaw [rad], per level
YAW_RANGE = {"low": 0.0, "med": np.pi / 4, "high": np.pi}
#: std of the robot's initial joint offsets from home [rad], per level
JOINT_NOISE = {"low": 0.0, "med": 0.02, "high": 0.05}


class Expert(Protocol):
    """A scripted expert: ``expert(robot_obs) -> float32[7]`` ee_delta action."""

    def reset(self) -> None: ...

    def __call__(self, obs: Obs) -> np.ndarray: ...


@dataclass(frozen=True)
class TaskResult:
    """Outcome of one step: dense reward (in [-1, 0], see :func:`shaped`) and binary success."""

    reward: float
    success: bool


#: length scales [m] of :func:`closeness` (times the task's object scale)
FAR, NEAR = 1.0, 0.05


def closeness(dist: float, scale: float = 1.0) -> float:
    """Shaping term in [0, 1] for a distance ``dist`` [m]: 1 at 0, sloped out to ``FAR``.

    ``0.5 · (1 − min(d / FAR, 1)) + 0.5 · (1 − tanh(d / NEAR))`` with both lengths times
    ``scale``: the linear half pulls from anywhere in the workspace (a target 0.4 m away
    still changes it by 0.5 %/cm), the tanh half sharpens near the goal.
    """
    d = float(dist) / scale
    return 0.5 * (1.0 - min(d / FAR, 1.0)) + 0.5 * (1.0 - float(np.tanh(d / NEAR)))


def shaped(progress: float, success: bool) -> float:
    """The dense reward of every task: ``progress − 1`` ∈ [−1, 0) before success, 0 at success.

    Never positive, so ending an episode early (at success) never throws reward away and
    hovering short of the goal costs reward every step; reaching success is the largest
    jump. ``progress`` ∈ [0, 1] is the task's staged shaping (reach, grasp, lift …).
    """
    return 0.0 if success else float(np.clip(progress, 0.0, 1.0)) - 1.0


def yaw_of_quat(q: np.ndarray) -> float:
    """Heading (rotation about world z) of a w-x-y-z quaternion [rad]."""
    w, x, y, z = (float(v) for v in q)
    return float(np.arctan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z)))


def wrap(angle: float, period: float = 2 * np.pi) -> float:
    """Wrap ``angle`` into [-period/2, period/2)."""
    return float((angle + period / 2) % period - period / 2)


def tool_yaw(ee_quat: np.ndarray) -> float:
    """Heading of the tool's x axis in the world xy plane [rad]."""
    mat = np.empty(9)
    mujoco.mju_quat2Mat(mat, np.asarray(ee_quat, dtype=np.float64))
    return float(np.arctan2(mat[3], mat[0]))


#: length scale [m] of the squashed offsets of :meth:`Task.relative_features`
FEATURE_SCALE = 0.005


def offset_features(*offsets: np.ndarray) -> list[np.ndarray]:
    """Each offset [m] raw, then each squashed, ``tanh(offset / FEATURE_SCALE)``."""
    raw = [np.asarray(o, np.float64) for o in offsets]
    return raw + [np.tanh(o / FEATURE_SCALE) for o in raw]


def add_box(
    spec: mujoco.MjSpec,
    name: str,
    half_size: tuple[float, float, float],
    rgba: tuple[float, float, float, float],
    mass: float = 0.05,
    free: bool = True,
) -> None:
    """Add a (free-floating) box body named ``name`` with a geom of the same name."""
    body = spec.worldbody.add_body(name=name, pos=[0.0, 0.0, half_size[2]])
    if free:
        body.add_freejoint(name=f"{name}_joint")
    body.add_geom(
        name=name,
        type=mujoco.mjtGeom.mjGEOM_BOX,
        size=list(half_size),
        rgba=list(rgba),
        mass=mass,
        contype=1,
        conaffinity=3,
        condim=4,
        friction=[1.0, 0.01, 0.001],
        solref=[0.01, 1.0],
        solimp=[0.95, 0.99, 0.001, 0.5, 2.0],
    )


def add_target(spec: mujoco.MjSpec, name: str, half_size: tuple[float, float, float], rgba) -> None:
    """Add a mocap body with a non-colliding marker geom (a goal region)."""
    body = spec.worldbody.add_body(name=name, mocap=True, pos=[0.0, 0.0, half_size[2]])
    body.add_geom(
        name=name,
        type=mujoco.mjtGeom.mjGEOM_BOX,
        size=list(half_size),
        rgba=list(rgba),
        contype=0,
        conaffinity=0,
    )


class Task(ABC):
    """One manipulation task. Subclasses live one per file in ``armgym.tasks``.

    Class attributes:
        name: registry name (``PickCube``); env id is ``armgym/<name>-v0``.
        instruction: language instruction stored with every episode.
        max_episode_steps: episode limit at the default 10 Hz control rate.
        object_state_size: length K of ``object_state`` (privileged object features).
        object_state_doc: what the K entries are, in order.
        object_state_names: one name per entry (``cube.pos.x`` …, see
            :mod:`armgym.contracts.names`); written into datasets and used by plots.
        virtual: every object is a marker the arm never touches (Reach's target), so the
            task's state lives in the model alone and the task runs on a real arm too.
        relative_feature_names: one name per entry of :meth:`relative_features` (empty:
            the task defines none).
    """

    name: ClassVar[str]
    instruction: ClassVar[str]
    max_episode_steps: ClassVar[int] = 100
    object_state_size: ClassVar[int]
    object_state_doc: ClassVar[str]
    object_state_names: ClassVar[tuple[str, ...]] = ()
    virtual: ClassVar[bool] = False
    relative_feature_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, robot: RobotSpec, randomization: str = "low"):
        self.robot = robot
        self.level = check_choice("randomization", randomization, RANDOMIZATION_LEVELS)
        self.center = np.asarray(robot.object_center, float) + np.asarray(robot.base_pos[:2])
        self.halfspan = float(robot.object_halfspan) * POSITION_SCALE[self.level]
        self.yaw_range = YAW_RANGE[self.level]
        self.scale = float(robot.object_scale)
        self.configure()

    def configure(self) -> None:
        """Compute object sizes and thresholds from ``self.scale`` / ``self.robot``.

        Called by ``__init__``, so scoring and experts work on a task whose scene was never
        built (a task scoring a remote robot, a served scripted expert). ``build`` only
        adds to the scene.
        """
        return None

    # -- scene ------------------------------------------------------------------------
    @abstractmethod
    def build(self, spec: mujoco.MjSpec) -> None:
        """Add this task's bodies, geoms, sites to the scene spec."""

    def bind(self, model: mujoco.MjModel) -> None:
        """Look up ids/addresses in the compiled model (called once)."""
        self.model = model

    @abstractmethod
    def initialize(self, data: mujoco.MjData, rng: np.random.Generator) -> None:
        """Place objects for a new episode (``data.qpos`` / ``data.mocap_pos``)."""

    @abstractmethod
    def object_state(self, data: mujoco.MjData) -> np.ndarray:
        """Return float32[K] object features (see ``object_state_doc``)."""

    # -- scoring and expert (observation-only) -------------------------------------------
    @abstractmethod
    def evaluate(self, obs: Obs) -> TaskResult:
        """Score the robot observation dict after a step."""

    @abstractmethod
    def make_expert(self) -> Expert:
        """A fresh scripted expert: ``expert(robot_obs) -> float32[7]`` ee_delta action."""

    def make_reactive_expert(self) -> Expert | None:
        """A stateless expert (:class:`~armgym.tasks.experts.ReactiveExpert`: the action a
        function of this observation alone), or None where the task has only its
        phase-based ``make_expert``. Residual demos and DAgger labels use it
        (``--demo-expert reactive``)."""
        return None

    def relative_features(self, obs: Obs) -> np.ndarray:
        """Goal-relative features of the robot observation, float32[F]
        (``relative_feature_names``): the offsets the task's success hinges on (tool to
        object, object to goal, headings), each in metres (or rad) and squashed,
        ``tanh(offset / 5 mm)``, so that a network resolves millimetres where a
        normalised absolute position spans the workspace. A pure function of ``obs``
        (``ee_pos``, ``ee_quat``, ``gripper``, ``object_state``), so a policy recomputes
        it from the env observation. The default is empty (F = 0)."""
        return np.zeros(0, np.float32)

    # -- helpers for subclasses ----------------------------------------------------------
    def sample_xy(self, rng: np.random.Generator) -> np.ndarray:
        return self.center + rng.uniform(-self.halfspan, self.halfspan, size=2)

    def sample_apart(
        self, rng: np.random.Generator, min_dist: float, max_dist: float, tries: int = 100
    ) -> tuple[np.ndarray, np.ndarray]:
        """Two xy positions ``min_dist``–``max_dist`` apart for a pair of objects/fixtures.

        The pair is centred on a ``sample_xy`` point (so the level sets the spread) along a
        random direction; a pair is rejected if either point leaves the robot's full object
        area (``object_halfspan`` around the centre, whatever the level), so both stay
        reachable and they never overlap at reset. After ``tries`` misses the last pair is
        kept (still ``min_dist`` apart).
        """
        full = float(self.robot.object_halfspan)
        a = b = self.center
        for _ in range(tries):
            mid = self.sample_xy(rng)
            ang = rng.uniform(-np.pi, np.pi)
            half = 0.5 * rng.uniform(min_dist, max_dist) * np.array([np.cos(ang), np.sin(ang)])
            a, b = mid - half, mid + half
            if np.all(np.abs(a - self.center) <= full) and np.all(np.abs(b - self.center) <= full):
                break
        return a, b

    def joint_noise(self, rng: np.random.Generator, n: int) -> np.ndarray | float:
        """Offsets [rad] added to the n arm joints' home pose at reset (level-dependent)."""
        sd = JOINT_NOISE[self.level]
        return rng.normal(0.0, sd, size=n) if sd else 0.0

    def sample_yaw(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(-self.yaw_range, self.yaw_range)) if self.yaw_range else 0.0

    def set_free_pose(self, data: mujoco.MjData, joint: str, pos, yaw: float) -> None:
        adr = self.model.joint(joint).qposadr[0]
        data.qpos[adr : adr + 3] = pos
        data.qpos[adr + 3 : adr + 7] = [np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)]
        dadr = self.model.joint(joint).dofadr[0]
        data.qvel[dadr : dadr + 6] = 0.0

    def free_pose(self, data: mujoco.MjData, joint: str) -> np.ndarray:
        adr = self.model.joint(joint).qposadr[0]
        return data.qpos[adr : adr + 7]
