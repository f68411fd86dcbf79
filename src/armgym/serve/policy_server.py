"""Serve a :class:`~armgym.policies.base.Policy` over websockets, speaking openpi's protocol.

Protocol (one websocket connection = one lockstep session; see ``docs/serving.md``):

1. Server -> client, binary: msgpack(metadata) = ``PolicyMetadata.to_dict()`` plus
   ``protocol_version``; ``observation`` maps each key to ``{"dtype", "shape"}``.
2. Client -> server, binary: msgpack(observation dict), arrays as msgpack-numpy maps.
3. Server -> client, binary: msgpack(``{"actions": float32[action_horizon, action_dim],
   "server_timing": {"infer_ms": float, "prev_total_ms": float}}``). Repeat 2-3.

A client may send ``{"__reset__": True}`` instead of an observation; the server calls
``policy.reset()`` and answers ``{"reset": True}`` (armgym extension; openpi clients
never send it). On bad input the server sends a text frame with the reason and closes
with 1008; if the policy raises, a text frame with the traceback and close 1011 (as
openpi does). ``GET /healthz`` answers 200. With an API key, the handshake needs
``Authorization: Api-Key <key>`` or gets HTTP 401.

CLI: ``armgym serve --policy scripted:PickCube``, ``--policy random:armgym/PickCube-v0``
or ``--checkpoint runs/bc/ckpt``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tyro
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from armgym.errors import ConfigError, ProtocolError
from armgym.policies.base import Policy, PolicyMetadata
from armgym.serve import wire
from armgym.serve._common import (
    CLOSE_INTERNAL_ERROR,
    CLOSE_POLICY_VIOLATION,
    ServerThread,
    make_process_request,
    send_error,
)

log = logging.getLogger("armgym.serve.policy")

RESET_KEY = "__reset__"


def metadata_dict(meta: PolicyMetadata) -> dict[str, Any]:
    """The first frame's content: ``meta.to_dict()`` plus ``protocol_version``."""
    out = meta.to_dict()
    out["protocol_version"] = wire.PROTOCOL_VERSION
    return out


def check_actions(result: Any, meta: PolicyMetadata) -> dict[str, Any]:
    """Validate a policy's output: ``actions`` float32[action_horizon, action_dim], finite.

    Floating actions of another precision are cast to float32. Raises ``RuntimeError``
    (a server-side bug, reported with close code 1011) otherwise.
    """
    actions = result.get("actions") if type(result) is dict else None
    if (
        type(actions) is np.ndarray
        and actions.dtype == np.float32
        and actions.shape == (meta.action_horizon, meta.action_dim)
        and np.isfinite(actions).all()
    ):
        return dict(result)  # fast path: already what the protocol promises
    if not isinstance(result, dict) or "actions" not in result:
        raise RuntimeError(f"policy.infer must return a dict with 'actions', got {type(result)}")
    actions = np.asarray(result["actions"])
    if actions.dtype.kind != "f":
        raise RuntimeError(f"policy returned actions of dtype {actions.dtype}, expected float32")
    want = (meta.action_horizon, meta.action_dim)
    if actions.shape != want:
        raise RuntimeError(f"policy returned actions of shape {actions.shape}, expected {want}")
    if not np.isfinite(actions).all():
        raise RuntimeError("policy returned NaN or inf actions")
    out = dict(result)
    out["actions"] = actions.astype(np.float32, copy=False)
    return out


