"""``armgym eval``: a checkpoint x N seeded episodes in parallel -> report.json + videos.

    armgym eval --checkpoint CK --task PickCube --episodes 100 --num-envs 8 --seed 0

A served policy (``armgym serve``, an openpi or CogACT server) is evaluated the same way
through a mapping (``armgym.mappings``); each parallel env gets its own connection::

    armgym eval --policy ws://gpu:8000 --mapping libero --task PickCube --episodes 50

Episode ``i`` uses seed ``seed + i`` whatever ``--num-envs`` (or Ray split) is, so reports
are comparable run to run. Writes ``<out>/report.json`` (success rate with Wilson 95%
interval, mean return, episode lengths, per-episode seed/outcome) and
``<out>/videos/episode_<i>.mp4`` for the first ``--videos`` episodes, and ``<out>/index.html``
(clip grid labelled with seed and outcome, per-seed table; :mod:`armgym.viz.run_report`).

``--real`` (or ``--real-config arm.json``) runs the episodes on a real arm, one at a time
(``--num-envs 1``), at the checkpoint's control rate, without videos::

    armgym eval --checkpoint CK --task Reach --real --port /dev/ttyACM0 --calibration arm.json \
        --num-envs 1 --episodes 10
"""

from __future__ import annotations

import functools
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import tyro

from armgym.envs.config import EnvConfig
from armgym.envs.real import RealArgs, on_real_arm
from armgym.errors import ConfigError
from armgym.eval.report import build_report, write_json, write_video
from armgym.eval.rollout import VECTORS, EpisodeOutcome, RolloutConfig, rollout
from armgym.policies.learned import load_checkpoint
from armgym.progress import progress
from armgym.viz.run_report import eval_page, write_run_page


@dataclass(frozen=True)
class EvalConfig:
    """Evaluate a trained policy over seeded parallel episodes."""

    checkpoint: Path | None = None
    """Checkpoint folder written by `armgym train` (model.safetensors + config.json)."""
    policy: str | None = None
    """Instead of --checkpoint: URL of a served policy (ws://host:port), mapped by --mapping."""
    mapping: str = "armgym"
    """Served policy's mapping: armgym | libero | droid | aloha | cogact | a .toml/.json file."""
    prompt: str | None = None
    """Served policy's prompt (default: the task's instruction)."""
    robot: str = "panda"
    """Served policy: robot of the env."""
    control: str | None = None
    """Served policy: control mode (default: the mapping's)."""
    api_key: str | None = None
    """Served policy (or a residual checkpoint's served base): API key of the server."""
    task: str | None = None
    """Task (default: the one the policy was trained on; PickCube for a served policy)."""
    randomization: str | None = None
    """Override the initial-state randomisation: low | med | high."""
    episodes: int = 100
    """Episodes to run."""
    num_envs: int = 8
    """Parallel envs (results do not depend on it)."""
    seed: int = 0
    """Seed of episode 0; episode i uses seed + i."""
    out: Path | None = None
    """Report folder (default: <checkpoint>/eval, or eval-<mapping> for a served policy)."""
    videos: int = 6
    """Record MP4s of the first this many episodes (front camera), shown in index.html."""
    video_size: tuple[int, int] = (240, 320)
    """Video height and width [px] (even)."""
    vector: str = "batched"
    """Vector env: batched (armgym BatchedEnv) | sync (gymnasium SyncVectorEnv)."""
    backend: str = "cpu"
    """Physics: cpu (MuJoCo, see --vector) | warp (MuJoCo Warp, the envs as worlds on one
    device, GPU if any; armgym[warp]; state observations, no videos)."""
    batch_inference: bool = False
    """Query waiting envs in one batch: faster, but outcomes may then depend on --num-envs."""
    ray_address: str | None = None
    """Run on Ray: 'local' starts a local instance, else a cluster address ('auto', ...)."""
    ray_tasks: int = 2
    """Ray tasks the episodes are split over."""
    num_threads: int = 1
    """torch CPU threads per process."""
    progress: bool = True
    """Show a progress bar."""
    arm: Annotated[RealArgs, tyro.conf.OmitArgPrefixes] = field(default_factory=RealArgs)
    """A real arm instead of the sim (--real, --real-config, --port, --calibration ...)."""


