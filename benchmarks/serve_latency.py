"""Policy-serving latency and throughput on loopback, against a minimal peer in the same run.

    .venv/bin/python benchmarks/serve_latency.py            # ~1 min on 2 cores
    .venv/bin/python benchmarks/serve_latency.py --quick    # smoke run

Servers run in their own processes (a client and a server in one process would share
the GIL); clients run in this process, one at a time for latency.

* Round trip (p50 / p99 over ``--n`` calls after warm-up) for a state observation
  (float32[22] + float32[7]) and for two 224x224x3 uint8 images (+ state):
  armgym's client and openpi-client's ``WebsocketClientPolicy`` against ``armgym serve``
  (validating every observation), and a minimal websockets + msgpack client against a
  minimal websockets + msgpack server (decode the frame, reply a fixed actions map:
  the floor any server of this protocol pays).
* Throughput [requests/s] with 1, 8 and 32 concurrent lockstep clients (asyncio, one
  process) against both servers.

Writes ``benchmarks/results/serve_latency.json`` (numbers + machine) and ``.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata as md
import json
import multiprocessing as mp
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).parent / "results"
N_ARM_STATE, N_ENV = 22, 7
IMG = (224, 224, 3)
CONCURRENCY = (1, 8, 32)


def make_obs(kind: str) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    obs: dict[str, np.ndarray] = {
        "observation.state": rng.standard_normal(N_ARM_STATE).astype(np.float32),
        "observation.environment_state": rng.standard_normal(N_ENV).astype(np.float32),
    }
    if kind == "images":
        for cam in ("front", "wrist"):
            obs[f"observation.images.{cam}"] = rng.integers(0, 256, IMG, dtype=np.uint8)
    return obs


# ------------------------------------------------------------------------------ servers


def _armgym_server(kind: str, conn: Any) -> None:
    from armgym.policies.base import FeatureSpec, PolicyMetadata
    from armgym.serve.builtin_policies import RandomPolicy
    from armgym.serve.policy_server import PolicyServer

    obs = make_obs(kind)
    meta = PolicyMetadata(
        {k: FeatureSpec(str(v.dtype), v.shape) for k, v in obs.items()},
        action_dim=7,
        action_horizon=1,
        fps=10.0,
        name=f"bench:{kind}",
    )
    server = PolicyServer(RandomPolicy(meta, seed=0), port=0)

    async def main() -> None:
        srv = await server.start()
        conn.send(next(iter(srv.sockets)).getsockname()[1])
        await srv.serve_forever()

    asyncio.run(main())


def _floor_server(kind: str, conn: Any) -> None:
    """Minimal peer: websockets + openpi's msgpack_numpy, no validation, fixed reply."""
    from openpi_client import msgpack_numpy
    from websockets.asyncio.server import serve

    reply = msgpack_numpy.packb({"actions": np.zeros((1, 7), np.float32)})
    meta = msgpack_numpy.packb({})

    async def handler(ws: Any) -> None:
        await ws.send(meta)
        async for frame in ws:
            msgpack_numpy.unpackb(frame)
            await ws.send(reply)

    async def main() -> None:
        async with serve(handler, "127.0.0.1", 0, compression=None, max_size=None) as srv:
            conn.send(next(iter(srv.sockets)).getsockname()[1])
            await srv.serve_forever()

    asyncio.run(main())


def start_server(target: Any, kind: str) -> tuple[Any, int]:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=target, args=(kind, child), daemon=True)
    proc.start()
    if not parent.poll(60):
        raise RuntimeError(f"{target.__name__} did not start")
    return proc, int(parent.recv())


# ------------------------------------------------------------------------------ clients


def _percentiles(samples: list[float]) -> dict[str, float]:
    arr = np.asarray(samples) * 1e3
    return {
        "p50_ms": float(np.percentile(arr, 50)),
        "p99_ms": float(np.percentile(arr, 99)),
        "mean_ms": float(arr.mean()),
        "n": len(samples),
    }


def time_calls(call: Any, obs: dict, n: int, warmup: int) -> dict[str, float]:
    for _ in range(warmup):
        call(obs)
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        call(obs)
        samples.append(time.perf_counter() - t0)
    return _percentiles(samples)


def latency(port: int, peer: str, obs: dict, n: int, warmup: int) -> dict[str, float]:
    url = f"ws://127.0.0.1:{port}"
    if peer == "armgym_client":
        from armgym.serve.policy_client import WebsocketPolicyClient

        with WebsocketPolicyClient(url) as client:
            return time_calls(client.infer, obs, n, warmup)
    if peer == "openpi_client":
        from openpi_client.websocket_client_policy import WebsocketClientPolicy

        openpi = WebsocketClientPolicy(url)
        try:
            return time_calls(openpi.infer, obs, n, warmup)
        finally:
            openpi._ws.close()
    # minimal client: websockets sync + msgpack_numpy
    from openpi_client import msgpack_numpy
    from websockets.sync.client import connect

    with connect(url, compression=None, max_size=None, proxy=None) as ws:
        ws.recv()
        packer = msgpack_numpy.Packer()

        def call(o: dict) -> Any:
            ws.send(packer.pack(o))
            return msgpack_numpy.unpackb(ws.recv())

        return time_calls(call, obs, n, warmup)


