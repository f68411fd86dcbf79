"""Learned (BC) policies behind the :class:`~armgym.contracts.policy.Policy` protocol.

:class:`LearnedPolicy` = a trained model + normalisation + observation schema; it is a
:class:`~armgym.contracts.policy.SessionPolicy` (``fork`` / ``infer_sessions``). Its
checkpoint is the generic one of :mod:`armgym.policies.checkpoint` in format
``armgym.policy``::

    model.safetensors   the model's weights (EMA weights for trained policies)
    config.json         policy kind, policy config (dataclass fields), observation/action
                        schema, normalisation stats, env the policy was trained for, fps

Training writes more files beside these (``train_state.*``, ``log.jsonl``); loading
ignores them.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from armgym.contracts.policy import FeatureSpec, PolicyMetadata
from armgym.errors import CheckpointError, ConfigError
from armgym.policies.checkpoint import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    CheckpointFormat,
    config_from_dict,
)
from armgym.policies.encoders import is_image_key
from armgym.policies.normalize import Normalizer
from armgym.policies.runner import FrameHistory

if TYPE_CHECKING:
    from armgym.policies.residual_policy import BaseOpener, ResidualPolicy

ACTION_KEY = "action"


class LearnedPolicy:
    """A trained model + normalisation + schema: ``infer(obs) -> {"actions": float32[Ta, A]}``.

    ``obs`` holds every key of ``metadata.observation``: either one frame (vectors [D], images
    uint8[H, W, 3]; the policy keeps the last ``obs_horizon`` frames itself, so call it every
    step, or once per chunk at the cost of a coarser history) or a stacked history
    ([T <= To, D], [T, H, W, 3], oldest first). Actions are clipped to [-1, 1].

    Args:
        kind: registry name (``mlp``, ``diffusion``).
        cfg: the policy's config dataclass.
        model: its ``nn.Module`` (``predict(obs, generators) -> [B, H, A]`` normalised).
        normalizer: stats for the vector observation keys and ``action``.
        schema: env-layout observation specs ``{key: FeatureSpec}``.
        action_dim: A.
        fps: control rate the data was recorded at [Hz].
        env: ``gymnasium.make`` kwargs (+ ``task``) of the env it was trained for.
        seed: seed of the sampling noise; ``reset()`` re-seeds it, so episodes replay exactly.
    """

    def __init__(
        self,
        kind: str,
        cfg: Any,
        model: torch.nn.Module,
        normalizer: Normalizer,
        schema: Mapping[str, FeatureSpec],
        action_dim: int,
        fps: float,
        env: Mapping[str, Any] | None = None,
        seed: int = 0,
    ):
        self.kind, self.cfg, self.normalizer = kind, cfg, normalizer
        self.model: Any = model  # nn.Module with predict() / compute_loss()
        self.schema, self.action_dim, self.env = dict(schema), action_dim, dict(env or {})
        self.obs_horizon, self.n_action_steps = int(cfg.obs_horizon), int(cfg.n_action_steps)
        self.metadata = PolicyMetadata(
            observation=self.schema,
            action_dim=action_dim,
            action_horizon=self.n_action_steps,
            fps=fps,
            name=kind,
            extra={"obs_horizon": self.obs_horizon, "horizon": int(cfg.horizon), "env": self.env},
        )
        self.seed = seed
        self.generator = torch.Generator()
        self._history = FrameHistory(self.obs_horizon)
        self.reset()

    def reset(self) -> None:
        self._history.clear()
        self.generator.manual_seed(self.seed)

    def fork(self, seed: int | None = None) -> LearnedPolicy:
        """A session sharing this policy's model, stats and schema, with its own observation
        history and noise generator (seeded with ``seed``, default this policy's seed).

        The policy server gives every connection a fork, so concurrent clients never see
        each other's history; evaluation forks one per episode (seeded with the episode's
        seed); :func:`infer_sessions` runs several forks as one batch.
        """
        other = copy.copy(self)
        other.seed = self.seed if seed is None else int(seed)
        other.generator = torch.Generator()
        other._history = FrameHistory(self.obs_horizon)
        other.reset()
        return other

    def infer(self, obs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return infer_sessions([(self, obs)])[0]

    def infer_sessions(
        self, items: Sequence[tuple[Any, Mapping[str, np.ndarray]]]
    ) -> list[dict[str, np.ndarray]]:
        """:func:`infer_sessions` (the batched call for forks of this policy)."""
        return infer_sessions(items)

    def _history_with(
        self, obs: Mapping[str, np.ndarray]
    ) -> tuple[dict[str, np.ndarray], list[dict[str, np.ndarray]] | None]:
        """``(stacked [To, ...] per key, the history to keep if the call succeeds)``.

        Nothing is changed here, so a failed batch leaves every history as it was.
        """
        frames = {k: np.asarray(obs[k]) for k in self._keys(obs)}
        if all(v.shape == tuple(self.schema[k].shape) for k, v in frames.items()):
            history = self._history.frames_with(frames)  # episode start: first frame fills
            return {k: np.stack([h[k] for h in history]) for k in frames}, history
        return {k: self._stacked(k, v) for k, v in frames.items()}, None

    def predict(
        self, obs: Mapping[str, np.ndarray], generators: Sequence[torch.Generator] | None = None
    ) -> np.ndarray:
        """Observation histories ``{key: [B, To, ...]}`` -> actions float32[B, Ta, A].

        Row ``i``'s sampling noise comes from ``generators[i]`` only.
        """
        t: dict[str, torch.Tensor] = {}
        for key in self.schema:
            x = torch.as_tensor(np.ascontiguousarray(obs[key]))
            if is_image_key(key):  # uint8 [B, To, H, W, 3] -> float [B, To, 3, H, W]
                t[key] = x.permute(0, 1, 4, 2, 3).float() / 255.0
            else:
                t[key] = self.normalizer.normalize(key, x.float())
        self.model.eval()
        with torch.no_grad():
            pred = self.model.predict(t, generators)[:, : self.n_action_steps]
            actions = self.normalizer.unnormalize(ACTION_KEY, pred).clamp(-1.0, 1.0)
        return actions.numpy().astype(np.float32)

    def _keys(self, obs: Mapping[str, np.ndarray]) -> list[str]:
        missing = [k for k in self.schema if k not in obs]
        if missing:
            raise CheckpointError(
                f"observation lacks {missing}; this {self.kind} policy needs "
                f"{sorted(self.schema)} (make the env with the obs mode it "
                f"was trained on: {self.env.get('obs', '?')!r})"
            )
        return list(self.schema)

    def _stacked(self, key: str, x: np.ndarray) -> np.ndarray:
        """History [To, ...] from a frame or a (possibly shorter) history, start repeated."""
        shape = tuple(self.schema[key].shape)
        if x.shape == shape:
            x = x[None]
        if x.shape[1:] != shape or len(x) < 1:
            raise CheckpointError(
                f"observation {key!r} has shape {x.shape}; expected {shape} "
                f"or a history [To, *{shape}]"
            )
        if len(x) < self.obs_horizon:
            x = np.concatenate([np.repeat(x[:1], self.obs_horizon - len(x), 0), x])
        return x[-self.obs_horizon :]


def infer_sessions(
    items: Sequence[tuple[LearnedPolicy, Mapping[str, np.ndarray]]],
) -> list[dict[str, np.ndarray]]:
    """One batched forward pass for several ``(policy fork, observation)`` pairs.

    Every policy must share one model (forks of one :class:`LearnedPolicy`). Each
    observation joins its own fork's history (a stacked history ``[T, ...]`` is used as
    given), and row ``i`` draws its sampling noise from fork ``i``'s generator, so a client
    gets the actions it would get alone (up to float rounding of the batched matmuls).
    Histories change only if the whole call succeeds.
    Returns ``[{"actions": float32[Ta, A]}, ...]`` in order.
    """
    if not items:
        return []
    first = items[0][0]
    if any(not isinstance(p, LearnedPolicy) or p.model is not first.model for p, _ in items):
        raise ConfigError("infer_sessions needs forks of one policy (one shared model)")
    prepared = [p._history_with(obs) for p, obs in items]
    batch = {k: np.stack([stacked[k] for stacked, _ in prepared]) for k in first.schema}
    actions = first.predict(batch, [p.generator for p, _ in items])
    for (policy, _), (_, history) in zip(items, prepared, strict=True):
        if history is not None:
            policy._history.replace(history)
    return [{"actions": a} for a in actions]


# ---------------------------------------------------------------------------- building
def build_policy(
    kind: str,
    cfg: Any,
    schema: Mapping[str, FeatureSpec],
    action_dim: int,
    normalizer: Normalizer,
    fps: float,
    env: Mapping[str, Any] | None = None,
    seed: int = 0,
) -> LearnedPolicy:
    """A freshly initialised policy (weights from torch's global RNG)."""
    from armgym.policies import policy_module

    mod = policy_module(kind)
    model = mod.MODEL(cfg, model_obs_shapes(schema), action_dim)
    return LearnedPolicy(kind, cfg, model, normalizer, schema, action_dim, fps, env, seed)


def model_obs_shapes(schema: Mapping[str, FeatureSpec]) -> dict[str, tuple[int, ...]]:
    """Env-layout shapes -> model-layout shapes (images [H, W, 3] -> [3, H, W])."""
    return {
        k: ((s.shape[2], s.shape[0], s.shape[1]) if is_image_key(k) else tuple(s.shape))
        for k, s in schema.items()
    }


# ---------------------------------------------------------------------------- versions
def _v1_to_v2(c: dict[str, Any]) -> dict[str, Any]:
    """v1 (pre-release) named the kind ``policy_type``, the config ``config``, kept the
    normalisation under ``stats`` with the mode implied by the key (actions min/max,
    observations mean/std) and the observation shapes flat under ``obs_shapes``."""
    stats = {
        k: {"mode": "min_max" if k == ACTION_KEY else "mean_std", **v}
        for k, v in c["stats"].items()
    }
    obs = {
        k: {"dtype": "uint8" if is_image_key(k) else "float32", "shape": list(s)}
        for k, s in c["obs_shapes"].items()
    }
    rest = {
        k: v
        for k, v in c.items()
        if k not in ("policy_type", "config", "stats", "obs_shapes", "action_dim", "config_version")
    }
    return {
        **rest,
        "config_version": 2,
        "policy": c["policy_type"],
        "policy_config": c["config"],
        "normalization": stats,
        "schema": {"observation": obs, "action": {"dtype": "float32", "shape": [c["action_dim"]]}},
    }


POLICY_FORMAT = CheckpointFormat("armgym.policy", 2, {1: _v1_to_v2}, what="policy checkpoint")
"""BC policy checkpoints (``armgym train bc``)."""


# ---------------------------------------------------------------------------- save / load
def save_checkpoint(
    path: str | Path,
    policy: LearnedPolicy,
    extra: Mapping[str, Any] | None = None,
    *,
    kind: str | None = None,
    sections: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``model.safetensors`` then ``config.json`` (the commit point) atomically.

    ``kind`` overrides the stored policy kind and ``sections`` adds top-level config keys
    (a ``residual`` checkpoint stores its actor under kind ``residual`` + its base).
    """
    schema = {
        "observation": {
            k: {"dtype": s.dtype, "shape": list(s.shape)} for k, s in policy.schema.items()
        },
        "action": {"dtype": "float32", "shape": [policy.action_dim]},
    }
    config = {
        "policy": kind or policy.kind,
        "policy_config": dataclasses.asdict(policy.cfg),
        "schema": schema,
        "normalization": policy.normalizer.to_json(),
        "fps": policy.metadata.fps,
        "env": policy.env,
        "extra": dict(extra or {}),
        **dict(sections or {}),
    }
    return POLICY_FORMAT.save(path, policy.model.state_dict(), config)


def read_config(path: str | Path) -> dict[str, Any]:
    """config.json of policy checkpoint ``path``, migrated to the current version."""
    return POLICY_FORMAT.read_config(path)


def load_checkpoint(
    path: str | Path, *, seed: int = 0, opener: BaseOpener | None = None
) -> LearnedPolicy | ResidualPolicy:
    """Load policy checkpoint folder ``path`` (sha256 checked, config migrated).

    A ``residual`` checkpoint loads its base too (:mod:`armgym.policies.residual_policy`);
    ``opener`` opens a scripted or served base (``armgym.eval.bases.open_base``).
    """
    root = Path(path)
    config = read_config(root)
    if config.get("policy") == "residual":
        from armgym.policies.residual_policy import load_residual

        return load_residual(root, config, seed=seed, opener=opener)
    return load_model(root, config, seed=seed)


def load_model(root: Path, config: Mapping[str, Any], *, seed: int = 0) -> LearnedPolicy:
    """The :class:`LearnedPolicy` of checkpoint ``root`` whose (migrated) config is ``config``."""
    from armgym.policies import policy_module

    state = POLICY_FORMAT.load_weights(root, config)
    try:
        kind = str(config["policy"])
        mod = policy_module(kind)
        cfg = config_from_dict(mod.CONFIG, config["policy_config"])
        schema = {
            k: FeatureSpec(str(v["dtype"]), tuple(v["shape"]))
            for k, v in config["schema"]["observation"].items()
        }
        action_dim = int(config["schema"]["action"]["shape"][0])
        normalizer = Normalizer(config["normalization"])
        fps, env = float(config["fps"]), dict(config.get("env") or {})
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(
            f"{root / CONFIG_FILE}: malformed ({type(exc).__name__}: {exc})"
        ) from None
    model = mod.MODEL(cfg, model_obs_shapes(schema), action_dim)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(
            f"{root / WEIGHTS_FILE}: does not fit the {kind} model in {CONFIG_FILE} ({exc})"
        ) from None
    return LearnedPolicy(kind, cfg, model, normalizer, schema, action_dim, fps, env, seed)


__all__ = [
    "ACTION_KEY",
    "POLICY_FORMAT",
    "LearnedPolicy",
    "build_policy",
    "infer_sessions",
    "load_checkpoint",
    "load_model",
    "model_obs_shapes",
    "read_config",
    "save_checkpoint",
]
