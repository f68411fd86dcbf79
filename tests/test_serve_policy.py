"""Policy server on 127.0.0.1, spoken to by openpi-client, armgym's client and raw sockets."""

from __future__ import annotations

import base64
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import gymnasium as gym
import msgpack
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# openpi-client is a required dev dependency: an ImportError here must fail, not skip.
from openpi_client import msgpack_numpy
from openpi_client.action_chunk_broker import ActionChunkBroker as OpenpiBroker
from openpi_client.websocket_client_policy import WebsocketClientPolicy
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

import armgym  # noqa: F401  (registers armgym/PickCube-v0)
from armgym.apps.policy_specs import factory_for, load_checkpoint_policy
from armgym.apps.run import run_episodes
from armgym.apps.serve import ServeConfig, build_server
from armgym.contracts.policy import Policy, PolicyMetadata
from armgym.errors import CheckpointError, ConfigError, UnknownNameError
from armgym.serve.policy_client import RequestTimeoutError, ServerError, WebsocketPolicyClient
from armgym.serve.policy_server import PolicyServer
from armgym.transport import wire
from armgym.transport.connection import ServerThread

ENV_ID = "armgym/PickCube-v0"
# openpi-client 0.1.2 calls websockets' connect() the pre-14 way
pytestmark = pytest.mark.filterwarnings("ignore:connect\\(\\) must be used:DeprecationWarning")


@pytest.fixture(scope="module")
def env() -> Iterator[gym.Env]:
    e = gym.make(ENV_ID, robot="panda", control="ee_delta", obs="state")
    yield e
    e.close()


@pytest.fixture(scope="module")
def obs(env: gym.Env) -> dict[str, np.ndarray]:
    return env.reset(seed=0)[0]


@pytest.fixture(scope="module")
def scripted() -> Iterator[ServerThread]:
    with PolicyServer(factory=factory_for("scripted:PickCube"), port=0).run_in_thread() as t:
        yield t


@pytest.fixture(scope="module")
def chunked() -> Iterator[ServerThread]:
    server = PolicyServer(factory=factory_for(f"random:{ENV_ID},horizon=8"), port=0)
    with server.run_in_thread() as t:
        yield t


def assert_serves(url: str, obs: dict[str, np.ndarray]) -> None:
    """The server still answers a good observation correctly."""
    with WebsocketPolicyClient(url, connect_timeout=5) as client:
        actions = client.infer(obs)["actions"]
    assert actions.shape == (client.metadata.action_horizon, 7) and actions.dtype == np.float32


# ----------------------------------------------------------------------------- peers


def test_openpi_client_reads_metadata_and_actions(scripted: ServerThread, obs: dict) -> None:
    client = WebsocketClientPolicy(host="127.0.0.1", port=scripted.port)
    meta = client.get_server_metadata()
    assert meta["protocol_version"] == wire.PROTOCOL_VERSION
    assert meta["action_dim"] == 7 and meta["action_horizon"] == 1 and meta["fps"] == 10.0
    assert meta["observation"]["observation.state"] == {"dtype": "float32", "shape": [22]}
    assert meta["name"] == "scripted:PickCube"
    out = client.infer(obs)
    assert out["actions"].shape == (1, 7) and out["actions"].dtype == np.float32
    assert out["server_timing"]["infer_ms"] >= 0
    out = client.infer(obs)
    assert out["server_timing"]["prev_total_ms"] > 0
    client._ws.close()


def test_openpi_chunk_broker_plays_chunks(chunked: ServerThread, obs: dict) -> None:
    client = WebsocketClientPolicy(f"ws://127.0.0.1:{chunked.port}")
    assert client.get_server_metadata()["action_horizon"] == 8
    broker = OpenpiBroker(client, action_horizon=8)
    for _ in range(20):
        step = broker.infer(obs)
        assert step["actions"].shape == (7,) and np.all(np.abs(step["actions"]) <= 1)
    client._ws.close()


