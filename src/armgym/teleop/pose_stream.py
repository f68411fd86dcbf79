"""A websocket endpoint that feeds a pose stream into a ``PoseTeleop``.

Any tracker (a VR controller bridge, a motion-capture rig, a script) drives armgym by
sending one message per tracking sample, as a JSON **text** frame or a msgpack
**binary** frame (armgym's wire codec, so numpy arrays are fine)::

    {
      "position": [x, y, z],            # metres, device frame
      "orientation": [w, x, y, z],      # unit quaternion, device frame
      "buttons": {"move": true, "gripper": false, "intervention": false},
      "t": 1732800000.123               # optional: sender's time.time() [s]
    }

``buttons`` may also hold ``success``, ``failure``, ``rerecord``, ``stop`` (presses fire
episode events) and may be omitted (all released); an optional ``"scale"`` multiplies the
configured translation scale. The WebXR page of the ``teleop`` package
(``armgym.teleop.phone``) sends ``{"type": "pose", "data": {...}}``; that shape is
accepted too and translated (see ``webxr_sample``). Messages of another ``type`` (the
page's ``"log"``) are ignored.

The server never answers a good message (a stream is one-way). A bad message is
answered with a text frame ``"ProtocolError: <what is wrong>"`` and the connection stays
open. Websocket connections need ``Authorization: Api-Key <key>`` or, for browsers that
cannot set headers, ``?key=<key>`` in the URL when an API key is set. ``GET /healthz``
answers 200.
When a client disconnects, the device releases its clutch: the arm holds.
"""

from __future__ import annotations

import asyncio
import hmac
import http
import json
import logging
import math
import os
import ssl
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from armgym.errors import ConfigError, ProtocolError
from armgym.teleop.base import TeleopCommand
from armgym.teleop.pose import BUTTON_EVENTS, PoseSample, PoseTeleop, PoseTeleopConfig
from armgym.transport import wire
from armgym.transport.connection import ServerThread

log = logging.getLogger("armgym.teleop.pose_stream")

BUTTONS = ("move", "gripper", "intervention", *BUTTON_EVENTS)
DEFAULT_PORT = 8766
MAX_MESSAGE_BYTES = 64 * 1024


def _vector(value: Any, n: int, key: str) -> np.ndarray:
    try:
        v = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise ProtocolError(f"{key!r} must be {n} numbers, got {value!r}") from exc
    if v.shape != (n,) or not np.isfinite(v).all():
        raise ProtocolError(f"{key!r} must be {n} finite numbers, got {value!r}")
    return v


def _unit_quat(value: Any, key: str) -> np.ndarray:
    q = _vector(value, 4, key)
    norm = float(np.linalg.norm(q))
    if not 0.9 < norm < 1.1:
        raise ProtocolError(f"{key!r} must be a unit quaternion (w, x, y, z), norm {norm:.3f}")
    return q / norm


def parse_sample(msg: Mapping[str, Any], recv_t: float) -> PoseSample:
    """An armgym pose message (module docstring) -> ``PoseSample``; ``ProtocolError`` if bad."""
    for key in ("position", "orientation"):
        if key not in msg:
            raise ProtocolError(f"pose message has no {key!r}; see docs/teleop.md")
    buttons = msg.get("buttons", {})
    if not isinstance(buttons, Mapping):
        raise ProtocolError(f"'buttons' must be a map of name -> bool, got {buttons!r}")
    unknown = sorted(set(buttons) - set(BUTTONS))
    if unknown:
        raise ProtocolError(f"unknown buttons {unknown}; valid: {', '.join(BUTTONS)}")
    scale, sent = msg.get("scale", 1.0), msg.get("t")
    if not isinstance(scale, int | float) or not math.isfinite(scale) or scale <= 0:
        raise ProtocolError(f"'scale' must be a positive number, got {scale!r}")
    if sent is not None and not isinstance(sent, int | float):
        raise ProtocolError(f"'t' must be the sender's time.time() in seconds, got {sent!r}")
    return PoseSample(
        position=_vector(msg["position"], 3, "position"),
        quat=_unit_quat(msg["orientation"], "orientation"),
        buttons={str(k): bool(v) for k, v in buttons.items()},
        scale=float(scale),
        sent_t=None if sent is None else float(sent),
        recv_t=recv_t,
    )


