"""The one chunk/history runner (policies/runner.py) and the generic checkpoint format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from armgym.contracts.policy import Policy, SessionPolicy
from armgym.errors import CheckpointError, ConfigError, ProtocolError
from armgym.policies.checkpoint import CONFIG_FILE, WEIGHTS_FILE, CheckpointFormat
from armgym.policies.runner import ChunkRunner, FrameHistory, action_chunk


def frame(t: float) -> dict[str, np.ndarray]:
    return {"s": np.array([t, -t], np.float32)}


def test_runners_per_env_keep_their_own_history_and_queue() -> None:
    """Two runners over a batch of two envs: queried only when their queue is empty,
    each with its own observation history [To, ...] (first frame repeated at the start)."""
    calls: list[tuple[int, np.ndarray]] = []

    def infer_for(env: int):
        def infer(history: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            calls.append((env, history["s"][:, 0].copy()))
            base = 100 * env + len(calls)
            return {"actions": np.arange(4, dtype=np.float32)[:, None] + base}

        return infer

    runners = [ChunkRunner(obs_horizon=2, execute_steps=3) for _ in range(2)]
    actions = [[r.act(frame(10 * j + t), infer_for(j)) for t in range(4)] for j, r in enumerate(runners)]  # fmt: skip
    # env 0: chunk 1 at t=0 (rows 0..2 of 1+[0..3]), chunk 2 at t=3
    assert [float(a[0]) for a in actions[0]] == [1.0, 2.0, 3.0, 2.0]
    assert [(e, h.tolist()) for e, h in calls if e == 0] == [(0, [0.0, 0.0]), (0, [2.0, 3.0])]
    assert [(e, h.tolist()) for e, h in calls if e == 1] == [(1, [10.0, 10.0]), (1, [12.0, 13.0])]
    assert all(r.inner_calls == 2 for r in runners)
    runners[0].reset()
    assert runners[0].needs_chunk and len(runners[0].history) == 0


def test_frame_history_fill_modes_and_dry_runs() -> None:
    filled, short = FrameHistory(3), FrameHistory(3, fill=False)
    for h in (filled, short):
        h.append(frame(1))
    assert filled.stacked()["s"][:, 0].tolist() == [1, 1, 1]
    assert short.stacked()["s"][:, 0].tolist() == [1]
    peek = filled.stacked(frame=frame(2))["s"][:, 0].tolist()
    assert peek == [1, 1, 2] and filled[-1]["s"][0] == 1  # frames_with changes nothing
    with pytest.raises(ConfigError, match="horizon must be >= 1"):
        FrameHistory(0)
    with pytest.raises(ConfigError, match="empty"):
        FrameHistory(2).stacked()


def test_bad_chunks_are_protocol_errors() -> None:
    with pytest.raises(ProtocolError, match="float32\\[H, A\\]"):
        action_chunk({"actions": np.zeros(3, np.float32)})
    with pytest.raises(ProtocolError, match="fewer than 4"):
        action_chunk({"actions": np.zeros((2, 3), np.float32)}, min_rows=4)


def test_learned_policy_is_a_session_policy_and_scripted_is_not() -> None:
    from _policies import tiny_diffusion

    from armgym.policies.scripted import ScriptedPolicy

    learned = tiny_diffusion()
    assert isinstance(learned, SessionPolicy) and isinstance(learned, Policy)
    assert not isinstance(ScriptedPolicy, SessionPolicy)
    fork = learned.fork(seed=7)
    assert fork.model is learned.model and fork.seed == 7


FMT = CheckpointFormat(
    "armgym.test",
    2,
    {1: lambda c: {**c, "config_version": 2, "width": c.pop("w")}},
    what="test checkpoint",
)


def test_generic_checkpoint_round_trip_migration_and_refusals(tmp_path: Path) -> None:
    tensors = {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3)}
    FMT.save(tmp_path, tensors, {"width": 3})
    config = FMT.read_config(tmp_path)
    assert config["format"] == "armgym.test" and config["config_version"] == 2
    assert not list(tmp_path.glob("*.tmp"))
    torch.testing.assert_close(FMT.load_weights(tmp_path, config)["w"], tensors["w"])
    raw = json.loads((tmp_path / CONFIG_FILE).read_text())
    old = {k: v for k, v in raw.items() if k != "width"} | {"config_version": 1, "w": 3}
    (tmp_path / CONFIG_FILE).write_text(json.dumps(old))
    assert FMT.read_config(tmp_path)["width"] == 3  # migrated v1 -> v2
    for version, match in ((3, "newer"), (0, "too old")):
        (tmp_path / CONFIG_FILE).write_text(json.dumps(raw | {"config_version": version}))
        with pytest.raises(CheckpointError, match=match):
            FMT.read_config(tmp_path)
    (tmp_path / CONFIG_FILE).write_text(json.dumps(raw | {"format": "armgym.policy"}))
    with pytest.raises(CheckpointError, match="not an armgym test checkpoint"):
        FMT.read_config(tmp_path)
    (tmp_path / WEIGHTS_FILE).write_bytes((tmp_path / WEIGHTS_FILE).read_bytes()[:-1] + b"!")
    with pytest.raises(CheckpointError, match="sha256"):
        FMT.load_weights(tmp_path, raw)
