"""``armgym replay DIR --episode K``: re-run a recorded episode and report divergence;
``armgym replay DIR --rerender-out NEW --cameras front wrist --image-size 224``: re-render
episodes from their recorded sim states with other cameras / image sizes into a new dataset.

The env is rebuilt from ``meta/armgym.json`` (written by ``armgym collect``), reset, put in
the episode's first recorded ``complementary_info.sim_state`` and driven open-loop with the
recorded actions. After each step the new sim state and ``observation.state`` are compared
with the next recorded frame. Deterministic physics gives zero divergence; anything else
(a changed model, controller or MuJoCo version) shows up as a growing error.

Re-rendering (:func:`rerender`) needs no stepping: every frame's ``complementary_info.sim_state``
is restored into an env of the same task and robot built with ``obs="both"`` and the
requested cameras and image size, and the cameras are rendered. The new dataset has the
source's vector features (state, action, sim_state, outcomes), timestamps, tasks, episode
boundaries and ``armgym/*`` episode columns, with the source's videos replaced by the
re-rendered cameras; its ``meta/armgym.json`` describes the new env, so it can be replayed
and re-rendered in turn.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tyro

from armgym.data import lerobot_format as fmt
from armgym.data.reader import LeRobotReader
from armgym.data.recorder import SIM_STATE_KEY
from armgym.envs import EnvConfig, make_env
from armgym.errors import ArmgymError, ConfigError, DatasetError


@dataclass(frozen=True)
class ReplayConfig:
    """Replay a recorded episode's actions from its initial sim state and compare."""

    dataset: tyro.conf.Positional[Path]
    """Dataset folder written by `armgym collect`."""
    episode: int | None = None
    """Episode index to replay / re-render (replay default: 0; re-render default: all)."""
    all: bool = False
    """Replay / re-render every episode."""
    tolerance: float = 1e-6
    """Max abs divergence of observation.state counted as an exact replay."""
    json_out: Path | None = None
    """Also write the report as JSON here."""
    rerender_out: Path | None = None
    """Instead of replaying, re-render the episodes from their sim states into a new
    dataset here (with --cameras / --image-size)."""
    cameras: tuple[str, ...] | None = None
    """Cameras to render with --rerender-out (default: the recorded ones)."""
    image_size: int | None = None
    """Image height and width [px] with --rerender-out (default: the recorded size)."""
    vcodec: str = "libsvtav1"
    """Video encoder for --rerender-out: libsvtav1 | libx264."""
    overwrite: bool = False
    """Replace an existing dataset at --rerender-out."""


def load_env_config(reader: LeRobotReader) -> EnvConfig:
    """The recording env of ``reader`` (``meta/armgym.json``, old partial dicts included)."""
    env = reader.env_config()
    path = reader.root / fmt.ARMGYM_META_PATH
    if env is None:
        raise DatasetError(
            f"{path}: missing; replay needs the env config that "
            "`armgym collect` writes there (re-record with armgym collect)."
        )
    try:
        return EnvConfig.from_dict(env)
    except ArmgymError as exc:
        raise DatasetError(f"{path}: bad env config ({exc}).") from None


def require_sim_state(reader: LeRobotReader, what: str = "replayable") -> str:
    """The dataset's sim-state feature (``complementary_info.sim_state``, or
    ``observation.sim_state`` in datasets armgym 0.1.0 recorded)."""
    key = fmt.sim_state_key(reader.features)
    if key is None:
        raise DatasetError(
            f"{reader.root / fmt.INFO_PATH}: no {SIM_STATE_KEY!r} feature; "
            f"record with `armgym collect --sim-state` to make episodes {what}."
        )
    return key


def selected_episodes(cfg: ReplayConfig, reader: LeRobotReader, default_all: bool) -> list[int]:
    """Episode indices named by --episode / --all (validated)."""
    if cfg.all and cfg.episode is not None:
        raise ConfigError("give either --episode K or --all, not both.")
    if cfg.all or (cfg.episode is None and default_all):
        return list(range(reader.num_episodes))
    k = 0 if cfg.episode is None else cfg.episode
    reader.episode_info(k)  # range check
    return [k]


