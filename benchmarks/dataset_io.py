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
  run in the compat venv (``compat/lerobot/run.sh`` builds it) when present;
* control-rate figures (``--rates 10 30 50``, two ``--rec-size`` px cameras front + wrist):
  per-step time of PickCube without / with recording (unpaced), then a real-time paced
  recording (``EpisodeRecorder(realtime=True)``) reporting achieved rate, late / dropped
  frames and ms/step of recording work (``add_frame`` incl. video encode, timed apart);
* video size: a state-only recording (``--minute-frames`` frames at 10 Hz, with
  sim_state) re-rendered (``armgym.apps.resimulate.rerender``) at 96 and 224 px with AV1 and
  H.264 -> MB per minute of recording per camera (and the paced recordings' AV1 files at
  30 / 50 Hz);
* read throughput incl. video decode of those re-rendered datasets: armgym's
  ``LeRobotReader.episode`` and ``HorizonDataset[i]`` vs lerobot 0.4.4's
  ``LeRobotDataset[i]`` (peer venv, offline).

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


class TimedWriter:
    """Proxy of a LeRobotWriter that times add_frame (the recording work of a step) and
    save_episode (the per-episode commit, between episodes)."""

    def __init__(self, writer: LeRobotWriter):
        self._w = writer
        self.add_s: list[float] = []
        self.save_s: list[float] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._w, name)

    def add_frame(self, frame: Any, task: str) -> None:
        t0 = time.perf_counter()
        self._w.add_frame(frame, task)
        self.add_s.append(time.perf_counter() - t0)

    def save_episode(self, extras: Any = None) -> Any:
        t0 = time.perf_counter()
        row = self._w.save_episode(extras)
        self.save_s.append(time.perf_counter() - t0)
        return row


def _pickcube(hz: float, size: int | None) -> Any:
    import gymnasium as gym

    import armgym  # noqa: F401

    kw: dict[str, Any] = {"robot": "panda", "control_hz": hz}
    if size:
        kw.update(obs="both", image_size=(size, size), cameras=("front", "wrist"))
    return gym.make("armgym/PickCube-v0", **kw)


def _video_mb(root: Path, key: str) -> float:
    return sum(f.stat().st_size for f in (root / "videos" / key).rglob("*.mp4")) / 1e6


