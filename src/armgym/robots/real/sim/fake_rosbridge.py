"""A stand-in rosbridge server that behaves like Interbotix ``xs_sdk`` (ROS 2), for tests.

It speaks rosbridge v2's JSON over a websocket on 127.0.0.1 (``op`` = ``subscribe``,
``advertise``, ``publish``, ``call_service`` / ``service_response``) and implements the
xs_sdk interface of one arm ``/<robot>``:

* publishes ``/<robot>/joint_states`` (``sensor_msgs/msg/JointState``: the arm joints,
  ``gripper``, ``left_finger``, ``right_finger``) at ``rate_hz`` to subscribers;
* takes ``commands/joint_group`` (``{name: "arm", cmd: [...]}``) and
  ``commands/joint_single`` (``{name: "gripper", cmd: pwm}``, + opens, - closes);
* answers ``get_robot_info``, ``torque_enable`` and ``set_operating_modes``.

Joints move toward their goals at ``speed`` [rad/s] while torque is on; commands sent
with torque off are ignored, as on the Dynamixels. ``silent`` stops the joint-state
stream (a crashed driver node).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import numpy as np
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

ARM_JOINTS = ("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate")


class FakeXsArm:
    """The arm state behind the stand-in (positions in rad, fingers in m)."""

    def __init__(self, q0: np.ndarray, low: np.ndarray, high: np.ndarray, speed: float):
        self.q, self.goal = np.array(q0, float), np.array(q0, float)
        self.low, self.high, self.speed = low, high, speed
        self.finger, self.finger_range = 0.037, (0.015, 0.037)
        self.pwm = 0.0
        self.torque = False
        self.modes: list[dict[str, Any]] = []
        self._t = time.monotonic()

    def advance(self) -> None:
        now = time.monotonic()
        dt, self._t = now - self._t, now
        if not self.torque:
            return
        self.q += np.clip(self.goal - self.q, -self.speed * dt, self.speed * dt)
        lo, hi = self.finger_range
        self.finger = float(np.clip(self.finger + np.sign(self.pwm) * 0.1 * dt, lo, hi))


class FakeRosbridge:
    """Serve one xs_sdk arm named ``robot`` on ``ws://127.0.0.1:<port>``."""

    def __init__(self, robot: str, q0: np.ndarray, *, speed: float = 2.0, rate_hz: float = 50.0):
        self.robot, self.rate_hz = robot, rate_hz
        low, high = np.full(6, -3.0), np.full(6, 3.0)
        low[1], high[1] = -1.88, 1.99  # shoulder of the wx250s
        self.arm = FakeXsArm(q0, low, high, speed)
        self.silent = False
        self.received: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="fake-rosbridge")
        self._thread.start()
        if not self._ready.wait(10.0):
            raise RuntimeError("fake rosbridge did not start")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._loop.run_forever()

    async def _start(self) -> None:
        self._server = await serve(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()

    def close(self) -> None:
        async def stop() -> None:
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(5.0)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5.0)

    # -- protocol ---------------------------------------------------------------------------
    def _joint_state(self) -> dict[str, Any]:
        a = self.arm
        now = time.time()
        return {
            "header": {"stamp": {"sec": int(now), "nanosec": int(now % 1 * 1e9)}, "frame_id": ""},
            "name": [*ARM_JOINTS, "gripper", "left_finger", "right_finger"],
            "position": [*a.q.tolist(), 0.0, a.finger, -a.finger],
            "velocity": [0.0] * 9,
            "effort": [0.0] * 9,
        }

    async def _stream(self, ws: ServerConnection, topic: str) -> None:
        while True:
            await asyncio.sleep(1.0 / self.rate_hz)
            if self.silent:
                continue
            with self.lock:
                self.arm.advance()
                msg = self._joint_state()
            await ws.send(json.dumps({"op": "publish", "topic": topic, "msg": msg}))

    async def _client(self, ws: ServerConnection) -> None:
        tasks: list[asyncio.Task[None]] = []
        try:
            async for raw in ws:
                msg = json.loads(raw)
                with self.lock:
                    self.received.append(msg)
                op = msg.get("op")
                if op == "subscribe" and msg["topic"] == f"/{self.robot}/joint_states":
                    tasks.append(asyncio.create_task(self._stream(ws, msg["topic"])))
                elif op == "publish":
                    with self.lock:
                        self._on_publish(msg["topic"], msg["msg"])
                elif op == "call_service":
                    with self.lock:
                        result, values = self._on_service(msg["service"], msg.get("args") or {})
                    reply = {"op": "service_response", "service": msg["service"],
                             "values": values, "result": result}  # fmt: skip
                    if "id" in msg:
                        reply["id"] = msg["id"]
                    await ws.send(json.dumps(reply))
        except ConnectionClosed:
            pass
        finally:
            for t in tasks:
                t.cancel()

    def _on_publish(self, topic: str, msg: dict[str, Any]) -> None:
        a = self.arm
        a.advance()
        if not a.torque:
            return
        if topic == f"/{self.robot}/commands/joint_group" and msg.get("name") == "arm":
            a.goal = np.clip(np.asarray(msg["cmd"], float), a.low, a.high)
        elif topic == f"/{self.robot}/commands/joint_single" and msg.get("name") == "gripper":
            a.pwm = float(msg["cmd"])

    def _on_service(self, service: str, args: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        a = self.arm
        a.advance()
        name = service.rsplit("/", 1)[-1]
        if name == "torque_enable":
            a.torque = bool(args.get("enable"))
            return True, {}
        if name == "set_operating_modes":
            a.modes.append(args)
            return True, {}
        if name == "get_robot_info" and args.get("name") == "arm":
            return True, {
                "joint_names": list(ARM_JOINTS), "joint_ids": list(range(1, 7)),
                "joint_lower_limits": a.low.tolist(), "joint_upper_limits": a.high.tolist(),
                "joint_velocity_limits": [3.14] * 6, "joint_sleep_positions": [0.0] * 6,
                "joint_state_indices": list(range(6)), "num_joints": 6, "name": ["arm"],
            }  # fmt: skip
        return False, {}
