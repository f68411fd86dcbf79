"""Residual RL over a frozen base policy: the env wrappers and the base's action streams.

A residual policy acts as ``clip(base + scale · residual, low, high)``: the frozen base
(any :class:`~armgym.contracts.policy.Policy`: an armgym checkpoint, a scripted expert,
a served policy) proposes an action in the env's normalised action space ([-1, 1]^A for
armgym envs) and a small learned residual in [-1, 1]^A corrects it. Training a residual is
ordinary RL on a wrapped env:

* :class:`ResidualWrapper` (one env, for SAC) adds the base's action for the current
  observation as ``observation.base_action`` float32[A] and makes ``step(residual)``
  execute ``clip(base + scale · residual)``;
* :class:`ResidualVectorWrapper` does the same for a vector env (``BatchedEnv``, for PPO),
  computing the base chunks of all envs that need one in a single batched call.

The base's own chunking is respected (:class:`BaseStreams`: one
:class:`~armgym.policies.runner.ChunkRunner` per env, a new chunk only every
``action_horizon`` steps, observation history of the base's ``obs_horizon`` frames).
``info`` carries ``base_action``, ``residual_action`` and ``total_action`` (the composed
action the arm executed), float32[A]; ``executed_action`` is the residual, the action in
the wrapper's own action space (what a replay buffer stores: the agent's action space is
the residual's). A person who takes over drives the arm itself (:meth:`ResidualWrapper.
step_device`: the base is overridden, as a hand on a real arm overrides it), and the
transition records the residual toward their action.

The deployable policy (base + trained residual, its checkpoint) is
:mod:`armgym.policies.residual_policy`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from armgym.contracts.info import EXECUTED_ACTION
from armgym.contracts.observation import (
    ENV_STATE_KEY,
    STATE_KEY,
    n_arm_of_state,
    robot_obs_from_env_obs,
)
from armgym.contracts.policy import BatchPolicy, Policy, PolicyMetadata, SessionPolicy
from armgym.errors import ConfigError
from armgym.policies.runner import ChunkRunner, action_chunk
from armgym.tasks.base import Task

BASE_ACTION_KEY = "observation.base_action"
"""Observation key of the base's action float32[A] (env action space, normalised)."""
BASE_ACTION, RESIDUAL_ACTION, TOTAL_ACTION = "base_action", "residual_action", "total_action"
"""``info`` keys: the base's action and the residual (before scaling), float32[A]."""
DEFAULT_SCALE = 0.1
FEATURES_KEY = "observation.task_features"
"""Observation key of the task's goal-relative features float32[F] (``--features``)."""