def bench_control_rates(rates: list[float], size: int, seconds: float, tmp: Path) -> dict:
    """Per control rate: plain vs recorded ms/step (unpaced), then a real-time paced
    recording of ~``seconds`` s: achieved rate, late/dropped frames, recording work."""
    from armgym.data.recorder import EpisodeRecorder, env_features

    out: dict[str, Any] = {"image_size": size, "cameras": ["front", "wrist"], "codec": "av1"}
    for hz in rates:
        env = _pickcube(hz, size)
        expert = env.unwrapped.task.make_expert()

        def act(obs: Any, env: Any = env, expert: Any = expert) -> np.ndarray:
            return expert(env.unwrapped.robot_obs)

        steps = round(seconds * hz)
        # plain stepping (expert + env.step incl. rendering two cameras)
        t_plain, n_plain, seed = 0.0, 0, 0
        while n_plain < steps:
            env.reset(seed=seed)
            expert.reset()
            for _ in range(10_000):
                t0 = time.perf_counter()
                _, _, term, trunc, _ = env.step(act(None))
                t_plain += time.perf_counter() - t0
                n_plain += 1
                if term or trunc or n_plain >= steps:
                    break
            seed += 1
        row: dict[str, Any] = {"ms_per_step_plain": 1e3 * t_plain / n_plain}
        for mode in ("unpaced", "realtime"):
            root = tmp / f"rate{hz:g}_{mode}"
            w = TimedWriter(LeRobotWriter(root, env_features(env), fps=hz, overwrite=True))
            rec = EpisodeRecorder(env, w, realtime=mode == "realtime")
            t0, n, seed, timings = time.perf_counter(), 0, 0, []
            while n < steps:
                expert.reset()
                res = rec.record(act, seed=seed, max_steps=steps - n)
                n += res.length
                timings.append((res.length, res.timing))
                seed += 1
            wall = time.perf_counter() - t0
            w.close()
            add_ms = 1e3 * np.asarray(w.add_s)
            step_ms = 1e3 * np.asarray(rec.step_seconds)  # env.step + add_frame
            r: dict[str, Any] = {
                "frames": n,
                "episodes": len(timings),
                "wall_s": wall,
                "ms_per_step_wall": 1e3 * wall / n,
                "ms_per_step_add_frame_mean": float(add_ms.mean()),
                "ms_per_step_add_frame_p95": float(np.percentile(add_ms, 95)),
                "ms_per_step_step_plus_add_mean": float(step_ms.mean()),
                "ms_per_step_step_plus_add_p95": float(np.percentile(step_ms, 95)),
                "ms_save_episode_mean": 1e3 * float(np.mean(w.save_s)),
            }
            if mode == "unpaced":
                r["overhead_ms_per_step"] = r["ms_per_step_wall"] - row["ms_per_step_plain"]
            else:
                lengths = np.array([ln for ln, _ in timings], float)
                fps = np.array([t["armgym/measured_fps"] for _, t in timings])
                r.update(
                    target_hz=hz,
                    period_ms=1e3 / hz,
                    achieved_hz=float(np.sum(lengths) / np.sum(lengths / fps)),
                    late_frames=int(sum(t["armgym/late_frames"] for _, t in timings)),
                    dropped_frames=int(sum(t["armgym/dropped_frames"] for _, t in timings)),
                    max_period_ms=1e3 * max(t["armgym/max_period_s"] for _, t in timings),
                    busy_fraction=float(step_ms.mean() * hz / 1e3),
                    video_mb_per_min_per_camera={
                        k: _video_mb(root, k) / (n / hz / 60.0) for k in w.video_keys
                    },
                )
            row[mode] = r
            shutil.rmtree(root, ignore_errors=True)
        env.close()
        out[f"{hz:g}hz"] = row
        rt = row["realtime"]
        print(
            f"{hz:g} Hz: plain {row['ms_per_step_plain']:.1f} ms, recorded "
            f"{row['unpaced']['ms_per_step_wall']:.1f} ms/step; paced {rt['achieved_hz']:.1f} Hz,"
            f" late {rt['late_frames']}, dropped {rt['dropped_frames']}, add_frame "
            f"{rt['ms_per_step_add_frame_mean']:.1f} ms"
        )
    return out


def record_state_only(root: Path, frames: int, hz: float = 10.0) -> Path:
    """A state-only PickCube recording (with sim_state) of about ``frames`` frames."""
    from armgym.data.recorder import EpisodeRecorder, env_features

    env = _pickcube(hz, None)
    expert = env.unwrapped.task.make_expert()
    env_cfg = {"task": "PickCube", "robot": "panda", "control_hz": hz, "obs": "state"}
    with LeRobotWriter(root, env_features(env), fps=hz, overwrite=True, env_config=env_cfg) as w:
        rec = EpisodeRecorder(env, w)
        n, seed = 0, 0
        while n < frames:
            expert.reset()
            n += rec.record(
                lambda obs: expert(env.unwrapped.robot_obs), seed=seed, max_steps=frames - n
            ).length
            seed += 1
    env.close()
    return root


def bench_video_size(src: Path, tmp: Path, sizes: list[int]) -> tuple[dict, dict[str, Path]]:
    """Re-render ``src`` at each size x codec; MB per minute of recording per camera."""
    from armgym.apps.resimulate import rerender

    out: dict[str, Any] = {}
    roots: dict[str, Path] = {}
    for size in sizes:
        for codec, name in (("libsvtav1", "av1"), ("libx264", "h264")):
            root = tmp / f"rr{size}_{name}"
            summary = rerender(src, root, cameras=["front", "wrist"], image_size=size, vcodec=codec)
            r = LeRobotReader(root)
            minutes = r.num_frames / r.fps / 60.0
            out[f"{size}px_{name}"] = {
                "fps": r.fps,
                "frames": r.num_frames,
                "mb_per_min_per_camera": {k: _video_mb(root, k) / minutes for k in r.video_keys},
                "kb_per_frame_per_camera": {
                    k: 1e3 * _video_mb(root, k) / r.num_frames for k in r.video_keys
                },
                "rerender_frames_per_s": summary["frames_per_s"],
            }
            roots[f"{size}px_{name}"] = root
            print("video", size, name, out[f"{size}px_{name}"]["mb_per_min_per_camera"])
    return out, roots