def test_armgym_client_metadata_and_reset(scripted: ServerThread, obs: dict) -> None:
    with WebsocketPolicyClient(scripted.url) as client:
        assert isinstance(client, Policy)
        meta = client.metadata
        assert isinstance(meta, PolicyMetadata)
        assert (meta.action_dim, meta.action_horizon, meta.name) == (7, 1, "scripted:PickCube")
        assert meta.observation["observation.environment_state"].shape == (7,)
        client.reset()
        out = client.infer({**obs, "ignored.extra": np.zeros(3)})  # filtered to the schema
        assert out["actions"].shape == (1, 7)


def test_scripted_policy_over_the_wire_solves_pickcube(
    scripted: ServerThread, env: gym.Env
) -> None:
    with WebsocketPolicyClient(scripted.url) as client:
        summary = run_episodes(env, client, episodes=1, seed=1)
    assert summary["success_rate"] == 1.0
    assert summary["loop"]["p50_ms"] > 0 and summary["steps"] >= 10


# ----------------------------------------------------------------------------- bad input


def _raw_request(port: int, frame: bytes | str) -> tuple[str | bytes, int | None]:
    """Send one frame on a fresh connection; return (first answer, close code)."""
    with connect(f"ws://127.0.0.1:{port}", compression=None, proxy=None, max_size=None) as ws:
        ws.recv(timeout=5)  # metadata
        ws.send(frame)
        answer = ws.recv(timeout=5)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
        code = ws.protocol.close_rcvd.code if ws.protocol.close_rcvd else None
    return answer, code


def _bad_obs(obs: dict[str, np.ndarray]) -> dict[str, Any]:
    state = obs["observation.state"]
    return {
        "missing key": {"observation.state": state},
        "unknown key": {**obs, "observation.bogus": state},
        "wrong shape": {**obs, "observation.state": state[:5]},
        "wrong dtype": {**obs, "observation.state": state.astype(np.float64)},
        "NaN": {**obs, "observation.state": np.full_like(state, np.nan)},
        "list instead of array": {**obs, "observation.state": state.tolist()},
        "not a map": [1, 2, 3],
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing key",
        "unknown key",
        "wrong shape",
        "wrong dtype",
        "NaN",
        "list instead of array",
        "not a map",
        "malformed msgpack",
        "text frame",
        "object dtype",
    ],
)
def test_bad_input_gets_clear_error_and_server_survives(
    scripted: ServerThread, obs: dict, case: str
) -> None:
    if case == "malformed msgpack":
        frame: bytes | str = b"\x85\xa1a\xc1garbage"
    elif case == "text frame":
        frame = "hello"
    elif case == "object dtype":
        bad = {b"__ndarray__": True, b"data": b"\x80\x04N.", b"dtype": "|O", b"shape": [1]}
        frame = msgpack.packb({**obs, "observation.state": bad}, default=msgpack_numpy.pack_array)
    else:
        frame = wire.packb(_bad_obs(obs)[case])
    answer, code = _raw_request(scripted.port, frame)
    assert isinstance(answer, str) and answer.startswith("ProtocolError: ")
    assert code == 1008
    assert_serves(scripted.url, obs)


def test_armgym_client_raises_server_message(scripted: ServerThread, obs: dict) -> None:
    with WebsocketPolicyClient(scripted.url) as client:
        bad = {**obs, "observation.state": obs["observation.state"][:3]}
        with pytest.raises(
            ServerError, match=r"observation.state' has shape \(3,\), expected \(22,\)"
        ):
            client.infer(bad)
        assert client.infer(obs)["actions"].shape == (1, 7)  # reconnected
        assert client.reconnects == 1


def test_oversize_frame_closes_with_1009(obs: dict) -> None:
    server = PolicyServer(factory=factory_for("scripted:PickCube"), port=0, max_message_bytes=2**16)
    with server.run_in_thread() as t:
        with connect(t.url, compression=None, proxy=None) as ws:
            ws.recv(timeout=5)
            ws.send(b"\0" * 2**17)
            with pytest.raises(ConnectionClosed) as info:
                ws.recv(timeout=5)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1009
        assert_serves(t.url, obs)