class TaskFeatures:
    """The task's goal-relative features (:meth:`Task.relative_features`) of an env
    observation: ``features(obs) -> float32[F]`` (``obs`` one frame with
    ``observation.state`` and ``observation.environment_state``).

    The residual's own observation may add them (``--features``): a state observation
    gives absolute positions normalised over the workspace, in which the millimetre
    offsets of a tight insertion are hard for a small network to resolve. They are a
    function of the observation, so the deployed policy recomputes them; no env change.

    Raises:
        ConfigError: the task defines no features, or the env has no
            ``observation.environment_state`` (``obs`` mode ``pixels``).
    """

    def __init__(self, task: Task, obs_space: gym.spaces.Dict):
        names = tuple(task.relative_feature_names)
        if not names:
            raise ConfigError(
                f"task {task.name} defines no relative features; drop --features "
                "(tasks with them: their relative_feature_names is not empty)"
            )
        if ENV_STATE_KEY not in obs_space.spaces:
            raise ConfigError(
                f"--features needs {ENV_STATE_KEY!r} in the observation; use obs state or both"
            )
        self.task, self.names = task, names
        self.n_arm = n_arm_of_state(int(np.prod(obs_space[STATE_KEY].shape or (0,))))
        self.space = gym.spaces.Box(-np.inf, np.inf, (len(names),), np.float32)

    @classmethod
    def for_env(cls, env: Mapping[str, Any], obs_space: gym.spaces.Dict) -> TaskFeatures:
        """For the env ``{"task", "robot", "randomization", ...}`` (a checkpoint's ``env``)."""
        from armgym.robots.specs import ROBOTS
        from armgym.tasks import TASKS

        robot = ROBOTS.get(str(env.get("robot", "panda")))
        task = TASKS.get(str(env["task"]))(robot, str(env.get("randomization", "low")))
        return cls(task, obs_space)

    def __call__(self, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        return self.task.relative_features(robot_obs_from_env_obs(obs, self.n_arm))


def check_base(meta: PolicyMetadata, obs_space: gym.spaces.Dict, action_dim: int) -> None:
    """ConfigError unless the base reads observations the env has and acts in its space.

    ``meta``: the base's metadata; ``obs_space``: the env's (unwrapped) observation space;
    ``action_dim``: the env's A.
    """
    if int(meta.action_dim) != action_dim:
        raise ConfigError(
            f"the base policy {meta.name!r} acts in {meta.action_dim} dims but the env's "
            f"action space has {action_dim}; make the env with the control mode the base "
            "was trained for"
        )
    for key, spec in meta.observation.items():
        space = obs_space.spaces.get(key)
        if space is None:
            raise ConfigError(
                f"the base policy {meta.name!r} reads {key!r}, which the env does not "
                f"produce (it has {sorted(obs_space.spaces)}); make the env with the obs "
                "mode the base was trained for"
            )
        if tuple(space.shape or ()) != tuple(spec.shape):
            raise ConfigError(
                f"the base policy {meta.name!r} reads {key!r} of shape {tuple(spec.shape)} "
                f"but the env gives {space.shape}; use the base's robot / task / obs"
            )


def checked_residual(action: Any, shape: tuple[int, ...] | None) -> np.ndarray:
    """``action`` as float32 of ``shape``; a wrong shape or a NaN/inf is a ConfigError."""
    residual = np.asarray(action, np.float32)
    if residual.shape != shape or not np.all(np.isfinite(residual)):
        raise ConfigError(
            f"residual action must be finite float32{shape}, got shape {residual.shape}: "
            "pass one value per action dimension in [-1, 1], no NaN"
        )
    return residual


def compose(
    base: np.ndarray, residual: np.ndarray, scale: float, low: np.ndarray, high: np.ndarray
) -> np.ndarray:
    """``clip(base + scale · residual, low, high)`` as float32 (any leading dims)."""
    res = np.clip(np.asarray(residual, np.float32), -1.0, 1.0)
    return np.clip(np.asarray(base, np.float32) + scale * res, low, high).astype(np.float32)


def residual_toward(target: np.ndarray, base: np.ndarray, scale: float) -> np.ndarray:
    """The residual in [-1, 1]^A whose composed action is closest to ``target``:
    ``clip((target − base) / scale, −1, 1)`` float32 (any leading dims). Residual demos:
    an expert's action expressed on top of the base (reached exactly when
    ``|target − base| <= scale`` in every dimension)."""
    diff = (np.asarray(target, np.float32) - np.asarray(base, np.float32)) / scale
    return np.clip(diff, -1.0, 1.0).astype(np.float32)


def zero_init_mean(actor: torch.nn.Module) -> None:
    """Zero the weights and bias of the mean rows of an actor's last layer, so its
    deterministic action tanh(mean) is 0 and base + scale · 0 = the base at step 0.

    ``actor``: a :class:`~armgym.policies.sac.SACActor` (last layer outputs [mean, log_std]).
    """
    last: Any = actor.net[-1]  # type: ignore[index]
    a = int(actor.action_dim)  # type: ignore[arg-type]
    with torch.no_grad():
        last.weight[:a].zero_()
        last.bias[:a].zero_()


class BaseStreams:
    """The frozen base driving ``n`` env streams, each with its own session and chunk queue.

    Args:
        base: the frozen policy. A :class:`SessionPolicy` is forked per episode (seeded with
            the episode's seed) and queried with ``infer_sessions`` for all streams at once;
            a :class:`BatchPolicy` with one ``infer_batch``; any other policy one ``infer``
            per stream (``sessions`` of them, or deep copies; ``n == 1`` uses ``base``).
        n: number of streams (envs).
        sessions: for a plain policy, one instance per stream (e.g. one connection each).

    The base sees the stacked history ``[T <= To, ...]`` of its ``obs_horizon`` frames (one
    frame when To = 1) and executes ``action_horizon`` rows of each chunk, as
    :func:`armgym.eval.rollout.rollout` runs it, so a residual of zero acts exactly as the
    base does in evaluation.
    """

    def __init__(self, base: Policy, n: int = 1, sessions: Sequence[Policy] | None = None):
        self.base, self.meta = base, base.metadata
        self.keys = list(self.meta.observation)
        self.mode = (
            "session"
            if isinstance(base, SessionPolicy)
            else "batch"
            if isinstance(base, BatchPolicy)
            else "plain"
        )
        if sessions is not None and len(sessions) != n:
            raise ConfigError(f"got {len(sessions)} base sessions for {n} envs")
        self.sessions: list[Any] = list(sessions) if sessions is not None else [base] * n
        if self.mode == "plain" and sessions is None and n > 1:
            try:
                self.sessions = [copy.deepcopy(base) for _ in range(n)]
            except (TypeError, ValueError) as exc:  # e.g. a live connection
                raise ConfigError(
                    f"cannot copy the base policy {self.meta.name!r} for {n} envs ({exc}); "
                    "pass one session per env (e.g. one connection each)"
                ) from None
        horizon, steps = self.meta.obs_horizon, max(1, int(self.meta.action_horizon))
        self.runners = [ChunkRunner(horizon, steps) for _ in range(n)]

    def __len__(self) -> int:
        return len(self.runners)

    def start(self, i: int, seed: int | None = None) -> None:
        """A new episode in stream ``i`` (reset with ``seed``): fresh session and queue."""
        self.runners[i].reset()
        if self.mode == "session":
            self.sessions[i] = self.base.fork(seed)  # type: ignore[attr-defined]
        else:
            self.sessions[i].reset()

    def _input(self, i: int) -> dict[str, np.ndarray]:
        history = self.runners[i].history
        if self.mode == "session" or history.horizon > 1:
            return history.stacked(self.keys)
        return {k: history[-1][k] for k in self.keys}

    def act(self, frames: Sequence[Mapping[str, np.ndarray]]) -> np.ndarray:
        """Observe one frame per stream; query the streams whose queue is empty in one
        call; return this step's base actions float32[n, A]."""
        for runner, frame in zip(self.runners, frames, strict=True):
            runner.observe({k: np.asarray(frame[k]) for k in self.keys})
        need = [i for i, r in enumerate(self.runners) if r.needs_chunk]
        if need:
            inputs = [self._input(i) for i in need]
            if self.mode == "session":
                items = [(self.sessions[i], x) for i, x in zip(need, inputs, strict=True)]
                results = self.base.infer_sessions(items)  # type: ignore[attr-defined]
            elif self.mode == "batch":
                results = self.base.infer_batch(inputs)  # type: ignore[attr-defined]
            else:
                results = [self.sessions[i].infer(x) for i, x in zip(need, inputs, strict=True)]
            for i, result in zip(need, results, strict=True):
                self.runners[i].push(action_chunk(result))
        return np.stack([r.pop() for r in self.runners]).astype(np.float32)


def _spaces(
    env_obs: gym.spaces.Dict, action_space: gym.spaces.Box, features: TaskFeatures | None
) -> gym.spaces.Dict:
    low, high = action_space.low.astype(np.float32), action_space.high.astype(np.float32)
    extra: dict[str, gym.Space] = {
        BASE_ACTION_KEY: gym.spaces.Box(low, high, low.shape, np.float32)
    }
    if features is not None:
        extra[FEATURES_KEY] = features.space
    return gym.spaces.Dict({**env_obs.spaces, **extra})


def _residual_space(action_space: gym.spaces.Box) -> gym.spaces.Box:
    return gym.spaces.Box(-1.0, 1.0, action_space.shape, np.float32)


class ResidualWrapper(gym.Wrapper):
    """One env whose agent is a residual on top of a frozen ``base``.

    Observations: the env's + ``observation.base_action`` float32[A] (+
    ``observation.task_features`` float32[F] with ``features``). Action: the residual
    float32[A] in [-1, 1]; the env executes ``clip(base + scale · residual)``. ``info``
    gains ``base_action``, ``residual_action``, ``total_action`` (executed by the env
    below) and ``executed_action`` = the residual (this wrapper's own action space).

    Args:
        env: the (armgym) env the base was trained for; must have a Box action space.
        base: the frozen policy (see :class:`BaseStreams`).
        scale: residual scale (fraction of the normalised action range; default 0.1).
        features: the task's goal-relative features (:class:`TaskFeatures`) to add to the
            residual's observation; None: none.
    """

    def __init__(
        self,
        env: gym.Env,
        base: Policy,
        scale: float = DEFAULT_SCALE,
        features: TaskFeatures | None = None,
    ):
        super().__init__(env)
        space = env.action_space
        if not isinstance(space, gym.spaces.Box) or not isinstance(
            env.observation_space, gym.spaces.Dict
        ):
            raise ConfigError("residual RL needs a Box action space and Dict observations")
        if not scale > 0:
            raise ConfigError(f"--scale must be > 0, got {scale}")
        check_base(base.metadata, env.observation_space, int(space.shape[0]))
        self.scale, self.low, self.high = float(scale), space.low, space.high
        self.features = features
        self.observation_space = _spaces(env.observation_space, space, features)
        self.action_space = _residual_space(space)
        self.streams = BaseStreams(base, 1)
        self._base_action = np.zeros(space.shape, np.float32)

    def _with_base(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self._base_action = self.streams.act([obs])[0]
        out = {**obs, BASE_ACTION_KEY: self._base_action.copy()}
        if self.features is not None:
            out[FEATURES_KEY] = self.features(obs)
        return out

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        self.streams.start(0, seed)
        return self._with_base(obs), info

    def step(
        self, action: np.ndarray
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        residual = checked_residual(action, self.action_space.shape)
        total = compose(self._base_action, residual, self.scale, self.low, self.high)
        return self._execute(residual, total)

    def step_device(
        self, action: np.ndarray
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """Execute a person's (or scripted human's) arm action float32[A] as it is (clipped
        to the action bounds), overriding the base, as a takeover on a real arm does.

        ``info["executed_action"]`` is the residual toward it on top of this step's base
        action (:func:`residual_toward`): what the agent would have had to choose, and what
        a replay buffer stores. Where the person's action lies farther from the base's than
        ``scale`` reaches, that residual saturates (the arm still executes the person's
        action: a residual too small to follow a takeover would otherwise leave the base in
        control and the person unable to steer).
        """
        arm = np.asarray(action, np.float32).reshape(-1)
        if arm.shape != self.low.shape or not np.all(np.isfinite(arm)):
            raise ConfigError(
                f"a device action must be finite float32{self.low.shape} in the arm's action "
                f"space, got shape {arm.shape}"
            )
        total = np.clip(arm, self.low, self.high).astype(np.float32)
        return self._execute(residual_toward(total, self._base_action, self.scale), total)

    def _execute(
        self, residual: np.ndarray, total: np.ndarray
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        base = self._base_action
        obs, reward, term, trunc, info = self.env.step(total)
        info = {**info, BASE_ACTION: base, RESIDUAL_ACTION: residual, TOTAL_ACTION: total,
                EXECUTED_ACTION: residual}  # fmt: skip
        return self._with_base(obs), float(reward), bool(term), bool(trunc), info

    def residual_toward(self, target: np.ndarray, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        """The residual float32[A] that moves this step's base action (``obs``'s
        ``observation.base_action``) toward ``target`` float32[A] (:func:`residual_toward`)."""
        return residual_toward(target, obs[BASE_ACTION_KEY], self.scale)


class ResidualVectorWrapper(gym.vector.VectorWrapper):
    """A vector env (``BatchedEnv``, autoreset ``NEXT_STEP``) with a residual agent per env;
    the base chunks of all envs that need one come from one batched call.

    Observations gain ``observation.base_action`` float32[N, A] (and, with ``features``,
    ``observation.task_features`` float32[N, F]); ``step(residual [N, A])`` executes
    ``clip(base + scale · residual)``; ``infos`` gain ``base_action`` and
    ``residual_action`` float32[N, A].
    """

    def __init__(
        self,
        env: Any,
        base: Policy,
        scale: float = DEFAULT_SCALE,
        sessions: Sequence[Policy] | None = None,
        features: TaskFeatures | None = None,
    ):
        super().__init__(env)
        space = env.single_action_space
        if not scale > 0:
            raise ConfigError(f"--scale must be > 0, got {scale}")
        check_base(base.metadata, env.single_observation_space, int(space.shape[0]))
        self.scale, self.low, self.high = float(scale), space.low, space.high
        self.features = features
        self.single_observation_space = _spaces(env.single_observation_space, space, features)
        self.single_action_space = _residual_space(space)
        n = env.num_envs
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, n)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, n)
        self.streams = BaseStreams(base, n, sessions)
        self._base = np.zeros((n, *space.shape), np.float32)
        self._restart = np.zeros(n, bool)

    def _with_base(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        frames = [{k: v[i] for k, v in obs.items()} for i in range(self.num_envs)]
        self._base = self.streams.act(frames)
        out = {**obs, BASE_ACTION_KEY: self._base.copy()}
        if self.features is not None:
            out[FEATURES_KEY] = np.stack([self.features(f) for f in frames])
        return out

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)  # type: ignore[arg-type]
        n = self.num_envs
        seeds = (
            seed
            if isinstance(seed, list)
            else [None if seed is None else seed + i for i in range(n)]
        )
        mask = None if options is None else options.get("reset_mask")
        for i in range(n):
            if mask is None or mask[i]:
                self.streams.start(i, seeds[i])
                self._restart[i] = False
        return self._with_base(obs), info

    def step(
        self, actions: np.ndarray
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        residual = checked_residual(actions, self.action_space.shape)
        base = self._base
        total = compose(base, residual, self.scale, self.low, self.high)
        obs, reward, term, trunc, info = self.env.step(total)
        for i in np.flatnonzero(self._restart):  # NEXT_STEP autoreset: a new episode began
            self.streams.start(int(i), None)
        self._restart = np.logical_or(term, trunc)
        info = {**info, BASE_ACTION: base, RESIDUAL_ACTION: residual}
        return self._with_base(obs), reward, term, trunc, info


__all__ = [
    "BASE_ACTION",
    "BASE_ACTION_KEY",
    "DEFAULT_SCALE",
    "FEATURES_KEY",
    "RESIDUAL_ACTION",
    "BaseStreams",
    "ResidualVectorWrapper",
    "ResidualWrapper",
    "TaskFeatures",
    "check_base",
    "compose",
    "zero_init_mean",
]