def check_real(cfg: EvalConfig) -> None:
    """Raise ``ConfigError`` for options a real arm cannot honour (one env, local, CPU)."""
    if not cfg.arm.enabled:
        return
    if cfg.num_envs != 1:
        raise ConfigError(f"--real drives one physical arm: pass --num-envs 1 (got {cfg.num_envs})")
    if cfg.ray_address or cfg.backend != "cpu":
        raise ConfigError("--real runs here on the cpu backend; drop --ray-address / --backend")


def evaluate(cfg: EvalConfig) -> dict[str, Any]:
    """Run the evaluation, write report.json and videos, return the report."""
    import torch

    if cfg.episodes < 1 or cfg.num_envs < 1:
        raise ConfigError("--episodes and --num-envs must be >= 1")
    if cfg.vector not in VECTORS:
        raise ConfigError(f"--vector must be one of {VECTORS}, got {cfg.vector!r}")
    if cfg.backend not in ("cpu", "warp"):
        raise ConfigError(f"--backend must be cpu or warp, got {cfg.backend!r}")
    vector = "warp" if cfg.backend == "warp" else cfg.vector
    if (cfg.checkpoint is None) == (cfg.policy is None):
        raise ConfigError("give either --checkpoint (a trained policy) or --policy ws://host:port")
    if cfg.policy is not None and cfg.ray_address:
        raise ConfigError("--ray-address evaluates checkpoints only; drop it for --policy")
    check_real(cfg)
    if cfg.arm.enabled:
        vector = "sync"  # one env on the arm; BatchedEnv steps sims only
    torch.set_num_threads(cfg.num_threads)
    policy, env, kind = load_policy(cfg)
    seeds = [cfg.seed + i for i in range(cfg.episodes)]
    out = cfg.out or (
        Path(cfg.checkpoint) / "eval" if cfg.checkpoint else Path(f"eval-{cfg.mapping}")
    )
    bar = progress(total=cfg.episodes, desc="eval", unit="ep", disable=not cfg.progress)
    tally = [0, 0]  # successes, episodes

    def on_episode(r: EpisodeOutcome) -> None:
        tally[0], tally[1] = tally[0] + r.success, tally[1] + 1
        bar.update(1)
        bar.set_postfix(success=f"{tally[0] / tally[1]:.2f}")

    opts = RolloutConfig(
        num_envs=cfg.num_envs,
        vector=vector,
        batch_inference=cfg.batch_inference,
        # no CPU scene to render on warp or a real arm
        video_episodes=cfg.videos if vector != "warp" and not cfg.arm.enabled else 0,
        video_size=(int(cfg.video_size[0]), int(cfg.video_size[1])),
    )
    t0 = time.perf_counter()
    try:
        if cfg.ray_address:
            from armgym.eval.ray_backend import rollout_ray

            assert cfg.checkpoint is not None
            results, videos = rollout_ray(
                cfg.checkpoint,
                env,
                seeds,
                address=cfg.ray_address,
                num_tasks=cfg.ray_tasks,
                on_episode=on_episode,
                num_threads=cfg.num_threads,
                cfg=opts,
            )
        else:
            results, videos = rollout(policy, env, seeds, opts, on_episode=on_episode)
    finally:
        bar.close()
        close = getattr(policy, "close", None)
        if callable(close):
            close()
    wall = time.perf_counter() - t0
    video_files = [
        str(write_video(out / "videos" / f"episode_{i:03d}.mp4", frames, policy.metadata.fps))
        for i, frames in sorted(videos.items())
    ]
    train_seeds = set(policy_train_seeds(cfg.checkpoint)) if cfg.checkpoint else set()
    overlap = sorted(train_seeds & set(seeds))
    meta = {
        "checkpoint": str(cfg.checkpoint) if cfg.checkpoint else None,
        "served_policy": cfg.policy,
        "policy": kind,
        "env": env,
        "seed": cfg.seed,
        "num_envs": cfg.num_envs,
        "backend": f"ray:{cfg.ray_address}" if cfg.ray_address else vector,
        "batch_inference": cfg.batch_inference,
        "wall_s": wall,
        "episodes_per_min": 60.0 * len(results) / max(wall, 1e-9),
        "videos": video_files,
        "seeds_overlapping_training": overlap,
    }
    report = build_report(results, meta)
    write_json(out / "report.json", report)
    report["report_path"] = str(out / "report.json")
    title = f"{kind} on {env.get('task')}: {len(results)} seeded episodes"
    report["index"] = str(
        write_run_page(out, eval_page(report, title, files=[("report", out / "report.json")]))
    )
    return report


