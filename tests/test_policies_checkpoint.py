"""Learned policies and checkpoints: round trip, tampering, config versions, obs histories."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from armgym.contracts.policy import FeatureSpec
from armgym.errors import CheckpointError, ConfigError, UnknownNameError
from armgym.policies import Policy, load_checkpoint, policy_module
from armgym.policies.checkpoint import CONFIG_FILE, WEIGHTS_FILE
from armgym.policies.diffusion import DiffusionConfig
from armgym.policies.encoders import EncoderConfig
from armgym.policies.learned import build_policy, save_checkpoint
from armgym.policies.mlp import MLPConfig
from armgym.policies.normalize import Normalizer, compute_stats

STATE = {
    "observation.state": FeatureSpec("float32", (22,)),
    "observation.environment_state": FeatureSpec("float32", (7,)),
}
PIXELS = {
    "observation.state": FeatureSpec("float32", (22,)),
    "observation.images.front": FeatureSpec("uint8", (32, 32, 3)),
}
CONFIGS = {
    "mlp": MLPConfig(hidden_dims=(32, 32), horizon=8, n_action_steps=4),
    "diffusion": DiffusionConfig(
        down_dims=(16, 32),
        horizon=8,
        n_action_steps=4,
        num_inference_steps=4,
        step_embed_dim=16,
        encoder=EncoderConfig(channels=(8, 8), image_feature_dim=8),
    ),
}


def normalizer(schema: dict[str, FeatureSpec]) -> Normalizer:
    rng = np.random.default_rng(0)
    stats = {
        k: {"mode": "mean_std", **compute_stats(rng.normal(size=(50, s.shape[0])), "mean_std")}
        for k, s in schema.items()
        if "images" not in k
    }
    stats["action"] = {"mode": "min_max", **compute_stats(rng.uniform(-1, 1, (50, 7)), "min_max")}
    return Normalizer(stats)


def make_policy(kind: str, schema=STATE, seed: int = 0):
    torch.manual_seed(seed)
    env = {"task": "PickCube", "obs": "state" if schema is STATE else "pixels"}
    return build_policy(kind, CONFIGS[kind], schema, 7, normalizer(schema), 10.0, env)


def obs_for(schema, rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        k: (
            rng.integers(0, 255, s.shape, dtype=np.uint8)
            if s.dtype == "uint8"
            else rng.normal(size=s.shape).astype(np.float32)
        )
        for k, s in schema.items()
    }


@pytest.mark.parametrize("kind", ["mlp", "diffusion"])
@pytest.mark.parametrize("schema", [STATE, PIXELS], ids=["state", "pixels"])
def test_round_trip(tmp_path: Path, kind: str, schema) -> None:
    policy = make_policy(kind, schema)
    assert isinstance(policy, Policy)
    save_checkpoint(tmp_path / "ck", policy)
    loaded = load_checkpoint(tmp_path / "ck")
    assert loaded.kind == kind and loaded.cfg == policy.cfg
    assert loaded.metadata.action_horizon == 4 and loaded.metadata.extra["obs_horizon"] == 2
    rng = np.random.default_rng(1)
    frames = [obs_for(schema, rng) for _ in range(3)]
    for p in (policy, loaded):
        p.reset()
    for f in frames:
        a, b = policy.infer(f)["actions"], loaded.infer(f)["actions"]
        assert a.shape == (4, 7) and a.dtype == np.float32
        assert np.isfinite(a).all() and np.abs(a).max() <= 1.0
        np.testing.assert_array_equal(a, b)
    config = json.loads((tmp_path / "ck" / CONFIG_FILE).read_text())
    assert config["policy"] == kind and re.fullmatch(r"[0-9a-f]{64}", config["weights_sha256"])
    assert set(config["schema"]["observation"]) == set(schema)


def test_history_single_frames_equal_stacked() -> None:
    policy = make_policy("diffusion")
    rng = np.random.default_rng(2)
    f0, f1 = obs_for(STATE, rng), obs_for(STATE, rng)
    policy.reset()
    policy.infer(f0)
    a = policy.infer(f1)["actions"]
    stacked = {k: np.stack([f0[k], f1[k]]) for k in STATE}
    policy.reset()
    policy.infer(f0)  # advance the noise generator as the first run did
    b = policy.infer(stacked)["actions"]
    np.testing.assert_array_equal(a, b)
    policy.reset()  # reset re-seeds: an episode replays exactly
    np.testing.assert_array_equal(
        policy.infer(f0)["actions"], make_policy("diffusion").infer(f0)["actions"]
    )


def test_tampered_weights_rejected(tmp_path: Path) -> None:
    save_checkpoint(tmp_path, make_policy("mlp"))
    blob = bytearray((tmp_path / WEIGHTS_FILE).read_bytes())
    blob[-3] ^= 0xFF
    (tmp_path / WEIGHTS_FILE).write_bytes(bytes(blob))
    with pytest.raises(CheckpointError, match="sha256"):
        load_checkpoint(tmp_path)


def test_weights_of_another_model_rejected(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "a", make_policy("mlp"))
    save_checkpoint(tmp_path / "b", make_policy("diffusion"))
    cfg = json.loads((tmp_path / "a" / CONFIG_FILE).read_text())
    other = json.loads((tmp_path / "b" / CONFIG_FILE).read_text())
    cfg["weights_sha256"] = other["weights_sha256"]
    (tmp_path / "a" / CONFIG_FILE).write_text(json.dumps(cfg))
    (tmp_path / "a" / WEIGHTS_FILE).write_bytes((tmp_path / "b" / WEIGHTS_FILE).read_bytes())
    with pytest.raises(CheckpointError, match="does not fit"):
        load_checkpoint(tmp_path / "a")


def to_v1(config: dict) -> dict:
    """The pre-release (v1) layout that migration 1 -> 2 upgrades."""
    obs = config["schema"]["observation"]
    return {
        "config_version": 1,
        "policy_type": config["policy"],
        "config": config["policy_config"],
        "stats": {
            k: {kk: vv for kk, vv in v.items() if kk != "mode"}
            for k, v in config["normalization"].items()
        },
        "obs_shapes": {k: v["shape"] for k, v in obs.items()},
        "action_dim": 7,
        "fps": config["fps"],
        "env": config["env"],
        "weights_sha256": config["weights_sha256"],
    }


def test_old_config_version_migrated(tmp_path: Path) -> None:
    policy = make_policy("mlp")
    save_checkpoint(tmp_path, policy)
    path = tmp_path / CONFIG_FILE
    path.write_text(json.dumps(to_v1(json.loads(path.read_text()))))
    loaded = load_checkpoint(tmp_path)
    f = obs_for(STATE, np.random.default_rng(3))
    np.testing.assert_array_equal(loaded.infer(f)["actions"], policy.infer(f)["actions"])


@pytest.mark.parametrize(("version", "match"), [(0, "too old"), (99, "newer"), ("x", "integer")])
def test_unsupported_config_versions(tmp_path: Path, version, match: str) -> None:
    save_checkpoint(tmp_path, make_policy("mlp"))
    cfg = json.loads((tmp_path / CONFIG_FILE).read_text())
    cfg["config_version"] = version
    (tmp_path / CONFIG_FILE).write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(tmp_path)


def test_broken_checkpoints(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"config\.json"):
        load_checkpoint(tmp_path)
    save_checkpoint(tmp_path, make_policy("mlp"))
    cfg = json.loads((tmp_path / CONFIG_FILE).read_text())
    cfg["policy_config"]["bogus"] = 1
    (tmp_path / CONFIG_FILE).write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="bogus"):
        load_checkpoint(tmp_path)
    (tmp_path / CONFIG_FILE).write_text("{not json")
    with pytest.raises(CheckpointError, match="JSON"):
        load_checkpoint(tmp_path)


def test_wrong_observations_rejected() -> None:
    policy = make_policy("mlp")
    with pytest.raises(CheckpointError, match="lacks"):
        policy.infer({"observation.state": np.zeros(22, np.float32)})
    with pytest.raises(CheckpointError, match="shape"):
        policy.infer(
            {
                "observation.state": np.zeros(5, np.float32),
                "observation.environment_state": np.zeros(7, np.float32),
            }
        )


def test_registry_and_config_validation() -> None:
    with pytest.raises(UnknownNameError, match="diffusion"):
        policy_module("difusion")
    with pytest.raises(ConfigError):
        DiffusionConfig(horizon=10)  # not divisible by 4 for 3 U-Net levels
    with pytest.raises(ConfigError):
        MLPConfig(n_action_steps=20, horizon=16)


def test_never_unpickles() -> None:
    src = Path(__file__).resolve().parents[1] / "src" / "armgym"
    for rel in (
        "policies/checkpoint.py",
        "policies/learned.py",
        "train/bc.py",
        "eval/ray_backend.py",
    ):
        text = (src / rel).read_text()
        assert "torch.load" not in text and "import pickle" not in text, rel
