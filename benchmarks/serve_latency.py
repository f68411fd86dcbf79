"""Policy-serving latency and throughput on loopback, against a minimal peer in the same run.

    .venv/bin/python benchmarks/serve_latency.py            # ~1 min on 2 cores
    .venv/bin/python benchmarks/serve_latency.py --quick    # smoke run

Servers run in their own processes (a client and a server in one process would share
the GIL); clients run in this process, one at a time for latency.

* Round trip (p50 / p99 over ``--n`` calls after warm-up, the peers interleaved in 4
  rounds) for a state observation
  (float32[22] + float32[7]) and for two 224x224x3 uint8 images (+ state):
  armgym's client and openpi-client's ``WebsocketClientPolicy`` against ``armgym serve``
  (validating every observation), and a minimal websockets + msgpack client against a
  minimal websockets + msgpack server (decode the frame, reply a fixed actions map:
  the floor any server of this protocol pays).
* Throughput [requests/s] with 1, 8 and 32 concurrent lockstep clients (asyncio, one
  process) against both servers, and against ``armgym serve`` with batching on
  (``max_batch=32, batch_window_ms=2``).
* Batching with a model-like policy (``SleepyPolicy``: each call holds the GIL-free
  "accelerator" for 2 ms + 0.1 ms per observation, as a GPU forward pass would):
  throughput with 8 and 32 clients, unbatched (inference in a worker thread) vs batched.

The served policy returns a constant action chunk (as the floor server's fixed reply
does), so the comparison with the floor measures serving overhead, not policy compute.
The 1-minute load average is recorded before and after the run (``load_avg``).

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
BATCH = {"max_batch": 32, "batch_window_ms": 2.0}
SLEEPY_CONCURRENCY = (8, 32)


class ConstantPolicy:
    """Answers every observation with the same float32[1, 7] chunk (list-based infer_batch)."""

    def __init__(self, metadata: Any):
        self.metadata = metadata
        self.actions = np.zeros((1, 7), np.float32)

    def reset(self) -> None:
        pass

    def infer(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"actions": self.actions}

    def infer_batch(self, obs: list[dict[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
        return [{"actions": self.actions} for _ in obs]


class SleepyPolicy(ConstantPolicy):
    """A model stand-in: 2 ms per call + 0.1 ms per observation, GIL released (sleep)."""

    def infer(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        time.sleep(0.0021)
        return {"actions": self.actions}

    def infer_batch(self, obs: list[dict[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
        time.sleep(0.002 + 0.0001 * len(obs))
        return [{"actions": self.actions} for _ in obs]


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


def _armgym_server(spec: str, conn: Any) -> None:
    """``spec`` = ``<kind>[+batch][+sleepy]``."""
    import gc

    from armgym.contracts.policy import FeatureSpec, PolicyMetadata
    from armgym.serve.policy_server import PolicyServer

    kind, *flags = spec.split("+")
    obs = make_obs(kind)
    meta = PolicyMetadata(
        {k: FeatureSpec(str(v.dtype), v.shape) for k, v in obs.items()},
        action_dim=7,
        action_horizon=1,
        fps=10.0,
        name=f"bench:{spec}",
    )
    policy = SleepyPolicy(meta) if "sleepy" in flags else ConstantPolicy(meta)
    kwargs: dict[str, Any] = dict(BATCH) if "batch" in flags else {}
    if "sleepy" in flags and "batch" not in flags:
        kwargs["infer_in_thread"] = True
    server = PolicyServer(policy, port=0, **kwargs)
    gc.collect()
    gc.freeze()  # as PolicyServer.serve_forever (``armgym serve``) does

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


def time_calls(call: Any, obs: dict, n: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        call(obs)
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        call(obs)
        samples.append(time.perf_counter() - t0)
    return samples


class Peer:
    """One open client connection of kind ``armgym_client``, ``openpi_client`` or ``minimal``."""

    def __init__(self, port: int, kind: str):
        url = f"ws://127.0.0.1:{port}"
        self.close: Any
        if kind == "armgym_client":
            from armgym.serve.policy_client import WebsocketPolicyClient

            client = WebsocketPolicyClient(url)
            self.call, self.close = client.infer, client.close
        elif kind == "openpi_client":
            from openpi_client.websocket_client_policy import WebsocketClientPolicy

            openpi = WebsocketClientPolicy(url)
            self.call, self.close = openpi.infer, openpi._ws.close
        else:  # minimal client: websockets sync + msgpack_numpy
            from openpi_client import msgpack_numpy
            from websockets.sync.client import connect

            ws = connect(url, compression=None, max_size=None, proxy=None)
            ws.recv()
            packer = msgpack_numpy.Packer()

            def call(o: dict) -> Any:
                ws.send(packer.pack(o))
                return msgpack_numpy.unpackb(ws.recv())

            self.call, self.close = call, ws.close


def latency_cells(
    peers: dict[str, tuple[int, str]], obs: dict, n: int, warmup: int, rounds: int = 4
) -> dict[str, dict[str, float]]:
    """Interleave the peers in ``rounds`` rounds (n / rounds timed calls each, after a
    warm-up per round) so drifting machine load hits every peer alike; pool the samples."""
    open_peers = {name: Peer(port, kind) for name, (port, kind) in peers.items()}
    samples: dict[str, list[float]] = {name: [] for name in peers}
    try:
        for _ in range(rounds):
            for name, peer in open_peers.items():
                samples[name] += time_calls(peer.call, obs, n // rounds, warmup // rounds)
    finally:
        for peer in open_peers.values():
            peer.close()
    return {name: _percentiles(s) for name, s in samples.items()}


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


def load_avg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


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
    warmup = max(200, n)  # the floor server takes ~1000 image calls to settle
    result: dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine(),
        "load_avg": {"start": load_avg()},
        "policy": "constant float32[1, 7] chunk",
        "batching": BATCH,
        "latency": {},
        "throughput": {},
    }
    for kind in ("state", "images"):
        obs = make_obs(kind)
        frame_kb = len(__import__("armgym.transport.wire", fromlist=["packb"]).packb(obs)) / 1024
        ours, our_port = start_server(_armgym_server, kind)
        batched, batched_port = start_server(_armgym_server, f"{kind}+batch")
        floor, floor_port = start_server(_floor_server, kind)
        try:
            cell = latency_cells(
                {
                    "armgym_client->armgym_server": (our_port, "armgym_client"),
                    "openpi_client->armgym_server": (our_port, "openpi_client"),
                    "minimal_client->floor_server": (floor_port, "minimal"),
                },
                obs,
                n,
                warmup,
            )
            result["latency"][kind] = cell
            result["throughput"][kind] = {
                server: {str(c): throughput(port, obs, c, seconds) for c in CONCURRENCY}
                for server, port in (
                    ("armgym_server", our_port),
                    ("armgym_server_batched", batched_port),
                    ("floor_server", floor_port),
                )
            }
            result.setdefault("frame_kib", {})[kind] = frame_kb
        finally:
            for proc in (ours, batched, floor):
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
    obs = make_obs("state")
    sleepy: dict[str, dict[str, float]] = {}
    for name, spec in (("unbatched", "state+sleepy"), ("batched", "state+sleepy+batch")):
        proc, port = start_server(_armgym_server, spec)
        try:
            sleepy[name] = {str(c): throughput(port, obs, c, seconds) for c in SLEEPY_CONCURRENCY}
        finally:
            proc.terminate()
            proc.join(5)
        print(
            f"model-like policy (2 ms + 0.1 ms/obs), {name:9s} "
            + "  ".join(f"{c}: {v:,.0f}/s" for c, v in sleepy[name].items())
        )
    result["throughput_model_like"] = sleepy
    result["load_avg"]["end"] = load_avg()
    print(f"load average: start {result['load_avg']['start']}, end {result['load_avg']['end']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    plot(result, args.out.with_suffix(".png"))
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
