"""The residual policy (kind ``residual``): a frozen base + a learned residual actor.

``infer(obs)`` returns ``{"actions": float32[1, A]}`` = ``clip(base + scale · residual)``,
where ``base`` comes from the frozen base policy (its own chunking and observation history
respected, :class:`~armgym.policies.residual.BaseStreams`) and ``residual`` is the
deterministic action ``tanh(mean)`` of a SAC-style actor
(:class:`~armgym.policies.sac.SACActor`) that reads the observation plus
``observation.base_action``. It is a :class:`~armgym.contracts.policy.SessionPolicy`, so
``armgym eval`` forks it per episode (seeded) like any learned policy.

Checkpoint: the residual actor's weights (``model.safetensors``) and a ``config.json`` in
the ``armgym.policy`` format with ``policy: "residual"``, the actor's config, schema and
normalisation (as a ``sac`` checkpoint has), plus ``residual``::

    {"scale": 0.1, "base": {"kind": "checkpoint", "path": "/abs/bc", "weights_sha256": "…"}}
    {"scale": 0.1, "base": {"kind": "scripted", "task": "PegInsert", "control": "ee_pos"}}
    {"scale": 0.1, "base": {"kind": "remote", "url": "ws://…", "name": "mlp"}}

(and ``"features": true`` when the actor reads ``observation.task_features``, which the
policy computes from each observation: :class:`~armgym.policies.residual.TaskFeatures`).

Loading loads the base too and refuses a base whose weights changed (sha256), a missing
base, and a base whose action or observation spec does not fit the env.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from armgym.contracts.policy import FeatureSpec, Policy, PolicyMetadata, SessionPolicy
from armgym.errors import CheckpointError, ConfigError
from armgym.policies.checkpoint import CONFIG_FILE
from armgym.policies.learned import LearnedPolicy, save_checkpoint
from armgym.policies.residual import (
    BASE_ACTION_KEY,
    FEATURES_KEY,
    BaseStreams,
    TaskFeatures,
    check_base,
    compose,
)

KIND = "residual"
BaseOpener = Callable[[Mapping[str, Any], Mapping[str, Any]], Policy]
"""``opener(ref, env)``: the base a ``scripted`` or ``remote`` reference names, for the env
``{"task", **make kwargs}``. The policies layer cannot build envs or open connections;
the layers above pass :func:`armgym.eval.bases.open_base`."""


class ResidualPolicy:
    """Frozen ``base`` + ``residual`` actor (a ``sac`` :class:`LearnedPolicy` whose schema
    includes ``observation.base_action``): ``infer(obs) -> {"actions": float32[1, A]}``.

    Args:
        base: the frozen base policy.
        residual: the residual actor behind the Policy protocol (its schema includes
            ``observation.task_features`` when it was trained with ``--features``).
        scale: residual scale (normalised action units).
        base_ref: how the checkpoint names the base (see the module docstring).
        env: ``{"task", **make kwargs}`` of the env (the base's env).
        seed: seed of this session (its base fork's noise).
        low, high: action bounds float32[A] (default [-1, 1]).
    """

    kind = KIND

    def __init__(
        self,
        base: Policy,
        residual: LearnedPolicy,
        scale: float,
        base_ref: Mapping[str, Any],
        env: Mapping[str, Any],
        seed: int = 0,
        low: np.ndarray | None = None,
        high: np.ndarray | None = None,
    ):
        self.base, self.residual, self.scale = base, residual, float(scale)
        self.base_ref, self.env, self.seed = dict(base_ref), dict(env), seed
        a = residual.action_dim
        self.low = np.full(a, -1.0, np.float32) if low is None else low
        self.high = np.full(a, 1.0, np.float32) if high is None else high
        obs = actor_env_schema(residual.schema)
        self.features = (
            TaskFeatures.for_env(self.env, _dict_space(obs))
            if FEATURES_KEY in residual.schema
            else None
        )
        self.metadata = PolicyMetadata(
            observation=obs,
            action_dim=a,
            action_horizon=1,
            fps=residual.metadata.fps,
            name=KIND,
            extra={"obs_horizon": 1, "env": self.env, "base": self.base_ref, "scale": self.scale},
        )
        self._stream = BaseStreams(base, 1)
        self._session = residual.fork(seed)
        self._stream.start(0, seed)

    def reset(self) -> None:
        self._stream.start(0, self.seed)
        self._session.reset()

    def fork(self, seed: int | None = None) -> ResidualPolicy:
        """A session with its own base session (forked or copied) and residual history."""
        other = copy.copy(self)
        other.seed = self.seed if seed is None else int(seed)
        base = self.base
        if not isinstance(base, SessionPolicy) and self.base_ref.get("kind") != "remote":
            base = copy.deepcopy(base)  # a served base is shared: it gets stacked histories
        other._stream = BaseStreams(base, 1)
        other._stream.start(0, other.seed)
        other._session = self.residual.fork(other.seed)
        return other

    def infer(self, obs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self.infer_sessions([(self, obs)])[0]

    def infer_sessions(
        self, items: Sequence[tuple[Any, Mapping[str, np.ndarray]]]
    ) -> list[dict[str, np.ndarray]]:
        """Each ``(session, obs)``: the base's action for this step (one base call per
        session whose chunk ran out), then one batched residual call for all sessions.
        ``obs``: one frame, or a stacked history whose last frame is used."""
        frames = [self._frame(obs) for _, obs in items]
        bases = [s._stream.act([f])[0] for (s, _), f in zip(items, frames, strict=True)]
        calls = [
            (s._session, {**f, **self._extra(f), BASE_ACTION_KEY: b})
            for (s, _), f, b in zip(items, frames, bases, strict=True)
        ]
        residuals = self.residual.infer_sessions(calls)
        return [
            {"actions": compose(b, r["actions"][0], self.scale, self.low, self.high)[None]}
            for b, r in zip(bases, residuals, strict=True)
        ]

    def _extra(self, frame: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {} if self.features is None else {FEATURES_KEY: self.features(frame)}

    def _frame(self, obs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = {}
        for key, spec in self.metadata.observation.items():
            if key not in obs:
                raise CheckpointError(
                    f"observation lacks {key!r}; this residual policy needs "
                    f"{sorted(self.metadata.observation)}"
                )
            x = np.asarray(obs[key])
            out[key] = x if x.shape == tuple(spec.shape) else x[-1]
        return out

    def save(self, path: str | Path, extra: Mapping[str, Any] | None = None) -> Path:
        """Write the residual checkpoint (the actor's weights + config with the base ref)."""
        section = {
            "residual": {
                "scale": self.scale,
                "base": self.base_ref,
                "features": self.features is not None,
            }
        }
        return save_checkpoint(path, self.residual, extra, kind=KIND, sections=section)


# ---------------------------------------------------------------------------- base refs
def load_base(
    ref: Mapping[str, Any],
    env: Mapping[str, Any],
    *,
    seed: int = 0,
    opener: BaseOpener | None = None,
) -> Policy:
    """The base policy a reference names; CheckpointError if it is missing or changed."""
    kind = ref.get("kind")
    if kind == "checkpoint":
        from armgym.policies.learned import load_checkpoint, read_config

        root = Path(str(ref["path"]))
        if not (root / CONFIG_FILE).is_file():
            raise CheckpointError(
                f"the base checkpoint {root} of this residual is missing; restore it there "
                "(the residual is only valid on top of that exact base)"
            )
        found = read_config(root).get("weights_sha256")
        if found != ref.get("weights_sha256"):
            raise CheckpointError(
                f"the base checkpoint {root} changed (weights sha256 {str(found)[:12]}…, the "
                f"residual was trained on {str(ref.get('weights_sha256'))[:12]}…); restore "
                "the original base or retrain the residual"
            )
        return load_checkpoint(root, seed=seed)
    if kind in ("scripted", "remote"):
        if opener is None:
            raise CheckpointError(
                f"this residual's base is {kind} ({dict(ref)}); load it through `armgym "
                "eval` / `serve` / `run` (they open such bases) or pass opener="
            )
        return opener(ref, env)
    raise CheckpointError(f"unknown residual base kind {kind!r} in {CONFIG_FILE}")


def load_residual(
    root: Path, config: Mapping[str, Any], *, seed: int = 0, opener: BaseOpener | None = None
) -> ResidualPolicy:
    """A residual checkpoint (already read and migrated) with its base loaded and checked."""
    from armgym.policies.learned import load_model

    try:
        res = config["residual"]
        scale, ref = float(res["scale"]), dict(res["base"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{root / CONFIG_FILE}: malformed residual section ({exc})") from None
    actor = load_model(root, {**config, "policy": "sac"}, seed=seed)
    env = dict(config.get("env") or {})
    base = load_base(ref, env, seed=seed, opener=opener)
    obs = actor_env_schema(actor.schema)
    try:
        check_base(base.metadata, _dict_space(obs), actor.action_dim)
    except ConfigError as exc:
        raise CheckpointError(f"{root}: {exc}") from None
    return ResidualPolicy(base, actor, scale, ref, env, seed)


def actor_env_schema(schema: Mapping[str, FeatureSpec]) -> dict[str, FeatureSpec]:
    """The residual actor's inputs that come from the env: all but the base action and
    the task features (which the policy adds)."""
    return {k: v for k, v in schema.items() if k not in (BASE_ACTION_KEY, FEATURES_KEY)}


def _dict_space(schema: Mapping[str, FeatureSpec]) -> Any:
    import gymnasium as gym

    return gym.spaces.Dict(
        {
            k: gym.spaces.Box(-np.inf, np.inf, tuple(s.shape), np.dtype(s.dtype))
            for k, s in schema.items()
        }
    )


__all__ = ["KIND", "BaseOpener", "ResidualPolicy", "load_base", "load_residual"]
