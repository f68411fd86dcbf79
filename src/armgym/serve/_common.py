"""Pieces shared by the policy server and the robot server.

* :func:`make_process_request`: ``GET /healthz`` -> 200 and ``Authorization: Api-Key``
  checking during the websocket handshake (401 on a missing or wrong key).
* :func:`send_error`: the openpi error convention, a text frame then a close code.
* :class:`ServerThread`: run an asyncio websocket server in a daemon thread, e.g. for
  tests and benchmarks; ``port=0`` picks a free port and :attr:`ServerThread.port` says
  which.
"""

from __future__ import annotations

import asyncio
import hmac
import http
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.server import Server, ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

log = logging.getLogger("armgym.serve")

#: Close codes armgym servers use (RFC 6455 numbers).
CLOSE_POLICY_VIOLATION = 1008  # malformed or invalid request (ProtocolError)
CLOSE_TOO_BIG = 1009  # frame larger than max_message_bytes (sent by websockets)
CLOSE_INTERNAL_ERROR = 1011  # the policy / robot raised (openpi's convention)

ProcessRequest = Callable[[ServerConnection, Request], Response | None]


def auth_header(api_key: str | None) -> dict[str, str] | None:
    """HTTP headers a client sends for ``api_key`` (openpi's ``Api-Key`` scheme)."""
    return {"Authorization": f"Api-Key {api_key}"} if api_key else None


def make_process_request(api_key: str | None) -> ProcessRequest:
    """Handshake hook: ``/healthz`` answers 200 ``OK``; other paths need the API key if set."""
    expected = f"Api-Key {api_key}".encode() if api_key else None

    def process_request(connection: ServerConnection, request: Request) -> Response | None:
        if request.path.split("?", 1)[0] == "/healthz":
            return connection.respond(http.HTTPStatus.OK, "OK\n")
        if expected is not None:
            given = request.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                log.warning("rejected connection from %s: bad API key", connection.remote_address)
                response = connection.respond(
                    http.HTTPStatus.UNAUTHORIZED,
                    "401 Unauthorized: send the header 'Authorization: Api-Key <key>'\n",
                )
                response.headers["WWW-Authenticate"] = "Api-Key"
                return response
        return None

    return process_request


def close_reason(text: str) -> str:
    """Trim ``text`` to fit a close frame's reason (123 bytes of UTF-8)."""
    raw = text.replace("\n", " ").encode()[:120]
    return raw.decode("utf-8", "ignore")


async def send_error(ws: ServerConnection, message: str, code: int) -> None:
    """Send ``message`` as a text frame, then close with ``code``; ignore a gone peer."""
    try:
        await ws.send(message)
        await ws.close(code=code, reason=close_reason(message))
    except ConnectionClosed:
        pass


class ServerThread:
    """Run ``start()`` (a coroutine returning a websockets ``Server``) on a private loop.

    Use as a context manager; on exit the server closes and the thread joins::

        with ServerThread(server.start) as t:
            client = WebsocketPolicyClient(f"ws://127.0.0.1:{t.port}")
    """

    def __init__(self, start: Callable[[], Awaitable[Server]], *, name: str = "armgym-server"):
        self._start = start
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._ready = threading.Event()
        self._server: Server | None = None
        self._error: BaseException | None = None
        self.port: int = 0
        self.host: str = ""

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._server = self._loop.run_until_complete(self._start())
            sock_name: Any = next(iter(self._server.sockets)).getsockname()
            self.host, self.port = sock_name[0], sock_name[1]
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop.run_until_complete(self._server.serve_forever())
        except asyncio.CancelledError:
            pass
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def start(self) -> ServerThread:
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        return self

    def stop(self, timeout: float = 5.0) -> None:
        if self._server is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._server.close)
        self._thread.join(timeout)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
