"""Reward classifier: `armgym train reward-classifier` on datasets recorded with
`armgym collect`, its report, checkpoint, errors, and RewardClassifierWrapper."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from armgym.apps import collect
from armgym.contracts.info import REWARD_PROB, TASK_SUCCESS
from armgym.data.reader import LeRobotReader
from armgym.envs import EnvConfig, make_env
from armgym.errors import CheckpointError, ConfigError, DatasetError, UnknownNameError
from armgym.policies.reward_classifier import load_reward_classifier, save_reward_classifier
from armgym.rl.reward_classifier import RewardClassifierWrapper, make_classified_env
from armgym.train import classifier_metrics as cm
from armgym.train import cli

SIZE = 32
STEPS = 40


def record(out: Path, *extra: str, episodes: int = 4, obs: str = "pixels") -> Path:
    args = ["--out", str(out), "--task", "PickCube", "--obs", obs, "--image-size", str(SIZE),
            "--episodes", str(episodes), "--max-steps", "40", "--no-sim-state", "--no-progress",
            "--vcodec", "libx264", *extra]  # fmt: skip
    collect.main(args)
    return out


def train_args(out: Path, *datasets: Path, steps: int = STEPS) -> list[str]:
    ds = [a for d in datasets for a in ("--dataset", str(d))]
    return ["reward-classifier", *ds, "--out", str(out), "--steps", str(steps),
            "--batch-size", "16", "--no-progress"]  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("rewardclf")
    ok = record(root / "ok", "--no-terminate-on-success")
    fail = record(
        root / "fail", "--no-terminate-on-success", "--action-noise", "1.0", "--seed", "100"
    )
    ck = root / "ck"
    assert cli.main(train_args(ck, ok, fail)) == 0
    return {"root": root, "ok": ok, "fail": fail, "ck": ck}


def recompute(ck: Path, report: dict, split: str) -> tuple[np.ndarray, np.ndarray]:
    """P(success) and labels of a split's episodes, read afresh from the datasets."""
    clf = load_reward_classifier(ck)
    probs, labels = [], []
    for e in report["splits"][split]["episodes"]:
        ep = report["episodes"][e]
        reader = LeRobotReader(ep["dataset"])
        frames = reader.episode(ep["episode"])
        keys = [f"observation.images.{c}" for c in report["cameras"]]
        probs.append(clf.probs({k: frames[k] for k in keys}))
        labels.append(cm.state_labels(frames["next.success"]))
    return np.concatenate(probs), np.concatenate(labels)


def test_collect_records_success_frames_and_noisy_failures(runs: dict[str, Path]) -> None:
    ok, fail = LeRobotReader(runs["ok"]), LeRobotReader(runs["fail"])
    assert all(e.extras["armgym/success"] for e in ok.episodes)
    assert not any(e.extras["armgym/success"] for e in fail.episodes)
    succ = ok.episode(0, ["next.success"])["next.success"].reshape(-1)
    assert succ[-1] and succ.sum() > 1  # the episode went on after success
    assert ok.episodes[0].length == 40


def test_report_is_held_out_by_episode_and_matches_recomputation(runs: dict[str, Path]) -> None:
    report = json.loads((runs["ck"] / "report.json").read_text())
    splits = {k: set(v["episodes"]) for k, v in report["splits"].items()}
    assert splits["train"].isdisjoint(splits["val"] | splits["test"])
    assert splits["val"].isdisjoint(splits["test"])
    assert splits["train"] | splits["val"] | splits["test"] == set(range(8))
    for name in ("val", "test"):  # both classes of episode in each held-out split
        eps = [report["episodes"][e] for e in splits[name]]
        assert any(e["success_frames"] for e in eps) and not all(e["success_frames"] for e in eps)
    p_val, y_val = recompute(runs["ck"], report, "val")
    threshold, met = cm.choose_threshold(p_val, y_val, 0.99)
    assert threshold == pytest.approx(report["threshold"], abs=1e-5)
    assert met == report["target_precision_met_on_val"]
    p_test, y_test = recompute(runs["ck"], report, "test")
    again = cm.binary_metrics(p_test, y_test, report["threshold"])
    for key in ("frames", "tp", "fp", "tn", "fn"):
        assert again[key] == report["test"][key], key
    for key in ("accuracy", "precision", "recall"):
        assert again[key] == pytest.approx(report["test"][key]), key
    assert report["test"]["frames"] == report["splits"]["test"]["frames"]
    assert load_reward_classifier(runs["ck"]).threshold == report["threshold"]


