"""``armgym serve``: serve a checkpoint or a built-in policy over websockets."""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tyro

from armgym.errors import ConfigError
from armgym.serve.policy_server import PolicyServer


@dataclass(frozen=True)
class ServeConfig:
    """armgym serve: serve a policy over websockets (openpi wire protocol)."""

    checkpoint: Path | None = None
    """Checkpoint directory written by ``armgym train`` (loaded with armgym.policies.load_checkpoint)."""
    policy: str | None = None
    """Built-in policy instead of a checkpoint: ``scripted:<Task>`` or ``random:<env id>``."""
    host: str = "127.0.0.1"
    """Interface to bind. Use 0.0.0.0 only on a trusted network, and with --api-key."""
    port: int = 8000
    """TCP port (0 = any free port)."""
    api_key: str | None = None
    """Require ``Authorization: Api-Key <key>`` (default: $ARMGYM_API_KEY if set)."""
    max_message_mb: float = 16.0
    """Largest observation frame accepted [MiB]."""
    infer_in_thread: bool = False
    """Run inference in a worker thread (keeps /healthz responsive for slow policies)."""
    allow_extra_keys: bool = False
    """Accept observation keys the policy's schema does not list."""
    max_batch: int = 1
    """> 1: stack requests of several connections into one policy.infer_batch call (off by default)."""
    batch_window_ms: float = 0.0
    """With --max-batch: how long a batch's first request waits for others [ms]."""
    log_level: str = "INFO"
    """Python logging level."""


def build_server(cfg: ServeConfig) -> PolicyServer:
    """Load the policy ``cfg`` names and wrap it in a :class:`PolicyServer` (not started)."""
    from armgym.apps import policy_specs

    if (cfg.checkpoint is None) == (cfg.policy is None):
        raise ConfigError("give exactly one of --checkpoint PATH or --policy scripted:<Task>")
    kwargs: dict[str, Any] = {
        "host": cfg.host,
        "port": cfg.port,
        "api_key": cfg.api_key or os.environ.get("ARMGYM_API_KEY") or None,
        "max_message_bytes": int(cfg.max_message_mb * 2**20),
        "infer_in_thread": cfg.infer_in_thread,
        "allow_extra_keys": cfg.allow_extra_keys,
        "max_batch": cfg.max_batch,
        "batch_window_ms": cfg.batch_window_ms,
    }
    if cfg.checkpoint is not None:
        return PolicyServer(policy_specs.load_checkpoint_policy(cfg.checkpoint), **kwargs)
    assert cfg.policy is not None
    return PolicyServer(factory=policy_specs.factory_for(cfg.policy), **kwargs)


def main(argv: list[str] | None = None) -> int:
    cfg = tyro.cli(ServeConfig, args=argv, prog="armgym serve")
    logging.basicConfig(level=cfg.log_level.upper(), format="%(asctime)s %(name)s: %(message)s")
    server = build_server(cfg)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0
