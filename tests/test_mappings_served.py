"""Mapped policies against stand-in servers on 127.0.0.1 with openpi's exact schemas:
openpi-client drives the mapped policy, ``armgym run --mapping`` drives and records."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _openpi_standins import SCHEMAS, schema_problems, standin_server
from openpi_client.websocket_client_policy import WebsocketClientPolicy

from armgym.apps import run
from armgym.data.reader import LeRobotReader
from armgym.errors import ConfigError
from armgym.mappings import EnvFacts, MappedPolicy, check_mapping, load_mapping
from armgym.serve.policy_client import ServerError
from armgym.tasks.language import instructions

pytestmark = pytest.mark.filterwarnings("ignore:connect\\(\\) must be used:DeprecationWarning")

SETUPS = {  # family -> (robot, answer row)
    "libero": ("panda", [0.2, 0, 0, 0, 0, 0, -1.0]),
    "droid": ("panda", [0.1, 0, 0, 0, 0, 0, 0, 0.0]),
    "aloha": ("vx300", [0.0] * 6 + [1.0] + [0.0] * 7),
    "cogact": ("panda", [0.01, 0, 0, 0, 0, 0, 1.0]),
}


def test_schema_checker_catches_differences() -> None:
    schema = SCHEMAS["libero"][0]
    img = np.zeros((224, 224, 3), np.uint8)
    good = {"observation/image": img, "observation/wrist_image": img,
            "observation/state": np.zeros(8, np.float32), "prompt": "pick"}  # fmt: skip
    assert schema_problems(good, schema) == []
    bad = {**good, "observation/image": img.astype(np.float32), "extra": 1}
    bad.pop("prompt")
    assert len(schema_problems(bad, schema)) == 3


@pytest.mark.parametrize("family", sorted(SETUPS))
def test_openpi_client_drives_each_schema(family: str) -> None:
    robot, row = SETUPS[family]
    mapping = load_mapping(family)
    cfg = run.RunConfig(task="PickCube", robot=robot, mapping=family, max_steps=12)
    with standin_server(family, np.asarray(row)) as (standin, port):
        env = run.make_env(cfg, mapping)
        try:
            facts = EnvFacts.of(env)
            check_mapping(mapping, facts)
            client = WebsocketClientPolicy(host="127.0.0.1", port=port)
            policy = MappedPolicy(mapping, facts, client)
            obs, info = env.reset(seed=3)
            actions = policy.infer(obs)["actions"]
            steps = mapping.action.execute_steps
            assert actions.shape == (steps, env.action_space.shape[0])
            assert actions.dtype == np.float32 and np.abs(actions).max() <= 1.0
            for a in actions:
                obs, *_ = env.step(a)
            policy.infer(obs)
        finally:
            env.close()
    assert standin.requests == 2
    assert standin.prompts == [info["instruction"]] * 2
    assert info["instruction"] in instructions("PickCube")


def test_schema_mismatch_reaches_the_user_as_the_servers_message() -> None:
    """A preset sent to the wrong server family: openpi's server answers with text."""
    url = "ws://127.0.0.1:{}"
    with (
        standin_server("cogact") as (_, port),
        pytest.raises(ServerError, match="missing key image"),
    ):
        run.main(["--policy", url.format(port), "--mapping", "libero", "--max-steps", "3",
                  "--episodes", "1"])  # fmt: skip


def test_run_refuses_a_mapping_that_does_not_fit_before_a_request() -> None:
    with standin_server("aloha") as (standin, port), pytest.raises(ConfigError, match="6-joint"):
        run.main(["--policy", f"ws://127.0.0.1:{port}", "--mapping", "aloha",
                      "--robot", "panda"])  # fmt: skip
    assert standin.requests == 0


def test_run_records_mapped_episodes_with_the_prompt_as_task(tmp_path: Path, capsys) -> None:
    out = tmp_path / "rollouts"
    with standin_server("libero", np.array([0.2, 0, 0, 0, 0, 0, -1.0])) as (standin, port):
        assert run.main(["--policy", f"ws://127.0.0.1:{port}", "--mapping", "libero",
                         "--episodes", "2", "--seed", "5", "--max-steps", "10",
                         "--record", str(out), "--json-out"]) == 0  # fmt: skip
    summary = json.loads(capsys.readouterr().out)
    assert summary["steps"] == 20 and summary["dataset"] == str(out)
    assert standin.requests == 4  # 10 steps, 5 rows per query, 2 episodes
    reader = LeRobotReader(out)
    assert reader.num_episodes == 2
    ep0, ep1 = reader.episode(0), reader.episode(1)
    assert set(ep0["task"]) == {standin.prompts[0]} and set(ep1["task"]) == {standin.prompts[2]}
    assert "observation.images.front" in reader.video_keys
    assert reader.features["observation.images.front"]["shape"][:2] == [224, 224]
    assert np.allclose(ep0["action"][:, 0], 0.2 * 0.05 / 0.02)  # LIBERO dx scaled to ee_delta
    assert np.allclose(ep0["action"][:, 6], 1.0)  # LIBERO -1 = open -> armgym +1


def test_eval_a_served_policy_with_a_mapping(tmp_path: Path) -> None:
    """``armgym eval --policy ws://...``: seeds, Wilson interval and a video, one connection
    (one copy of the mapped policy) per parallel env."""
    from armgym.eval.cli import EvalConfig, evaluate

    with standin_server("cogact", np.array([0.0, 0, 0.01, 0, 0, 0, 1.0])) as (standin, port):
        report = evaluate(EvalConfig(policy=f"ws://127.0.0.1:{port}", mapping="cogact",
                                     task="Reach", episodes=3, num_envs=2, seed=7, videos=1,
                                     video_size=(64, 64), out=tmp_path, progress=False))  # fmt: skip
    assert report["episodes"] == 3 and report["policy"] == "served:cogact"
    assert [e["seed"] for e in report["per_episode"]] == [7, 8, 9]
    lo, hi = report["success_ci95"]
    assert -1e-9 <= lo <= report["success_rate"] + 1e-9 and report["success_rate"] <= hi <= 1.0
    assert standin.requests == sum(e["length"] for e in report["per_episode"])
    assert len(report["videos"]) == 1 and Path(report["videos"][0]).stat().st_size > 0
    assert json.loads((tmp_path / "report.json").read_text())["env"]["obs"] == "pixels"


def test_eval_needs_exactly_one_policy_source(tmp_path: Path) -> None:
    from armgym.eval.cli import EvalConfig, evaluate

    with pytest.raises(ConfigError, match="either --checkpoint"):
        evaluate(EvalConfig(out=tmp_path))
