"""Apply a :class:`~armgym.mappings.spec.Mapping`: env observation -> policy input, policy
answer -> env actions, and the check that a mapping fits an env before the first step.

    facts = EnvFacts.of(env)
    mapping = load_mapping("libero")
    check_mapping(mapping, facts)                 # ConfigError naming every mismatch
    policy = MappedPolicy(mapping, facts, WebsocketPolicyClient(url, filter_keys=False))
    actions = policy.infer(env_obs)["actions"]    # float32[execute_steps, env action_dim]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from armgym.contracts.observation import STATE_KEY, image_key, split_state
from armgym.contracts.policy import FeatureSpec, PolicyMetadata
from armgym.errors import ConfigError, ProtocolError
from armgym.mappings.spec import STATE_FIELDS, ActionPart, Mapping
from armgym.mappings.transforms import (
    mat_to_rotation,
    mat_to_rotvec,
    prepare_image,
    rotation_to_mat,
    rotvec_to_mat,
    state_field,
)
from armgym.robots.controllers import ControllerConfig


@dataclass(frozen=True)
class EnvFacts:
    """What a mapping needs to know about an env (all read before the first step).

    Attributes:
        control: control mode (``ee_delta`` ...); action_dim: env action size.
        n_arm: arm joints; joint_low / joint_high: joint limits [rad].
        controller: step sizes (``pos_step`` [m], ``rot_step`` / ``joint_step`` [rad]).
        control_hz: control rate [Hz]; obs_keys: env observation keys.
        cameras: cameras whose images are in the observation; instruction: the task's.
    """

    control: str
    action_dim: int
    n_arm: int
    joint_low: np.ndarray
    joint_high: np.ndarray
    controller: ControllerConfig
    control_hz: float
    obs_keys: tuple[str, ...]
    cameras: tuple[str, ...]
    instruction: str = ""

    @classmethod
    def of(cls, env: Any) -> EnvFacts:
        """Facts of an armgym env (any wrapper around a ``ManipulationEnv`` of a sim robot)."""
        base = env.unwrapped
        ctrl = getattr(base.robot, "controller", None)
        if ctrl is None:
            raise ConfigError(f"{type(base.robot).__name__} exposes no controller; mappings "
                              "need a sim robot (SimRobot) to read step sizes and joint limits")  # fmt: skip
        keys = tuple(env.observation_space.spaces)
        cams = tuple(k.removeprefix("observation.images.") for k in keys if "images." in k)
        task = getattr(base, "task", None)
        return cls(ctrl.mode, int(env.action_space.shape[0]), int(base.n_arm),
                   np.asarray(ctrl.q_low), np.asarray(ctrl.q_high), ctrl.cfg,
                   float(base.robot.control_hz), keys, cams,
                   str(getattr(task, "instruction", "") or ""))  # fmt: skip


def check_mapping(mapping: Mapping, facts: EnvFacts, server_keys: tuple[str, ...] = ()) -> None:
    """Raise one :class:`ConfigError` listing every way ``mapping`` does not fit the env.

    ``server_keys``: observation keys the server announces (armgym servers); a mapped key
    the server does not list is a mismatch.
    """
    problems: list[str] = []
    name = f"mapping {mapping.name!r}"
    if mapping.control and mapping.control != facts.control:
        problems.append(f"needs control mode {mapping.control!r}, the env runs {facts.control!r} "
                        f"(pass --control {mapping.control})")  # fmt: skip
    if mapping.arm_joints and mapping.arm_joints != facts.n_arm:
        problems.append(f"needs a {mapping.arm_joints}-joint arm, the env's has {facts.n_arm}")
    for img in mapping.images:
        if img.camera not in facts.cameras:
            problems.append(f"reads camera {img.camera!r} ({'/'.join(img.key)}), the env's "
                            f"observation has {list(facts.cameras) or 'no images'} "
                            "(use --obs pixels and a robot with that camera)")  # fmt: skip
    for st in mapping.state:
        size = sum(STATE_FIELDS[f] or facts.n_arm for f in st.fields)
        if st.pad_to and size > st.pad_to:
            problems.append(
                f"state {'/'.join(st.key)} has {size} entries, more than pad_to={st.pad_to}"
            )
    env_parts = _env_dims(mapping, facts)
    if env_parts is not None and env_parts != facts.action_dim:
        problems.append(f"its action parts fill {env_parts} env action entries, the env takes "
                        f"{facts.action_dim} ({facts.control})")  # fmt: skip
    if server_keys:
        for key in [s.key for s in mapping.state] + [i.key for i in mapping.images]:
            if key[0] not in server_keys:
                problems.append(f"sends key {'/'.join(key)!r}, the server's schema lists "
                                f"{sorted(server_keys)}")  # fmt: skip
    if problems:
        raise ConfigError(f"{name} does not fit this env: " + "; ".join(problems))


def _env_dims(mapping: Mapping, facts: EnvFacts) -> int | None:
    """Env action entries the parts produce (``None``: native, any size)."""
    total = 0
    for part in mapping.action.parts:
        if part.kind == "native":
            if part.size == 0:
                return None
            total += part.size
        elif part.kind in ("position_delta", "rotation_delta"):
            total += 3
        elif part.kind == "gripper":
            total += 1
        elif part.kind != "ignore":
            total += part.size
    return total


class ActionConverter:
    """Policy action rows -> env actions float32[..., action_dim] in [-1, 1] (clipped)."""

    def __init__(self, mapping: Mapping, facts: EnvFacts):
        self.mapping, self.facts = mapping, facts
        self.dim = mapping.action.dim

    def __call__(self, actions: np.ndarray) -> np.ndarray:
        rows = np.asarray(actions, np.float64)
        rows = rows[None] if rows.ndim == 1 else rows
        if rows.ndim != 2 or (self.dim and rows.shape[1] != self.dim):
            raise ProtocolError(f"mapping {self.mapping.name!r} expects actions of shape "
                                f"[H, {self.dim or self.facts.action_dim}], the policy sent "
                                f"{list(np.shape(actions))}")  # fmt: skip
        return np.stack([self.row(r) for r in rows]).astype(np.float32)

    def row(self, row: np.ndarray) -> np.ndarray:
        """One policy action row -> one env action."""
        out: list[np.ndarray] = []
        i = 0
        for part in self.mapping.action.parts:
            size = part.size or len(row) - i
            vals = row[i : i + size] * np.asarray(part.scale)
            i += size
            out.append(self._part(part, vals))
        return np.clip(np.concatenate(out), -1.0, 1.0)

    def _part(self, part: ActionPart, v: np.ndarray) -> np.ndarray:
        cfg, f = self.facts.controller, self.facts
        if part.kind == "position_delta":
            return v / cfg.pos_step
        if part.kind == "rotation_delta":
            return mat_to_rotvec(rotation_to_mat(v, part.rotation)) / cfg.rot_step
        if part.kind == "gripper":
            frac = (v - part.closed) / (part.open - part.closed)  # 1 = open
            if part.binarize:
                frac = (frac > 0.5).astype(np.float64)
            return 2.0 * np.clip(frac, 0.0, 1.0) - 1.0
        if part.kind == "joint_position":
            return 2.0 * (v - f.joint_low[: len(v)]) / (f.joint_high - f.joint_low)[: len(v)] - 1.0
        if part.kind == "joint_velocity":
            return v / f.control_hz / cfg.joint_step
        if part.kind == "joint_delta":
            return v / cfg.joint_step
        if part.kind == "ignore":
            return np.zeros(0)
        return v  # native

    def inverse(self, env_actions: np.ndarray) -> np.ndarray:
        """Env actions float32[T, action_dim] -> rows in the policy's convention [T, dim]
        (exports for fine-tuning; ``ignore`` parts are zeros, ``binarize`` is not undone)."""
        rows = np.atleast_2d(np.asarray(env_actions, np.float64))
        return np.stack([self._inverse_row(a) for a in rows]).astype(np.float32)

    def _inverse_row(self, a: np.ndarray) -> np.ndarray:
        cfg, f = self.facts.controller, self.facts
        out, i = [], 0
        for part in self.mapping.action.parts:
            if part.kind in ("position_delta", "rotation_delta"):
                v, i = a[i : i + 3], i + 3
                if part.kind == "position_delta":
                    vals = v * cfg.pos_step
                else:
                    vals = mat_to_rotation(rotvec_to_mat(v * cfg.rot_step), part.rotation)
            elif part.kind == "gripper":
                frac, i = (a[i : i + 1] + 1.0) / 2.0, i + 1
                vals = part.closed + frac * (part.open - part.closed)
            elif part.kind == "ignore":
                vals = np.zeros(part.size)
            else:
                size = part.size or len(a) - i
                v, i = a[i : i + size], i + size
                if part.kind == "joint_position":
                    vals = (
                        f.joint_low[:size] + (v + 1.0) / 2.0 * (f.joint_high - f.joint_low)[:size]
                    )
                elif part.kind == "joint_velocity":
                    vals = v * cfg.joint_step * f.control_hz
                elif part.kind == "joint_delta":
                    vals = v * cfg.joint_step
                else:
                    vals = v
            scale = np.asarray(part.scale)
            out.append(vals / np.where(scale == 0, 1.0, scale) if part.kind != "ignore" else vals)
        return np.concatenate(out)


class MappedPolicy:
    """A served policy behind armgym's :class:`~armgym.contracts.policy.Policy` protocol.

    ``infer(env_obs)`` builds the policy's input (images, state vectors, prompt), calls the
    inner policy and returns ``{"actions": float32[k, action_dim]}``: the first
    ``execute_steps`` rows of the answer, converted to the env's actions. ``copy.deepcopy``
    (what ``eval.rollout`` does per slot) opens a new inner client through ``reconnect``.

    Args:
        mapping / facts: see :func:`check_mapping` (run it first).
        inner: the policy client (``WebsocketPolicyClient``, openpi's
            ``WebsocketClientPolicy`` ... anything with ``infer(dict) -> dict``).
        prompt: fixed prompt; default: ``env_obs["task"]`` when present, else the task's
            instruction.
        reconnect: makes a fresh inner client for a copy of this policy.
    """

    def __init__(self, mapping: Mapping, facts: EnvFacts, inner: Any, *, prompt: str | None = None,
                 reconnect: Callable[[], Any] | None = None):  # fmt: skip
        self.mapping, self.facts, self.inner = mapping, facts, inner
        self.prompt, self.reconnect = prompt, reconnect
        self.convert = ActionConverter(mapping, facts)
        keys = {STATE_KEY: FeatureSpec("float32", (2 * facts.n_arm + 8,))}
        for img in mapping.images:
            keys[image_key(img.camera)] = FeatureSpec("uint8", (0, 0, 3))
        steps = mapping.action.execute_steps or int(
            getattr(getattr(inner, "metadata", None), "action_horizon", 0) or 1
        )
        self.steps = steps
        self.metadata = PolicyMetadata(
            observation=keys if not mapping.passthrough else {},
            action_dim=facts.action_dim,
            action_horizon=steps,
            fps=facts.control_hz,
            name=f"{mapping.name}-mapped",
        )

    def __deepcopy__(self, memo: dict[int, Any]) -> MappedPolicy:
        if self.reconnect is None:
            raise ConfigError("a MappedPolicy without reconnect cannot be copied (one per env)")
        return MappedPolicy(self.mapping, self.facts, self.reconnect(), prompt=self.prompt,
                            reconnect=self.reconnect)  # fmt: skip

    def policy_input(self, obs: dict[str, Any]) -> dict[str, Any]:
        """Env observation -> the dict the policy server receives."""
        m = self.mapping
        out: dict[str, Any] = dict(obs) if m.passthrough else {}
        out.pop("task", None)
        robot = split_state(np.asarray(obs[STATE_KEY]), self.facts.n_arm)
        for st in m.state:
            vec = np.concatenate([state_field(f, robot) for f in st.fields]).astype(np.float32)
            if st.pad_to > len(vec):
                vec = np.concatenate([vec, np.zeros(st.pad_to - len(vec), np.float32)])
            _put(out, st.key, vec)
        for img in m.images:
            _put(out, img.key, prepare_image(obs[image_key(img.camera)], img))
        if m.prompt:
            prompt = self.prompt or obs.get("task") or self.facts.instruction
            out[m.prompt] = str(prompt)
        return out

    def infer(self, obs: dict[str, Any]) -> dict[str, np.ndarray]:
        answer = self.inner.infer(self.policy_input(obs))
        key = self.mapping.action.key
        if not isinstance(answer, dict) or key not in answer:
            raise ProtocolError(f"the policy's answer has no {key!r} entry "
                                f"(keys: {sorted(answer) if isinstance(answer, dict) else answer!r})")  # fmt: skip
        return {"actions": self.convert(answer[key])[: self.steps]}

    def reset(self) -> None:
        reset = getattr(self.inner, "reset", None)
        if callable(reset):
            reset()

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()


def _put(out: dict[str, Any], key: tuple[str, ...], value: np.ndarray) -> None:
    node = out
    for part in key[:-1]:
        node = node.setdefault(part, {})
    node[key[-1]] = value
