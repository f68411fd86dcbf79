"""Per-step overhead of a mapping (images resized, state built, prompt attached, actions
converted) against the unmapped round trip, on loopback.

    .venv/bin/python benchmarks/mapping_overhead.py            # ~30 s on 2 cores
    .venv/bin/python benchmarks/mapping_overhead.py --quick    # smoke run

An armgym env (PickCube, panda, front + wrist cameras) produces observations; a minimal
server in its own process (websockets + openpi-client's msgpack_numpy, answering a fixed
float32[10, 7] chunk without looking at the frame) answers them. Timed per step, p50 / p99
over ``--n`` observations (the same recorded ones for every variant):

* ``map_only``: ``MappedPolicy.policy_input`` + converting the answer, no network, for
  the ``libero`` mapping (two images resized-with-pad to 224x224, 8-d state, prompt) from
  128x128 and from 224x224 camera images (no resize needed), and ``cogact`` (one image);
* ``unmapped_roundtrip``: the env observation as it is (``observation.state`` + two
  images) through ``WebsocketPolicyClient.infer``;
* ``mapped_roundtrip``: the same observation through the ``libero`` mapping and the client.

Writes ``benchmarks/results/mapping_overhead.json``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time
from typing import Any

import gymnasium as gym
import numpy as np
from common import machine_info, write_json

import armgym  # noqa: F401  (registers the envs)
from armgym.mappings import EnvFacts, MappedPolicy, load_mapping
from armgym.serve.policy_client import WebsocketPolicyClient


def _serve(port_q: Any) -> None:
    from openpi_client import msgpack_numpy
    from websockets.sync.server import serve

    answer = msgpack_numpy.packb({"actions": np.zeros((10, 7), np.float32)})

    def handle(ws: Any) -> None:
        ws.send(msgpack_numpy.packb({}))
        for _frame in ws:
            ws.send(answer)

    with serve(handle, "127.0.0.1", 0, max_size=None) as server:
        port_q.put(server.socket.getsockname()[1])
        server.serve_forever()


def _stats(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1e3
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}


def _observations(size: int, n: int) -> tuple[list[dict[str, Any]], EnvFacts]:
    env = gym.make("armgym/PickCube-v0", obs="pixels", image_size=(size, size))
    obs, _ = env.reset(seed=0)
    out = []
    for _ in range(n):
        out.append(obs)
        obs, *_ = env.step(env.action_space.sample() * 0.3)
    facts = EnvFacts.of(env)
    env.close()
    return out, facts


def _time(fn: Any, items: list[Any]) -> list[float]:
    fn(items[0])  # warm-up
    times = []
    for item in items:
        t0 = time.perf_counter()
        fn(item)
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n = 20 if args.quick else args.n
    answer = np.zeros((10, 7), np.float32)
    results: dict[str, Any] = {"map_only": {}}
    for name, size in (("libero", 128), ("libero", 224), ("cogact", 128)):
        obs, facts = _observations(size, n)
        mapped = MappedPolicy(load_mapping(name), facts, inner=None)
        results["map_only"][f"{name}_{size}px"] = _stats(
            _time(lambda o, m=mapped: (m.policy_input(o), m.convert(answer)), obs)
        )
    obs, facts = _observations(128, n)
    ctx = mp.get_context("spawn")
    port_q = ctx.Queue()
    server = ctx.Process(target=_serve, args=(port_q,), daemon=True)
    server.start()
    try:
        url = f"ws://127.0.0.1:{port_q.get(timeout=60)}"
        client = WebsocketPolicyClient(url, filter_keys=False)
        results["unmapped_roundtrip"] = _stats(_time(client.infer, obs))
        mapped = MappedPolicy(load_mapping("libero"), facts, client)
        results["mapped_roundtrip"] = _stats(_time(mapped.infer, obs))
        client.close()
    finally:
        server.terminate()
        server.join(timeout=10)
    extra = results["mapped_roundtrip"]["p50_ms"] - results["unmapped_roundtrip"]["p50_ms"]
    results["mapped_minus_unmapped_p50_ms"] = extra
    payload = {"n": n, "results": results, "machine": machine_info()}
    path = write_json("mapping_overhead.json", payload)
    for key, val in results["map_only"].items():
        print(f"map only {key:<14} p50 {val['p50_ms']:.2f} ms  p99 {val['p99_ms']:.2f} ms")
    for key in ("unmapped_roundtrip", "mapped_roundtrip"):
        val = results[key]
        print(f"{key:<23} p50 {val['p50_ms']:.2f} ms  p99 {val['p99_ms']:.2f} ms")
    print(f"mapping adds {extra:.2f} ms per step (p50); wrote {path}")


if __name__ == "__main__":
    main()
