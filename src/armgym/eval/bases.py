"""Frozen base policies of residual RL, opened from a ``--base`` spec or a checkpoint's
reference (:mod:`armgym.policies.residual_policy`).

The policies layer loads checkpoint bases itself; a scripted expert needs an env and a
served base a connection, which the layers above build here:

* ``PATH`` (a checkpoint folder written by ``armgym train``) → :class:`LearnedPolicy`;
* ``scripted:<Task>`` → the task's :class:`ScriptedPolicy` in the env's control mode;
* ``ws://host:port`` → a :class:`WebsocketPolicyClient` (``armgym serve``, openpi).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from armgym.contracts.policy import Policy
from armgym.errors import CheckpointError, ConfigError


def reference_of(spec: str) -> dict[str, Any]:
    """A base reference (``{"kind": ...}``) for a ``--base`` spec string."""
    spec = str(spec).strip()
    if spec.startswith(("ws://", "wss://")):
        return {"kind": "remote", "url": spec}
    if spec.startswith("scripted:"):
        return {"kind": "scripted", "task": spec.split(":", 1)[1]}
    from armgym.policies.learned import read_config

    root = Path(spec)
    if not root.exists():
        raise ConfigError(
            f"--base {spec!r}: no such checkpoint folder; pass a checkpoint written by "
            "`armgym train`, ws://host:port (a served policy) or scripted:<Task>"
        )
    config = read_config(root)
    if config.get("policy") == "residual":
        raise ConfigError(f"--base {spec!r} is itself a residual; use its base or a BC policy")
    return {
        "kind": "checkpoint",
        "path": str(root.resolve()),
        "weights_sha256": config["weights_sha256"],
    }


def open_base(
    ref: Mapping[str, Any], env: Mapping[str, Any], *, api_key: str | None = None, seed: int = 0
) -> Policy:
    """The base policy ``ref`` names, for env ``{"task", **make kwargs}``."""
    kind = ref.get("kind")
    if kind == "remote":
        from armgym.serve.policy_client import WebsocketPolicyClient

        return WebsocketPolicyClient(str(ref["url"]), api_key=api_key)
    if kind == "scripted":
        from armgym.envs import EnvConfig, make_env
        from armgym.policies.scripted import ScriptedPolicy

        task = str(ref["task"])
        if str(env.get("task", "")).lower() != task.lower():
            raise ConfigError(f"the scripted base is {task}'s expert, the env is {env.get('task')}")
        return ScriptedPolicy.for_env(make_env(EnvConfig.from_dict(env)))
    if kind == "checkpoint":
        from armgym.policies.residual_policy import load_base

        return load_base(ref, env, seed=seed)
    raise CheckpointError(f"unknown base kind {kind!r}; expected checkpoint, scripted or remote")


__all__ = ["open_base", "reference_of"]
