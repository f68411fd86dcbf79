"""Dataset I/O: LeRobotWriter / LeRobotReader throughput and per-step recording overhead.

    .venv/bin/python benchmarks/dataset_io.py [--episodes 10] [--length 100] [--size 96]
        [--no-peer]

Measures, on synthetic frames (state float32[22], action float32[7], optional
uint8[S, S, 3] camera):

* write frames/s (add_frame + save_episode, durable commit per episode) per video codec;
* read frames/s: vectors only (``columns()``), one episode with video decode;
* recording overhead per env step: PickCube ``obs=both`` at S px stepping with vs without
  the recorder (same seeds, same expert);
* peer: lerobot 0.4.4's ``LeRobotDataset.add_frame/save_episode`` writing the same frames,
  run in the compat venv (``compat/lerobot/run.sh`` builds it) when present.

Writes benchmarks/results/dataset_io.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import machine_info, write_json

from armgym.data import lerobot_format as fmt
from armgym.data.reader import LeRobotReader
from armgym.data.writer import LeRobotWriter


def frames(n: int, size: int | None, seed: int = 0) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        f: dict[str, Any] = {
            "observation.state": rng.standard_normal(22).astype(np.float32),
            "action": rng.uniform(-1, 1, 7).astype(np.float32),
        }
        if size:
            img = np.zeros((size, size, 3), np.uint8)
            img[..., 0] = (3 * i) % 256
            img[(2 * i) % (size - 16) :][:16, 10:40] = 255
            f["observation.images.front"] = img
        out.append(f)
    return out


def features(size: int | None) -> dict[str, Any]:
    feats = {"observation.state": fmt.vector_feature(22), "action": fmt.vector_feature(7)}
    if size:
        feats["observation.images.front"] = fmt.video_feature(size, size, 10)
    return feats


def bench_write(root: Path, episodes: int, length: int, size: int | None, vcodec: str) -> dict:
    data = frames(length, size)
    t0 = time.perf_counter()
    with LeRobotWriter(root, features(size), fps=10, vcodec=vcodec, overwrite=True) as w:
        for _ in range(episodes):
            for f in data:
                w.add_frame(f, task="bench")
            w.save_episode()
    dt = time.perf_counter() - t0
    n = episodes * length
    return {"frames": n, "seconds": dt, "frames_per_s": n / dt, "us_per_frame": 1e6 * dt / n}


def bench_read(root: Path) -> dict:
    t0 = time.perf_counter()
    r = LeRobotReader(root)
    cols = r.columns()
    t_cols = time.perf_counter() - t0
    out = {"columns_frames_per_s": len(cols["index"]) / t_cols}
    if r.video_keys:
        t0 = time.perf_counter()
        n = sum(len(r.episode(k)["action"]) for k in range(r.num_episodes))
        out["episode_with_video_frames_per_s"] = n / (time.perf_counter() - t0)
    return out


def bench_recording_overhead(size: int, steps: int = 300) -> dict:
    """Median per-step time of PickCube(obs=both) with the expert, with/without recording."""
    try:
        import gymnasium as gym

        import armgym  # noqa: F401
        from armgym.data.recorder import EpisodeRecorder, env_features
    except Exception as exc:  # pragma: no cover
        return {"skipped": str(exc)}
    env = gym.make("armgym/PickCube-v0", robot="panda", obs="both", image_size=(size, size))
    expert = env.unwrapped.task.make_expert()

    def act(obs: Any) -> np.ndarray:
        return expert(env.unwrapped.robot_obs)

    # without recording
    t_plain, n_plain = 0.0, 0
    seed = 0
    while n_plain < steps:
        env.reset(seed=seed)
        expert.reset()
        for _ in range(200):
            t0 = time.perf_counter()
            _, _, term, trunc, _ = env.step(act(None))
            t_plain += time.perf_counter() - t0
            n_plain += 1
            if term or trunc:
                break
        seed += 1
    tmp = Path(tempfile.mkdtemp())
    writer = LeRobotWriter(tmp / "ds", env_features(env), fps=10)
    rec = EpisodeRecorder(env, writer)
    t0 = time.perf_counter()
    n_rec, seed = 0, 0
    while n_rec < steps:
        expert.reset()
        n_rec += rec.record(act, seed=seed, max_steps=200).length
        seed += 1
    t_rec = time.perf_counter() - t0
    writer.close()
    env.close()
    shutil.rmtree(tmp)
    plain, recorded = 1e3 * t_plain / n_plain, 1e3 * t_rec / n_rec
    return {
        "image_size": size,
        "cameras": 2,
        "ms_per_step_plain": plain,
        "ms_per_step_recording": recorded,
        "overhead_ms_per_step": recorded - plain,
        "note": "recording = obs copy + sim_state + 2 video encodes + stats samples + "
        "per-episode durable commit (fsync), amortised",
    }


PEER = r"""
import json, sys, time, tempfile, numpy as np
from pathlib import Path
from lerobot.datasets.lerobot_dataset import LeRobotDataset
episodes, length, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
feats = {"observation.state": {"dtype": "float32", "shape": (22,), "names": None},
         "action": {"dtype": "float32", "shape": (7,), "names": None}}