def test_log_refusal_to_overwrite_and_resume(runs: dict[str, Path], tmp_path: Path) -> None:
    lines = (runs["ck"] / "log.jsonl").read_text().splitlines()
    assert [json.loads(ln)["step"] for ln in lines] == list(range(1, STEPS + 1))
    assert all(np.isfinite(json.loads(ln)["loss"]) for ln in lines)
    with pytest.raises(ConfigError, match="--resume"):
        cli.main(train_args(runs["ck"], runs["ok"], runs["fail"]))
    run = shutil.copytree(runs["ck"], tmp_path / "ck")
    assert cli.main([*train_args(run, runs["ok"], runs["fail"], steps=STEPS + 5), "--resume"]) == 0
    steps = [json.loads(ln)["step"] for ln in (run / "log.jsonl").read_text().splitlines()]
    assert steps == list(range(1, STEPS + 6))
    assert json.loads((run / "train_state.json").read_text())["step"] == STEPS + 5


def test_checkpoint_round_trip_and_tamper(runs: dict[str, Path], tmp_path: Path) -> None:
    clf = load_reward_classifier(runs["ck"])
    rng = np.random.default_rng(0)
    obs = {k: rng.integers(0, 255, (3, *s), dtype=np.uint8) for k, s in clf.image_shapes.items()}
    clf.threshold = 0.25
    copy = load_reward_classifier(save_reward_classifier(tmp_path / "copy", clf))
    np.testing.assert_array_equal(copy.probs(obs), clf.probs(obs))
    assert copy.threshold == 0.25 and copy.image_shapes == clf.image_shapes
    weights = tmp_path / "copy" / "model.safetensors"
    blob = bytearray(weights.read_bytes())
    blob[-1] ^= 0xFF
    weights.write_bytes(bytes(blob))
    with pytest.raises(CheckpointError, match="sha256"):
        load_reward_classifier(tmp_path / "copy")
    with pytest.raises(CheckpointError, match="not a folder"):
        load_reward_classifier(tmp_path / "nothing")


def test_training_errors(runs: dict[str, Path], tmp_path: Path) -> None:
    state = record(tmp_path / "state", episodes=1, obs="state")
    with pytest.raises(DatasetError, match="no camera images"):
        cli.main(train_args(tmp_path / "a", state))
    with pytest.raises(UnknownNameError, match="side"):
        cli.main([*train_args(tmp_path / "b", runs["ok"]), "--cameras", "side"])
    with pytest.raises(DatasetError, match="no frame shows a success"):
        cli.main(train_args(tmp_path / "c", runs["fail"]))
    with pytest.raises(DatasetError, match=r"only 0 episode\(s\) without a success frame"):
        cli.main(train_args(tmp_path / "d", runs["ok"]))  # every episode succeeds


def test_split_needs_three_episodes_per_class() -> None:
    split = cm.split_episodes(np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 0], bool), 0.2, 0.2, 0)
    # 3 positive episodes: 1 / 1 / 1; 7 negative: 1 test, 1 val (round(0.2 * 7)), 5 train
    assert (len(split.test), len(split.val), len(split.train)) == (2, 2, 6)
    assert set(split.test + split.val + split.train) == set(range(10))
    with pytest.raises(DatasetError, match="at least 3"):
        cm.split_episodes(np.array([1, 1, 0, 0, 0], bool), 0.2, 0.2, 0)


def test_choose_threshold() -> None:
    p = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.3, 0.1])
    y = np.array([1, 1, 0, 1, 0, 0, 0], bool)
    assert cm.choose_threshold(p, y, 0.99) == (0.9, True)  # lowest with precision 1
    assert cm.choose_threshold(p, y, 0.75) == (0.7, True)  # 3 of 4 above 0.7
    y2 = np.array([0, 1, 0, 1, 0, 0, 0], bool)
    assert cm.choose_threshold(p, y2, 0.99) == (0.7, False)  # best precision 0.5, lowest
    assert cm.state_labels(np.array([[0], [1], [1]])).tolist() == [False, False, True]


