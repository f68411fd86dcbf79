"""Send pose streams to a ``PoseStreamServer``: a client, synthetic trajectories, replay.

A trajectory is a list of ``Waypoint`` (position [m], quaternion (w, x, y, z), buttons)
in the device frame, one per stream sample; ``replay`` sends it at a fixed rate in a
thread, the way a phone (~30 Hz) or a VR controller (~90 Hz) would. Tests and
``benchmarks/teleop_latency.py`` drive a real env through the real server with these.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from websockets.sync.client import ClientConnection, connect

from armgym.teleop.pose_stream import pose_message
from armgym.transport.connection import auth_header

IDENTITY_QUAT = (1.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True)
class Waypoint:
    """One stream sample: position float[3] [m], quat float[4] (w, x, y, z), buttons."""

    position: tuple[float, float, float]
    quat: tuple[float, float, float, float] = IDENTITY_QUAT
    buttons: Mapping[str, bool] = field(default_factory=lambda: {"move": True})


def yaw_quat(angle: float) -> tuple[float, float, float, float]:
    """Quaternion (w, x, y, z) of a rotation by ``angle`` [rad] about the z axis."""
    return (math.cos(angle / 2), 0.0, 0.0, math.sin(angle / 2))


def circle(radius: float, period_s: float, rate_hz: float, turns: float = 1.0) -> list[Waypoint]:
    """A horizontal circle (x-y plane) starting and ending at the origin, move held."""
    n = round(turns * period_s * rate_hz)
    out = []
    for i in range(n + 1):
        phase = 2 * math.pi * i / (period_s * rate_hz)
        out.append(Waypoint((radius * math.sin(phase), radius * (1 - math.cos(phase)), 0.0)))
    return out


def line(
    start: Sequence[float],
    end: Sequence[float],
    duration_s: float,
    rate_hz: float,
    buttons: Mapping[str, bool] | None = None,
) -> list[Waypoint]:
    """A straight segment ``start`` -> ``end`` [m] in ``duration_s``."""
    n = max(1, round(duration_s * rate_hz))
    a, b = np.asarray(start, float), np.asarray(end, float)
    btn = dict(buttons) if buttons is not None else {"move": True}
    return [Waypoint(tuple(a + (b - a) * i / n), buttons=btn) for i in range(n + 1)]  # type: ignore[arg-type]


def hold(
    position: Sequence[float],
    duration_s: float,
    rate_hz: float,
    buttons: Mapping[str, bool] | None = None,
) -> list[Waypoint]:
    """The device still at ``position`` for ``duration_s``."""
    return line(position, position, duration_s, rate_hz, buttons)


class PoseStreamClient:
    """A websocket client of a pose stream (JSON text or msgpack binary frames)."""

    def __init__(self, url: str, api_key: str | None = None, *, binary: bool = False):
        self.binary = binary
        self.ws: ClientConnection = connect(
            url,
            additional_headers=auth_header(api_key),
            compression=None,
            proxy=None,
            legacy=True,
        )

    def send(self, wp: Waypoint) -> float:
        """Send one sample stamped with ``time.time()``; return the stamp [s]."""
        t = time.time()
        self.ws.send(pose_message(wp.position, wp.quat, wp.buttons, binary=self.binary, sent_t=t))
        return t

    def replay(self, waypoints: Sequence[Waypoint], rate_hz: float) -> None:
        """Send ``waypoints`` at ``rate_hz`` (absolute schedule: no drift)."""
        t0 = time.perf_counter()
        for i, wp in enumerate(waypoints):
            delay = t0 + i / rate_hz - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            self.send(wp)

    def replay_in_thread(self, waypoints: Sequence[Waypoint], rate_hz: float) -> threading.Thread:
        """``replay`` in a daemon thread (join it to wait for the end)."""
        t = threading.Thread(target=self.replay, args=(waypoints, rate_hz), daemon=True)
        t.start()
        return t

    def close(self) -> None:
        self.ws.close()

    def __enter__(self) -> PoseStreamClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
