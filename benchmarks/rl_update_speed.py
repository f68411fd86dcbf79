"""Learner updates per second of armgym's SAC (state and pixels), one CPU thread.

Fills a demo buffer with scripted PickCube episodes, then times ``--updates`` calls of
:func:`armgym.train.sac.update` (critic ensemble + actor + temperature + Polyak) per
observation mode. Pixels: front + wrist cameras at 84×84, DrQ shift, shared encoder, at
the batch sizes and encoder widths of ``PIXEL_VARIANTS``; with ``--encoder-from CK`` also
the frozen encoder copied from pixel checkpoint CK (``armgym train sac --encoder-from``) at
batch 256 and 128.

    PYTHONPATH=src python benchmarks/rl_update_speed.py
    PYTHONPATH=src python benchmarks/rl_update_speed.py --encoder-from runs/bc-pixels
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from typing import Any

import torch
from common import machine_info, write_json

from armgym.policies.sac import SACConfig
from armgym.rl import ReplayBuffer
from armgym.train.pretrained_encoder import with_encoder_from
from armgym.train.sac import SACTrainConfig, build_nets, update
from armgym.train.sac_utils import Prep, fill_demos, make_env, make_normalizer

#: pixel learner variants: (batch, encoder channels, activation)
PIXEL_VARIANTS = (
    (256, (32, 64, 64), "mish"),
    (128, (32, 64, 64), "mish"),
    (128, (16, 32, 32), "mish"),
    (128, (16, 32, 32), "relu"),
    (64, (16, 32, 32), "relu"),
)


def measure(
    obs: str,
    updates: int,
    batch: int,
    channels: tuple[int, ...] = (),
    activation: str = "",
    encoder_from: Path | None = None,
) -> dict[str, Any]:
    enc = {k: v for k, v in {"channels": channels, "activation": activation}.items() if v}
    net = SACConfig()
    net = dataclasses.replace(net, encoder=dataclasses.replace(net.encoder, **enc))
    cfg = SACTrainConfig(out=Path("/tmp/unused"), obs=obs, demos="3", batch_size=batch, net=net,  # type: ignore[arg-type]
                         encoder_from=encoder_from)  # fmt: skip
    cfg = with_encoder_from(cfg)
    net = cfg.net
    env = make_env(cfg)
    buf = ReplayBuffer.for_env(env, 10_000)
    fill_demos(cfg, env, buf)
    nets, opts = build_nets(cfg, env)
    a_dim = int(env.action_space.shape[0])
    prep, gen = Prep(make_normalizer(buf, a_dim), cfg.shift_pad), torch.Generator()
    update(cfg, nets, opts, buf.sample(batch), prep, gen)  # warm-up
    t0 = time.perf_counter()
    for _ in range(updates):
        update(cfg, nets, opts, buf.sample(batch), prep, gen)
    dt = time.perf_counter() - t0
    env.close()
    return {
        "updates": updates,
        "batch": batch,
        "encoder_channels": list(net.encoder.channels) if obs != "state" else None,
        "encoder_activation": net.encoder.activation if obs != "state" else None,
        "encoder_frozen_from": str(encoder_from) if encoder_from else None,
        "updates_per_s": round(updates / dt, 3),
        "actor_params": sum(p.numel() for p in nets["actor"].parameters()),
        "critic_params": sum(p.numel() for p in nets["critic"].parameters()),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--updates", type=int, default=100)
    p.add_argument("--pixel-updates", type=int, default=10)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--encoder-from", type=Path, default=None, help="a pixel checkpoint")
    p.add_argument("--out", default="rl_update_speed.json")
    a = p.parse_args()
    torch.set_num_threads(1)
    res: dict[str, Any] = {"state": measure("state", a.updates, a.batch)}
    res["pixels"] = [measure("pixels", a.pixel_updates, *v) for v in PIXEL_VARIANTS]
    if a.encoder_from is not None:
        res["pixels"] += [
            measure("pixels", a.pixel_updates, b, encoder_from=a.encoder_from) for b in (256, 128)
        ]
    print(res)
    write_json(a.out, {**res, "machine": machine_info(("armgym", "torch"))})


if __name__ == "__main__":
    main()
