"""``armgym collect``: record demonstrations into a LeRobot v3.0 dataset.

Sources: ``scripted`` (the task's privileged expert), ``keyboard`` / ``spacemouse`` /
``gamepad`` (teleoperation, paced in real time), ``policy:<checkpoint>`` (a trained
policy). Re-running with the same ``--out`` appends (after dropping any episode a crash
left half-written). ``--real`` (or ``--real-config``) records from a real arm driven
directly (``armgym.envs.real``); a device error mid-episode holds the arm, drops the
unfinished episode and keeps the ones saved before it. Prints a summary: episodes kept / tried, success rate, measured
control rate, late and dropped frames.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Protocol

import numpy as np
import tyro

from armgym.data.recorder import (
    EpisodeRecorder,
    EpisodeResult,
    env_features,
    intervention_features,
)
from armgym.data.writer import LeRobotWriter
from armgym.envs import EnvConfig, make_env
from armgym.envs.language import InstructionWrapper
from armgym.envs.real import RealArgs, on_real_arm
from armgym.errors import ConfigError, HardwareError, UnknownNameError
from armgym.policies.runner import ChunkRunner
from armgym.policies.scripted import expert_action
from armgym.progress import progress

TELEOP_SOURCES = ("keyboard", "spacemouse", "gamepad", "phone", "pose-stream")


@dataclass(frozen=True)
class CollectConfig:
    """Record episodes from a scripted expert, a teleop device or a policy."""

    out: Path
    """Dataset folder (created, or appended to if it already holds a dataset)."""
    task: str = "PickCube"
    """Task name (see `armgym envs`)."""
    robot: str = "panda"
    """Robot name."""
    source: str = "scripted"
    """scripted | keyboard | spacemouse | gamepad | phone | pose-stream (docs/teleop.md) |
    policy:<checkpoint dir>."""
    episodes: int = 10
    """Episodes to save."""
    only_success: bool = False
    """Keep only successful episodes (retries up to --max-attempts)."""
    max_attempts: int | None = None
    """Episodes to try at most (default: 3 x --episodes with --only-success, else --episodes)."""
    obs: str = "both"
    """Observations to record: state | pixels | both."""
    image_size: int = 96
    """Camera image height and width [px] (even)."""
    cameras: tuple[str, ...] = ("front", "wrist")
    """Cameras to record when --obs is pixels or both."""
    control: str = "ee_delta"
    """Control mode (teleop needs ee_delta; scripted: ee_delta or ee_pos)."""
    randomization: str = "low"
    """Initial-state randomisation: low | med | high."""
    max_steps: int = 0
    """Steps per episode at most; replaces the task's time limit (0: keep the task's)."""
    terminate_on_success: bool = True
    """End an episode at success. --no-terminate-on-success keeps recording to the time
    limit (or --max-steps), so a reward classifier sees frames of the success state."""
    action_noise: float = 0.0
    """Std of Gaussian noise added to the source's actions (clipped to the action space);
    a noisy expert records near-miss failures, e.g. 0.6 for PickCube."""
    seed: int = 0
    """Seed of the first episode; episode attempt i uses seed + i."""
    realtime: bool | None = None
    """Pace at the control rate (default: on for teleop sources and --viewer, else off)."""
    sim_state: bool = True
    """Store complementary_info.sim_state (float64) per frame, needed by `armgym replay`."""
    vcodec: str = "libsvtav1"
    """Video encoder: libsvtav1 (AV1, lerobot's default) | libx264."""
    overwrite: bool = False
    """Delete an existing dataset at --out first instead of appending."""
    progress: bool = True
    """Show a progress bar."""
    intervene: str = ""
    """Teleop device (keyboard | spacemouse | gamepad | phone | pose-stream) whose
    intervention toggle lets a person take over from a scripted or policy --source and
    hand back. Frames then record complementary_info.is_intervention and
    complementary_info.policy_action."""
    rerun: bool = False
    """Also write the episodes of this run to OUT/rerun/episodes_<first>-<last>.rrd (cameras,
    joints, EE trajectory, actions; open with `rerun FILE`; needs `pip install armgym[viz]`)."""
    viewer: bool = False
    """Show the scene in the MuJoCo viewer while recording (needs a display). With
    --source keyboard the keys are read from the viewer window (arrows, PageUp/PageDown,
    Home/End, space; see docs/datasets.md) instead of the terminal."""
    arm: Annotated[RealArgs, tyro.conf.OmitArgPrefixes] = field(default_factory=RealArgs)
    """A real arm instead of the sim (--real, --real-config, --port, --calibration ...)."""


class ActionSource(Protocol):
    """The agent of a collection: ``act(obs) -> float32[A]`` and ``reset()`` per episode."""

    def __call__(self, obs: Mapping[str, np.ndarray]) -> np.ndarray: ...

    def reset(self) -> None: ...


class CheckpointActions:
    """``act(obs)`` from a checkpoint policy; executes returned action chunks in order."""

    def __init__(self, path: Path):
        from armgym.apps.policy_specs import load_checkpoint_policy

        self.policy = load_checkpoint_policy(path)
        self.runner = ChunkRunner()  # the policy keeps its own observation history

    def reset(self) -> None:
        self.policy.reset()
        self.runner.reset()

    def __call__(self, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        return self.runner.act(obs, self.policy.infer)


class ExpertActions:
    """``act(obs)`` from the task's scripted expert (reads the env's robot observation)."""

    def __init__(self, env: Any):
        self.env = env.unwrapped
        self.expert = self.env.task.make_expert()

    def reset(self) -> None:
        self.expert.reset()

    def __call__(self, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        control = getattr(self.env.robot, "control", "ee_delta")
        return expert_action(self.expert(self.env.robot_obs), control)


class NoActions:
    """Zeros float32[A]: the agent of a teleop source, whose device acts in ``TeleopWrapper``."""

    def __init__(self, env: Any):
        self.zeros = np.zeros(env.action_space.shape, np.float32)

    def reset(self) -> None:
        pass

    def __call__(self, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        return self.zeros


def check_source(source: str, intervene: str = "") -> None:
    """Raise ``ConfigError`` / ``UnknownNameError`` for a bad ``--source`` / ``--intervene``."""
    if source in TELEOP_SOURCES:
        if intervene:
            raise ConfigError(
                f"--intervene {intervene} takes over from a scripted or policy source; "
                f"--source {source} is already a person at a device. Drop --intervene."
            )
    elif source != "scripted" and not source.startswith("policy:"):
        raise ConfigError(
            f"unknown --source {source!r}; use scripted, keyboard, spacemouse, "
            "gamepad, phone, pose-stream or policy:<checkpoint dir>."
        )
    if intervene and intervene not in TELEOP_SOURCES:
        raise UnknownNameError("--intervene device", intervene, TELEOP_SOURCES)


class NoisyActions:
    """``act(obs) + N(0, std²)`` per dimension, clipped to the env's action space."""

    def __init__(self, act: ActionSource, env: Any, std: float, seed: int):
        self.act, self.std = act, std
        self.low, self.high = env.action_space.low, env.action_space.high
        self.rng = np.random.default_rng([seed, 7919])

    def reset(self) -> None:
        self.act.reset()

    def __call__(self, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        a = np.asarray(self.act(obs), np.float32)
        noisy = a + self.rng.normal(0.0, self.std, a.shape)
        return np.clip(noisy, self.low, self.high).astype(np.float32)


def make_actions(source: str, env: Any) -> ActionSource:
    """The agent's ``act(obs) -> action`` named by ``--source`` (zeros for a teleop source)."""
    check_source(source)
    if source in TELEOP_SOURCES:
        return NoActions(env)
    if source == "scripted":
        return ExpertActions(env)
    return CheckpointActions(Path(source.split(":", 1)[1]))


def wrap_env(env: Any, source: str, intervene: str = "", viewer_keys: Any = None) -> Any:
    """``env`` with the teleop wrapper ``--source`` / ``--intervene`` ask for, if any.

    A teleop source drives through ``TeleopWrapper``; ``--intervene`` lets its device take
    over from the agent through ``InterventionWrapper``. ``viewer_keys``: a ``ViewerKeys``
    source; a keyboard then reads the viewer window.
    """
    from armgym.teleop import InterventionWrapper, TeleopWrapper, make_device

    check_source(source, intervene)
    if source in TELEOP_SOURCES:
        return TeleopWrapper(env, make_device(source, viewer_keys))
    if intervene:
        return InterventionWrapper(env, make_device(intervene, viewer_keys))
    return env


def env_config(cfg: CollectConfig) -> EnvConfig:
    """The env to record in: the sim, or with ``--real`` the real arm (``EnvConfig.real``,
    at the arm's control rate, recording the arm's cameras)."""
    images: dict[str, Any] = {}
    if cfg.obs != "state":
        images = dict(image_size=(cfg.image_size, cfg.image_size), cameras=tuple(cfg.cameras))
    env = EnvConfig(
        task=cfg.task,
        robot=cfg.robot,
        control=cfg.control,
        obs=cfg.obs,
        randomization=cfg.randomization,
        terminate_on_success=cfg.terminate_on_success,
        **images,
    )
    return on_real_arm(env, cfg.arm.robot_config(cfg.robot), rate=True, own_cameras=False)


def summarize(results: list[EpisodeResult], wall_s: float, out: Path) -> dict[str, Any]:
    """Collection summary (also printed)."""
    saved = [r for r in results if r.saved]
    fps = [r.timing["armgym/measured_fps"] for r in results]
    return {
        "out": str(out),
        "episodes_saved": len(saved),
        "episodes_tried": len(results),
        "success_rate": float(np.mean([r.success for r in results])) if results else 0.0,
        "frames_saved": int(sum(r.length for r in saved)),
        "measured_fps_mean": float(np.nanmean(fps)) if fps else float("nan"),
        "late_frames": int(sum(r.timing["armgym/late_frames"] for r in results)),
        "dropped_frames": int(sum(r.timing["armgym/dropped_frames"] for r in results)),
        "wall_s": round(wall_s, 2),
    }


def collect(cfg: CollectConfig) -> dict[str, Any]:
    """Run the collection described by ``cfg``; return the summary."""
    if cfg.episodes < 1:
        raise ConfigError("--episodes must be >= 1.")
    if not cfg.action_noise >= 0.0:
        raise ConfigError(f"--action-noise must be >= 0, got {cfg.action_noise}.")
    check_source(cfg.source, cfg.intervene)
    if cfg.viewer and cfg.arm.enabled:
        raise ConfigError("--viewer shows a simulated scene; drop it with --real")
    if cfg.rerun:
        from armgym.viz.rerun_log import require_rerun

        require_rerun()  # fail before recording, not after
    env_cfg = env_config(cfg)
    # --max-steps replaces the task's time limit (a longer one too: a person may need it)
    base = make_env(env_cfg, max_episode_steps=cfg.max_steps or None)
    viewer = None
    try:
        keys = None
        if cfg.viewer:
            from armgym.apps.viewer import open_viewer
            from armgym.teleop.viewer_keys import ViewerKeys

            keys = ViewerKeys() if "keyboard" in (cfg.source, cfg.intervene) else None
            viewer = open_viewer(base, key_callback=keys.key_callback if keys else None)
        act = make_actions(cfg.source, base)
        if cfg.action_noise > 0:
            act = NoisyActions(act, base, cfg.action_noise, cfg.seed)
        # the episode's instruction: a paraphrase picked by the episode's seed (info["instruction"])
        env: Any = InstructionWrapper(wrap_env(base, cfg.source, cfg.intervene, keys))
        if viewer is not None:
            from armgym.apps.viewer import ViewerWrapper

            human = "keyboard" in (cfg.source, cfg.intervene)
            env = ViewerWrapper(env, viewer, human=human, takeover=bool(cfg.intervene))
        return _record(cfg, env, act, env_cfg)
    finally:
        if viewer is not None:
            from armgym.apps.viewer import close_viewer

            close_viewer(viewer)
        base.close()


def _record(cfg: CollectConfig, env: Any, act: ActionSource, env_cfg: EnvConfig) -> dict[str, Any]:
    """Record episodes of ``act`` in ``env`` into ``cfg.out``; return the summary.

    The dataset stores ``env_cfg`` without its real arm (the sim twin: replay, training
    and eval of its policies never connect to hardware by accident).
    """
    features = env_features(env, sim_state=cfg.sim_state)
    if cfg.intervene:
        features.update(
            intervention_features(
                int(np.prod(env.action_space.shape)), features["action"].get("names")
            )
        )
    human = cfg.source in TELEOP_SOURCES or bool(cfg.intervene)
    realtime = cfg.realtime if cfg.realtime is not None else human or cfg.viewer
    fps = float(env.unwrapped.metadata.get("render_fps", 10))
    robot_type = env.unwrapped.robot.robot_name
    writer = LeRobotWriter(
        cfg.out,
        features,
        fps,
        robot_type=robot_type,
        vcodec=cfg.vcodec,
        overwrite=cfg.overwrite,
        env_config=dataclasses.replace(env_cfg, real=None).to_dict(),
    )
    if writer.recovered_files:
        print(
            f"dropped {len(writer.recovered_files)} file(s) of an interrupted episode; "
            f"appending after episode {writer.total_episodes - 1}",
            file=sys.stderr,
        )
    spec_limit = env.spec.max_episode_steps if env.spec is not None else None
    limit = cfg.max_steps or int(spec_limit or 200)
    attempts = cfg.max_attempts or (3 * cfg.episodes if cfg.only_success else cfg.episodes)
    recorder = EpisodeRecorder(env, writer, realtime=realtime)  # sim state if in features
    results: list[EpisodeResult] = []
    interventions, first = 0, writer.total_episodes
    t0 = time.perf_counter()
    bar = progress(total=cfg.episodes, desc="collect", unit="ep", disable=not cfg.progress)
    try:
        seed = cfg.seed + writer.total_episodes  # appending continues the seed sequence
        while sum(r.saved for r in results) < cfg.episodes and len(results) < attempts:
            act.reset()
            try:
                res = recorder.record(
                    act, seed=seed + len(results), max_steps=limit, only_success=cfg.only_success
                )
            except HardwareError as e:  # the arm holds (RealRobot); saved episodes stay
                saved = writer.total_episodes
                raise HardwareError(
                    f"{e} [episode attempt {len(results)} stopped; the dataset at {cfg.out} "
                    f"keeps its {saved} saved episodes, the unfinished one is dropped]"
                ) from e
            results.append(res)
            interventions += res.interventions if res.saved else 0
            bar.update(int(res.saved))
            bar.set_postfix(success=f"{np.mean([r.success for r in results]):.2f}")
            if "stop" in res.events:
                break
    finally:
        bar.close()
        writer.close()
    summary = summarize(results, time.perf_counter() - t0, cfg.out)
    if cfg.intervene:
        summary["intervention_frames"] = interventions
    if cfg.rerun and summary["episodes_saved"]:
        summary["rerun"] = str(write_rerun(cfg.out, first))
    return summary


def write_rerun(out: Path, first: int) -> Path | str:
    """The rerun recording of episodes ``first …`` of the dataset at ``out``."""
    from armgym.data.reader import LeRobotReader
    from armgym.viz.rerun_log import log_dataset

    reader = LeRobotReader(out)
    last = reader.num_episodes - 1
    return log_dataset(reader, out / "rerun" / f"episodes_{first}-{last}.rrd", first_episode=first)


def main(argv: list[str] | None = None) -> int:
    cfg = tyro.cli(
        CollectConfig, args=sys.argv[1:] if argv is None else argv, prog="armgym collect"
    )
    s = collect(cfg)
    print(
        f"saved {s['episodes_saved']}/{s['episodes_tried']} episodes ({s['frames_saved']} "
        f"frames) to {s['out']}; success rate {s['success_rate']:.0%}; control rate "
        f"{s['measured_fps_mean']:.1f} Hz measured; late frames {s['late_frames']}, "
        f"dropped frames {s['dropped_frames']}; {s['wall_s']} s"
        + (
            f"; {s['intervention_frames']} frames by the human"
            if "intervention_frames" in s
            else ""
        )
        + (f"; rerun recording {s['rerun']}" if "rerun" in s else "")
    )
    return 0 if s["episodes_saved"] else 1


if __name__ == "__main__":
    sys.exit(main())
