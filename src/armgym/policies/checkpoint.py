"""Learned policies behind the :class:`Policy` protocol, and their checkpoints.

A checkpoint is a folder::

    model.safetensors   the model's weights (EMA weights for trained policies)
    config.json         format, config_version, policy kind, policy config (dataclass
                        fields), observation/action schema, normalisation stats, env the
                        policy was trained for, fps, armgym version, sha256 of the weights

:func:`load_checkpoint` verifies the sha256 before reading a byte of the weights
(mismatch -> :class:`CheckpointError`: tampered or corrupt), migrates older config
versions, and reads the weights with safetensors: nothing is ever unpickled. Training
writes more files beside these (``train_state.*``, ``log.jsonl``); loading ignores them.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
import typing
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from armgym.errors import CheckpointError
from armgym.policies.base import FeatureSpec, PolicyMetadata
from armgym.policies.encoders import is_image_key
from armgym.policies.normalize import Normalizer

FORMAT = "armgym.policy"
CONFIG_VERSION = 2
WEIGHTS_FILE, CONFIG_FILE = "model.safetensors", "config.json"
ACTION_KEY = "action"


class LearnedPolicy:
    """A trained model + normalisation + schema: ``infer(obs) -> {"actions": float32[Ta, A]}``.

    ``obs`` holds every key of ``metadata.observation``: either one frame (vectors [D], images
    uint8[H, W, 3]; the policy keeps the last ``obs_horizon`` frames itself, so call it every
    step, or once per chunk at the cost of a coarser history) or a stacked history
    ([To, D], [To, H, W, 3], oldest first). Actions are clipped to [-1, 1].

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
        self._history: deque[dict[str, np.ndarray]] = deque(maxlen=self.obs_horizon)
        self.reset()

    def reset(self) -> None:
        self._history.clear()
        self.generator.manual_seed(self.seed)

    def fork(self) -> LearnedPolicy:
        """A policy sharing this one's model, stats and schema, with its own observation
        history and noise generator (reset): one per client or episode stream.

        The policy server gives every connection a fork, so concurrent clients never see
        each other's history; :func:`infer_sessions` runs several forks as one batch.
        """
        other = copy.copy(self)
        other.generator = torch.Generator()
        other._history = deque(maxlen=self.obs_horizon)
        other.reset()
        return other

    def infer(self, obs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return infer_sessions([(self, obs)])[0]

    def infer_sessions(
        self, items: Sequence[tuple[LearnedPolicy, Mapping[str, np.ndarray]]]
    ) -> list[dict[str, np.ndarray]]:
        """:func:`infer_sessions` (the policy server's batched call for forks)."""
        return infer_sessions(items)

    def _history_with(
        self, obs: Mapping[str, np.ndarray]
    ) -> tuple[dict[str, np.ndarray], list[dict[str, np.ndarray]] | None]:
        """``(stacked [To, ...] per key, the history to keep if the call succeeds)``.

        Nothing is changed here, so a failed batch leaves every history as it was.
        """
        frames = {k: np.asarray(obs[k]) for k in self._keys(obs)}
        if all(v.shape == tuple(self.schema[k].shape) for k, v in frames.items()):
            # episode start: the first frame fills the history
            history = [*self._history, frames] if self._history else [frames] * self.obs_horizon
            history = history[-self.obs_horizon :]
            return {k: np.stack([h[k] for h in history]) for k in frames}, history
        return {k: self._stacked(k, v) for k, v in frames.items()}, None

    def infer_batch(
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
    observation joins its own fork's history, and row ``i`` draws its sampling noise from
    fork ``i``'s generator, so a client gets the actions it would get alone (up to float
    rounding of the batched matmuls). Histories change only if the whole call succeeds.
    Returns ``[{"actions": float32[Ta, A]}, ...]`` in order.
    """
    if not items:
        return []
    first = items[0][0]
    if any(p.model is not first.model for p, _ in items):
        raise ValueError("infer_sessions needs forks of one policy (one shared model)")
    prepared = [p._history_with(obs) for p, obs in items]
    batch = {k: np.stack([stacked[k] for stacked, _ in prepared]) for k in first.schema}
    actions = first.infer_batch(batch, [p.generator for p, _ in items])
    for (policy, _), (_, history) in zip(items, prepared, strict=True):
        if history is not None:
            policy._history.clear()
            policy._history.extend(history)
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


def config_from_dict(cls: type, data: Mapping[str, Any]) -> Any:
    """Rebuild a (nested) frozen config dataclass from ``dataclasses.asdict`` output."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise CheckpointError(
            f"{cls.__name__} has no fields {unknown}; the checkpoint was "
            "written by a newer armgym (upgrade) or edited by hand"
        )
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            kwargs[name] = config_from_dict(hint, value)  # type: ignore[arg-type]
        elif typing.get_origin(hint) is tuple:
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = value
    return cls(**kwargs)


