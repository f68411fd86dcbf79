"""Residual SAC over a served base vs the same base loaded locally: same curve? added latency?

    PYTHONPATH=src python benchmarks/residual_served.py --steps 4000 --eval-every 1000

The PegInsert ``med`` MLP BC base of ``rl_residual.py`` is trained over twice with the
same seed and settings: once loaded in-process (``--base <folder>``) and once served by
``armgym serve`` on 127.0.0.1 (a real server process, ``--base ws://…`` with an API key).
Both runs use one torch thread, so they should be identical step for step; the script
compares every logged episode return and evaluation. It then times the base's share of
an env step — ``ResidualWrapper`` querying the base — locally and over the socket on the
same 200 steps, and reports p50/p99 and the difference (the added latency per step).
Writes ``results/residual_served.json``.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from common import machine_info, write_json
from rl_residual import LEVEL, TASK, WORK, base_checkpoint

PACKAGES = ("armgym", "mujoco", "torch", "gymnasium", "websockets")
API_KEY = "bench-key"


@contextmanager
def served(checkpoint: Path) -> Iterator[str]:
    """``armgym serve --checkpoint`` on a free 127.0.0.1 port; yields its ws:// URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    cmd = [sys.executable, "-m", "armgym.cli", "serve", "--checkpoint", str(checkpoint)]
    cmd += ["--port", str(port), "--api-key", API_KEY]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("armgym serve did not come up") from None
                time.sleep(0.2)
        yield f"ws://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def train_over(base: str, out: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Train the residual over ``base``; the run's log rows (episodes and evaluations)."""
    from armgym.train.residual import ResidualTrainConfig, train

    train(
        ResidualTrainConfig(
            base=base,
            out=out,
            task=TASK,
            api_key=API_KEY if base.startswith("ws://") else None,
            scale=0.2,
            steps=args.steps,
            learning_starts=1000,
            eval_every=args.eval_every,
            eval_episodes=args.eval_episodes,
            eval_seed=0,
            eval_num_envs=1,
            checkpoint_every=args.steps,
            overwrite=True,
            progress=False,
        )
    )
    rows = [json.loads(ln) for ln in (out / "log.jsonl").read_text().splitlines()]
    return [
        {
            "step": r["step"],
            **({"episode": r["episode"]} if "episode" in r else {}),
            **({"eval": r["eval"]["success_rate"]} if "eval" in r else {}),
        }
        for r in rows
        if "episode" in r or "eval" in r
    ]


def base_latency(base: Any, steps: int = 400) -> dict[str, list[float]]:
    """Seconds the base costs ``ResidualWrapper``: per env step (``step``: a new chunk
    only every ``action_horizon`` steps, zero residual, ``steps`` steps) and per base
    call (``call``: the steps that asked the base for a chunk)."""
    from armgym.envs import EnvConfig, make_env
    from armgym.policies.residual import ResidualWrapper

    env = ResidualWrapper(make_env(EnvConfig.from_dict(dict(base.metadata.extra["env"]))), base)
    env.reset(seed=0)
    zero, per_step, per_call = np.zeros(7, np.float32), [], []

    def timed(fn: Any, into: list[float]) -> Any:
        def call(*a: Any) -> Any:
            t = time.perf_counter()
            out = fn(*a)
            into.append(time.perf_counter() - t)
            return out

        return call

    env.streams.act = timed(env.streams.act, per_step)  # type: ignore[method-assign]
    for name in ("infer", "infer_sessions"):  # a plain policy / a session policy
        if hasattr(base, name):
            setattr(base, name, timed(getattr(base, name), per_call))
    for _ in range(steps):
        _, _, term, trunc, _ = env.step(zero)
        if term or trunc:
            env.reset(seed=len(per_step))
    return {"step": per_step, "call": per_call}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--eval-every", type=int, default=1000)
    ap.add_argument("--eval-episodes", type=int, default=20)
    args = ap.parse_args()
    import torch

    from armgym.eval.bases import open_base, reference_of
    from armgym.serve.policy_client import WebsocketPolicyClient

    torch.set_num_threads(1)
    base, base_rate = base_checkpoint()
    t0 = time.perf_counter()
    local = train_over(str(base), WORK / "served_cmp_local", args)
    wall_local = time.perf_counter() - t0
    with served(base) as url:
        t0 = time.perf_counter()
        remote = train_over(url, WORK / "served_cmp_remote", args)
        wall_remote = time.perf_counter() - t0
        with WebsocketPolicyClient(url, api_key=API_KEY) as client:
            lat_remote = base_latency(client)
    lat_local = base_latency(open_base(reference_of(str(base)), {}, seed=0))
    same = local == remote
    first_diff = next(
        (i for i, (a, b) in enumerate(zip(local, remote, strict=False)) if a != b), None
    )

    def pct(lat: dict[str, list[float]]) -> dict[str, float]:
        out = {"mean_ms_per_step": float(np.mean(lat["step"]) * 1e3), "calls": len(lat["call"])}
        return out | {f"call_p{q}_ms": float(np.percentile(lat["call"], q) * 1e3) for q in (50, 99)}

    payload = {
        "machine": machine_info(PACKAGES),
        "setup": {
            "task": TASK,
            "randomization": LEVEL,
            "base": str(base),
            "scale": 0.2,
            "steps": args.steps,
            "eval_episodes": args.eval_episodes,
            "transport": "armgym serve on 127.0.0.1, websockets + msgpack",
        },
        "base_success": base_rate,
        "identical_logs": same,
        "first_difference": first_diff,
        "log_rows": len(local),
        "curve_local": [(r["step"], r["eval"]) for r in local if "eval" in r],
        "curve_served": [(r["step"], r["eval"]) for r in remote if "eval" in r],
        "wall_s": {"local": wall_local, "served": wall_remote},
        "base_query": {"local": pct(lat_local), "served": pct(lat_remote)},
        "added_ms_per_step": float(
            (np.mean(lat_remote["step"]) - np.mean(lat_local["step"])) * 1e3
        ),
    }
    print(json.dumps({k: payload[k] for k in ("identical_logs", "base_query", "wall_s")}))
    print(write_json("residual_served.json", payload))


if __name__ == "__main__":
    main()