def webxr_sample(data: Mapping[str, Any], recv_t: float) -> PoseSample:
    """The ``teleop`` package's WebXR page message (``{"type": "pose", "data": data}``).

    ``data``: ``position {x, y, z}`` [m] and ``orientation {x, y, z, w}`` in the WebXR
    reference space (x right, y up, z back), ``move`` (the "hold to move" button or the
    controller's grip), ``gripper`` ("open" | "close"), ``scale`` (slider, 0.2-1),
    ``reservedButtonA`` (-> intervention toggle), ``reservedButtonB`` (-> success).
    """
    try:
        p, o = data["position"], data["orientation"]
        msg = {
            "position": [p["x"], p["y"], p["z"]],
            "orientation": [o["w"], o["x"], o["y"], o["z"]],
            "buttons": {
                "move": bool(data.get("move", False)),
                "gripper": data.get("gripper") == "close",
                "intervention": bool(data.get("reservedButtonA", False)),
                "success": bool(data.get("reservedButtonB", False)),
            },
            "scale": data.get("scale", 1.0),
        }
    except (KeyError, TypeError) as exc:
        raise ProtocolError(f"WebXR pose message lacks {exc}; expected the teleop page") from exc
    return parse_sample(msg, recv_t)


def decode_message(frame: str | bytes, recv_t: float) -> PoseSample | None:
    """One websocket frame -> a sample, or None for a message to ignore (page logs)."""
    try:
        msg = json.loads(frame) if isinstance(frame, str) else wire.unpackb(frame)
    except (ValueError, ProtocolError) as exc:
        raise ProtocolError(f"pose frame is neither JSON text nor msgpack: {exc}") from exc
    if not isinstance(msg, Mapping):
        raise ProtocolError(f"pose message must be a map, got {type(msg).__name__}")
    if "type" in msg:
        if msg["type"] != "pose":
            return None
        if not isinstance(msg.get("data"), Mapping):
            raise ProtocolError("a 'type': 'pose' message needs a 'data' map")
        return webxr_sample(msg["data"], recv_t)
    return parse_sample(msg, recv_t)


def _key_ok(request: Request, api_key: str) -> bool:
    given = request.headers.get("Authorization", "")
    if hmac.compare_digest(given.encode(), f"Api-Key {api_key}".encode()):
        return True
    query = parse_qs(urlsplit(request.path).query).get("key", [""])[0]
    return hmac.compare_digest(query.encode(), api_key.encode())


def _response(status: http.HTTPStatus, body: bytes, content_type: str) -> Response:
    headers = Headers([("Content-Type", content_type), ("Content-Length", str(len(body)))])
    headers["Cache-Control"] = "no-store"
    return Response(status.value, status.phrase, headers, body)


class PoseStreamServer:
    """Serve a pose stream endpoint for ``device`` (see the module docstring).

    Args:
        device: the ``PoseTeleop`` that receives the samples.
        host / port: bind address (default 127.0.0.1; port 0 picks a free one).
        api_key: if set, required in the ``Authorization`` header or ``?key=``.
        ssl_context: serve ``wss://`` / ``https://`` (the phone page needs it).
        pages: extra plain HTTP GET routes, path -> (body, content type): public static
            files (a page's ``<script src>`` cannot carry the key); the websocket needs
            the key (``armgym.teleop.phone`` serves the WebXR page this way).
    """

    def __init__(
        self,
        device: PoseTeleop,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        api_key: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        pages: Mapping[str, tuple[bytes, str]] | None = None,
    ):
        if not 0 <= port < 65536:
            raise ConfigError(f"port must be in [0, 65535], got {port}")
        self.device, self.host, self.port, self.api_key = device, host, port, api_key
        self.ssl_context = ssl_context
        self.pages = dict(pages or {})
        self.messages = 0
        self.errors = 0
        self.connections = 0

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if path == "/healthz":
            return _response(http.HTTPStatus.OK, b"OK\n", "text/plain")
        if path in self.pages and "upgrade" not in request.headers.get("Connection", "").lower():
            body, content_type = self.pages[path]  # static files: no key needed
            return _response(http.HTTPStatus.OK, body, content_type)
        if self.api_key is not None and not _key_ok(request, self.api_key):
            log.warning("rejected %s from %s: bad API key", path, connection.remote_address)
            return _response(
                http.HTTPStatus.UNAUTHORIZED,
                b"401 Unauthorized: send 'Authorization: Api-Key <key>' or add ?key=<key>\n",
                "text/plain",
            )
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        log.info("pose stream connected: %s", ws.remote_address)
        try:
            async for frame in ws:
                try:
                    sample = decode_message(frame, self.device.clock())
                except ProtocolError as exc:
                    self.errors += 1
                    await ws.send(f"ProtocolError: {exc}")
                    continue
                if sample is not None:
                    self.messages += 1
                    self.device.update(sample)
        except ConnectionClosed:
            pass
        finally:
            self.device.disconnect()
            log.info("pose stream disconnected: %s (the arm holds)", ws.remote_address)

    async def start(self) -> Server:
        """Bind and start serving on the running loop (see ``run_in_thread``)."""
        return await serve(
            self._handler,
            self.host,
            self.port,
            process_request=self._process_request,
            ssl=self.ssl_context,
            compression=None,
            max_size=MAX_MESSAGE_BYTES,
            ping_interval=None,
        )

    def run_in_thread(self) -> ServerThread:
        """Start serving in a daemon thread; ``.port`` / ``.url`` say where, ``.stop()``."""
        return ServerThread(self.start, name="armgym-pose-stream").start()

    def serve_forever(self) -> None:
        """Block serving until interrupted."""

        async def main() -> None:
            server = await self.start()
            await server.serve_forever()

        asyncio.run(main())


