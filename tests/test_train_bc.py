"""BC training end to end on a tiny budget: collect -> train -> eval; determinism; resume."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from armgym.apps.collect import CollectConfig, collect
from armgym.cli import main as armgym_main
from armgym.errors import CheckpointError, ConfigError, DatasetError
from armgym.eval.report import read_log
from armgym.policies import load_checkpoint
from armgym.policies.diffusion import DiffusionConfig
from armgym.policies.encoders import EncoderConfig
from armgym.policies.mlp import MLPConfig
from armgym.train import bc
from armgym.train.bc import BCConfig, train

TINY_MLP = MLPConfig(
    hidden_dims=(64, 64), encoder=EncoderConfig(channels=(8, 8), image_feature_dim=8)
)
TINY_DIFFUSION = DiffusionConfig(down_dims=(16, 32, 64), step_embed_dim=16, num_inference_steps=4)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bc") / "demos"
    collect(
        CollectConfig(out=root, episodes=6, obs="state", sim_state=False, seed=500, progress=False)
    )
    return root


def cfg_for(dataset: Path, out: Path, **kw) -> BCConfig:
    base = BCConfig(
        dataset=dataset,
        out=out,
        policy="mlp",
        steps=30,
        batch_size=16,
        save_every=10,
        progress=False,
        mlp=TINY_MLP,
        diffusion=TINY_DIFFUSION,
    )
    return replace(base, **kw)


def test_collect_train_eval_end_to_end(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "ck"
    code = armgym_main(
        [
            "train",
            "bc",
            "--dataset",
            str(dataset),
            "--policy",
            "mlp",
            "--steps",
            "80",
            "--batch-size",
            "32",
            "--out",
            str(out),
            "--no-progress",
            "--eval-every",
            "80",
            "--eval-episodes",
            "2",
            "--eval-num-envs",
            "2",
            "--warmup-steps",
            "10",
            "--mlp.hidden-dims",
            "64",
            "64",
        ]
    )
    assert code == 0
    for name in (
        "model.safetensors",
        "config.json",
        "log.jsonl",
        "train_state.json",
        "train_state.safetensors",
    ):
        assert (out / name).is_file(), name
    losses, evals = read_log(out / "log.jsonl")
    assert [r["step"] for r in losses] == list(range(1, 81))
    first = sum(r["loss"] for r in losses[:10]) / 10
    last = sum(r["loss"] for r in losses[-10:]) / 10
    assert last < 0.5 * first, (first, last)
    assert len(evals) == 1 and evals[0]["eval"]["episodes"] == 2
    config = json.loads((out / "config.json").read_text())
    assert config["env"]["task"] == "PickCube" and config["env"]["obs"] == "state"
    assert config["extra"]["train"]["seeds"] == list(range(500, 506))
    code = armgym_main(
        [
            "eval",
            "--checkpoint",
            str(out),
            "--episodes",
            "3",
            "--num-envs",
            "2",
            "--videos",
            "1",
            "--video-size",
            "64",
            "64",
            "--no-progress",
            "--seed",
            "500",
        ]
    )
    assert code == 0
    report = json.loads((out / "eval" / "report.json").read_text())
    assert report["episodes"] == 3 and [e["seed"] for e in report["per_episode"]] == [500, 501, 502]
    assert report["seeds_overlapping_training"] == [500, 501, 502]
    assert Path(report["videos"][0]).is_file()


def test_diffusion_trains(dataset: Path, tmp_path: Path) -> None:
    s = train(cfg_for(dataset, tmp_path / "d", policy="diffusion", steps=20))
    losses, _ = read_log(tmp_path / "d" / "log.jsonl")
    assert len(losses) == 20 and all(r["loss"] == r["loss"] for r in losses)
    assert s["policy_params"] > 0
    policy = load_checkpoint(tmp_path / "d")
    assert policy.kind == "diffusion" and policy.cfg == TINY_DIFFUSION


def test_deterministic_given_seed(dataset: Path, tmp_path: Path) -> None:
    logs = []
    for name in ("a", "b"):
        train(cfg_for(dataset, tmp_path / name, steps=15, seed=3))
        logs.append([r["loss"] for r in read_log(tmp_path / name / "log.jsonl")[0]])
    assert logs[0] == logs[1]
    assert (tmp_path / "a" / "model.safetensors").read_bytes() == (
        tmp_path / "b" / "model.safetensors"
    ).read_bytes()


def test_resume_equals_uninterrupted(dataset: Path, tmp_path: Path, monkeypatch) -> None:
    train(cfg_for(dataset, tmp_path / "full", policy="diffusion"))
    real_save = bc.save_run

    def save_then_crash(out, policy, model, opt, step, *args):
        real_save(out, policy, model, opt, step, *args)
        if step == 10:
            raise KeyboardInterrupt

    monkeypatch.setattr(bc, "save_run", save_then_crash)
    with pytest.raises(KeyboardInterrupt):
        train(cfg_for(dataset, tmp_path / "resumed", policy="diffusion"))
    monkeypatch.setattr(bc, "save_run", real_save)
    train(cfg_for(dataset, tmp_path / "resumed", policy="diffusion", resume=True))
    assert (tmp_path / "full" / "model.safetensors").read_bytes() == (
        tmp_path / "resumed" / "model.safetensors"
    ).read_bytes()
    full = read_log(tmp_path / "full" / "log.jsonl")[0]
    resumed = read_log(tmp_path / "resumed" / "log.jsonl")[0]
    assert [r["loss"] for r in full] == [r["loss"] for r in resumed]


def test_run_folder_guards(dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="resume"):
        train(cfg_for(dataset, tmp_path / "none", resume=True))
    train(cfg_for(dataset, tmp_path / "r", steps=5))
    with pytest.raises(ConfigError, match="--resume"):
        train(cfg_for(dataset, tmp_path / "r", steps=5))
    with pytest.raises(ConfigError, match="batch_size"):
        train(cfg_for(dataset, tmp_path / "r", steps=10, resume=True, batch_size=8))
    train(cfg_for(dataset, tmp_path / "r", steps=5, overwrite=True))


def test_pixel_policy_trains_and_evaluates(tmp_path: Path) -> None:
    root = tmp_path / "pix"
    collect(
        CollectConfig(
            out=root,
            episodes=2,
            obs="pixels",
            cameras=("front",),
            image_size=32,
            sim_state=False,
            vcodec="libx264",
            progress=False,
        )
    )
    out = tmp_path / "ck"
    train(cfg_for(root, out, obs="pixels", steps=4, batch_size=4))
    policy = load_checkpoint(out)
    assert set(policy.schema) == {"observation.state", "observation.images.front"}
    assert policy.env["obs"] == "pixels" and policy.env["image_size"] == [32, 32]
    from armgym.eval.rollout import RolloutConfig, rollout

    results, _ = rollout(policy, policy.env, [0], RolloutConfig(num_envs=1))
    assert len(results) == 1 and results[0].length > 0


def test_trains_on_a_dataset_lerobot_wrote(shared_fixtures: Path, tmp_path: Path) -> None:
    root = shared_fixtures / "lerobot_v30_sample"  # 3 x 12 frames, state [8], 64x64 AV1 video
    train(cfg_for(root, tmp_path / "ck", obs="pixels", steps=3, batch_size=4))
    policy = load_checkpoint(tmp_path / "ck")
    assert policy.schema["observation.state"].shape == (8,)
    assert policy.schema["observation.images.front"].shape == (64, 64, 3)
    with pytest.raises(DatasetError, match="environment_state"):
        train(cfg_for(root, tmp_path / "st", obs="state", steps=3))


def test_robot_state_only_dataset_trains(tmp_path: Path) -> None:
    """A LeRobot dataset with observation.state only (no object state, no camera)."""
    from armgym.data.testing import write_synthetic

    data = tmp_path / "robot_only"
    write_synthetic(data, [12, 9], ["pick", "pick"], image_size=None)
    with pytest.raises(DatasetError, match=r"observation\.environment_state"):
        train(cfg_for(data, tmp_path / "state", obs="state"))
    out = tmp_path / "ck"
    args = ["train", "bc", "--dataset", str(data), "--out", str(out), "--obs", "robot",
            "--policy", "mlp", "--steps", "12", "--batch-size", "8", "--no-progress",
            "--mlp.hidden-dims", "32", "32"]  # fmt: skip
    assert armgym_main(args) == 0
    policy = load_checkpoint(out)
    assert list(policy.metadata.observation) == ["observation.state"]
    assert policy.env["obs"] == "state" and "cameras" not in policy.env
    actions = policy.infer({"observation.state": np.zeros(8, np.float32)})["actions"]
    assert actions.shape == (policy.metadata.action_horizon, 7) and np.isfinite(actions).all()


def test_train_subcommand_help_and_bad_names(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        armgym_main(["train", "bc", "--help"])
    assert exc.value.code == 0
    assert "--obs {state,robot,pixels,both}" in capsys.readouterr().out
    assert armgym_main(["train", "bd"]) == 2
    assert "Did you mean 'bc'" in capsys.readouterr().err