async def _throughput(port: int, obs: dict, clients: int, seconds: float) -> float:
    from openpi_client import msgpack_numpy
    from websockets.asyncio.client import connect

    frame = msgpack_numpy.packb(obs)
    stop = time.perf_counter() + seconds
    counts = [0] * clients

    async def one(i: int) -> None:
        async with connect(
            f"ws://127.0.0.1:{port}", compression=None, max_size=None, proxy=None
        ) as ws:
            await ws.recv()
            while time.perf_counter() < stop:
                await ws.send(frame)
                await ws.recv()
                counts[i] += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(clients)))
    return sum(counts) / (time.perf_counter() - t0)


def throughput(port: int, obs: dict, clients: int, seconds: float) -> float:
    return asyncio.run(_throughput(port, obs, clients, seconds))


# ------------------------------------------------------------------------------ report


def machine() -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for pkg in ("numpy", "msgpack", "websockets", "openpi-client", "armgym"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": versions,
    }


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    lat = result["latency"]
    labels = list(next(iter(lat.values())).keys())
    x = np.arange(len(lat))
    width = 0.8 / len(labels)
    for i, peer in enumerate(labels):
        p50 = [lat[k][peer]["p50_ms"] for k in lat]
        p99 = [lat[k][peer]["p99_ms"] for k in lat]
        ax1.bar(x + i * width, p50, width, label=f"{peer} p50")
        ax1.scatter(x + i * width, p99, marker="_", s=200, color="k")
    ax1.set_xticks(x + width * (len(labels) - 1) / 2, list(lat))
    ax1.set_ylabel("round trip [ms] (bar p50, tick p99)")
    ax1.set_title("loopback round trip")
    ax1.legend(fontsize=7)
    for key, series in result["throughput"].items():
        for server, vals in series.items():
            ax2.plot(
                CONCURRENCY, [vals[str(c)] for c in CONCURRENCY], "o-", label=f"{server} {key}"
            )
    ax2.set_xscale("log", base=2)
    ax2.set_xlabel("concurrent clients")
    ax2.set_ylabel("requests / s")
    ax2.set_title("throughput")
    ax2.legend(fontsize=7)
    fig.suptitle(f"armgym serve, {result['machine']['cpu']} x{result['machine']['cpu_count']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=2000, help="timed calls per latency cell")
    ap.add_argument("--seconds", type=float, default=3.0, help="duration of a throughput cell")
    ap.add_argument("--quick", action="store_true", help="small run (smoke test)")
    ap.add_argument("--out", type=Path, default=RESULTS / "serve_latency.json")
    args = ap.parse_args()
    n, seconds = (200, 0.5) if args.quick else (args.n, args.seconds)
    warmup = max(50, n // 10)
    result: dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine(),
        "latency": {},
        "throughput": {},
    }
    for kind in ("state", "images"):
        obs = make_obs(kind)
        frame_kb = len(__import__("armgym.serve.wire", fromlist=["packb"]).packb(obs)) / 1024
        ours, our_port = start_server(_armgym_server, kind)
        floor, floor_port = start_server(_floor_server, kind)
        try:
            cell = {
                "armgym_client->armgym_server": latency(our_port, "armgym_client", obs, n, warmup),
                "openpi_client->armgym_server": latency(our_port, "openpi_client", obs, n, warmup),
                "minimal_client->floor_server": latency(floor_port, "minimal", obs, n, warmup),
            }
            result["latency"][kind] = cell
            result["throughput"][kind] = {
                server: {str(c): throughput(port, obs, c, seconds) for c in CONCURRENCY}
                for server, port in (("armgym_server", our_port), ("floor_server", floor_port))
            }
            result.setdefault("frame_kib", {})[kind] = frame_kb
        finally:
            for proc in (ours, floor):
                proc.terminate()
                proc.join(5)
        ratio = (
            cell["armgym_client->armgym_server"]["p50_ms"]
            / cell["minimal_client->floor_server"]["p50_ms"]
        )
        result.setdefault("ratio_p50_vs_floor", {})[kind] = ratio
        print(f"{kind} ({frame_kb:.1f} KiB obs):")
        for peer, stats in cell.items():
            print(f"  {peer:32s} p50 {stats['p50_ms']:.3f} ms  p99 {stats['p99_ms']:.3f} ms")
        print(f"  armgym / floor p50 ratio: {ratio:.2f}")
        for server, vals in result["throughput"][kind].items():
            print(
                f"  throughput {server:14s} "
                + "  ".join(f"{c}: {v:,.0f}/s" for c, v in vals.items())
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    plot(result, args.out.with_suffix(".png"))
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