def _handshake(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 101")
    return sock


@pytest.mark.parametrize("junk", ["partial frame", "garbage handshake", "bad opcode"])
def test_client_dropping_mid_message(scripted: ServerThread, obs: dict, junk: str) -> None:
    if junk == "garbage handshake":
        sock = socket.create_connection(("127.0.0.1", scripted.port), timeout=5)
        sock.sendall(b"\x00\xff not http at all\r\n\r\n")
    else:
        sock = _handshake(scripted.port)
        if junk == "partial frame":  # binary, masked, 4096-byte payload announced, 100 sent
            sock.sendall(b"\x82\xfe\x10\x00" + os.urandom(4) + b"x" * 100)
        else:
            sock.sendall(b"\x8b\x80" + os.urandom(4))  # reserved opcode 0xB
    sock.close()
    assert_serves(scripted.url, obs)


def test_fifty_clients_at_once(scripted: ServerThread, obs: dict) -> None:
    bad = {**obs, "observation.state": obs["observation.state"].astype(np.float64)}
    barrier = threading.Barrier(50)

    def one(i: int) -> str:
        with WebsocketPolicyClient(scripted.url, connect_timeout=20, request_timeout=20) as c:
            barrier.wait(timeout=20)
            if i % 2:
                with pytest.raises(ServerError, match="dtype float64, expected float32"):
                    c.infer(bad)
                return "error"
            for _ in range(5):
                assert c.infer(obs)["actions"].shape == (1, 7)
            return "ok"

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(one, range(50)))
    assert results.count("ok") == 25 and results.count("error") == 25
    assert_serves(scripted.url, obs)


