"""``BatchedEnv``: N envs on one MjModel in one process, physics stepped in C threads.

Implements gymnasium's ``VectorEnv`` API (autoreset mode ``NEXT_STEP``, like
``SyncVectorEnv``). Actions are validated first in the calling thread; then each thread of
a pool runs the physics part of the env steps (IK, ``mj_step(model, data_i, nstep=k)``,
state observation, the env's own ``score``: reward mode, termination, info) for its chunk
of envs. The env's own ``finish_step`` / ``physics_failure`` end each step, so a step here
is the env's step, only spread over threads. ``mj_step`` releases the GIL, so one thread's Python
overlaps the other threads' physics. Camera images and autoresets are done afterwards in
the calling thread, because a GL context belongs to the thread that created it. On few cores this beats one process per env (no pickling, no IPC); the figures are
in ``benchmarks/env_throughput.py``.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from armgym.contracts.observation import Obs
from armgym.envs.config import EnvConfig
from armgym.envs.factory import build_env
from armgym.envs.manipulation import ManipulationEnv, StepScore
from armgym.errors import ConfigError, PhysicsError
from armgym.robots.sim import SimRobot
from armgym.tasks import TASKS


class _StepOutputs:
    """Per-env results of one batched step; each worker thread writes its own rows."""

    def __init__(self, n: int):
        self.obs: list[dict[str, np.ndarray]] = [{} for _ in range(n)]
        self.robot_obs: list[Obs] = [{} for _ in range(n)]
        self.scores: list[StepScore | None] = [None] * n
        self.failures: list[PhysicsError | None] = [None] * n
        self.rewards = np.zeros(n, dtype=np.float64)
        self.terminated = np.zeros(n, dtype=bool)
        self.truncated = np.zeros(n, dtype=bool)
        self.success = np.zeros(n, dtype=bool)
        self.errors = np.full(n, "", dtype=object)


class BatchedEnv(VectorEnv):
    """``num_envs`` copies of ``armgym/<task>-v0`` sharing one compiled model.

    Args:
        task: task name.
        num_envs: number of parallel envs (≥ 1).
        num_threads: physics threads (default: ``min(num_envs, os.cpu_count())``).
        max_episode_steps: truncation limit (default: the task's).
        **kwargs: the same options as ``gymnasium.make("armgym/<task>-v0", ...)``.

    Observations are dicts of stacked arrays (leading dim ``num_envs``); ``infos`` carry
    ``is_success`` (bool[N]) and, after a physics failure, ``error`` (str[N]).
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        task: str = "PickCube",
        num_envs: int = 8,
        *,
        num_threads: int | None = None,
        max_episode_steps: int | None = None,
        **kwargs: Any,
    ):
        if num_envs < 1:
            raise ConfigError(f"num_envs must be ≥ 1, got {num_envs}")
        cfg = EnvConfig.from_make_kwargs(task, kwargs)
        if cfg.robot_server is not None:
            raise ConfigError("BatchedEnv steps local sims; drop robot_server from the config")
        if cfg.real is not None:
            raise ConfigError(
                "BatchedEnv steps local sims; a real arm runs as one env (vector sync, num_envs 1)"
            )
        first = build_env(cfg)
        self.envs: list[ManipulationEnv] = [first]
        self.envs += [build_env(cfg, share_with=first) for _ in range(num_envs - 1)]
        self.robots: list[SimRobot] = [e.robot for e in self.envs]  # type: ignore[misc]
        self.num_envs = num_envs
        self.max_episode_steps = max_episode_steps or TASKS.get(task).max_episode_steps
        self.single_observation_space = first.observation_space
        self.single_action_space = first.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        fps = first.metadata["render_fps"]
        self.metadata = {**self.metadata, "render_fps": fps}  # type: ignore[misc]
        self.render_mode = None
        threads = num_threads or min(num_envs, os.cpu_count() or 1)
        self._chunks = [list(range(num_envs))[i::threads] for i in range(threads)]
        self._pool = ThreadPoolExecutor(max_workers=threads) if threads > 1 else None
        self._elapsed = np.zeros(num_envs, dtype=np.int64)
        self._autoreset = np.zeros(num_envs, dtype=bool)
        self._obs_keys = list(first.observation_space.spaces)
        self._renders = bool(self.robots[0].cameras)

    @classmethod
    def from_config(cls, cfg: EnvConfig, num_envs: int = 8, **kwargs: Any) -> BatchedEnv:
        """``num_envs`` copies of the env ``cfg`` describes (``kwargs``: ``num_threads`` ...)."""
        return cls(cfg.task, num_envs, **kwargs, **cfg.make_kwargs())

    # -- VectorEnv API ---------------------------------------------------------------------
    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        if seed is None or isinstance(seed, int):
            seeds: list[int | None] = (
                [None] * self.num_envs if seed is None else [seed + i for i in range(self.num_envs)]
            )
        else:
            if len(seed) != self.num_envs:
                raise ConfigError(f"got {len(seed)} seeds for {self.num_envs} envs")
            seeds = list(seed)
        mask = None if options is None else options.get("reset_mask")
        obs_list, successes = [], np.zeros(self.num_envs, dtype=bool)
        for i, env in enumerate(self.envs):
            if mask is not None and not mask[i]:
                obs_list.append(env.observation())
                continue
            obs, info = env.reset(seed=seeds[i])
            obs_list.append(obs)
            successes[i] = info["is_success"]
            self._elapsed[i] = 0
            self._autoreset[i] = False
        return self._stack(obs_list), {
            "is_success": successes,
            "_is_success": np.ones(self.num_envs, bool),
        }

    def step(
        self, actions: np.ndarray
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        actions = np.asarray(actions)
        if actions.shape != self.action_space.shape:
            raise ConfigError(
                f"actions have shape {actions.shape}, expected {self.action_space.shape}"
            )
        n = self.num_envs
        stepping = ~self._autoreset
        # Validate every action before any env moves: a bad one changes nothing.
        checked = [self.envs[i].check_action(actions[i]) if stepping[i] else None for i in range(n)]
        out = _StepOutputs(n)

        def run(chunk: list[int]) -> None:
            for i in chunk:
                self._step_env(i, checked[i], out)

        if self._pool is None:
            run(list(range(n)))
        else:  # each thread runs whole env steps; one's Python overlaps another's physics
            list(self._pool.map(run, self._chunks))
        # Rendering and resets (which render) stay in this thread: GL contexts are bound to
        # the thread that created them.
        for i, env in enumerate(self.envs):
            if not stepping[i]:  # NEXT_STEP autoreset: this step only resets
                out.obs[i], _ = env.reset()
                self._elapsed[i], self._autoreset[i] = 0, False
                continue
            self._finish(i, env, out)
        infos: dict[str, Any] = {"is_success": out.success, "_is_success": stepping}
        if any(out.errors):
            infos["error"], infos["_error"] = out.errors, out.errors != ""
        return self._stack(out.obs), out.rewards, out.terminated, out.truncated, infos

    def close_extras(self, **kwargs: Any) -> None:
        if self._pool is not None:
            self._pool.shutdown()
        for env in self.envs:
            env.close()

    # -- internals ---------------------------------------------------------------------------
    def _step_env(self, i: int, action: np.ndarray | None, out: _StepOutputs) -> None:
        """Worker thread: env ``i``'s physics and scoring (``env.score``), no rendering."""
        if action is None:  # autoreset, done by the calling thread
            return
        robot = self.robots[i]
        robot.controller.apply(robot.data, action)
        robot.step_physics()  # releases the GIL
        try:
            robot.check_physics()
        except PhysicsError as exc:
            out.failures[i] = exc
            return
        out.robot_obs[i] = robot_obs = robot.observe(images=False)
        out.scores[i] = self.envs[i].score(robot_obs)

    def _finish(self, i: int, env: ManipulationEnv, out: _StepOutputs) -> None:
        """Calling thread: render, then the env's own step ending, then the step limit."""
        failure, scored = out.failures[i], out.scores[i]
        if failure is not None:
            obs, reward, terminated, truncated, info = env.physics_failure(failure)
            out.errors[i] = info["error"]
        else:
            assert scored is not None  # every stepped env has a failure or a score
            robot_obs = out.robot_obs[i]
            if self._renders:
                robot_obs.update(self.robots[i].images())
            obs, reward, terminated, truncated, info = env.finish_step(robot_obs, scored)
            self._elapsed[i] += 1
            truncated = truncated or bool(self._elapsed[i] >= self.max_episode_steps)
        out.obs[i], out.rewards[i], out.success[i] = obs, reward, info["is_success"]
        out.terminated[i], out.truncated[i] = terminated, truncated
        self._autoreset[i] = terminated or truncated

    def _stack(self, obs_list: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        return {k: np.stack([o[k] for o in obs_list]) for k in self._obs_keys}

    def get_sim_state(self) -> list[np.ndarray]:
        return [r.get_sim_state() for r in self.robots]
