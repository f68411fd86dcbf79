"""``RemoteRobot``: a robot served by ``armgym robot-server``, behind the Robot protocol.

The env does not know the difference; ``armgym.envs.make_env`` builds one from an
``EnvConfig`` naming the server::

    env = make_env(EnvConfig(task="PickCube", robot_server="ws://127.0.0.1:8001"))

Observations arrive as the server's robot produced them (same keys, dtypes and bits as
a local :class:`~armgym.robots.sim.SimRobot`), as read-only arrays. If the connection
drops, the server holds the robot; the next call here reconnects (with backoff) and
control resumes. A request that fails mid-flight is not resent (an ``act`` might have
been applied): it raises :class:`~armgym.transport.connection.ServerError` and the next call
reconnects. Errors the server reports are raised as the same armgym exception class
(``InvalidActionError``, ``PhysicsError``, ``ProtocolError``) where one exists.
"""

from __future__ import annotations

import contextlib
from typing import Any

import gymnasium as gym
import numpy as np
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from armgym import errors
from armgym.contracts.observation import Obs
from armgym.errors import ProtocolError
from armgym.robots.base import RobotSpec
from armgym.robots.specs import ROBOTS
from armgym.transport import wire
from armgym.transport.connection import RequestTimeoutError, ServerError, connect_with_retry

#: error class names a robot server may send back, re-raised here as the same class
_REMOTE_ERRORS: dict[str, type[Exception]] = {
    cls.__name__: cls
    for cls in (
        errors.InvalidActionError,
        errors.PhysicsError,
        errors.ProtocolError,
        errors.ConfigError,
    )
}


def _box(d: Any, key: str) -> gym.spaces.Box:
    try:
        dtype = np.dtype(d["dtype"])
        low = np.asarray(d["low"], dtype=dtype)
        high = np.asarray(d["high"], dtype=dtype)
        return gym.spaces.Box(low, high, tuple(d["shape"]), dtype)  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(f"robot server sent a malformed space for {key!r}: {exc}") from exc


class RemoteRobot:
    """A robot in another process or on another machine.

    Args:
        url: ``ws://host:port`` of an ``armgym robot-server``.
        api_key: sent as ``Authorization: Api-Key <key>``.
        connect_timeout: time to keep trying to (re)connect [s].
        request_timeout: deadline of one command [s] (``None`` = none).

    Attributes (from the server's first frame):
        observation_space, action_space, control_hz: as the served robot's.
        robot_name, task_name, control: registry names / control mode.
        spec: the :class:`RobotSpec` if ``robot_name`` is in the local registry, else None.
        info: the whole robot info map.
    """

    def __init__(
        self,
        url: str = "ws://127.0.0.1:8001",
        *,
        api_key: str | None = None,
        connect_timeout: float = 10.0,
        request_timeout: float | None = 10.0,
    ):
        self.url = url if "://" in url else f"ws://{url}"
        self.api_key = api_key
        self.connect_timeout, self.request_timeout = connect_timeout, request_timeout
        self._packer = wire.Packer()
        self._ws: ClientConnection | None = None
        self.reconnects = 0
        self.info: dict[str, Any] = {}
        self._connect()
        info = self.info
        if info.get("kind") != "robot":
            raise ProtocolError(
                f"{self.url} is not an armgym robot server (kind={info.get('kind')!r})"
            )
        spaces = wire.expect_mapping(info.get("observation_space"), "observation_space")
        self.observation_space = gym.spaces.Dict({k: _box(v, k) for k, v in spaces.items()})
        act = wire.expect_mapping(info.get("action_space"), "action_space")
        self.action_space = _box(act.get("action"), "action")
        self.control_hz = float(info["control_hz"])
        self.robot_name: str = str(info.get("robot"))
        self.task_name: str | None = info.get("task")
        self.randomization: str | None = info.get("randomization")
        self.control: str | None = info.get("control")
        self.spec: RobotSpec | None = (
            ROBOTS.get(self.robot_name) if self.robot_name in ROBOTS else None
        )

    # ---------------------------------------------------------------- transport

    def _connect(self) -> None:
        self._ws, self.info = connect_with_retry(
            self.url, api_key=self.api_key, connect_timeout=self.connect_timeout
        )

    def _drop(self) -> None:
        if self._ws is not None:
            with contextlib.suppress(Exception):
                self._ws.close()
            self._ws = None

    def request(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Send one command map, return the decoded answer map (reconnecting first if needed)."""
        if self._ws is None:
            self._connect()
            self.reconnects += 1
        ws = self._ws
        assert ws is not None
        try:
            ws.send(self._packer.pack(msg))
            answer = ws.recv(timeout=self.request_timeout)
        except TimeoutError as exc:
            self._drop()
            raise RequestTimeoutError(
                f"robot server {self.url} did not answer {msg.get('cmd')!r} within "
                f"{self.request_timeout} s"
            ) from exc
        except ConnectionClosed as exc:
            self._drop()
            raise ServerError(
                f"connection to robot server {self.url} lost during {msg.get('cmd')!r} "
                "(the server holds the robot; the next call reconnects)"
            ) from exc
        if isinstance(answer, str):
            name, _, text = answer.partition(": ")
            raise _REMOTE_ERRORS.get(name, ServerError)(f"robot server: {text or answer}")
        return wire.expect_mapping(wire.unpackb(answer), "answer")

    def _obs(self, answer: dict[str, Any]) -> Obs:
        obs = answer.get("obs")
        if not isinstance(obs, dict):
            raise ProtocolError("robot server answer has no 'obs' map")
        return obs

    # ---------------------------------------------------------------- Robot protocol

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Obs:
        """Reset the served robot (and its task scene) and return the first observation."""
        return self._obs(self.request({"cmd": "reset", "seed": seed, "options": options}))

    def act(self, action: np.ndarray) -> Obs:
        """Apply ``action`` (float32[action_dim]; the server clips it) for one control period."""
        arr = np.asarray(action, dtype=np.float32)
        return self._obs(self.request({"cmd": "act", "action": arr}))

    def observe(self) -> Obs:
        return self._obs(self.request({"cmd": "observe"}))

    def close(self) -> None:
        """Close the connection (the server then holds the robot)."""
        self._drop()

    # ---------------------------------------------------------------- sim extras

    def get_sim_state(self) -> np.ndarray:
        """float64[S] physics + controller state of a served SimRobot."""
        state = self.request({"cmd": "get_sim_state"}).get("state")
        if not isinstance(state, np.ndarray):
            raise ProtocolError("robot server answer has no 'state' array")
        return state.copy()

    def set_sim_state(self, state: np.ndarray) -> None:
        self.request({"cmd": "set_sim_state", "state": np.asarray(state, dtype=np.float64)})

    def hold(self) -> None:
        """Close the connection: the server holds the robot until the next command."""
        self._drop()

    def step_held(self) -> None:
        """Nothing to do here: the server steps a held robot itself."""

    def __enter__(self) -> RemoteRobot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