def replay(cfg: ReplayConfig) -> dict[str, Any]:
    """Replay one episode (``cfg.episode``, default 0) and return the divergence report."""
    return _replay(cfg, LeRobotReader(cfg.dataset), 0 if cfg.episode is None else cfg.episode)


def _replay(cfg: ReplayConfig, reader: LeRobotReader, episode: int) -> dict[str, Any]:
    sim_key = require_sim_state(reader)
    # images are not compared; skip rendering
    env_cfg = dataclasses.replace(load_env_config(reader), obs="state")
    ep = reader.episode(episode, decode_videos=False)
    sim, actions = ep[sim_key], ep["action"]
    states = ep["observation.state"]
    env: Any = make_env(env_cfg)
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
    recorded = bool(reader.episode_info(episode).extras.get("armgym/success", False))
    max_state = max(state_err, default=0.0)
    first_bad = next((i + 1 for i, e in enumerate(state_err) if e > cfg.tolerance), None)
    return {
        "dataset": str(reader.root),
        "episode": episode,
        "steps": len(actions),
        "max_state_divergence": max_state,
        "final_state_divergence": state_err[-1] if state_err else 0.0,
        "max_sim_state_divergence": max(sim_err, default=0.0),
        "first_divergent_frame": first_bad,
        "exact": max_state <= cfg.tolerance,
        "recorded_success": recorded,
        "replayed_success": success,
    }


class Rerenderer:
    """Render any recorded ``complementary_info.sim_state`` of ``reader``'s env with other cameras
    and image size: ``render(sim_state) -> {"observation.images.<cam>": uint8[H, W, 3]}``.

    Args:
        reader: a dataset recorded by ``armgym collect`` (needs ``meta/armgym.json``).
        cameras: camera names (default: the recorded ones, else ``("front",)``).
        image_size: ``(height, width)`` or one int for square images (default: recorded).
    """

    def __init__(
        self,
        reader: LeRobotReader,
        cameras: Sequence[str] | None = None,
        image_size: int | Sequence[int] | None = None,
    ):
        recorded = load_env_config(reader)
        self.task = recorded.task
        images = recorded.obs != "state"  # a state-only recording has no cameras of its own
        cams = list(cameras) if cameras else list(recorded.cameras if images else ["front"])
        if not cams:
            raise ConfigError("re-rendering needs at least one camera (--cameras front ...).")
        if image_size is None:
            size = list(recorded.image_size if images else [128, 128])
        elif isinstance(image_size, int):
            size = [image_size, image_size]
        else:
            size = [int(v) for v in image_size]
        if len(size) != 2 or min(size) < 2 or size[0] % 2 or size[1] % 2:
            raise ConfigError(f"--image-size must be an even number of pixels >= 2, got {size}.")
        self.env_config = dataclasses.replace(
            recorded, obs="both", cameras=tuple(cams), image_size=(size[0], size[1])
        )
        self.env: Any = make_env(self.env_config)
        self.env.reset(seed=0)
        self.keys = [f"observation.images.{c}" for c in cams]
        self.size = (int(size[0]), int(size[1]))

    def render(self, sim_state: np.ndarray) -> dict[str, np.ndarray]:
        """Restore ``sim_state`` (bit-identical physics) and render every camera."""
        base = self.env.unwrapped
        try:
            base.set_sim_state(sim_state)
        except ConfigError as exc:
            raise DatasetError(
                f"{SIM_STATE_KEY} does not fit the {self.task} scene ({exc}); was the "
                "dataset recorded with another robot or MuJoCo model?"
            ) from exc
        # set_sim_state re-observes the robot, which renders every configured camera
        return {
            key: np.array(base.robot_obs[f"images.{key.rsplit('.', 1)[1]}"], copy=True)
            for key in self.keys
        }

    def close(self) -> None:
        self.env.close()

    def __enter__(self) -> Rerenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def rerender(
    dataset: str | Path,
    out: str | Path,
    *,
    cameras: Sequence[str] | None = None,
    image_size: int | Sequence[int] | None = None,
    episodes: Sequence[int] | None = None,
    vcodec: str = "libsvtav1",
    overwrite: bool = False,
) -> dict[str, Any]:
    """Re-render ``episodes`` (default: all) of ``dataset`` into a new dataset at ``out``.

    Every frame's ``complementary_info.sim_state`` is restored and rendered with ``cameras`` at
    ``image_size``; all vector features, timestamps, task strings, episode boundaries and
    ``armgym/*`` episode columns are copied. The source's videos are not carried over.

    Raises:
        DatasetError: no ``complementary_info.sim_state`` or no env config in ``dataset``, or
            ``out`` already holds a dataset (pass ``overwrite=True``).
    """
    from armgym.data.writer import LeRobotWriter

    reader = LeRobotReader(dataset)
    sim_key = require_sim_state(reader, "re-renderable")
    out = Path(out)
    if out.resolve() == reader.root.resolve():
        raise ConfigError(f"{out}: --rerender-out must differ from the source dataset.")
    if (out / fmt.INFO_PATH).exists() and not overwrite:
        raise DatasetError(f"{out}: already holds a dataset; pass --overwrite to replace it.")
    eps = list(range(reader.num_episodes)) if episodes is None else list(episodes)
    for k in eps:
        reader.episode_info(k)
    vectors = [k for k in reader.vector_keys if k not in fmt.DEFAULT_FEATURES]
    t0 = time.perf_counter()
    frames = 0
    with Rerenderer(reader, cameras, image_size) as rr:
        h, w = rr.size
        features: dict[str, Any] = {k: reader.features[k] for k in vectors}
        features.update({k: fmt.video_feature(h, w, reader.fps) for k in rr.keys})
        writer = LeRobotWriter(
            out,
            features,
            reader.fps,
            robot_type=reader.info.get("robot_type"),
            vcodec=vcodec,
            overwrite=overwrite,
            chunks_size=int(reader.info.get("chunks_size", fmt.DEFAULT_CHUNKS_SIZE)),
            env_config=rr.env_config.to_dict(),
        )
        with writer:
            for k in eps:
                ep = reader.episode(k, decode_videos=False)
                sims, n = ep[sim_key], reader.episode_info(k).length
                tasks = ep.get("task") or [""] * n
                for t in range(n):
                    frame = {key: ep[key][t] for key in vectors}
                    frame.update(rr.render(sims[t]))
                    writer.add_frame(frame, task=tasks[t])
                extras = reader.episode_info(k).extras
                writer.save_episode({e: v for e, v in extras.items() if e in fmt.EPISODE_EXTRAS})
                frames += n
    dt = time.perf_counter() - t0
    return {
        "dataset": str(reader.root),
        "out": str(out),
        "episodes": len(eps),
        "frames": frames,
        "cameras": list(rr.keys),
        "image_size": [h, w],
        "seconds": round(dt, 3),
        "frames_per_s": frames / dt if dt > 0 else float("nan"),
    }


