"""Learner updates per second of armgym's SAC (state and pixels), batch 256, one CPU thread.

Fills a demo buffer with scripted PickCube episodes, then times ``--updates`` calls of
:func:`armgym.train.sac.update` (critic ensemble + actor + temperature + Polyak) per
observation mode. Pixels: front + wrist cameras at 84×84, DrQ shift, shared encoder.

    PYTHONPATH=src python benchmarks/rl_update_speed.py
"""

from __future__ import annotations

import argparse
import copy
import math
import time
from pathlib import Path
from typing import Any

import torch
from common import machine_info, write_json

from armgym.policies.sac import CriticEnsemble, SACActor
from armgym.rl import ReplayBuffer
from armgym.train.sac import SACTrainConfig, update
from armgym.train.sac_utils import Prep, fill_demos, make_env, make_normalizer


def measure(obs: str, updates: int, batch: int) -> dict[str, Any]:
    cfg = SACTrainConfig(out=Path("/tmp/unused"), obs=obs, demos="3", batch_size=batch)  # type: ignore[arg-type]
    env = make_env(cfg)
    buf = ReplayBuffer.for_env(env, 10_000)
    fill_demos(cfg, env, buf)
    a_dim = int(env.action_space.shape[0])
    shapes = {k: tuple(sp.shape) for k, sp in env.observation_space.spaces.items()}
    shapes = {k: (s[2], s[0], s[1]) if len(s) == 3 else s for k, s in shapes.items()}
    actor = SACActor(cfg.net, shapes, a_dim)
    critic = CriticEnsemble(cfg.net, actor.encoder.out_dim, a_dim)
    nets = {
        "actor": actor,
        "critic": critic,
        "critic_t": copy.deepcopy(critic),
        "enc_t": copy.deepcopy(actor.encoder),
        "log_alpha": torch.tensor(math.log(0.01), requires_grad=True),
        "target_entropy": -a_dim / 2,
    }
    opts = {
        "actor": torch.optim.Adam(actor.net.parameters(), lr=3e-4),
        "critic": torch.optim.Adam([*critic.parameters(), *actor.encoder.parameters()], lr=3e-4),
        "alpha": torch.optim.Adam([nets["log_alpha"]], lr=3e-4),
    }
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
        "updates_per_s": updates / dt,
        "actor_params": sum(p.numel() for p in actor.parameters()),
        "critic_params": sum(p.numel() for p in critic.parameters()),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--updates", type=int, default=100)
    p.add_argument("--pixel-updates", type=int, default=10)
    p.add_argument("--batch", type=int, default=256)
    a = p.parse_args()
    torch.set_num_threads(1)
    res = {
        "state": measure("state", a.updates, a.batch),
        "pixels": measure("pixels", a.pixel_updates, a.batch),
    }
    print(res)
    write_json("rl_update_speed.json", {**res, "machine": machine_info(("armgym", "torch"))})


if __name__ == "__main__":
    main()
