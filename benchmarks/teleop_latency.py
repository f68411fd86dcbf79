"""Pose teleop latency: from a pose message sent to the action applied in a real env.

    .venv/bin/python benchmarks/teleop_latency.py            # ~45 s on 2 cores
    .venv/bin/python benchmarks/teleop_latency.py --quick    # smoke run

A sender process (standing in for the phone or the VR bridge) streams a slow line at
30 Hz (phone) or 90 Hz (VR controller), with ±20 % interval jitter, into ``PoseStreamTeleop``'s real websocket
server on 127.0.0.1; each message carries the sender's ``time.time()``. This process
runs the control loop as ``armgym collect`` does: ``poll()`` then ``env.step`` on
``armgym/Reach-v0`` (Panda, state obs), paced in real time at the env's control rate
(10 Hz default, and 30 Hz). Per control step, for the newest sample the action used:

* ``transport_ms``: sent -> received by the server (JSON decode and validation included);
* ``age_at_poll_ms``: sent -> the action computed from it (adds waiting for the tick);
* ``to_applied_ms``: sent -> ``env.step`` returned (the action is on the actuators and
  the physics of one control period has run).

The peer in the same run is the floor of the transport: a bare websockets server that
only reads ``time.time()`` when a frame arrives (``floor_transport_ms``).

The waiting for the control tick dominates (uniform in [0, 1 / control rate]); the
transport is well under a millisecond on loopback. Over Wi-Fi add the network's latency.

Writes ``benchmarks/results/teleop_latency.json`` (numbers + machine).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import machine_info, write_json


def send(url: str, rate_hz: float, seconds: float) -> None:
    """Sender process: a 1 cm/s line along x, move held, at ``rate_hz`` on average; each
    interval is drawn from U(0.8, 1.2) / rate_hz (a browser's frame jitter), so samples
    fall at every phase of the control tick rather than locked to it."""
    from armgym.teleop.pose_replay import PoseStreamClient, line

    rng = np.random.default_rng(0)
    with PoseStreamClient(url) as client:
        next_t = time.perf_counter()
        for wp in line((0, 0, 0), (0.01 * seconds, 0, 0), seconds, rate_hz):
            time.sleep(max(0.0, next_t - time.perf_counter()))
            client.send(wp)
            next_t += rng.uniform(0.8, 1.2) / rate_hz


def pct(xs: list[float]) -> dict[str, float]:
    a = np.asarray(xs) * 1e3
    if not len(a):
        return {}
    return {
        "n": len(a),
        "p50": round(float(np.percentile(a, 50)), 3),
        "p95": round(float(np.percentile(a, 95)), 3),
        "p99": round(float(np.percentile(a, 99)), 3),
        "max": round(float(a.max()), 3),
    }


def run_case(rate_hz: float, control_hz: float, seconds: float) -> dict[str, Any]:
    import gymnasium as gym

    import armgym  # noqa: F401
    from armgym.teleop.pose_stream import PoseStreamConfig, PoseStreamTeleop

    env = gym.make("armgym/Reach-v0", obs="state", control_hz=control_hz)
    env.reset(seed=0)
    dev = PoseStreamTeleop(PoseStreamConfig(port=0))
    # server stamps arrivals with perf_counter; senders with time.time()
    offset = time.time() - time.perf_counter()
    sender = mp.get_context("spawn").Process(target=send, args=(dev.url, rate_hz, seconds))
    sender.start()
    transport, age, applied, late = [], [], [], 0
    try:
        deadline = time.monotonic() + 30
        while dev.server.messages == 0 and time.monotonic() < deadline:
            time.sleep(0.001)
        period, t0, i = 1.0 / control_hz, time.perf_counter(), 0
        while sender.is_alive() or dev.device.last_sample is not None:
            cmd = dev.poll()
            s = dev.device.last_sample
            polled = time.time()
            env.step(cmd.action)
            if s is not None and s.sent_t is not None:
                transport.append(s.recv_t + offset - s.sent_t)
                age.append(polled - s.sent_t)
                applied.append(time.time() - s.sent_t)
            i += 1
            wait = t0 + i * period - time.perf_counter()
            late += wait < 0
            time.sleep(max(wait, 0.0))
            if not sender.is_alive() and time.perf_counter() - t0 > seconds + 1.0:
                break
    finally:
        sender.join(10)
        dev.close()
        env.close()
    return {
        "stream_hz": rate_hz,
        "control_hz": control_hz,
        "messages": dev.server.messages,
        "control_steps": i,
        "late_steps": int(late),
        "transport_ms": pct(transport),
        "age_at_poll_ms": pct(age),
        "to_applied_ms": pct(applied),
    }


def floor(rate_hz: float, seconds: float) -> dict[str, Any]:
    """A bare websockets server that stamps each frame's arrival: the transport floor."""
    from websockets.asyncio.server import serve

    from armgym.transport.connection import ServerThread

    lat: list[float] = []

    async def handler(ws: Any) -> None:
        async for frame in ws:
            lat.append(time.time() - json.loads(frame)["t"])

    async def start() -> Any:
        return await serve(handler, "127.0.0.1", 0, compression=None)

    with ServerThread(start) as t:
        p = mp.get_context("spawn").Process(target=send, args=(t.url, rate_hz, seconds))
        p.start()
        p.join(seconds + 30)
    return {"stream_hz": rate_hz, "floor_transport_ms": pct(lat)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=8.0, help="stream length per case [s]")
    ap.add_argument("--quick", action="store_true", help="2 s per case, not saved")
    args = ap.parse_args()
    seconds = 2.0 if args.quick else args.seconds
    before = machine_info(("armgym", "numpy", "mujoco", "gymnasium", "websockets", "msgpack"))
    cases = [run_case(r, c, seconds) for c in (10.0, 30.0) for r in (30.0, 90.0)]
    floors = [floor(r, seconds) for r in (30.0, 90.0)]
    result = {"cases": cases, "floor": floors, "machine": before}
    result["loadavg_after"] = machine_info(())["loadavg"]
    for c in cases:
        print(
            f"stream {c['stream_hz']:.0f} Hz, control {c['control_hz']:.0f} Hz: transport p50 "
            f"{c['transport_ms'].get('p50')} ms, sent->applied p50 "
            f"{c['to_applied_ms'].get('p50')} / p99 {c['to_applied_ms'].get('p99')} ms, "
            f"late steps {c['late_steps']}/{c['control_steps']}"
        )
    for f in floors:
        print(
            f"floor {f['stream_hz']:.0f} Hz: transport p50 {f['floor_transport_ms'].get('p50')} ms"
        )
    if not args.quick:
        print(write_json("teleop_latency.json", result))


if __name__ == "__main__":
    main()
