"""Expose a :class:`~armgym.contracts.robot.Robot` over websockets, with a safety watchdog.

Protocol (same transport and codec as the policy server; see ``docs/serving.md``):

* first frame, server -> client: msgpack(robot info) = ``{"protocol_version", "kind":
  "robot", "robot", "task", "control", "control_hz", "observation_space",
  "action_space", "watchdog_ms", "capabilities"}``; each space is
  ``{key: {"dtype", "shape", "low", "high"}}`` (the action space under key ``"action"``).
* then lockstep requests, each answered by one frame:

  ==================================================  ===================================
  request                                             binary answer
  ==================================================  ===================================
  ``{"cmd": "reset", "seed": int|None, "options"}``   ``{"obs": {...}}``
  ``{"cmd": "act", "action": float[A]}``              ``{"obs": {...}, "clipped": bool}``
  ``{"cmd": "observe"}``                              ``{"obs": {...}}``
  ``{"cmd": "spec"}``                                 the robot info map again
  ``{"cmd": "get_sim_state"}``                        ``{"state": float64[S]}`` (sim only)
  ``{"cmd": "set_sim_state", "state": float64[S]}``   ``{"obs": {...}}`` (sim only)
  ==================================================  ===================================

A request that cannot be served is answered by a **text** frame ``"<ErrorClass>:
<message>"`` (``ProtocolError``, ``InvalidActionError``, ``PhysicsError`` ...) and the
connection stays open, so a robot client can recover without reconnecting.

Safety on the server, whatever the client does: actions are cast to float32, clipped to
the action space, NaN/inf rejected; a watchdog holds the robot (``robot.hold()``:
targets frozen at the current joint positions) when no command arrives for
``watchdog_ms`` or the commanding client's connection drops, and logs the event. A sim
robot keeps stepping physics at its control rate while held (the arm stays put under
gravity and contact). The next ``act`` or ``reset``, from the same or a reconnected
client, resumes control.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from armgym.contracts.robot import Robot, SimStateRobot
from armgym.errors import ArmgymError, ConfigError, InvalidActionError, ProtocolError
from armgym.transport import wire
from armgym.transport.connection import ServerThread, make_process_request

log = logging.getLogger("armgym.serve.robot")


def space_dict(space: gym.spaces.Box) -> dict[str, Any]:
    """A Box as ``{"dtype", "shape", "low", "high"}`` (bounds as arrays of the Box dtype)."""
    return {
        "dtype": str(space.dtype),
        "shape": list(space.shape),
        "low": np.asarray(space.low),
        "high": np.asarray(space.high),
    }


def robot_info(robot: Robot, watchdog_ms: float) -> dict[str, Any]:
    """The first frame: what a :class:`~armgym.robots.remote.RemoteRobot` needs to know."""
    obs_spaces = {
        k: space_dict(s)
        for k, s in robot.observation_space.spaces.items()
        if isinstance(s, gym.spaces.Box)
    }
    caps = ["get_sim_state", "set_sim_state"] if isinstance(robot, SimStateRobot) else []
    return {
        "protocol_version": wire.PROTOCOL_VERSION,
        "kind": "robot",
        "robot": robot.robot_name,
        "task": robot.task_name,
        "randomization": robot.randomization,
        "control": robot.control,
        "control_hz": float(robot.control_hz),
        "observation_space": obs_spaces,
        "action_space": {"action": space_dict(robot.action_space)},
        "watchdog_ms": watchdog_ms,
        "capabilities": caps,
    }


def check_action(value: Any, space: gym.spaces.Box) -> tuple[np.ndarray, bool]:
    """Validate an action against ``space``; return (float32 action clipped, whether clipped)."""
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
        raise InvalidActionError(
            f"'action' must be a numeric array of shape {space.shape}, got {type(value).__name__}"
        )
    if value.shape != space.shape:
        raise InvalidActionError(f"action has shape {value.shape}, expected {space.shape}")
    action = value.astype(np.float32)
    if not np.isfinite(action).all():
        raise InvalidActionError(
            f"action contains NaN or inf at indices {np.flatnonzero(~np.isfinite(action)).tolist()}"
        )
    clipped = np.clip(action, space.low, space.high)
    return clipped, bool((clipped != action).any())


class RobotServer:
    """Serve one robot to websocket clients; commands are executed one at a time.

    Args:
        robot: the robot to expose (e.g. a :class:`~armgym.robots.sim.SimRobot`).
        host / port: bind address; port 0 picks a free one (see :meth:`run_in_thread`).
        api_key: if set, clients must send ``Authorization: Api-Key <key>``.
        watchdog_ms: hold the robot after this long without a command [ms]; 0 disables
            the timeout (a dropped connection still holds it).
        hold_physics: while held, keep stepping a sim robot's physics at ``control_hz``.
        max_message_bytes: largest request frame accepted.
    """

    def __init__(
        self,
        robot: Robot,
        *,
        host: str = "127.0.0.1",
        port: int = 8001,
        api_key: str | None = None,
        watchdog_ms: float = 500.0,
        hold_physics: bool = True,
        max_message_bytes: int = wire.DEFAULT_MAX_MESSAGE_BYTES,
    ):
        if watchdog_ms < 0:
            raise ConfigError(f"watchdog_ms must be >= 0, got {watchdog_ms}")
        self.robot = robot
        self.host, self.port, self.api_key = host, port, api_key
        self.watchdog_s = watchdog_ms / 1e3
        self.hold_physics = hold_physics
        self.max_message_bytes = max_message_bytes
        self.period = 1.0 / robot.control_hz
        self.info = robot_info(robot, watchdog_ms)
        self._info_frame = wire.packb(self.info)
        self.held = False
        self.active = False  # a client has reset or commanded the robot since the last hold
        self.last_command = time.monotonic()
        self.events: list[dict[str, Any]] = []  # {"t": monotonic s, "event", "reason"}
        self._controller: ServerConnection | None = None
        self._commands: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "reset": self._cmd_reset,
            "act": self._cmd_act,
            "observe": lambda msg: {"obs": self.robot.observe()},
            "spec": lambda msg: self.info,
            "get_sim_state": self._cmd_get_sim_state,
            "set_sim_state": self._cmd_set_sim_state,
        }

    # -------------------------------------------------------------- lifecycle

    async def start(self) -> Server:
        """Start listening (and the watchdog) on the running loop."""
        server = await serve(
            self._handler,
            self.host,
            self.port,
            compression=None,
            max_size=self.max_message_bytes,
            process_request=make_process_request(self.api_key),
        )
        watchdog = asyncio.get_running_loop().create_task(self._watchdog())
        self._watchdog_task = watchdog
        return server

    def serve_forever(self) -> None:
        """Block serving until interrupted (what ``armgym robot-server`` runs)."""

        async def _main() -> None:
            server = await self.start()
            for sock in server.sockets:
                log.info("robot %s on ws://%s:%s", self.info["robot"], *sock.getsockname()[:2])
            await server.serve_forever()

        asyncio.run(_main())

    def run_in_thread(self) -> ServerThread:
        """Context manager running the server in a daemon thread; ``.port`` is the bound port."""
        return ServerThread(self.start, name="armgym-robot-server")

    # -------------------------------------------------------------- safety

    def _event(self, event: str, reason: str) -> None:
        self.events.append({"t": time.monotonic(), "event": event, "reason": reason})
        log.warning("robot %s: %s (%s)", self.info["robot"], event, reason)

    def hold(self, reason: str) -> None:
        """Freeze the robot where it is now; logged as a ``hold`` event."""
        if self.held:
            return
        self.robot.hold()
        self.held, self.active = True, False
        self._event("hold", reason)

    async def _watchdog(self) -> None:
        tick = min(self.period, self.watchdog_s or self.period) / 4
        next_hold_step = time.monotonic()
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            if self.active and self.watchdog_s and now - self.last_command > self.watchdog_s:
                self.hold(f"no command for {1e3 * (now - self.last_command):.0f} ms")
                next_hold_step = now
            if self.held and self.hold_physics and now >= next_hold_step:
                self.robot.step_held()
                next_hold_step = max(next_hold_step + self.period, now - self.period)

    # -------------------------------------------------------------- commands

    def _resume(self, ws: ServerConnection, cmd: str) -> None:
        if self.held:
            self.held = False
            self._event("resume", f"{cmd} from {ws.remote_address}")
        self.active = True
        self._controller = ws

    def _cmd_reset(self, msg: dict[str, Any]) -> dict[str, Any]:
        seed, options = msg.get("seed"), msg.get("options")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
            raise ProtocolError(f"'seed' must be a non-negative int or None, got {seed!r}")
        if options is not None and not isinstance(options, dict):
            raise ProtocolError(f"'options' must be a map or None, got {type(options).__name__}")
        return {"obs": self.robot.reset(seed=seed, options=options)}

    def _cmd_act(self, msg: dict[str, Any]) -> dict[str, Any]:
        if "action" not in msg:
            raise ProtocolError("'act' needs an 'action' array")
        action, clipped = check_action(msg["action"], self.robot.action_space)
        return {"obs": self.robot.act(action), "clipped": clipped}

    def _sim_robot(self) -> SimStateRobot:
        if not isinstance(self.robot, SimStateRobot):
            raise ProtocolError(f"robot {self.info['robot']!r} has no sim state")
        return self.robot

    def _cmd_get_sim_state(self, msg: dict[str, Any]) -> dict[str, Any]:
        return {"state": np.asarray(self._sim_robot().get_sim_state(), dtype=np.float64)}

    def _cmd_set_sim_state(self, msg: dict[str, Any]) -> dict[str, Any]:
        robot = self._sim_robot()
        state = msg.get("state")
        if not isinstance(state, np.ndarray) or state.dtype != np.float64 or state.ndim != 1:
            raise ProtocolError("'state' must be a float64[S] array from get_sim_state")
        wire.check_finite("state", state)
        robot.set_sim_state(state)
        return {"obs": self.robot.observe()}

    def handle(self, ws: ServerConnection, frame: bytes | str) -> dict[str, Any]:
        """Decode and execute one request; raises ArmgymError subclasses on bad requests."""
        msg = wire.expect_mapping(wire.unpackb(frame), "request")
        cmd = msg.get("cmd")
        fn = self._commands.get(cmd) if isinstance(cmd, str) else None
        if fn is None:
            raise ProtocolError(f"unknown cmd {cmd!r}; expected one of {sorted(self._commands)}")
        self.last_command = time.monotonic()
        if cmd in ("reset", "act", "set_sim_state"):
            self._resume(ws, cmd)
        return fn(msg)

    async def _handler(self, ws: ServerConnection) -> None:
        packer = wire.Packer()
        try:
            await ws.send(self._info_frame)
            async for frame in ws:
                try:
                    answer = packer.pack(self.handle(ws, frame))
                except ArmgymError as exc:
                    await ws.send(f"{type(exc).__name__}: {exc}")
                    continue
                except Exception as exc:  # robot failure: report, keep serving
                    log.exception("robot command failed")
                    await ws.send(f"{type(exc).__name__}: {exc}")
                    continue
                await ws.send(answer)
        except ConnectionClosed:
            pass
        finally:
            if ws is self._controller:
                self._controller = None
                if self.active:
                    self.hold(f"connection from {ws.remote_address} dropped")