# ---------------------------------------------------------------------------- save / load
def save_checkpoint(
    path: str | Path, policy: LearnedPolicy, extra: Mapping[str, Any] | None = None
) -> Path:
    """Write ``model.safetensors`` then ``config.json`` (the commit point) atomically."""
    import armgym

    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in policy.model.state_dict().items()}
    blob = st_save(state, metadata={"format": "pt"})
    write_atomic(root / WEIGHTS_FILE, blob)
    config = {
        "format": FORMAT,
        "config_version": CONFIG_VERSION,
        "policy": policy.kind,
        "policy_config": dataclasses.asdict(policy.cfg),
        "schema": {
            "observation": {
                k: {"dtype": s.dtype, "shape": list(s.shape)} for k, s in policy.schema.items()
            },
            "action": {"dtype": "float32", "shape": [policy.action_dim]},
        },
        "normalization": policy.normalizer.to_json(),
        "fps": policy.metadata.fps,
        "env": policy.env,
        "armgym_version": armgym.__version__,
        "weights_sha256": hashlib.sha256(blob).hexdigest(),
        "extra": dict(extra or {}),
    }
    write_atomic(root / CONFIG_FILE, (json.dumps(config, indent=2) + "\n").encode())
    return root


def read_config(path: str | Path) -> dict[str, Any]:
    """config.json of checkpoint ``path``, migrated to ``CONFIG_VERSION`` and checked."""
    file = Path(path) / CONFIG_FILE
    if not file.is_file():
        raise CheckpointError(
            f"{file}: missing; {path} is not a checkpoint folder written by "
            "`armgym train` (it needs config.json and model.safetensors)"
        )
    try:
        config = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(
            f"{file}: not valid JSON ({exc}); the checkpoint is corrupt"
        ) from None
    if not isinstance(config, dict) or config.get("format", FORMAT) != FORMAT:
        raise CheckpointError(f"{file}: not an armgym policy checkpoint")
    return migrate(config, file)


def load_checkpoint(path: str | Path, *, seed: int = 0) -> LearnedPolicy:
    """Load checkpoint folder ``path`` as a :class:`LearnedPolicy` (see module docstring)."""
    from armgym.policies import policy_module

    root = Path(path)
    config = read_config(root)
    weights = root / WEIGHTS_FILE
    if not weights.is_file():
        raise CheckpointError(f"{weights}: missing; the checkpoint is incomplete")
    blob = weights.read_bytes()
    digest = hashlib.sha256(blob).hexdigest()
    if digest != config.get("weights_sha256"):
        raise CheckpointError(
            f"{weights}: sha256 {digest[:12]}… does not match config.json "
            f"({str(config.get('weights_sha256'))[:12]}…); the weights were "
            "modified or corrupted: re-train or restore the file"
        )
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
        state = st_load(blob)
        model.load_state_dict(state, strict=True)
    except (SafetensorError, RuntimeError) as exc:
        raise CheckpointError(
            f"{weights}: does not fit the {kind} model in config.json ({exc})"
        ) from None
    return LearnedPolicy(kind, cfg, model, normalizer, schema, action_dim, fps, env, seed)


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


#: config_version -> function upgrading a config of that version by one version
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}


def migrate(config: dict[str, Any], file: Path | str = CONFIG_FILE) -> dict[str, Any]:
    """Upgrade ``config`` to ``CONFIG_VERSION`` step by step; CheckpointError if impossible."""
    version = config.get("config_version")
    if not isinstance(version, int):
        raise CheckpointError(f"{file}: no integer config_version; not an armgym checkpoint")
    if version > CONFIG_VERSION:
        raise CheckpointError(
            f"{file}: config_version {version} is newer than this armgym "
            f"understands ({CONFIG_VERSION}); upgrade armgym"
        )
    while version < CONFIG_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise CheckpointError(
                f"{file}: config_version {version} is too old to migrate "
                f"(oldest supported: {min(MIGRATIONS)}); re-train the policy"
            )
        try:
            config = step(config)
        except (KeyError, TypeError) as exc:
            raise CheckpointError(
                f"{file}: cannot migrate config_version {version}: missing {exc}"
            ) from None
        version = config["config_version"]
    return config


def write_atomic(path: Path, data: bytes) -> None:
    """Write to ``path.tmp``, fsync, rename over ``path``."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