class PolicyServer:
    """Websocket server for one policy (shared by all clients) or a policy per connection.

    Args:
        policy: the policy every connection talks to (calls are serialised by a lock).
        factory: alternatively, build a fresh policy per connection (stateful policies
            such as scripted experts); exactly one of ``policy`` / ``factory``.
        host: interface to bind; ``127.0.0.1`` unless you mean to expose it.
        port: TCP port; 0 picks a free one (see :meth:`run_in_thread`).
        api_key: if set, clients must send ``Authorization: Api-Key <key>``.
        max_message_bytes: largest observation frame accepted (bigger -> close 1009).
        allow_extra_keys: accept observation keys not in the schema (they are passed on).
        infer_in_thread: run ``infer`` in a worker thread so the event loop stays
            responsive for slow (e.g. torch) policies; costs ~50 us per call.
    """

    def __init__(
        self,
        policy: Policy | None = None,
        *,
        factory: Callable[[], Policy] | None = None,
        host: str = "127.0.0.1",
        port: int = 8000,
        api_key: str | None = None,
        max_message_bytes: int = wire.DEFAULT_MAX_MESSAGE_BYTES,
        allow_extra_keys: bool = False,
        infer_in_thread: bool = False,
    ):
        if (policy is None) == (factory is None):
            raise ConfigError("PolicyServer needs exactly one of policy= or factory=")
        self._policy = policy
        self._factory = factory
        self._probe = policy if policy is not None else factory()  # type: ignore[misc]
        self.metadata: PolicyMetadata = self._probe.metadata
        self._meta_frame = wire.packb(metadata_dict(self.metadata))
        self._schema = wire.CompiledSchema(
            {k: (v.dtype, tuple(v.shape)) for k, v in self.metadata.observation.items()},
            allow_extra=allow_extra_keys,
        )
        self.host, self.port, self.api_key = host, port, api_key
        self.max_message_bytes = max_message_bytes
        self.allow_extra_keys = allow_extra_keys
        self.infer_in_thread = infer_in_thread
        self._lock = threading.Lock()
        self.connections = 0  # currently open, for tests and logs

    # -------------------------------------------------------------- lifecycle

    async def start(self) -> Server:
        """Start listening on the running loop and return the websockets ``Server``."""
        return await serve(
            self._handler,
            self.host,
            self.port,
            compression=None,
            max_size=self.max_message_bytes,
            process_request=make_process_request(self.api_key),
            ping_interval=20,
            ping_timeout=20,
        )

    def serve_forever(self) -> None:
        """Block serving until interrupted (what ``armgym serve`` runs)."""

        async def _main() -> None:
            server = await self.start()
            for sock in server.sockets:
                log.info("serving %s on ws://%s:%s", self.metadata.name, *sock.getsockname()[:2])
            await server.serve_forever()

        asyncio.run(_main())

    def run_in_thread(self) -> ServerThread:
        """Context manager running the server in a daemon thread; ``.port`` is the bound port."""
        return ServerThread(self.start, name="armgym-policy-server")

    # -------------------------------------------------------------- per connection

    async def _handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        try:
            policy = self._policy if self._policy is not None else self._new_policy()
            await self._session(ws, policy)
        except ConnectionClosed:
            pass
        except ProtocolError as exc:
            log.info("client %s: %s", ws.remote_address, exc)
            await send_error(ws, f"ProtocolError: {exc}", CLOSE_POLICY_VIOLATION)
        except Exception:
            tb = traceback.format_exc()
            log.error("client %s: policy error\n%s", ws.remote_address, tb)
            await send_error(ws, tb, CLOSE_INTERNAL_ERROR)
        finally:
            self.connections -= 1

    def _new_policy(self) -> Policy:
        assert self._factory is not None
        policy = self._factory()
        policy.reset()
        return policy

    async def _session(self, ws: ServerConnection, policy: Policy) -> None:
        await ws.send(self._meta_frame)
        packer = wire.Packer()
        prev_total_ms: float | None = None
        while True:
            frame = await ws.recv()
            t0 = time.perf_counter()
            obs = wire.unpackb(frame)
            if isinstance(obs, dict) and obs.get(RESET_KEY) is True and len(obs) == 1:
                self._call(policy.reset)
                await ws.send(packer.pack({"reset": True}))
                continue
            self._schema.validate(obs)
            t1 = time.perf_counter()
            if self.infer_in_thread:
                result = await asyncio.to_thread(self._call, policy.infer, obs)
            else:
                result = self._call(policy.infer, obs)
            infer_ms = (time.perf_counter() - t1) * 1e3
            out = check_actions(result, self.metadata)
            timing = {"infer_ms": infer_ms}
            if prev_total_ms is not None:
                timing["prev_total_ms"] = prev_total_ms
            out["server_timing"] = timing
            await ws.send(packer.pack(out))
            prev_total_ms = (time.perf_counter() - t0) * 1e3

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self._policy is None:  # per-connection policy: no sharing, no lock
            return fn(*args)
        with self._lock:
            return fn(*args)


# ------------------------------------------------------------------------------ CLI


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
    log_level: str = "INFO"
    """Python logging level."""


def build_server(cfg: ServeConfig) -> PolicyServer:
    """Load the policy ``cfg`` names and wrap it in a :class:`PolicyServer` (not started)."""
    from armgym.serve import builtin_policies

    if (cfg.checkpoint is None) == (cfg.policy is None):
        raise ConfigError("give exactly one of --checkpoint PATH or --policy scripted:<Task>")
    kwargs: dict[str, Any] = {
        "host": cfg.host,
        "port": cfg.port,
        "api_key": cfg.api_key or os.environ.get("ARMGYM_API_KEY") or None,
        "max_message_bytes": int(cfg.max_message_mb * 2**20),
        "infer_in_thread": cfg.infer_in_thread,
        "allow_extra_keys": cfg.allow_extra_keys,
    }
    if cfg.checkpoint is not None:
        return PolicyServer(builtin_policies.load_checkpoint_policy(cfg.checkpoint), **kwargs)
    assert cfg.policy is not None
    return PolicyServer(factory=builtin_policies.factory_for(cfg.policy), **kwargs)


def main(argv: list[str] | None = None) -> int:
    cfg = tyro.cli(ServeConfig, args=argv, prog="armgym serve")
    logging.basicConfig(level=cfg.log_level.upper(), format="%(asctime)s %(name)s: %(message)s")
    server = build_server(cfg)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0
