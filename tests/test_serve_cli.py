"""End-to-end smoke tests of ``armgym serve``, ``armgym run`` and ``armgym robot-server``."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest

from armgym.apps import run as run_client
from armgym.robots.remote import RemoteRobot


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _cli(*args: str) -> Iterator[int]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "armgym.cli", *args, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    assert r.status == 200
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = proc.communicate(timeout=5)[0] if proc.poll() is not None else ""
                    pytest.fail(f"armgym {args[0]} did not come up:\n{out}")
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_serve_then_run(capsys: pytest.CaptureFixture[str]) -> None:
    with _cli("serve", "--policy", "scripted:PickCube") as port:
        rc = run_client.main(
            [
                "--policy",
                f"ws://127.0.0.1:{port}",
                "--task",
                "PickCube",
                "--robot",
                "panda",
                "--episodes",
                "2",
                "--json-out",
            ]
        )
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["success_rate"] == 1.0 and summary["episodes"] == 2
    assert 0 < summary["loop"]["p50_ms"] <= summary["loop"]["p99_ms"]
    assert summary["policy_name"] == "scripted:PickCube"


def test_run_with_chunked_random_policy(capsys: pytest.CaptureFixture[str]) -> None:
    with _cli("serve", "--policy", "random:armgym/PickCube-v0,horizon=4") as port:
        rc = run_client.main(
            [
                "--policy",
                f"ws://127.0.0.1:{port}",
                "--episodes",
                "1",
                "--max-steps",
                "12",
                "--chunking",
                "ensemble",
            ]
        )
    assert rc == 0
    out = capsys.readouterr().out
    assert "control loop per step: p50" in out and "12 steps" in out


def test_robot_server_cli() -> None:
    with _cli("robot-server", "--robot", "panda", "--task", "PickCube") as port:
        with RemoteRobot(f"ws://127.0.0.1:{port}") as robot:
            obs = robot.reset(seed=0)
            obs2 = robot.act(np.zeros(7, np.float32))
        assert obs["object_state"].shape == (7,) and obs2["joint_pos"].dtype == np.float32