_leaf = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(max_size=8)
    | st.binary(max_size=16)
)
_arrays = st.builds(
    lambda dtype, shape, data: {
        b"__ndarray__": True,
        b"data": data,
        b"dtype": dtype,
        b"shape": shape,
    },
    st.sampled_from(["<f4", "<f8", "|u1", "|O", "|V4", "<c8", "zz", "<f4"]),
    st.lists(st.integers(-2, 30), max_size=3),
    st.binary(max_size=128),
)
_values = st.recursive(
    _leaf | _arrays,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
    max_leaves=8,
)
_obs_maps = st.dictionaries(
    st.sampled_from(["observation.state", "observation.environment_state", "x"])
    | st.text(max_size=5),
    _values,
    max_size=4,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(payload=_obs_maps | st.binary(max_size=64) | _values)
def test_fuzz_server_answers_protocol_error(scripted: ServerThread, payload: Any) -> None:
    frame = payload if isinstance(payload, bytes) else msgpack.packb(payload)
    answer, code = _raw_request(scripted.port, frame)
    assert isinstance(answer, str) and answer.startswith("ProtocolError: "), answer
    assert code == 1008


# ----------------------------------------------------------------------------- auth, health


def test_api_key_and_healthz(obs: dict) -> None:
    server = PolicyServer(factory=factory_for("scripted:PickCube"), port=0, api_key="s3cret")
    with server.run_in_thread() as t:
        with urllib.request.urlopen(f"http://127.0.0.1:{t.port}/healthz", timeout=5) as resp:
            assert resp.status == 200 and resp.read() == b"OK\n"
        for key in (None, "wrong"):
            with pytest.raises(ServerError, match="HTTP 401"):
                WebsocketPolicyClient(t.url, api_key=key, connect_timeout=2)
        with pytest.raises(Exception, match="401"):
            WebsocketClientPolicy(t.url, api_key="wrong")
        openpi = WebsocketClientPolicy(t.url, api_key="s3cret")
        assert openpi.infer(obs)["actions"].shape == (1, 7)
        openpi._ws.close()
        with WebsocketPolicyClient(t.url, api_key="s3cret") as client:
            assert client.infer(obs)["actions"].shape == (1, 7)
        with pytest.raises(urllib.error.HTTPError, match="401"):
            urllib.request.urlopen(f"http://127.0.0.1:{t.port}/", timeout=5)


# ----------------------------------------------------------------------------- failures


class _Wrapped:
    """The real scripted policy, with an injected fault (for failure-path tests)."""

    def __init__(self, fault: str, delay: float = 0.0):
        self.inner = factory_for("scripted:PickCube")()
        self.metadata, self.fault, self.delay = self.inner.metadata, fault, delay

    def reset(self) -> None:
        self.inner.reset()

    def infer(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self.fault == "raise":
            raise RuntimeError("policy exploded")
        if self.fault == "bad shape":
            return {"actions": np.zeros((3, 7), np.float32)}
        time.sleep(self.delay)
        return self.inner.infer(obs)


@pytest.mark.parametrize(
    ("fault", "message"), [("raise", "policy exploded"), ("bad shape", "expected (1, 7)")]
)
def test_policy_failure_is_1011_with_traceback(obs: dict, fault: str, message: str) -> None:
    with PolicyServer(_Wrapped(fault), port=0).run_in_thread() as t:
        answer, code = _raw_request(t.port, wire.packb(obs))
        assert isinstance(answer, str) and "Traceback" in answer and message in answer
        assert code == 1011
        with pytest.raises(RuntimeError, match="Error in inference server"):
            WebsocketClientPolicy(t.url).infer(obs)


def test_deadline_then_reconnect(obs: dict) -> None:
    slow = _Wrapped("sleep", delay=0.3)
    with PolicyServer(slow, port=0, infer_in_thread=True).run_in_thread() as t:
        client = WebsocketPolicyClient(t.url, request_timeout=0.05)
        with pytest.raises(RequestTimeoutError, match=r"within 0\.05 s"):
            client.infer(obs)
        slow.delay, client.request_timeout = 0.0, 5.0  # the late call still holds the policy
        assert client.infer(obs)["actions"].shape == (1, 7)
        assert client.reconnects == 1
        with urllib.request.urlopen(f"http://127.0.0.1:{t.port}/healthz", timeout=5) as resp:
            assert resp.status == 200
        client.close()


def test_client_reconnects_after_server_restart(obs: dict) -> None:
    first = PolicyServer(factory=factory_for("scripted:PickCube"), port=0).run_in_thread().start()
    port = first.port
    client = WebsocketPolicyClient(first.url, connect_timeout=5)
    assert client.infer(obs)["actions"].shape == (1, 7)
    first.stop()
    restarted = threading.Timer(
        0.2,
        lambda: holder.append(
            PolicyServer(factory=factory_for("scripted:PickCube"), port=port)
            .run_in_thread()
            .start()
        ),
    )
    holder: list[ServerThread] = []
    restarted.start()
    try:
        assert client.infer(obs)["actions"].shape == (1, 7)
        assert client.reconnects == 1
    finally:
        restarted.join()
        client.close()
        for h in holder:
            h.stop()


def test_connect_timeout_is_clear() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: refused
        t0 = time.monotonic()
        with pytest.raises(RequestTimeoutError, match="Is the server running"):
            WebsocketPolicyClient(f"ws://127.0.0.1:{port}", connect_timeout=0.3)
        assert time.monotonic() - t0 < 2


def test_cli_config_errors(tmp_path: Any) -> None:
    with pytest.raises(ConfigError, match="exactly one"):
        build_server(ServeConfig())
    with pytest.raises(UnknownNameError, match="Did you mean 'scripted'"):
        build_server(ServeConfig(policy="scriptd:PickCube"))
    with pytest.raises(UnknownNameError, match="PickCube"):
        build_server(ServeConfig(policy="scripted:PickCub"))
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint_policy(tmp_path / "nope")
    server = build_server(ServeConfig(policy="scripted:PickCube", port=0))
    assert server.host == "127.0.0.1" and server.metadata.action_dim == 7
