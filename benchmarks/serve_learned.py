"""Serving a learned policy to several clients: requests/s with and without batching.

    python benchmarks/serve_learned.py            # ~2 min on 2 cores
    python benchmarks/serve_learned.py --seconds 2 --clients 1 4

``armgym serve`` gives every connection its own fork of a checkpoint policy (shared
model, own observation history and noise generator); ``--max-batch`` runs the waiting
requests of several connections as one forward pass (``infer_sessions``). This script
serves the default-size policies of docs/training.md (Diffusion Policy: 4.6 M params, 10
DDIM steps; MLP: 0.6 M), untrained (inference costs the same as trained), on the state
observation of PickCube, in a server process with one torch thread, and drives it with
1..16 lockstep clients (openpi's msgpack_numpy over websockets, as in serve_latency.py).
Writes ``results/serve_learned.json`` and ``.png``.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from common import RESULTS, machine_info, write_json
from serve_latency import load_avg, make_obs, start_server, throughput

PACKAGES = ("armgym", "torch", "numpy", "websockets")
MODES = {"unbatched": {"infer_in_thread": True}, "batched": {"max_batch": 16}}


def _learned_server(spec: str, conn: Any) -> None:
    """``spec`` = ``<mlp|diffusion>:<mode>``: serve an untrained default-size policy."""
    import gc

    import torch

    from armgym.contracts.policy import FeatureSpec
    from armgym.policies.diffusion import DiffusionConfig
    from armgym.policies.learned import build_policy
    from armgym.policies.mlp import MLPConfig
    from armgym.policies.normalize import Normalizer
    from armgym.serve.policy_server import PolicyServer

    torch.set_num_threads(1)
    torch.manual_seed(0)
    kind, mode = spec.split(":")
    obs = make_obs("state")
    schema = {k: FeatureSpec("float32", v.shape) for k, v in obs.items()}
    stats: dict[str, Any] = {
        k: {"mode": "mean_std", "mean": [0.0] * v.size, "std": [1.0] * v.size}
        for k, v in obs.items()
    }
    stats["action"] = {"mode": "min_max", "min": [-1.0] * 7, "max": [1.0] * 7}
    cfg = DiffusionConfig() if kind == "diffusion" else MLPConfig()
    policy = build_policy(kind, cfg, schema, 7, Normalizer(stats), 10.0, {"task": "PickCube"})
    server = PolicyServer(policy, port=0, **MODES[mode])
    gc.collect()
    gc.freeze()

    async def main() -> None:
        srv = await server.start()
        conn.send(next(iter(srv.sockets)).getsockname()[1])
        await srv.serve_forever()

    asyncio.run(main())


def plot(result: dict[str, Any], path: Any) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, kind in zip(axes, result["throughput"], strict=False):
        for mode, vals in result["throughput"][kind].items():
            ax.plot([int(c) for c in vals], list(vals.values()), "o-", label=mode)
        ax.set_title(f"{kind} ({result['policies'][kind]})", fontsize=9)
        ax.set_xlabel("concurrent clients")
        ax.set_ylabel("requests / s")
        ax.set_xscale("log", base=2)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("armgym serve, learned policy, loopback, 2 cores", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="per cell")
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 4, 8, 16])
    ap.add_argument("--policies", nargs="+", default=["diffusion", "mlp"])
    args = ap.parse_args()
    result: dict[str, Any] = {
        "machine": machine_info(PACKAGES),
        "load_avg": {"start": load_avg()},
        "policies": {
            "diffusion": "4.6 M params, down_dims 64/128/256, 10 DDIM steps",
            "mlp": "0.6 M params",
        },
        "modes": MODES,
        "seconds_per_cell": args.seconds,
        "throughput": {},
    }
    obs = make_obs("state")
    for kind in args.policies:
        result["throughput"][kind] = {}
        for mode in MODES:
            proc, port = start_server(_learned_server, f"{kind}:{mode}")
            try:
                throughput(port, obs, 1, 1.0)  # warm up (first torch calls)
                cells = {str(c): throughput(port, obs, c, args.seconds) for c in args.clients}
            finally:
                proc.terminate()
                proc.join(5)
            result["throughput"][kind][mode] = cells
            print(f"{kind:9s} {mode:9s} " + "  ".join(f"{c}: {v:,.1f}/s" for c, v in cells.items()))
    result["load_avg"]["end"] = load_avg()
    path = write_json("serve_learned.json", result)
    plot(result, RESULTS / "serve_learned.png")
    print(f"wrote {path} and {RESULTS / 'serve_learned.png'}")


if __name__ == "__main__":
    main()