def test_wrapper_replaces_reward_success_and_termination(runs: dict[str, Path]) -> None:
    cfg = EnvConfig(task="PickCube", obs="pixels", image_size=(SIZE, SIZE), reward="dense")
    clf = load_reward_classifier(runs["ck"])
    env = make_classified_env(cfg, clf)
    try:
        assert env.unwrapped.terminate_on_success is False
        clf.threshold = 2.0  # never fires: reward 0, never ends, the task's check kept apart
        _, info = env.reset(seed=3)
        assert info["is_success"] is False and TASK_SUCCESS in info
        for _ in range(5):
            _, r, term, _, info = env.step(env.action_space.sample())
            assert r == 0.0 and not term
            assert info["is_success"] is False and info[TASK_SUCCESS] is False
            assert 0.0 <= info[REWARD_PROB] <= 1.0
        clf.threshold = 0.0  # always fires: reward 1 and the episode ends
        _, r, term, _, info = env.step(env.action_space.sample())
        assert (r, term, info["is_success"], info[TASK_SUCCESS]) == (1.0, True, True, False)
    finally:
        env.close()


def test_wrapper_checks_the_env(runs: dict[str, Path]) -> None:
    clf = load_reward_classifier(runs["ck"])
    env = make_env(EnvConfig(task="PickCube", obs="pixels", image_size=(SIZE, SIZE)))
    with pytest.raises(ConfigError, match="terminate_on_success=False"):
        RewardClassifierWrapper(env, clf)
    env.close()
    with pytest.raises(ConfigError, match=f"--image-size {SIZE}"):
        make_classified_env(EnvConfig(task="PickCube", obs="pixels", image_size=(48, 48)), clf)
    with pytest.raises(ConfigError, match="trained on task 'PickCube'"):
        make_classified_env(EnvConfig(task="Push", obs="pixels", image_size=(SIZE, SIZE)), clf)
    with pytest.raises(ConfigError, match="wrist"):
        make_classified_env(
            EnvConfig(task="PickCube", obs="pixels", image_size=(SIZE, SIZE), cameras=("front",)),
            clf,
        )


def test_sac_uses_the_classifier_for_training_only(runs: dict[str, Path], tmp_path: Path) -> None:
    from armgym.train.sac import SACTrainConfig
    from armgym.train.sac_utils import make_env as sac_env

    cfg = SACTrainConfig(out=tmp_path / "sac", obs="pixels", image_size=SIZE,
                         reward_classifier=runs["ck"])  # fmt: skip
    env = sac_env(cfg)
    try:
        assert isinstance(env, RewardClassifierWrapper)
    finally:
        env.close()
    with pytest.raises(ConfigError, match="--image-size"):
        sac_env(SACTrainConfig(out=tmp_path / "s2", obs="pixels", reward_classifier=runs["ck"]))


def test_sac_end_to_end_learns_from_the_classifier_and_evaluates_the_task(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    """A classifier that always fires (threshold 0): every training episode ends after one
    step with reward 1 and is logged a success; evaluation still scores the task."""
    from armgym.policies.sac import SACConfig
    from armgym.train.sac import SACTrainConfig
    from armgym.train.sac import train as train_sac

    clf = load_reward_classifier(runs["ck"])
    clf.threshold = 0.0
    always = save_reward_classifier(tmp_path / "always", clf)
    out = tmp_path / "sac"
    cfg = SACTrainConfig(out=out, obs="pixels", image_size=SIZE, demos="0", steps=12,
                         learning_starts=10, batch_size=4, eval_episodes=1, eval_num_envs=1,
                         eval_every=0, checkpoint_every=12, log_every=6, progress=False,
                         reward_classifier=always, net=SACConfig(hidden_dims=(16, 16)))  # fmt: skip
    train_sac(cfg)
    log = [json.loads(ln) for ln in (out / "log.jsonl").read_text().splitlines() if ln]
    episodes = [row["episode"] for row in log if "episode" in row]
    assert len(episodes) == 12
    assert all(e == {"return": 1.0, "length": 1, "success": True} for e in episodes)
    (ev,) = [row["eval"] for row in log if "eval" in row]
    assert ev["success_rate"] == 0.0 and ev["mean_length"] > 1  # the task's own check
