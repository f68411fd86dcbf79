"""``WarpBatchedEnv``: N worlds of one armgym scene stepped by MuJoCo Warp on one device.

The scene is the CPU env's: a ``ManipulationEnv`` is built from the same ``EnvConfig``
(``build_env``) and its compiled ``MjModel`` is put on the device, so robot, task objects,
actuators and solver options are identical. Per step, for all worlds at once:

1. actions (torch [N, action_dim], or anything ``torch.as_tensor`` takes) are validated and
   clipped; the controller (:mod:`armgym.envs.warp.control`) writes ``ctrl`` on the device;
2. ``mujoco_warp.step`` runs the control period's substeps, then kinematics are refreshed
   (``kinematics`` + ``com_pos``, as ``SimRobot.step_physics``);
3. observations, reward and success are computed on the device from the observation layout.

Observations, rewards, terminations and infos are torch tensors on the device; the Warp
arrays they are read from are shared with torch without copies (``warp.to_torch``).
Autoreset follows gymnasium's ``NEXT_STEP`` mode, like :class:`armgym.envs.batched.BatchedEnv`.

Resets run the task's own randomisation on the host: a CPU ``SimRobot`` of the same model
is reset with the world's generator (seed ``seed + i``, as the CPU env) and its
``sim_state`` is uploaded, so world ``i`` starts exactly where the CPU env with that seed
starts. This costs ~0.1 ms of host time per reset world.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space
from torch import Tensor

from armgym.envs.config import EnvConfig
from armgym.envs.factory import build_env
from armgym.envs.warp.backend import require_warp, resolve_device
from armgym.envs.warp.control import BatchedController
from armgym.envs.warp.rotations import mat_to_quat
from armgym.envs.warp.scoring import ObjectStateReader, observation_fields, score
from armgym.errors import ConfigError, InvalidActionError
from armgym.robots.sim import SimRobot
from armgym.tasks import TASKS

#: the physics part of ``sim_state`` (the same as ``SimRobot``'s)
STATE_SPEC = mujoco.mjtState.mjSTATE_INTEGRATION | mujoco.mjtState.mjSTATE_WARMSTART
_VIEWS = (
    *("qpos", "qvel", "ctrl", "site_xpos", "site_xmat", "xaxis", "xanchor"),
    *("mocap_pos", "mocap_quat"),
)


class WarpBatchedEnv(VectorEnv):
    """``num_envs`` worlds of ``armgym/<task>-v0`` on one Warp device.

    Args:
        task: task name.
        num_envs: number of worlds N (≥ 1).
        device: ``auto`` (first CUDA GPU, else CPU), ``cpu`` or ``cuda[:i]``.
        max_episode_steps: truncation limit (default: the task's).
        nconmax: contacts allocated per world (default: MuJoCo Warp's estimate).
        njmax: constraint rows allocated per world (default 256; MuJoCo
            Warp's own estimate, 64 for these scenes, overflows in Stack).
        cuda_graph: on a CUDA device, capture one control period's physics in a CUDA graph.
        **kwargs: the options of ``gymnasium.make("armgym/<task>-v0", ...)``; ``obs`` must
            be ``state``.

    Observations: ``observation.state`` float32[N, 2n + 8] and
    ``observation.environment_state`` float32[N, K] (layout as ``ManipulationEnv``); rewards
    float32[N]; terminated, truncated bool[N]; ``infos["is_success"]`` bool[N]. After a
    physics blow-up ``infos["error"]`` (str[N]) names the failure and the world truncates.
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        task: str = "PickCube",
        num_envs: int = 64,
        *,
        device: str = "auto",
        max_episode_steps: int | None = None,
        nconmax: int | None = None,
        njmax: int = 256,
        cuda_graph: bool = True,
        **kwargs: Any,
    ):
        if num_envs < 1:
            raise ConfigError(f"num_envs must be ≥ 1, got {num_envs}")
        self.wp, self.mjw = require_warp()
        self.wp_device = resolve_device(device)
        cfg = EnvConfig.from_make_kwargs(task, kwargs)
        if cfg.obs != "state":
            raise ConfigError(
                f"the warp backend gives state observations only, got obs={cfg.obs!r}; use "
                "obs='state' (device rendering is not implemented, see docs/warp.md)"
            )
        self.cfg = cfg
        self.cpu_env = build_env(cfg)  # reference env: same compiled model, resets, facts
        self.robot: SimRobot = self.cpu_env.robot  # type: ignore[assignment]
        self.task = self.cpu_env.task
        self.model = self.robot.model
        self.num_envs = num_envs
        self.max_episode_steps = max_episode_steps or TASKS.get(task).max_episode_steps
        self.single_observation_space = self.cpu_env.observation_space
        self.single_action_space = self.cpu_env.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.metadata = {**self.metadata, "render_fps": cfg.control_hz}  # type: ignore[misc]
        self.render_mode = None
        self._build_device_data(nconmax, njmax)
        dev = self.device
        self.controller = BatchedController(self.model, self.robot.controller, num_envs, dev)
        self.objects = ObjectStateReader(self.model, self.task, dev)
        self.n_arm = self.robot.spec.n_arm
        self._dofadr = torch.as_tensor(self.robot.controller.dofadr, device=dev)
        self.finger_adr = int(self.robot.finger_adr)
        self.finger_max = float(self.robot.finger_max)
        self.grip_inverted = bool(self.robot.gripper_inverted)  # as the CPU robot reads it
        self._elapsed = torch.zeros(num_envs, dtype=torch.long, device=dev)
        self._autoreset = torch.zeros(num_envs, dtype=torch.bool, device=dev)
        self._rngs = [np.random.default_rng() for _ in range(num_envs)]
        self._graph: Any = None  # CUDA graph of one control period, captured after a warm-up
        self._warm = False
        self._use_graph = cuda_graph and self.wp_device.startswith("cuda")

    def _build_device_data(self, nconmax: int | None, njmax: int) -> None:
        wp, mjw = self.wp, self.mjw
        with wp.ScopedDevice(self.wp_device):
            self.m = mjw.put_model(self.model)
            self.d = mjw.make_data(self.model, nworld=self.num_envs, nconmax=nconmax, njmax=njmax)
            self.state_size = mujoco.mj_stateSize(self.model, STATE_SPEC)
            self._state_wp = wp.zeros((self.num_envs, self.state_size), dtype=float)
            self._active_wp = wp.zeros(self.num_envs, dtype=bool)
        # zero-copy torch views of the Warp arrays (writes go straight to the device data)
        self.views: dict[str, Tensor] = {k: wp.to_torch(getattr(self.d, k)) for k in _VIEWS}
        self._state_t = wp.to_torch(self._state_wp)
        self._active_t = wp.to_torch(self._active_wp)
        self.device = self.views["qpos"].device

    # -- VectorEnv API ---------------------------------------------------------------------
    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Tensor], dict[str, Any]]:
        """Reset all worlds, or those in ``options["reset_mask"]`` (bool[N]).

        ``seed``: an int gives world ``i`` seed ``seed + i``; a list gives one per world.
        """
        n = self.num_envs
        if seed is None or isinstance(seed, int):
            seeds: list[int | None] = [None] * n if seed is None else [seed + i for i in range(n)]
        else:
            if len(seed) != n:
                raise ConfigError(f"got {len(seed)} seeds for {n} worlds")
            seeds = [int(s) for s in seed]
        mask = None if options is None else options.get("reset_mask")
        if mask is None:
            worlds = list(range(n))
        else:
            worlds = np.flatnonzero(np.asarray(torch.as_tensor(mask).cpu())).tolist()
        self._reset_worlds(worlds, [seeds[i] for i in worlds])
        obs = self._observe()
        _, success = self._score(obs)
        return obs, {"is_success": success, "_is_success": torch.ones_like(success)}

    def step(
        self, actions: Any
    ) -> tuple[dict[str, Tensor], Tensor, Tensor, Tensor, dict[str, Any]]:
        a = self.check_actions(actions)
        resetting = self._autoreset.clone()
        self.controller.apply(a, self.views)
        self._physics()
        v = self.views
        bad = ~(torch.isfinite(v["qpos"]).all(-1) & torch.isfinite(v["qvel"]).all(-1)) & ~resetting
        if bool(resetting.any()):  # NEXT_STEP autoreset: these worlds only reset
            self._reset_worlds(torch.nonzero(resetting)[:, 0].tolist(), None)
        obs = self._observe()
        reward, success = self._score(obs)
        stepped = ~resetting & ~bad
        success = success & stepped
        if self.cfg.reward == "sparse":
            reward = success.float()
        reward = torch.where(stepped, reward, torch.zeros_like(reward))
        self._elapsed = torch.where(resetting, 0, self._elapsed + 1)
        terminated = success & self.cfg.terminate_on_success
        truncated = ((self._elapsed >= self.max_episode_steps) | bad) & ~resetting
        self._autoreset = terminated | truncated
        infos: dict[str, Any] = {"is_success": success, "_is_success": ~resetting}
        if bool(bad.any()):
            worlds = torch.nonzero(bad)[:, 0].tolist()
            errors = np.full(self.num_envs, "", dtype=object)
            errors[worlds] = "non-finite physics state (the world is reset on the next step)"
            infos["error"], infos["_error"] = errors, errors != ""
        return obs, reward, terminated, truncated, infos

    def close_extras(self, **kwargs: Any) -> None:
        self.cpu_env.close()

    # -- sim_state (the same layout as SimRobot.get_sim_state) ----------------------------------
    def get_sim_state(self, world: int | None = None) -> np.ndarray:
        """float64[S + 12] of one world (or [N, S + 12] of all): physics + controller goal."""
        self.mjw.get_state(self.m, self.d, self._state_wp, int(STATE_SPEC))
        worlds = torch.arange(self.num_envs, device=self.device)
        full = torch.cat([self._state_t, self.controller.state(worlds)], dim=-1)
        out = full.double().cpu().numpy()
        return out if world is None else out[world]

    def set_sim_state(self, state: np.ndarray, world: int | None = None) -> None:
        """Restore a ``sim_state`` from either backend into one world (or all: [N, S + 12])."""
        size = self.state_size + 12
        state = np.asarray(state, dtype=np.float64)
        worlds = list(range(self.num_envs)) if world is None else [int(world)]
        rows = state.reshape(-1, size) if state.shape[-1:] == (size,) else None
        if rows is None or len(rows) != len(worlds) or state.ndim != (2 if world is None else 1):
            shape = f"[{self.num_envs}, {size}]" if world is None else f"[{size}]"
            raise ConfigError(f"sim_state must be float64{shape} here, got shape {state.shape}")
        self._write_states(worlds, rows)
        self._elapsed[worlds] = 0
        self._autoreset[worlds] = False

    def observe(self) -> dict[str, Tensor]:
        """Current observations of all worlds (no step)."""
        return self._observe()

    # -- internals ---------------------------------------------------------------------------
    def check_actions(self, actions: Any) -> Tensor:
        """Validate shape and finiteness; return float32[N, action_dim] clipped to [-1, 1]."""
        try:
            a = torch.as_tensor(actions, dtype=torch.float32, device=self.device)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise InvalidActionError(
                f"actions must be a float array [N, action_dim]: {exc}"
            ) from None
        if a.shape != self.action_space.shape:
            raise InvalidActionError(
                f"actions have shape {tuple(a.shape)}, expected {self.action_space.shape} "
                f"(num_envs, action_dim) with values in [-1, 1]"
            )
        finite = torch.isfinite(a).all(-1)
        if not bool(finite.all()):
            worlds = torch.nonzero(~finite)[:, 0].tolist()
            raise InvalidActionError(
                f"actions of worlds {worlds} contain NaN or inf; expected finite values in [-1, 1]"
            )
        return a.clamp(-1.0, 1.0)

    def _reset_worlds(self, worlds: list[int], seeds: list[int | None] | None) -> None:
        """Reset ``worlds`` with the task's randomisation, run on the host reference robot."""
        if not worlds:
            return
        robot, rows = self.robot, []
        for j, i in enumerate(worlds):
            s = None if seeds is None else seeds[j]
            if s is None:
                robot.np_random = self._rngs[i]
            robot.reset(seed=s)
            self._rngs[i] = robot.np_random
            rows.append(robot.get_sim_state())
        self._write_states(worlds, np.stack(rows))
        self._elapsed[worlds] = 0
        self._autoreset[worlds] = False

    def _write_states(self, worlds: list[int], rows: np.ndarray) -> None:
        idx = torch.as_tensor(worlds, dtype=torch.long, device=self.device)
        states = torch.as_tensor(rows, dtype=torch.float32, device=self.device)
        self._state_t[idx] = states[:, : self.state_size]
        self._active_t.zero_()
        self._active_t[idx] = True
        self.mjw.set_state(self.m, self.d, self._state_wp, int(STATE_SPEC), self._active_wp)
        self.controller.set_state(idx, states[:, self.state_size :])
        self.mjw.kinematics(self.m, self.d)
        self.mjw.com_pos(self.m, self.d)

    def _physics(self) -> None:
        """One control period for every world, then kinematics refreshed."""
        if self._graph is not None:
            self.wp.capture_launch(self._graph)
            return
        if self._use_graph and self._graph is None and self._warm:
            with self.wp.ScopedCapture(device=self.wp_device) as capture:
                self._physics_eager()
            self._graph = capture.graph
            self.wp.capture_launch(self._graph)
            return
        self._physics_eager()
        self._warm = True

    def _physics_eager(self) -> None:
        for _ in range(self.robot.n_substeps):
            self.mjw.step(self.m, self.d)
        self.mjw.kinematics(self.m, self.d)
        self.mjw.com_pos(self.m, self.d)

    def _observe(self) -> dict[str, Tensor]:
        v, c = self.views, self.controller
        q = v["qpos"]
        state = torch.cat(
            [
                q[:, c.qadr],
                v["qvel"][:, self._dofadr],
                v["site_xpos"][:, c.site_id],
                mat_to_quat(v["site_xmat"][:, c.site_id]),
                self._opening(q[:, self.finger_adr : self.finger_adr + 1]),
            ],
            dim=-1,
        )
        objects = self.objects(q, v["mocap_pos"], v["mocap_quat"])
        return {"observation.state": state, "observation.environment_state": objects}

    def _opening(self, q: Tensor) -> Tensor:
        """Gripper opening [N, 1] in [0, 1] (0 = closed) from the first finger joint, as
        ``SimRobot`` reads it (inverted grippers close toward larger positions)."""
        g = q / self.finger_max
        return 1.0 - g if self.grip_inverted else g

    def _score(self, obs: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        fields = observation_fields(
            obs["observation.state"], obs["observation.environment_state"], self.n_arm
        )
        return score(self.task, fields)


def make_warp_env(
    task: str = "PickCube", num_envs: int = 64, **kwargs: Any
) -> gym.vector.VectorEnv:
    """Convenience constructor mirroring :func:`armgym.envs.batched.make_batched`."""
    return WarpBatchedEnv(task, num_envs, **kwargs)
