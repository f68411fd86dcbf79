"""rerun recordings: `armgym collect --rerun` / `armgym view --rerun`, read back from the .rrd."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from armgym.cli import main as armgym
from armgym.errors import ConfigError

rr = pytest.importorskip("rerun", reason="pip install armgym[viz] for rerun recordings")


@pytest.fixture(autouse=True)
def private_home(tmp_path: Path, monkeypatch) -> None:
    """rerun may write config/analytics under HOME / XDG dirs: keep them in tmp_path."""
    home = tmp_path / "home"
    for var, sub in (("HOME", ""), ("XDG_CONFIG_HOME", ".config"), ("XDG_DATA_HOME", ".local"),
                     ("XDG_CACHE_HOME", ".cache")):  # fmt: skip
        (home / sub).mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(var, str(home / sub))
    monkeypatch.setenv("RERUN_ANALYTICS", "0")


def read_rrd(path: Path) -> dict[str, list]:
    """Entity path -> record batches of the recording in ``path``."""
    from rerun.chunk import RrdReader

    out: dict[str, list] = {}
    for chunk in RrdReader(path).stream():
        out.setdefault(chunk.entity_path, []).append(chunk.to_record_batch())
    return out


def column(batches: list, name: str) -> np.ndarray:
    values = []
    for rb in batches:
        values += rb.column(name).to_pylist()
    return np.asarray(values, dtype=object)


def test_collect_and_view_write_readable_recordings(tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    args = ["collect", "--out", str(ds), "--episodes", "2", "--obs", "both", "--image-size", "32",
            "--no-progress", "--max-steps", "12", "--rerun"]  # fmt: skip
    assert armgym(args) == 0
    rrd = ds / "rerun" / "episodes_0-1.rrd"
    assert rrd.is_file()
    ent = read_rrd(rrd)
    assert {"/cameras/front", "/cameras/wrist", "/world/ee", "/action/dx", "/action/gripper",
            "/state/joint_pos/joint1", "/state/gripper", "/object/cube/pos/x",
            "/world/ee_trajectory/episode_1"} <= set(ent)  # fmt: skip
    images = sum(rb.num_rows for rb in ent["/cameras/front"])
    assert images == 24  # 2 episodes x 12 frames
    index = column(ent["/action/dx"], "index").astype(int)
    assert sorted(index.tolist()) == list(range(24))  # one global timeline

    from armgym.data.reader import LeRobotReader

    ep = LeRobotReader(ds).episode(1)
    dx = np.array([v[0] for v in column(ent["/action/dx"], "Scalars:scalars")], np.float32)
    np.testing.assert_allclose(np.sort(dx[index >= 12]), np.sort(ep["action"][:, 0]), atol=1e-6)
    ee = column(ent["/world/ee_trajectory/episode_1"], "LineStrips3D:strips")[0][0]
    np.testing.assert_allclose(
        np.array(ee.tolist(), float), ep["observation.state"][:, -8:-5], atol=1e-6
    )

    # `armgym view --rerun` writes the whole dataset next to the page
    assert armgym(["view", str(ds), "--rerun", "--max-episodes", "1"]) == 0
    ent = read_rrd(ds / "report" / "dataset.rrd")
    assert sum(rb.num_rows for rb in ent["/cameras/wrist"]) == 12


def test_rerun_missing_is_a_clear_error(monkeypatch, tmp_path: Path, capsys) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "rerun", None)  # as if not installed
    args = ["collect", "--out", str(tmp_path / "x"), "--episodes", "1", "--rerun", "--no-progress"]
    assert armgym(args) == 2
    assert "pip install 'armgym[viz]'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()  # failed before recording


def test_a_live_env_recording_reads_back_episode_by_episode(tmp_path: Path) -> None:
    """``EpisodeRecording`` (what ``armgym show --rerun`` writes) logs a live env with the
    dataset entities: two episodes on one timeline, the actions as taken."""
    from armgym.data.recorder import env_feature_names
    from armgym.envs import EnvConfig, make_env
    from armgym.viz.rerun_log import EpisodeRecording

    env = make_env(EnvConfig.from_dict({"task": "PickCube", "obs": "state"}))
    rec = EpisodeRecording(tmp_path / "live.rrd", env_feature_names(env), fps=10.0)
    rng, taken = np.random.default_rng(0), []
    for seed in (1, 2):
        obs, _ = env.reset(seed=seed)
        for _ in range(5):
            action = rng.uniform(-1, 1, 7).astype(np.float32)
            nxt, reward, *_ = env.step(action)
            rec.add(obs, action, float(reward), False)
            obs = nxt
            taken.append(action)
        rec.end_episode()
    assert rec.close() == tmp_path / "live.rrd"
    ent = read_rrd(tmp_path / "live.rrd")
    assert {"/action/gripper", "/state/gripper", "/world/ee_trajectory/episode_1"} <= set(ent)
    index = column(ent["/action/dx"], "index").astype(int)
    assert sorted(index.tolist()) == list(range(10))
    dx = np.array([v[0] for v in column(ent["/action/dx"], "Scalars:scalars")], np.float32)
    np.testing.assert_allclose(dx[np.argsort(index)], np.array(taken)[:, 0], atol=1e-6)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.filterwarnings("ignore:RRD file has no footer")  # read while rerun still writes
def test_view_streams_to_a_running_rerun_viewer(tmp_path: Path) -> None:
    """`--rerun-connect PORT` streams over gRPC to a real `rerun` process (headless here:
    `rerun --save` keeps what it receives), which writes the same entities as a file."""
    import os
    import shutil
    import signal
    import subprocess
    import sys
    import time

    exe = shutil.which("rerun") or str(Path(sys.executable).parent / "rerun")
    ds = tmp_path / "ds"
    args = ["collect", "--out", str(ds), "--episodes", "1", "--no-progress", "--max-steps", "8"]
    assert armgym(args) == 0
    port, got = _free_port(), tmp_path / "received.rrd"
    # `rerun` is a launcher that starts the real binary as a child: its own process group,
    # so the whole group is stopped at the end (terminating the launcher leaked the child)
    proc = subprocess.Popen([exe, "--port", str(port), "--save", str(got)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:  # the receiver is up when its port accepts connections
            try:
                import socket

                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "rerun did not start"
                time.sleep(0.1)
        assert armgym(["view", str(ds), "--rerun-connect", str(port)]) == 0
        deadline, ent = time.monotonic() + 60, {}
        while "/action/dx" not in ent or sum(rb.num_rows for rb in ent["/action/dx"]) < 8:
            assert time.monotonic() < deadline, f"rerun received only {sorted(ent)}"
            time.sleep(0.2)
            try:
                ent = read_rrd(got)
            except Exception:  # the receiver is still writing its first chunk
                ent = {}
        assert {"/state/joint_pos/joint1", "/world/ee"} <= set(ent)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    assert not (ds / "report" / "dataset.rrd").exists()  # streamed, not written
    with pytest.raises(ConfigError, match="port of a running"):
        from armgym.viz.rerun_log import grpc_url

        grpc_url("not-a-port")
