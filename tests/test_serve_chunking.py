"""Action chunk execution: ActionChunkBroker and ACT temporal ensembling (pure numpy)."""

from __future__ import annotations

import numpy as np
import pytest

from armgym.contracts.policy import FeatureSpec, PolicyMetadata
from armgym.errors import ConfigError, ProtocolError
from armgym.policies.random_policy import RandomPolicy
from armgym.serve.chunking import ActionChunkBroker, TemporalEnsembler, step_action

META = PolicyMetadata({"s": FeatureSpec("float32", (2,))}, action_dim=3, action_horizon=4, fps=10)


class Counting:
    """Chunk i (0-based call count) has row j = [i, j, 100 * i + j]: easy to trace."""

    metadata = META

    def __init__(self) -> None:
        self.calls, self.resets = 0, 0

    def reset(self) -> None:
        self.resets += 1

    def infer(self, obs: dict) -> dict:
        i = self.calls
        self.calls += 1
        rows = [[i, j, 100 * i + j] for j in range(4)]
        return {"actions": np.asarray(rows, np.float32)}


def test_broker_plays_rows_in_order_and_requeries() -> None:
    inner = Counting()
    broker = ActionChunkBroker(inner, execute_steps=3)
    assert broker.metadata.action_horizon == 1 and broker.metadata.action_dim == 3
    got = [step_action(broker.infer({})) for _ in range(7)]
    assert [tuple(a[:2]) for a in got] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (2, 0)]
    assert inner.calls == 3 and broker.inner_calls == 3
    assert all(a.dtype == np.float32 and a.shape == (3,) for a in got)
    broker.reset()
    assert inner.resets == 1 and step_action(broker.infer({}))[1] == 0


def test_broker_default_executes_whole_chunk_and_validates() -> None:
    broker = ActionChunkBroker(Counting())
    assert broker.execute_steps == 4
    with pytest.raises(ConfigError, match=r"execute_steps must be in \[1, 4\]"):
        ActionChunkBroker(Counting(), execute_steps=5)

    class Short(Counting):
        def infer(self, obs: dict) -> dict:
            return {"actions": np.zeros((2, 3), np.float32)}

    with pytest.raises(ProtocolError, match="fewer than 4"):
        ActionChunkBroker(Short()).infer({})


def test_ensembler_matches_act_formula() -> None:
    k = 0.5
    ens = TemporalEnsembler(Counting(), k=k)
    for t in range(7):
        out = ens.infer({})["actions"]
        assert out.shape == (1, 3) and out.dtype == np.float32
        # chunks that cover step t: those queried at t0 in [t-3, t], oldest first; row t - t0
        starts = list(range(max(0, t - 3), t + 1))
        preds = np.array([[t0, t - t0, 100 * t0 + t - t0] for t0 in starts], np.float64)
        w = np.exp(-k * np.arange(len(starts)))
        np.testing.assert_allclose(out[0], (w @ preds) / w.sum(), rtol=1e-6)


def test_ensembler_k_zero_is_plain_mean_and_reset_clears() -> None:
    ens = TemporalEnsembler(Counting(), k=0.0)
    ens.infer({})
    second = ens.infer({})["actions"][0]
    np.testing.assert_allclose(second, [(0 + 1) / 2, (1 + 0) / 2, (1 + 100) / 2])
    ens.reset()
    first = ens.infer({})["actions"][0]
    np.testing.assert_allclose(first, [2, 0, 200])  # only the fresh chunk counts


def test_ensembling_smooths_random_chunks() -> None:
    policy = RandomPolicy(META, seed=0)
    raw = np.array([step_action(policy.infer({})) for _ in range(200)])
    ens = TemporalEnsembler(RandomPolicy(META, seed=0), k=0.01)
    smooth = np.array([step_action(ens.infer({})) for _ in range(200)])
    assert np.abs(np.diff(smooth, axis=0)).mean() < 0.7 * np.abs(np.diff(raw, axis=0)).mean()
    assert np.all(np.abs(smooth) <= 1)