if size:
    feats["observation.images.front"] = {"dtype": "video", "shape": (size, size, 3),
                                         "names": ["height", "width", "channels"]}
rng = np.random.default_rng(0)
data = []
for i in range(length):
    f = {"observation.state": rng.standard_normal(22).astype(np.float32),
         "action": rng.uniform(-1, 1, 7).astype(np.float32)}
    if size:
        img = np.zeros((size, size, 3), np.uint8); img[..., 0] = (3 * i) % 256
        f["observation.images.front"] = img
    data.append(f)
root = Path(tempfile.mkdtemp()) / "ds"
t0 = time.perf_counter()
ds = LeRobotDataset.create("bench/peer", fps=10, features=feats, root=root, use_videos=True)
for _ in range(episodes):
    for f in data:
        ds.add_frame({**f, "task": "bench"})
    ds.save_episode()
ds.finalize()
dt = time.perf_counter() - t0
print(json.dumps({"frames": episodes * length, "seconds": dt,
                  "frames_per_s": episodes * length / dt}))
"""


def bench_peer(episodes: int, length: int, size: int | None) -> dict:
    cache = Path(os.environ.get("ARMGYM_CACHE", Path.home() / ".cache/armgym"))
    py = cache / "lerobot-venv/bin/python"
    if not py.exists():
        return {"skipped": f"{py} missing (run compat/lerobot/run.sh once)"}
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": tempfile.mkdtemp()}
    res = subprocess.run(
        [str(py), "-c", PEER, str(episodes), str(length), str(size or 0)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    if res.returncode != 0:
        return {"error": res.stderr[-2000:]}
    return {"lerobot": "0.4.4", **json.loads(res.stdout.strip().splitlines()[-1])}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=10)
    ap.add_argument("--length", type=int, default=100)
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--no-peer", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    results: dict[str, Any] = {"machine": machine_info(("armgym", "numpy", "pyarrow", "av"))}
    results["config"] = vars(args)
    runs = {
        "state_only": (None, "libsvtav1"),
        f"camera{args.size}_av1": (args.size, "libsvtav1"),
        f"camera{args.size}_h264": (args.size, "libx264"),
    }
    for name, (size, codec) in runs.items():
        root = tmp / name
        results[f"write_{name}"] = bench_write(root, args.episodes, args.length, size, codec)
        results[f"read_{name}"] = bench_read(root)
        print(name, results[f"write_{name}"]["frames_per_s"], results[f"read_{name}"])
    results["recording_overhead"] = bench_recording_overhead(args.size)
    print("overhead", results["recording_overhead"])
    if not args.no_peer:
        results["peer_lerobot_write_state_only"] = bench_peer(args.episodes, args.length, None)
        results[f"peer_lerobot_write_camera{args.size}"] = bench_peer(
            args.episodes, args.length, args.size
        )
        print("peer", results["peer_lerobot_write_state_only"])
    shutil.rmtree(tmp)
    print("wrote", write_json("dataset_io.json", results))


if __name__ == "__main__":
    main()