def pose_message(
    position: Any,
    orientation: Any,
    buttons: Mapping[str, bool] | None = None,
    *,
    binary: bool = False,
    sent_t: float | None = None,
) -> str | bytes:
    """Encode one armgym pose message (JSON text, or msgpack bytes with ``binary``)."""
    msg: dict[str, Any] = {
        "position": [float(x) for x in position],
        "orientation": [float(x) for x in orientation],
        "buttons": dict(buttons or {}),
        "t": time.time() if sent_t is None else sent_t,
    }
    return wire.packb(msg) if binary else json.dumps(msg)


@dataclass(frozen=True)
class PoseStreamConfig:
    """``--source pose-stream``: a websocket endpoint any tracker can send poses to."""

    host: str = "127.0.0.1"
    """Bind address (127.0.0.1: only this machine; a bridge on another needs 0.0.0.0)."""
    port: int = DEFAULT_PORT
    """TCP port (0: a free one)."""
    api_key: str | None = None
    """Required key (default: $ARMGYM_API_KEY if set)."""
    pose: PoseTeleopConfig = field(default_factory=PoseTeleopConfig)
    """Mapping, filtering and limits of the device."""


class PoseStreamTeleop:
    """A ``TeleopDevice``: a ``PoseTeleop`` fed by a ``PoseStreamServer`` in a thread.

    ``url`` is where to send the stream; ``close()`` stops the server. ``clock`` stamps
    arrivals and paces the device (tests replace it to replay streams in virtual time).
    """

    def __init__(
        self,
        config: PoseStreamConfig | None = None,
        clock: Callable[[], float] = time.perf_counter,
        **server_kwargs: Any,
    ):
        cfg = config or PoseStreamConfig()
        self.device = PoseTeleop(cfg.pose, clock=clock)
        key = cfg.api_key or os.environ.get("ARMGYM_API_KEY") or None
        self.server = PoseStreamServer(
            self.device, host=cfg.host, port=cfg.port, api_key=key, **server_kwargs
        )
        self.thread = self.server.run_in_thread()
        scheme = "wss" if self.server.ssl_context is not None else "ws"
        self.url = f"{scheme}://{self.thread.host}:{self.thread.port}"
        self.announce()

    def announce(self) -> None:
        """Say on stderr where to send the stream."""
        key = " (with an API key)" if self.server.api_key else ""
        print(
            f"pose stream: send pose messages to {self.url}{key}; see docs/teleop.md",
            file=sys.stderr,
        )

    @property
    def intervention(self) -> bool:
        return self.device.intervention

    @intervention.setter
    def intervention(self, value: bool) -> None:
        self.device.intervention = value

    def poll(self) -> TeleopCommand:
        return self.device.poll()

    def close(self) -> None:
        self.thread.stop()
        self.device.close()
