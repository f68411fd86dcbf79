"""Batching of concurrent requests (``--max-batch``): real server on 127.0.0.1, real clients."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
from openpi_client.websocket_client_policy import WebsocketClientPolicy
from websockets.sync.client import connect

from armgym.apps.serve import ServeConfig, build_server
from armgym.contracts.policy import FeatureSpec, PolicyMetadata
from armgym.errors import ConfigError
from armgym.serve.policy_client import ServerError, WebsocketPolicyClient
from armgym.serve.policy_server import PolicyServer
from armgym.transport import wire
from armgym.transport.connection import ServerThread

pytestmark = pytest.mark.filterwarnings("ignore:connect\\(\\) must be used:DeprecationWarning")

META = PolicyMetadata(
    observation={"x": FeatureSpec("float32", (4,)), "img": FeatureSpec("uint8", (2, 3))},
    action_dim=4,
    action_horizon=2,
    fps=10.0,
    name="echo",
)
POISON = 666.0  # x[0] == POISON makes the policy raise


def expected(obs: dict[str, np.ndarray]) -> np.ndarray:
    """The answer encodes the whole input, so a misrouted answer cannot pass."""
    x = obs["x"].astype(np.float32)
    return np.stack([x * 2 + 1, x + float(obs["img"].sum())]).astype(np.float32)


class EchoPolicy:
    """Deterministic, stateless; ``infer_batch`` records batch sizes and can be slow."""

    def __init__(self, delay: float = 0.0):
        self.metadata, self.delay = META, delay
        self.sizes: list[int] = []

    def reset(self) -> None:
        pass

    def infer(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if obs["x"][0] == POISON:
            raise RuntimeError("poisoned observation")
        return {"actions": expected(obs)}

    def infer_batch(self, obs: list[dict[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
        self.sizes.append(len(obs))
        time.sleep(self.delay)
        return [self.infer(o) for o in obs]


class EchoNoBatch(EchoPolicy):
    infer_batch = None  # type: ignore[assignment]


def make_obs(client: int, step: int) -> dict[str, np.ndarray]:
    return {
        "x": np.array([client, step, client * step, 0.5], np.float32),
        "img": np.full((2, 3), (client + step) % 7, np.uint8),
    }


@pytest.fixture()
def batched() -> Iterator[tuple[ServerThread, EchoPolicy, PolicyServer]]:
    policy = EchoPolicy(delay=0.005)
    server = PolicyServer(policy, port=0, max_batch=16, batch_window_ms=50)
    with server.run_in_thread() as t:
        yield t, policy, server


def _armgym_worker(url: str, client: int, steps: int, barrier: threading.Barrier) -> list[Any]:
    with WebsocketPolicyClient(url, connect_timeout=10, request_timeout=10) as c:
        barrier.wait(timeout=10)
        out = []
        for step in range(steps):
            obs = make_obs(client, step)
            res = c.infer(obs)
            np.testing.assert_array_equal(res["actions"], expected(obs))
            out.append(res["server_timing"])
        return out


def _openpi_worker(port: int, client: int, steps: int, barrier: threading.Barrier) -> list[Any]:
    c = WebsocketClientPolicy(host="127.0.0.1", port=port)
    try:
        barrier.wait(timeout=10)
        out = []
        for step in range(steps):
            obs = make_obs(client, step)
            res = c.infer(obs)
            np.testing.assert_array_equal(res["actions"], expected(obs))
            out.append(res["server_timing"])
        return out
    finally:
        c._ws.close()


def test_concurrent_clients_get_their_own_answers(
    batched: tuple[ServerThread, EchoPolicy, PolicyServer],
) -> None:
    t, policy, server = batched
    n_armgym, n_openpi, steps = 8, 4, 15
    barrier = threading.Barrier(n_armgym + n_openpi)
    with ThreadPoolExecutor(n_armgym + n_openpi) as pool:
        futs = [pool.submit(_armgym_worker, t.url, i, steps, barrier) for i in range(n_armgym)]
        futs += [
            pool.submit(_openpi_worker, t.port, n_armgym + i, steps, barrier)
            for i in range(n_openpi)
        ]
        timings = [tm for f in futs for tm in f.result(timeout=60)]
    assert len(timings) == (n_armgym + n_openpi) * steps
    assert sum(policy.sizes) == len(timings)
    assert max(policy.sizes) > 1, policy.sizes
    assert max(tm["batch_size"] for tm in timings) > 1
    assert all(tm["queue_ms"] >= 0 and tm["infer_ms"] > 0 for tm in timings)
    assert server.batcher is not None and server.batcher.batch_sizes
    # the same requests, unbatched, give bit-identical answers
    plain = PolicyServer(EchoPolicy(), port=0)
    with plain.run_in_thread() as pt, WebsocketPolicyClient(pt.url) as c:
        for i in (0, 5, 11):
            obs = make_obs(i, 3)
            np.testing.assert_array_equal(c.infer(obs)["actions"], expected(obs))
            assert "batch_size" not in c.infer(obs)["server_timing"]


def test_bad_requests_in_a_batch_fail_alone(
    batched: tuple[ServerThread, EchoPolicy, PolicyServer],
) -> None:
    t, policy, _ = batched
    n = 8
    barrier = threading.Barrier(n)

    def one(i: int) -> str:
        with WebsocketPolicyClient(t.url, connect_timeout=10, request_timeout=10) as c:
            obs = make_obs(i, 1)
            barrier.wait(timeout=10)
            if i == 1:  # invalid: rejected on its connection, never batched
                with pytest.raises(ServerError, match="'x' has dtype float64, expected float32"):
                    c.infer({**obs, "x": obs["x"].astype(np.float64)})
                return "protocol"
            if i == 2:  # valid, but the policy raises on it
                with pytest.raises(ServerError, match="poisoned observation"):
                    c.infer({**obs, "x": np.array([POISON, 0, 0, 0], np.float32)})
                return "policy"
            for step in range(3):
                obs = make_obs(i, step)
                np.testing.assert_array_equal(c.infer(obs)["actions"], expected(obs))
            return "ok"

    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(one, range(n)))
    assert results.count("ok") == n - 2 and "protocol" in results and "policy" in results
    assert max(policy.sizes) > 1  # the poisoned request shared a batch, was retried alone
    assert 1 in policy.sizes


def test_client_disconnecting_mid_batch(
    batched: tuple[ServerThread, EchoPolicy, PolicyServer],
) -> None:
    t, policy, server = batched
    policy.delay = 0.1
    barrier = threading.Barrier(4)

    def quitter() -> None:
        with connect(t.url, compression=None, proxy=None) as ws:
            ws.recv(timeout=5)
            barrier.wait(timeout=10)
            ws.send(wire.packb(make_obs(99, 0)))
            time.sleep(0.03)  # leave while its request is in the running batch

    with ThreadPoolExecutor(4) as pool:
        gone = pool.submit(quitter)
        stay = [pool.submit(_armgym_worker, t.url, i, 3, barrier) for i in range(3)]
        gone.result(timeout=30)
        for f in stay:
            assert len(f.result(timeout=30)) == 3
    policy.delay = 0.0
    assert max(policy.sizes) > 1
    with WebsocketPolicyClient(t.url) as c:  # still serving
        c.reset()
        obs = make_obs(7, 7)
        np.testing.assert_array_equal(c.infer(obs)["actions"], expected(obs))
    deadline = time.monotonic() + 5
    while server.sessions and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.sessions == 0


def test_batch_result_count_mismatch_is_a_policy_error() -> None:
    class Short(EchoPolicy):
        def infer_batch(self, obs: list[dict[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
            return []

    server = PolicyServer(Short(), port=0, max_batch=4)
    with (
        server.run_in_thread() as t,
        WebsocketPolicyClient(t.url) as c,
        pytest.raises(ServerError, match="one result per observation"),
    ):
        c.infer(make_obs(0, 0))


@pytest.mark.parametrize("kind", ["no infer_batch", "factory"])
def test_fallback_without_infer_batch_logs_and_serves(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="armgym.serve.policy"):
        if kind == "factory":
            server = PolicyServer(factory=EchoPolicy, port=0, max_batch=8, batch_window_ms=5)
        else:
            server = PolicyServer(EchoNoBatch(), port=0, max_batch=8, batch_window_ms=5)
    assert "batching disabled" in caplog.text
    assert server.batcher is None and server.infer_in_thread
    with server.run_in_thread() as t, WebsocketPolicyClient(t.url) as c:
        obs = make_obs(3, 4)
        np.testing.assert_array_equal(c.infer(obs)["actions"], expected(obs))


def test_batching_config() -> None:
    with pytest.raises(ConfigError, match="needs --max-batch > 1"):
        PolicyServer(EchoPolicy(), port=0, batch_window_ms=5)
    with pytest.raises(ConfigError, match="--max-batch must be >= 1"):
        PolicyServer(EchoPolicy(), port=0, max_batch=0)
    server = build_server(
        ServeConfig(policy="random:armgym/PickCube-v0", port=0, max_batch=8, batch_window_ms=2)
    )
    assert server.batcher is None and server.infer_in_thread  # per-connection policies
