"""A Franka behind SERL / HIL-SERL's HTTP robot server, as an :class:`ArmDriver`.

SERL's ``franka_server.py`` (Flask, on the robot's workstation) takes POST requests:

==================  ===================================================================
``/getstate``       JSON ``{"pose": [x, y, z, qx, qy, qz, qw], "q": [7], "dq": [7],
                    "vel": [6], "force": [3], "torque": [3], "gripper_pos": g, ...}``
``/pose``           JSON ``{"arr": [x, y, z, qx, qy, qz, qw]}``: impedance target
``/jointreset``     move to the server's reset joint pose
``/open_gripper``   ``/close_gripper``: the Franka hand (binary, as SERL uses it)
``/clearerr``       clear a reflex / error after a collision
==================  ===================================================================

The server only takes Cartesian targets, so ``command`` turns the safety-checked joint
targets into a pose with the sim model's forward kinematics (the same TCP the sim
uses; quaternions go out x-y-z-w, SERL's order). The gripper is binary: open above 0.5.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import numpy as np

from armgym.errors import ConfigError, HardwareError
from armgym.robots.real.driver import JointReading
from armgym.robots.real.kinematics import ArmKinematics


@dataclass(frozen=True)
class SerlHttpConfig:
    """SERL's robot server.

    Attributes:
        url: base URL of the server (``http://172.16.0.1:5000``).
        timeout_s: HTTP timeout per request [s].
        clear_errors_on_connect: POST ``/clearerr`` when connecting.
    """

    url: str = "http://127.0.0.1:5000"
    timeout_s: float = 1.0
    clear_errors_on_connect: bool = True

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ConfigError(
                f"SERL server url must start with http:// or https://, got {self.url!r}"
            )


class SerlHttpArm:
    """A Franka (7 joints) through SERL's HTTP robot server.

    Args:
        cfg: server URL and timeout.
        kinematics: the arm's sim kinematics (FK of joint targets).
    """

    n_joints = 7

    def __init__(self, cfg: SerlHttpConfig, kinematics: ArmKinematics):
        self.cfg, self.kin = cfg, kinematics
        self._gripper_open: bool | None = None
        if cfg.clear_errors_on_connect:
            self._post("clearerr")
        self.read()  # fail now, not at the first step, if the server is not there

    def _post(self, route: str, payload: dict[str, Any] | None = None) -> bytes:
        url = f"{self.cfg.url.rstrip('/')}/{route}"
        data = json.dumps(payload).encode() if payload is not None else b""
        req = urllib.request.Request(
            url, data=data, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=self.cfg.timeout_s) as resp:
                return bytes(resp.read())
        except urllib.error.HTTPError as e:
            raise HardwareError(
                f"SERL robot server answered {e.code} to /{route}: {e.read()[:200]!r}; check "
                "its log (a reflex needs /clearerr: reset the robot)"
            ) from e
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            raise HardwareError(
                f"SERL robot server at {self.cfg.url} did not answer /{route} within "
                f"{self.cfg.timeout_s} s ({e}); is franka_server.py running and reachable?"
            ) from e

    def state(self) -> dict[str, Any]:
        """The server's ``/getstate`` answer (see module docstring)."""
        raw = self._post("getstate")
        try:
            state = json.loads(raw)
            q = np.asarray(state["q"], dtype=np.float64)
        except (ValueError, KeyError, TypeError) as e:
            raise HardwareError(
                f"SERL /getstate answer is not the expected JSON: {raw[:200]!r}"
            ) from e
        if q.shape != (self.n_joints,):
            raise HardwareError(f"SERL /getstate gave {q.shape[0]} joints, expected 7 (a Franka)")
        return state

    def device_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """The robot's own TCP pose from ``/getstate`` (position [m], quaternion w-x-y-z)."""
        pose = np.asarray(self.state()["pose"], dtype=np.float64)
        return pose[:3], np.array([pose[6], *pose[3:6]])

    def read(self) -> JointReading:
        s = self.state()
        dq = s.get("dq")
        return JointReading(
            q=np.asarray(s["q"], dtype=np.float64),
            gripper=float(np.clip(s.get("gripper_pos", 0.0), 0.0, 1.0)),
            qvel=None if dq is None else np.asarray(dq, dtype=np.float64),
        )

    def _send_pose(self, q: np.ndarray) -> None:
        pos, wxyz = self.kin.fk(q)
        xyzw = [*wxyz[1:], wxyz[0]]
        self._post("pose", {"arr": [*map(float, pos), *map(float, xyzw)]})

    def command(self, q: np.ndarray, gripper: float) -> None:
        self._send_pose(np.asarray(q, dtype=np.float64))
        want_open = gripper > 0.5
        if want_open != self._gripper_open:
            self._post("open_gripper" if want_open else "close_gripper")
            self._gripper_open = want_open

    def hold(self) -> None:
        self._send_pose(self.read().q)

    def recover(self) -> None:
        """``/clearerr``: leave reflex mode."""
        self._post("clearerr")

    def joint_reset(self) -> None:
        """Clear errors (``/clearerr``), then the server's own joint reset (``/jointreset``)."""
        self._post("clearerr")
        self._post("jointreset")

    def close(self) -> None:
        self.hold()
