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
import time
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.server import Server, ServerConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.http11 import Request, Response
from websockets.sync.client import ClientConnection, connect

from armgym.errors import ArmgymError
from armgym.transport import wire

log = logging.getLogger("armgym.serve")

#: Close codes armgym servers use (RFC 6455 numbers).
CLOSE_POLICY_VIOLATION = 1008  # malformed or invalid request (ProtocolError)
CLOSE_TOO_BIG = 1009  # frame larger than max_message_bytes (sent by websockets)
CLOSE_INTERNAL_ERROR = 1011  # the policy / robot raised (openpi's convention)

ProcessRequest = Callable[[ServerConnection, Request], Response | None]


def auth_header(api_key: str | None) -> dict[str, str] | None:
    """HTTP headers a client sends for ``api_key`` (openpi's ``Api-Key`` scheme)."""
    return {"Authorization": f"Api-Key {api_key}"} if api_key else None


class ServerError(ArmgymError, RuntimeError):
    """The server answered with an error (text frame) or refused the connection."""


class RequestTimeoutError(ArmgymError, TimeoutError):
    """No answer within the request deadline (or no connection within the connect timeout)."""


def connect_with_retry(
    url: str,
    *,
    api_key: str | None = None,
    connect_timeout: float = 10.0,
    backoff: float = 0.05,
    backoff_max: float = 2.0,
    max_message_bytes: int = wire.DEFAULT_MAX_MESSAGE_BYTES,
) -> tuple[ClientConnection, dict[str, Any]]:
    """Connect to an armgym/openpi server and read its first (metadata) frame.

    Retries refused/failed connections with exponential backoff (``backoff`` doubling up
    to ``backoff_max`` [s]) until ``connect_timeout`` [s] has passed.

    Returns:
        the open connection and the decoded metadata map.

    Raises:
        ServerError: HTTP error status (401 = missing/wrong API key) or an error frame.
        RequestTimeoutError: no connection within ``connect_timeout``.
    """
    deadline = time.monotonic() + connect_timeout
    delay, attempt = backoff, 0
    while True:
        attempt += 1
        try:
            ws = connect(
                url,
                compression=None,
                max_size=max_message_bytes,
                additional_headers=auth_header(api_key),
                open_timeout=max(deadline - time.monotonic(), 0.05),
                proxy=None,
                ping_interval=None,
                legacy=True,
            )
            first = ws.recv(timeout=max(deadline - time.monotonic(), 0.05))
        except InvalidStatus as exc:
            status = exc.response.status_code
            hint = " (missing or wrong API key)" if status == 401 else ""
            raise ServerError(f"{url} refused the connection: HTTP {status}{hint}") from exc
        except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed) as exc:
            if time.monotonic() + delay >= deadline:
                raise RequestTimeoutError(
                    f"could not connect to {url} within {connect_timeout:.1f} s "
                    f"({attempt} attempts; last error: {exc!r}). Is the server running?"
                ) from exc
            log.debug("connect attempt %d to %s failed: %r", attempt, url, exc)
            time.sleep(delay)
            delay = min(delay * 2, backoff_max)
            continue
        if isinstance(first, str):
            ws.close()
            raise ServerError(f"server sent an error instead of metadata:\n{first}")
        return ws, wire.expect_mapping(wire.unpackb(first), "metadata")


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
            pending = asyncio.all_tasks(self._loop)
            for task in pending:  # e.g. a robot server's watchdog
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
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
