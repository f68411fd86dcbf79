"""``WebsocketPolicyClient``: a remote policy behind the :class:`~armgym.contracts.policy.Policy` protocol.

Speaks the same wire protocol as ``openpi_client.websocket_client_policy`` (so it also
talks to openpi servers), and adds what a control loop needs:

* a connect timeout with exponential backoff between attempts,
* a deadline per request (:class:`RequestTimeoutError`; the connection is then dropped,
  since a late answer would break lockstep, and the next call reconnects),
* transparent reconnection when the server goes away between or during requests
  (the observation is sent again, at most ``retries`` times),
* the ``Authorization: Api-Key`` header, and observation keys filtered to the server's
  schema before sending.

Example::

    with WebsocketPolicyClient("ws://127.0.0.1:8000") as policy:
        actions = policy.infer(obs)["actions"]        # float32[horizon, action_dim]
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import numpy as np
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from armgym.contracts.policy import FeatureSpec, PolicyMetadata
from armgym.errors import ProtocolError
from armgym.transport import wire
from armgym.transport.connection import RequestTimeoutError, ServerError, connect_with_retry

log = logging.getLogger("armgym.serve.client")

RESET_KEY = "__reset__"


def parse_metadata(raw: Any) -> PolicyMetadata:
    """Turn the server's first frame into :class:`PolicyMetadata`.

    openpi servers send free-form metadata; fields armgym does not find default to an
    empty schema, ``action_dim = action_horizon = 0`` and ``fps = 0``, with the whole
    map kept in ``extra``.
    """
    if not isinstance(raw, dict):
        raise ProtocolError(f"metadata frame must be a map, got {type(raw).__name__}")
    try:
        obs = {
            str(k): FeatureSpec(str(v["dtype"]), tuple(int(s) for s in v["shape"]))
            for k, v in (raw.get("observation") or {}).items()
        }
        return PolicyMetadata(
            observation=obs,
            action_dim=int(raw.get("action_dim", 0)),
            action_horizon=int(raw.get("action_horizon", 0)),
            fps=float(raw.get("fps", 0.0)),
            name=str(raw.get("name", "")),
            extra=dict(raw.get("extra") or {}) if "protocol_version" in raw else dict(raw),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ProtocolError(f"malformed metadata frame: {exc}") from exc


__all__ = ["RequestTimeoutError", "ServerError", "WebsocketPolicyClient", "parse_metadata"]


class WebsocketPolicyClient:
    """A policy served by ``armgym serve`` (or openpi) at ``url``.

    Args:
        url: ``ws://host:port`` (a bare ``host:port`` gets ``ws://`` prepended).
        api_key: sent as ``Authorization: Api-Key <key>``.
        connect_timeout: total time to keep trying to connect [s].
        request_timeout: deadline of one ``infer`` round trip [s]; ``None`` = no deadline.
        retries: how many times ``infer`` reconnects and resends after a dropped connection.
        backoff: first wait between connection attempts [s]; doubles up to ``backoff_max``.
        max_message_bytes: largest answer accepted [bytes].
        filter_keys: drop observation keys the server's schema does not list.
    """

    def __init__(
        self,
        url: str = "ws://127.0.0.1:8000",
        *,
        api_key: str | None = None,
        connect_timeout: float = 10.0,
        request_timeout: float | None = 10.0,
        retries: int = 3,
        backoff: float = 0.05,
        backoff_max: float = 2.0,
        max_message_bytes: int = wire.DEFAULT_MAX_MESSAGE_BYTES,
        filter_keys: bool = True,
    ):
        self.url = url if "://" in url else f"ws://{url}"
        self.api_key = api_key
        self.connect_timeout, self.request_timeout = connect_timeout, request_timeout
        self.retries, self.backoff, self.backoff_max = retries, backoff, backoff_max
        self.max_message_bytes = max_message_bytes
        self.filter_keys = filter_keys
        self._packer = wire.Packer()
        self._ws: ClientConnection | None = None
        self.reconnects = 0
        self.server_metadata: dict[str, Any] = {}
        self.metadata: PolicyMetadata = self._connect()

    # ---------------------------------------------------------------- connection

    def _connect(self) -> PolicyMetadata:
        self._ws, self.server_metadata = connect_with_retry(
            self.url,
            api_key=self.api_key,
            connect_timeout=self.connect_timeout,
            backoff=self.backoff,
            backoff_max=self.backoff_max,
            max_message_bytes=self.max_message_bytes,
        )
        return parse_metadata(self.server_metadata)

    def _drop(self) -> None:
        if self._ws is not None:
            with contextlib.suppress(Exception):  # already broken; nothing to release
                self._ws.close()
            self._ws = None

    def _roundtrip(self, frame: bytes) -> Any:
        """Send ``frame``, return the decoded answer; reconnect and resend on a dropped link."""
        for attempt in range(self.retries + 1):
            if self._ws is None:
                self.metadata = self._connect()
                self.reconnects += 1
            ws = self._ws
            assert ws is not None
            try:
                ws.send(frame)
                answer = ws.recv(timeout=self.request_timeout)
            except TimeoutError as exc:
                self._drop()
                raise RequestTimeoutError(
                    f"no answer from {self.url} within {self.request_timeout} s"
                ) from exc
            except ConnectionClosed as exc:
                self._drop()
                code = exc.rcvd.code if exc.rcvd is not None else None
                if code in (1008, 1009, 1011):
                    raise ServerError(
                        f"server closed the connection: {code} {exc.rcvd.reason}"  # type: ignore[union-attr]
                    ) from exc
                if attempt == self.retries:
                    raise ServerError(f"connection to {self.url} lost: {exc}") from exc
                log.warning("connection to %s lost (%s); reconnecting", self.url, exc)
                continue
            if isinstance(answer, str):
                self._drop()  # the server closes after an error
                raise ServerError(f"policy server error:\n{answer}")
            return wire.unpackb(answer)
        raise AssertionError("unreachable")

    # ---------------------------------------------------------------- Policy protocol

    def infer(self, obs: dict[str, np.ndarray]) -> dict[str, Any]:
        """Send one observation, return ``{"actions": float32[horizon, action_dim], ...}``.

        Raises:
            ServerError: the server rejected the observation or the policy failed.
            RequestTimeoutError: no answer within ``request_timeout``.
        """
        schema = self.metadata.observation
        if self.filter_keys and schema:
            obs = {k: obs[k] for k in schema if k in obs}
        result = wire.expect_mapping(self._roundtrip(self._packer.pack(obs)), "answer")
        if not isinstance(result.get("actions"), np.ndarray):
            raise ProtocolError("server answer has no 'actions' array")
        return result

    def reset(self) -> None:
        """Ask an armgym server to reset the policy (no-op for openpi servers)."""
        if "protocol_version" in self.server_metadata:
            self._roundtrip(self._packer.pack({RESET_KEY: True}))

    def close(self) -> None:
        self._drop()

    def __enter__(self) -> WebsocketPolicyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
