"""A stand-in for SERL's Franka HTTP robot server, on 127.0.0.1, for driver tests.

Same routes and JSON as ``serl_robot_infra/robot_servers/franka_server.py``. The arm is
kinematic: ``/pose`` sets a Cartesian target, which the joints reach with the sim
model's IK, moving at most ``speed`` [rad/s] per joint. ``fail_next`` makes the next
requests answer 500, as the server does after a reflex until ``/clearerr``.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from armgym.robots.real.kinematics import ArmKinematics

RESET_Q = (0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785)


class FakeSerlServer:
    """SERL's robot server for a Franka whose geometry is ``kin``'s (see module docstring)."""

    def __init__(self, kin: ArmKinematics, q0: np.ndarray, speed: float = 2.0):
        self.kin, self.speed = kin, speed
        self.q = np.array(q0, dtype=np.float64)
        self.goal = self.q.copy()
        self.gripper = 1.0
        self.in_reflex = False
        self.routes: list[str] = []
        self.lock = threading.Lock()
        self._t = time.monotonic()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(n) or b"null")
                code, answer = server.handle(self.path.strip("/"), body)
                data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                self.send_response(code)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def _advance(self) -> None:
        now = time.monotonic()
        step, self._t = self.speed * (now - self._t), now
        self.q += np.clip(self.goal - self.q, -step, step)

    def handle(self, route: str, body: Any) -> tuple[int, Any]:
        with self.lock:
            self.routes.append(route)
            self._advance()
            if route == "clearerr":
                self.in_reflex = False
                return 200, b"Clear"
            if self.in_reflex and route != "getstate":
                return 500, b"robot in reflex mode"
            if route == "getstate":
                pos, wxyz = self.kin.fk(self.q)
                return 200, {
                    "pose": [*pos, *wxyz[1:], wxyz[0]], "q": self.q.tolist(),
                    "dq": [0.0] * 7, "vel": [0.0] * 6, "force": [0.0] * 3,
                    "torque": [0.0] * 3, "gripper_pos": self.gripper,
                }  # fmt: skip
            if route == "pose":
                arr = np.asarray(body["arr"], dtype=np.float64)
                wxyz = np.array([arr[6], *arr[3:6]])
                self.goal = self.kin.ik(arr[:3], wxyz, self.goal)
                return 200, b"Moved"
            if route == "jointreset":
                self.goal = np.array(RESET_Q)
                return 200, b"Reset Joint"
            if route in ("open_gripper", "close_gripper"):
                self.gripper = 1.0 if route == "open_gripper" else 0.0
                return 200, b"Gripper"
            return 404, b"unknown route"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
