"""Replay buffers against what online RL here needs: armgym's vs stable-baselines3's vs torchrl's.

For each buffer, state transitions (PickCube panda: obs 25 + 7 floats, action 4) and pixel
transitions (two 84×84 RGB cameras + the 25-dim state): fill time, bytes per transition
(the storage arrays at capacity / capacity), time to sample a batch of 256, and
save/restore (time, format). torchrl is measured when importable (it is not a dependency:
``pip install --target /tmp/trl --no-deps torchrl tensordict pyvers orjson`` then
``PYTHONPATH=/tmp/trl``).

    PYTHONPATH=src python benchmarks/rl_buffers.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import machine_info, write_json

from armgym.rl import ReplayBuffer

STATE = {
    "observation.state": ((25,), "float32"),
    "observation.environment_state": ((7,), "float32"),
}
PIXELS = {
    "observation.state": ((25,), "float32"),
    "observation.images.front": ((84, 84, 3), "uint8"),
    "observation.images.wrist": ((84, 84, 3), "uint8"),
}
A, EP_LEN, BATCH = 4, 100, 256


def _obs(schema: dict, rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        k: (rng.integers(0, 255, s, dtype=np.uint8) if d == "uint8" else rng.random(s, np.float32))
        for k, (s, d) in schema.items()
    }


def _time_sample(fn: Any, reps: int = 50) -> float:
    fn()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps * 1e3


def _timed(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench_armgym(schema: dict, capacity: int, n: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    buf = ReplayBuffer(schema, A, capacity)
    frames = [_obs(schema, rng) for _ in range(EP_LEN + 1)]
    t0 = time.perf_counter()
    for i in range(n):
        t = i % EP_LEN
        buf.add(frames[t], np.zeros(A), 0.0, t == EP_LEN - 1, False, frames[t + 1])
    fill = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as d:
        save = _timed(lambda: buf.save(Path(d) / "b"))
        size = sum(f.stat().st_size for f in (Path(d) / "b").iterdir())
        load = _timed(lambda: ReplayBuffer.load(Path(d) / "b"))
    return {
        "fill_per_s": n / fill,
        "bytes_per_transition": buf.nbytes / capacity,
        "sample_ms": _time_sample(lambda: buf.sample(BATCH)),
        "save_s": save,
        "load_s": load,
        "saved_bytes_per_transition": size / n,
        "format": "safetensors + JSON",
        "next_obs_stored": "shared with the next obs (one extra frame per episode)",
    }


def bench_sb3(schema: dict, capacity: int, n: int) -> dict[str, Any]:
    import gymnasium as gym
    from stable_baselines3.common.buffers import DictReplayBuffer

    rng = np.random.default_rng(0)
    space = gym.spaces.Dict(
        {
            k: gym.spaces.Box(0, 255, s, np.uint8)
            if d == "uint8"
            else gym.spaces.Box(-np.inf, np.inf, s, np.float32)
            for k, (s, d) in schema.items()
        }
    )
    act = gym.spaces.Box(-1, 1, (A,), np.float32)
    buf = DictReplayBuffer(capacity, space, act, device="cpu")
    frames = [_obs(schema, rng) for _ in range(EP_LEN + 1)]
    t0 = time.perf_counter()
    for i in range(n):
        t = i % EP_LEN
        o = {k: v[None] for k, v in frames[t].items()}
        nx = {k: v[None] for k, v in frames[t + 1].items()}
        buf.add(o, nx, np.zeros((1, A)), np.zeros(1), np.array([t == EP_LEN - 1]), [{}])
    fill = time.perf_counter() - t0
    arrays = [*buf.observations.values(), *buf.next_observations.values()]
    arrays += [buf.actions, buf.rewards, buf.dones, buf.timeouts]
    return {
        "fill_per_s": n / fill,
        "bytes_per_transition": sum(a.nbytes for a in arrays) / capacity,
        "sample_ms": _time_sample(lambda: buf.sample(BATCH)),
        "format": "pickle (save_replay_buffer); DictReplayBuffer has no optimize_memory_usage",
        "next_obs_stored": "duplicated",
    }


def bench_torchrl(schema: dict, capacity: int, n: int) -> dict[str, Any]:
    import torch
    from tensordict import TensorDict
    from torchrl.data import LazyMemmapStorage
    from torchrl.data import ReplayBuffer as TRB

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as d:
        buf = TRB(storage=LazyMemmapStorage(capacity, scratch_dir=d + "/s"), batch_size=BATCH)
        chunk = 1000
        obs = {k: torch.as_tensor(np.stack([_obs(schema, rng)[k]] * chunk)) for k in schema}
        td = TensorDict(
            {
                **{k.replace(".", "_"): v for k, v in obs.items()},
                "action": torch.zeros(chunk, A),
                "reward": torch.zeros(chunk, 1),
                "done": torch.zeros(chunk, 1, dtype=torch.bool),
                "next": {k.replace(".", "_"): v for k, v in obs.items()},
            },
            batch_size=[chunk],
        )
        t0 = time.perf_counter()
        for _ in range(n // chunk):
            buf.extend(td)
        fill = time.perf_counter() - t0
        per = sum(
            v.element_size() * v[0].numel()
            for v in td.values(include_nested=True, leaves_only=True)
        )
        sample_ms = _time_sample(lambda: buf.sample())
        save = _timed(lambda: buf.dumps(d + "/dump"))
        size = sum(f.stat().st_size for f in Path(d + "/dump").rglob("*") if f.is_file())
    return {
        "fill_per_s": n / fill,
        "fill_note": "extend() in chunks of 1000 (per-transition add is far slower)",
        "bytes_per_transition": per,
        "sample_ms": sample_ms,
        "save_s": save,
        "saved_bytes_per_transition": size / n,
        "format": "memory-mapped tensors + JSON (dumps/loads)",
        "next_obs_stored": "duplicated ('next' sub-dict)",
    }


def main() -> None:
    import importlib.util

    cases = {"state": (STATE, 1_000_000, 50_000), "pixels": (PIXELS, 20_000, 5_000)}
    results: dict[str, Any] = {}
    libs: dict[str, Any] = {"armgym": bench_armgym, "stable_baselines3": bench_sb3}
    if importlib.util.find_spec("torchrl") is not None:
        libs["torchrl"] = bench_torchrl
    for case, (schema, cap, n) in cases.items():
        for name, fn in libs.items():
            try:
                res = fn(schema, cap, n)
            except Exception as exc:  # a library that cannot do it is a result too
                res = {"error": f"{type(exc).__name__}: {exc}"}
            results[f"{case}/{name}"] = res
            print(case, name, res, flush=True)
    pix = results["pixels/armgym"]["bytes_per_transition"]
    payload = {
        "question": "replay buffer for online RL: sample time (batch 256), memory, save/restore",
        "cases": {c: {"capacity": cap, "filled": n} for c, (_, cap, n) in cases.items()},
        "results": results,
        "armgym_100k_pixel_transitions_GB": pix * 100_000 / 1e9,
        "machine": machine_info(("armgym", "numpy", "stable_baselines3", "torch", "torchrl")),
    }
    write_json("rl_buffers.json", payload)


if __name__ == "__main__":
    main()