def load_policy(cfg: EvalConfig) -> tuple[Any, dict[str, Any], str]:
    """(policy, env as ``{"task": ..., **make kwargs}``, policy kind) of ``cfg``: a checkpoint,
    or a served policy mapped and checked against the env before any episode runs."""
    if cfg.checkpoint is not None:
        from armgym.eval.bases import open_base

        opener = functools.partial(open_base, api_key=cfg.api_key)
        policy = load_checkpoint(cfg.checkpoint, opener=opener)
        env = dict(policy.env)
        if cfg.task is not None:
            env["task"] = cfg.task
        if cfg.randomization is not None:
            env["randomization"] = cfg.randomization
        if cfg.arm.enabled:  # the checkpoint's env on the arm, at the checkpoint's rate
            on_sim = EnvConfig.from_dict(env)
            real = cfg.arm.robot_config(on_sim.robot)
            env = on_real_arm(on_sim, real, rate=False, own_cameras=True).to_dict()
        return policy, env, policy.kind
    from armgym.envs import make_env
    from armgym.mappings import EnvFacts, load_mapping
    from armgym.mappings.remote import connect_mapped, mapped_env_config

    assert cfg.policy is not None
    mapping = load_mapping(cfg.mapping)
    extra = {"randomization": cfg.randomization} if cfg.randomization else {}
    env_cfg = mapped_env_config(mapping, control=cfg.control, task=cfg.task or "PickCube",
                                robot=cfg.robot, **extra)  # fmt: skip
    env_cfg = on_real_arm(env_cfg, cfg.arm.robot_config(cfg.robot), rate=True,
                          own_cameras=bool(mapping.images))  # fmt: skip
    probe = make_env(env_cfg)
    try:
        facts = EnvFacts.of(probe)
    finally:
        probe.close()
    served = connect_mapped(cfg.policy, mapping, facts, api_key=cfg.api_key, prompt=cfg.prompt)
    return served, env_cfg.to_dict(), f"served:{mapping.name}"


def policy_train_seeds(checkpoint: Path) -> list[int]:
    """Reset seeds of the episodes the checkpoint was trained on (from its config.json)."""
    from armgym.policies.learned import read_config

    seeds = read_config(checkpoint).get("extra", {}).get("train", {}).get("seeds", [])
    return [int(s) for s in seeds if int(s) >= 0]


def print_summary(report: dict[str, Any]) -> None:
    lo, hi = report["success_ci95"]
    print(
        f"{report['policy']} on {report['env'].get('task')}: success "
        f"{report['successes']}/{report['episodes']} = {report['success_rate']:.1%} "
        f"(95% CI {lo:.1%}-{hi:.1%}), mean return {report['mean_return']:.2f}, mean length "
        f"{report['mean_length']:.1f}; {report['episodes_per_min']:.0f} episodes/min; "
        f"report: {report['report_path']}"
    )
    if report["seeds_overlapping_training"]:
        print(
            f"warning: {len(report['seeds_overlapping_training'])} eval seeds were also "
            "training-episode seeds; pick another --seed for an unbiased estimate",
            file=sys.stderr,
        )


def main(argv: list[str] | None = None) -> int:
    cfg = tyro.cli(EvalConfig, args=sys.argv[1:] if argv is None else argv, prog="armgym eval")
    print_summary(evaluate(cfg))
    return 0


if __name__ == "__main__":
    sys.exit(main())
