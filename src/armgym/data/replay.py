"""``armgym replay DIR --episode K``: re-run a recorded episode and report divergence.

The env is rebuilt from ``meta/armgym.json`` (written by ``armgym collect``), reset, put in
the episode's first recorded ``observation.sim_state`` and driven open-loop with the
recorded actions. After each step the new sim state and ``observation.state`` are compared
with the next recorded frame. Deterministic physics gives zero divergence; anything else
(a changed model, controller or MuJoCo version) shows up as a growing error.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tyro

from armgym.data import lerobot_format as fmt
from armgym.data.reader import LeRobotReader
from armgym.data.recorder import SIM_STATE_KEY
from armgym.errors import DatasetError


@dataclass(frozen=True)
class ReplayConfig:
    """Replay a recorded episode's actions from its initial sim state and compare."""

    dataset: tyro.conf.Positional[Path]
    """Dataset folder written by `armgym collect`."""
    episode: int = 0
    """Episode index to replay."""
    tolerance: float = 1e-6
    """Max abs divergence of observation.state counted as an exact replay."""
    json_out: Path | None = None
    """Also write the report as JSON here."""


def load_env_config(reader: LeRobotReader) -> dict[str, Any]:
    env = reader.env_config()
    if env is None:
        raise DatasetError(
            f"{reader.root / fmt.ARMGYM_META_PATH}: missing; replay needs the env config that "
            "`armgym collect` writes there (re-record with armgym collect)."
        )
    return env


def replay(cfg: ReplayConfig) -> dict[str, Any]:
    """Replay and return the divergence report."""
    from armgym.data.collect import make_env

    reader = LeRobotReader(cfg.dataset)
    if SIM_STATE_KEY not in reader.features:
        raise DatasetError(
            f"{reader.root / fmt.INFO_PATH}: no {SIM_STATE_KEY!r} feature; "
            "record with `armgym collect --sim-state` to make episodes replayable."
        )
    env_cfg = load_env_config(reader)
    task = env_cfg.pop("task")
    env_cfg["obs"] = "state"  # images are not compared; skip rendering
    env_cfg.pop("image_size", None)
    env_cfg.pop("cameras", None)
    ep = reader.episode(cfg.episode, decode_videos=False)
    sim, actions = ep[SIM_STATE_KEY], ep["action"]
    states = ep["observation.state"]
    env = make_env(task, env_cfg)
    try:
        env.reset(seed=0)
        base = env.unwrapped
        base.set_sim_state(sim[0])
        sim_err, state_err = [], []
        success = False
        for t in range(len(actions)):
            obs, _, terminated, truncated, info = env.step(actions[t])
            success = success or bool(info.get("is_success", False))
            if t + 1 < len(actions):
                sim_err.append(float(np.max(np.abs(base.get_sim_state() - sim[t + 1]))))
                state_err.append(float(np.max(np.abs(obs["observation.state"] - states[t + 1]))))
            if (terminated or truncated) and t + 1 < len(actions):
                break
    finally:
        env.close()
    recorded = bool(reader.episode_info(cfg.episode).extras.get("armgym/success", False))
    max_state = max(state_err, default=0.0)
    first_bad = next((i + 1 for i, e in enumerate(state_err) if e > cfg.tolerance), None)
    return {
        "dataset": str(reader.root),
        "episode": cfg.episode,
        "steps": len(actions),
        "max_state_divergence": max_state,
        "final_state_divergence": state_err[-1] if state_err else 0.0,
        "max_sim_state_divergence": max(sim_err, default=0.0),
        "first_divergent_frame": first_bad,
        "exact": max_state <= cfg.tolerance,
        "recorded_success": recorded,
        "replayed_success": success,
    }


def main(argv: list[str] | None = None) -> int:
    cfg = tyro.cli(ReplayConfig, args=sys.argv[1:] if argv is None else argv, prog="armgym replay")
    report = replay(cfg)
    if cfg.json_out is not None:
        cfg.json_out.write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"episode {report['episode']}: {report['steps']} steps; max |state - recorded| = "
        f"{report['max_state_divergence']:.3g} (sim state {report['max_sim_state_divergence']:.3g})"
        f"; success recorded={report['recorded_success']} replayed={report['replayed_success']}"
        + (
            "; exact replay"
            if report["exact"]
            else f"; diverges from frame {report['first_divergent_frame']}"
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