def bench_read_video(root: Path) -> dict:
    """armgym read throughput of a two-camera dataset, video decode included."""
    t0 = time.perf_counter()
    r = LeRobotReader(root)
    n = sum(len(r.episode(k)["action"]) for k in range(r.num_episodes))
    out = {"frames": n, "reader_episode_frames_per_s": n / (time.perf_counter() - t0)}
    try:
        import torch  # noqa: F401  (imported before timing, as lerobot's peer has it)

        from armgym.data.torch_dataset import HorizonDataset

        t0 = time.perf_counter()
        ds = HorizonDataset(root)
        for i in range(len(ds)):
            ds[i]
        out["horizon_dataset_items_per_s"] = len(ds) / (time.perf_counter() - t0)
    except ImportError as exc:  # torch missing
        out["horizon_dataset_skipped"] = str(exc)
    return out


PEER_READ = r"""
import json, sys, time
import torch
torch.set_num_threads(2)
from lerobot.datasets.lerobot_dataset import LeRobotDataset
root, budget = sys.argv[1], float(sys.argv[2])
t0 = time.perf_counter()
ds = LeRobotDataset("armgym/bench", root=root)
t_open = time.perf_counter() - t0
t0 = time.perf_counter()
n = 0
for i in range(len(ds)):
    item = ds[i]
    n += 1
    if time.perf_counter() - t0 > budget:
        break
dt = time.perf_counter() - t0
print(json.dumps({"lerobot": "0.4.4", "video_backend": ds.video_backend, "frames": n,
                  "of": len(ds), "open_s": t_open, "seconds": dt, "items_per_s": n / dt}))
"""


def _peer_python() -> Path:
    cache = Path(os.environ.get("ARMGYM_CACHE", Path.home() / ".cache/armgym"))
    return cache / "lerobot-venv/bin/python"


def bench_peer_read(root: Path, budget_s: float = 60.0) -> dict:
    py = _peer_python()
    if not py.exists():
        return {"skipped": f"{py} missing (run compat/lerobot/run.sh once)"}
    hf = tempfile.mkdtemp()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": hf}
    res = subprocess.run(
        [str(py), "-c", PEER_READ, str(root), str(budget_s)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    shutil.rmtree(hf, ignore_errors=True)
    if res.returncode != 0:
        return {"error": res.stderr[-2000:]}
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=10)
    ap.add_argument("--length", type=int, default=100)
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--rates", type=float, nargs="*", default=[10.0, 30.0, 50.0])
    ap.add_argument("--rec-size", type=int, default=224)
    ap.add_argument("--rt-seconds", type=float, default=10.0)
    ap.add_argument("--minute-frames", type=int, default=600)
    ap.add_argument("--video-sizes", type=int, nargs="*", default=[96, 224])
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
    if args.rates:
        results["control_rates"] = bench_control_rates(
            args.rates, args.rec_size, args.rt_seconds, tmp
        )
    if args.video_sizes:
        src = record_state_only(tmp / "state_src", args.minute_frames)
        results["video_size"], roots = bench_video_size(src, tmp, args.video_sizes)
        reads: dict[str, Any] = {}
        for name, root in roots.items():
            if not name.endswith("_av1"):
                continue
            reads[name] = {"cameras": 2, "armgym": bench_read_video(root)}
            if not args.no_peer:
                reads[name]["lerobot"] = bench_peer_read(root)
            print("read", name, reads[name])
        results["read_with_video"] = reads
    results["loadavg_after"] = os.getloadavg()
    shutil.rmtree(tmp)
    print("wrote", write_json("dataset_io.json", results))


if __name__ == "__main__":
    main()