def main(argv: list[str] | None = None) -> int:
    cfg = tyro.cli(ReplayConfig, args=sys.argv[1:] if argv is None else argv, prog="armgym replay")
    reader = LeRobotReader(cfg.dataset)
    if cfg.rerender_out is not None:
        summary = rerender(
            cfg.dataset,
            cfg.rerender_out,
            cameras=cfg.cameras,
            image_size=cfg.image_size,
            episodes=selected_episodes(cfg, reader, default_all=True),
            vcodec=cfg.vcodec,
            overwrite=cfg.overwrite,
        )
        if cfg.json_out is not None:
            cfg.json_out.write_text(json.dumps(summary, indent=2) + "\n")
        h, w = summary["image_size"]
        print(
            f"re-rendered {summary['episodes']} episode(s), {summary['frames']} frames, "
            f"cameras {', '.join(summary['cameras'])} at {h}x{w} into {summary['out']} "
            f"({summary['frames_per_s']:.0f} frames/s)"
        )
        return 0
    reports = [_replay(cfg, reader, k) for k in selected_episodes(cfg, reader, default_all=False)]
    if cfg.json_out is not None:
        payload = reports if cfg.all else reports[0]
        cfg.json_out.write_text(json.dumps(payload, indent=2) + "\n")
    for report in reports:
        _print_report(report)
    return 0


def _print_report(report: dict[str, Any]) -> None:
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


if __name__ == "__main__":
    sys.exit(main())
