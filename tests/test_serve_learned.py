"""Serving a learned (checkpoint) policy to several clients at once, with and without
batching: each client gets exactly what the policy would answer it alone."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from _policies import STATE_SCHEMA, tiny_diffusion

from armgym.apps.serve import ServeConfig, build_server
from armgym.policies.learned import infer_sessions, save_checkpoint
from armgym.serve.policy_client import WebsocketPolicyClient
from armgym.serve.policy_server import PolicyServer

pytestmark = pytest.mark.filterwarnings("ignore:connect\\(\\) must be used:DeprecationWarning")

STEPS = 6


@pytest.fixture(scope="module")
def policy():
    """An untrained tiny diffusion policy: noisy, seed-dependent trajectories."""
    return tiny_diffusion()


def stream(client: int) -> list[dict[str, np.ndarray]]:
    """The observations client ``client`` sends, one per step (distinct per client)."""
    rng = np.random.default_rng(100 + client)
    return [
        {k: rng.standard_normal(s.shape).astype(np.float32) for k, s in STATE_SCHEMA.items()}
        for _ in range(STEPS)
    ]


def alone(policy, client: int) -> list[np.ndarray]:
    """What a fresh copy of the policy answers this client's stream, with nobody else."""
    solo = policy.fork()
    return [solo.infer(obs)["actions"] for obs in stream(client)]


def test_forks_share_the_model_not_the_history(policy) -> None:
    a, b = policy.fork(), policy.fork()
    assert a.model is b.model is policy.model
    first_a = a.infer(stream(0)[0])["actions"]
    b.infer(stream(1)[0])  # another client's frame must not enter a's history
    second_a = a.infer(stream(0)[1])["actions"]
    np.testing.assert_array_equal(first_a, alone(policy, 0)[0])
    np.testing.assert_array_equal(second_a, alone(policy, 0)[1])


def test_a_failed_batch_leaves_every_history_unchanged(policy) -> None:
    a, b = policy.fork(), policy.fork()
    a.infer(stream(0)[0])
    bad = {"observation.state": np.zeros(5, np.float32)}  # lacks a key
    with pytest.raises(Exception, match="observation lacks"):
        infer_sessions([(a, stream(0)[1]), (b, bad)])
    assert len(a._history) == 2 and np.array_equal(
        a._history[-1]["observation.state"], stream(0)[0]["observation.state"]
    )
    assert len(b._history) == 0


def run_clients(url: str, n: int) -> list[list[np.ndarray]]:
    def one(client: int) -> list[np.ndarray]:
        with WebsocketPolicyClient(url) as c:
            return [c.infer(obs)["actions"] for obs in stream(client)]

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


@pytest.mark.parametrize("max_batch", [1, 8])
def test_concurrent_clients_get_their_own_answers(policy, max_batch: int) -> None:
    server = PolicyServer(policy, port=0, max_batch=max_batch, infer_in_thread=True)
    with server.run_in_thread() as t:
        got = run_clients(t.url, 4)
    for client, actions in enumerate(got):
        want = alone(policy, client)
        if max_batch == 1:  # same computation as alone: bit-identical
            for g, w in zip(actions, want, strict=True):
                np.testing.assert_array_equal(g, w)
        else:  # batched matmuls round differently in the last bits
            np.testing.assert_allclose(np.stack(actions), np.stack(want), atol=1e-4)
    if max_batch > 1:
        assert server.batcher is not None and max(server.batcher.batch_sizes) > 1


def test_armgym_serve_checkpoint_batches(policy, tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "ck", policy)
    server = build_server(ServeConfig(checkpoint=tmp_path / "ck", port=0, max_batch=4))
    assert server.batcher is not None  # learned policies batch across connections
    with server.run_in_thread() as t:
        got = run_clients(t.url, 3)
    for client, actions in enumerate(got):
        np.testing.assert_allclose(np.stack(actions), np.stack(alone(policy, client)), atol=1e-4)


def test_schema_accepts_a_history_up_to_the_obs_horizon() -> None:
    from armgym.errors import ProtocolError
    from armgym.transport.wire import CompiledSchema

    schema = CompiledSchema({"s": ("float32", (3,))}, history=2)
    for shape in [(3,), (1, 3), (2, 3)]:
        schema.validate({"s": np.zeros(shape, np.float32)})
    with pytest.raises(ProtocolError, match=r"history of 3 frames.*at most 2"):
        schema.validate({"s": np.zeros((3, 3), np.float32)})
    with pytest.raises(ProtocolError, match="shape"):
        schema.validate({"s": np.zeros((2, 4), np.float32)})
    with pytest.raises(ProtocolError, match="NaN"):
        schema.validate({"s": np.full((2, 3), np.nan, np.float32)})
    with pytest.raises(ProtocolError, match="shape"):  # no history without an obs horizon
        CompiledSchema({"s": ("float32", (3,))}).validate({"s": np.zeros((2, 3), np.float32)})


def test_remote_chunks_see_consecutive_frames_like_a_local_policy(policy) -> None:
    """`armgym run`'s wrapping (history outside the broker) sends the last To frames, so a
    served diffusion policy answers exactly what the local one answers to the consecutive
    history; one frame per chunk (openpi's broker) would give it frames 4 steps apart."""
    from armgym.apps.run import RunConfig, wrap_chunks
    from armgym.serve.chunking import ActionChunkBroker, ObservationHistory

    frames = stream(0) * 2  # 12 steps, 3 chunks of 4
    server = PolicyServer(policy, port=0)
    with server.run_in_thread() as t, WebsocketPolicyClient(t.url) as client:
        assert client.metadata.obs_horizon == 2
        remote = wrap_chunks(client, RunConfig(policy=t.url, execute_steps=4))
        assert isinstance(remote, ObservationHistory)
        assert isinstance(remote.policy, ActionChunkBroker)
        got = np.stack([remote.infer(f)["actions"][0] for f in frames])
    local, want = policy.fork(), []
    for step in range(0, len(frames), 4):  # query at each chunk start with [t-1, t]
        history = {k: np.stack([frames[max(step - 1, 0)][k], frames[step][k]]) for k in frames[0]}
        want.extend(local.infer(history)["actions"][:4])
    np.testing.assert_array_equal(got, np.stack(want))
