"""Serve a :class:`~armgym.contracts.policy.Policy` over websockets, speaking openpi's protocol.

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

``--max-batch B --batch-window-ms W`` (off by default) stacks requests of several
connections into one ``policy.infer_batch(list_of_obs)`` call (:mod:`armgym.serve.batching`);
answers then carry ``server_timing.batch_size`` and ``server_timing.queue_ms``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from armgym.contracts.policy import Policy, PolicyMetadata, SessionPolicy
from armgym.errors import ConfigError, ProtocolError
from armgym.serve.batching import Batcher, batch_function, session_batch_function
from armgym.transport import wire
from armgym.transport.connection import (
    CLOSE_INTERNAL_ERROR,
    CLOSE_POLICY_VIOLATION,
    ServerThread,
    make_process_request,
    send_error,
)

log = logging.getLogger("armgym.serve.policy")

RESET_KEY = "__reset__"
_F32 = np.dtype(np.float32)


def is_reset(msg: dict[str, Any]) -> bool:
    """``{"__reset__": True}``: the armgym reset request."""
    return len(msg) == 1 and msg.get(RESET_KEY) is True


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
        and actions.dtype == _F32
        and actions.shape == (meta.action_horizon, meta.action_dim)
        and wire.all_finite(actions)
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
    if not wire.all_finite(actions):
        raise RuntimeError("policy returned NaN or inf actions")
    out = dict(result)
    out["actions"] = actions.astype(np.float32, copy=False)
    return out


class PolicyServer:
    """Websocket server for one policy (shared by all clients) or a policy per connection.

    Args:
        policy: the policy every connection talks to (calls are serialised by a lock). A
            :class:`~armgym.contracts.policy.SessionPolicy` (armgym's learned policies)
            is forked per connection instead: one model, a history and noise generator
            per client.
        factory: alternatively, build a fresh policy per connection (stateful policies
            such as scripted experts); exactly one of ``policy`` / ``factory``.
        host: interface to bind; ``127.0.0.1`` unless you mean to expose it.
        port: TCP port; 0 picks a free one (see :meth:`run_in_thread`).
        api_key: if set, clients must send ``Authorization: Api-Key <key>``.
        max_message_bytes: largest observation frame accepted (bigger -> close 1009).
        allow_extra_keys: accept observation keys not in the schema (they are passed on).
        infer_in_thread: run ``infer`` in a worker thread so the event loop stays
            responsive for slow (e.g. torch) policies; costs ~50 us per call.
        max_batch: > 1 turns batching on: requests of several connections go through one
            ``policy.infer_batch(list_of_obs)`` call of at most this many observations
            (see :mod:`armgym.serve.batching`). Needs a shared ``policy`` with a list-based
            ``infer_batch``, or per-connection policies with ``infer_sessions`` (learned
            policies); otherwise requests are served one at a time in a worker thread.
        batch_window_ms: how long a batch's first request waits for others [ms].
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
        max_batch: int = 1,
        batch_window_ms: float = 0.0,
    ):
        if (policy is None) == (factory is None):
            raise ConfigError("PolicyServer needs exactly one of policy= or factory=")
        if isinstance(policy, SessionPolicy):
            # a stateful policy that can share its model (LearnedPolicy): one fork per
            # connection, so clients never mix observation histories or noise
            factory, policy = policy.fork, None
        if max_batch < 1 or batch_window_ms < 0:
            raise ConfigError(
                f"--max-batch must be >= 1 and --batch-window-ms >= 0, "
                f"got {max_batch} and {batch_window_ms}"
            )
        if batch_window_ms > 0 and max_batch == 1:
            raise ConfigError("--batch-window-ms needs --max-batch > 1 (batching is off)")
        self._policy = policy
        self._factory = factory
        self._probe = policy if policy is not None else factory()  # type: ignore[misc]
        self.metadata: PolicyMetadata = self._probe.metadata
        self._meta_frame = wire.packb(metadata_dict(self.metadata))
        self._schema = wire.CompiledSchema(
            {k: (v.dtype, tuple(v.shape)) for k, v in self.metadata.observation.items()},
            allow_extra=allow_extra_keys,
            history=self.metadata.obs_horizon,
        )
        self.host, self.port, self.api_key = host, port, api_key
        self.max_message_bytes = max_message_bytes
        self.allow_extra_keys = allow_extra_keys
        self.infer_in_thread = infer_in_thread
        self._lock = threading.Lock()
        self.connections = 0  # currently open, for tests and logs
        self.sessions = 0  # connections past the metadata frame (lockstep loops)
        self.batcher: Batcher | None = None
        self._session_batching = False  # batch items are (connection's policy, obs)
        if max_batch > 1:
            self._init_batching(max_batch, batch_window_ms)

    def _init_batching(self, max_batch: int, window_ms: float) -> None:
        if self._policy is None:
            fn, why = session_batch_function(self._probe)
            self._session_batching = fn is not None
        else:
            fn, why = batch_function(self._policy)
        if fn is None:
            log.warning(
                "batching disabled for %s: %s; serving requests one at a time in a worker thread",
                self.metadata.name or type(self._probe).__name__,
                why,
            )
            self.infer_in_thread = True
            return
        self.batcher = Batcher(
            fn,
            max_batch=max_batch,
            window_s=window_ms / 1e3,
            lock=self._lock,
            waiting_limit=lambda: self.sessions,
        )
        log.info(
            "batching on: up to %d requests per infer_batch call, window %.1f ms",
            max_batch,
            window_ms,
        )

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
            # everything loaded so far lives as long as the server: keep it out of the
            # cyclic GC's full collections (shorter pauses, lower p99)
            gc.collect()
            gc.freeze()
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
        if self.batcher is not None:
            return await self._batched_session(ws, policy, self.batcher)
        # Hot path: locals instead of attribute look-ups, no per-request logging, and no
        # reference to a request's buffers (frame, decoded arrays) kept while waiting for
        # the next frame: holding ~0.3 MB across recv() made each image request pay for
        # fresh memory (page faults), +0.1-0.3 ms p50 measured on loopback.
        recv, send, perf = ws.recv, ws.send, time.perf_counter
        pack, unpackb, validate = wire.Packer().pack, wire.unpackb, self._schema.validate
        meta, in_thread = self.metadata, self.infer_in_thread
        infer, lock = policy.infer, (self._lock if self._policy is not None else None)
        prev_total_ms: float | None = None
        while True:
            frame = await recv()
            t0 = perf()
            obs = unpackb(frame)
            del frame
            if type(obs) is dict and RESET_KEY in obs and is_reset(obs):
                await self._reset(policy, in_thread)
                await send(pack({"reset": True}))
                continue
            validate(obs)
            t1 = perf()
            if in_thread:
                result = await asyncio.to_thread(self._call, infer, obs)
            elif lock is None:
                result = infer(obs)
            else:
                with lock:
                    result = infer(obs)
            infer_ms = (perf() - t1) * 1e3
            out = check_actions(result, meta)
            out["server_timing"] = (
                {"infer_ms": infer_ms}
                if prev_total_ms is None
                else {"infer_ms": infer_ms, "prev_total_ms": prev_total_ms}
            )
            reply = pack(out)
            del obs, result, out
            await send(reply)
            prev_total_ms = (perf() - t0) * 1e3

    async def _batched_session(
        self, ws: ServerConnection, policy: Policy, batcher: Batcher
    ) -> None:
        recv, send, perf = ws.recv, ws.send, time.perf_counter
        pack, unpackb, validate = wire.Packer().pack, wire.unpackb, self._schema.validate
        meta, sessions = self.metadata, self._session_batching
        prev_total_ms: float | None = None
        self.sessions += 1
        try:
            while True:
                frame = await recv()
                t0 = perf()
                obs = unpackb(frame)
                del frame
                if type(obs) is dict and RESET_KEY in obs and is_reset(obs):
                    await self._reset(policy, True)
                    await send(pack({"reset": True}))
                    continue
                validate(obs)  # a bad request is answered here and never joins a batch
                item = (policy, obs) if sessions else obs
                result, batch_size, queue_ms, infer_ms = await batcher.submit(item)
                out = check_actions(result, meta)
                timing: dict[str, Any] = {
                    "infer_ms": infer_ms,
                    "batch_size": batch_size,
                    "queue_ms": queue_ms,
                }
                if prev_total_ms is not None:
                    timing["prev_total_ms"] = prev_total_ms
                out["server_timing"] = timing
                reply = pack(out)
                del obs, item, result, out  # see _session
                await send(reply)
                prev_total_ms = (perf() - t0) * 1e3
        finally:
            self.sessions -= 1

    async def _reset(self, policy: Policy, in_thread: bool) -> None:
        if in_thread:
            await asyncio.to_thread(self._call, policy.reset)
        else:
            self._call(policy.reset)

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self._policy is None:  # per-connection policy: no sharing, no lock
            return fn(*args)
        with self._lock:
            return fn(*args)
