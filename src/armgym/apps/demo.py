"""``armgym demo``: scripted PickCube demos -> BC training -> parallel evaluation -> report.

    armgym demo                 # ~2-4 min on a 2-core laptop CPU
    armgym demo --quick         # tiny budget (seconds), what the test runs

Everything lands under ``--out`` (default ``./armgym-demo/``)::

    dataset/                    LeRobot v3.0 dataset of the scripted demos (armgym collect)
    checkpoint/                 model.safetensors + config.json, log.jsonl, train_state.*
    eval/report.json            full evaluation report (per-episode seeds and outcomes)
    eval/videos/episode_00*.mp4  the first 6 evaluation rollouts (eval/index.html shows them)
    report.json                 success rate + CI, timings of every stage, file paths
    learning_curve.png          training loss and periodic eval success vs step
    rollout.mp4                 one evaluation episode (front camera)
    index.html, README.md       the report: success with CI, a grid of rollout clips
                                (seed, success/failure), per-seed table, learning curve

Re-running reuses the dataset and the checkpoint when they were made with the same
settings (``--fresh`` redoes everything) and overwrites the evaluation and report files.
Demo seeds start at 10 000 and evaluation seeds at 0, so no evaluated initial state was
demonstrated.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import tyro

DEMO_SEED_BASE = 10_000


@dataclass(frozen=True)
class DemoConfig:
    """Scripted demos -> train a BC policy -> evaluate in parallel -> report."""

    out: Path = Path("armgym-demo")
    """Folder for the dataset, checkpoint, videos and report."""
    task: str = "PickCube"
    """Task (its scripted expert records the demos)."""
    policy: Literal["mlp", "diffusion"] = "mlp"
    """Policy to train (mlp reaches high success within the demo's budget on a CPU)."""
    demos: int = 100
    """Scripted demonstrations to record."""
    steps: int = 3000
    """Training steps."""
    batch_size: int = 64
    """Training batch size."""
    eval_episodes: int = 50
    """Evaluation episodes (seeds seed .. seed + eval_episodes - 1)."""
    num_envs: int = 8
    """Parallel evaluation envs."""
    curve_points: int = 5
    """Periodic evaluations during training for the learning curve (0 = none)."""
    seed: int = 0
    """Seed of training and of the first evaluation episode."""
    quick: bool = False
    """Tiny budget (4 demos, 40 steps, 4 episodes): checks the pipeline, not the policy."""
    fresh: bool = False
    """Re-record and re-train even if --out holds matching results."""
    progress: bool = True
    """Show progress bars."""

    def __post_init__(self) -> None:
        from armgym.errors import ConfigError

        for name in ("demos", "steps", "batch_size", "eval_episodes", "num_envs"):
            if getattr(self, name) < 1:
                flag = "--" + name.replace("_", "-")
                raise ConfigError(f"{flag} must be >= 1, got {getattr(self, name)}")
        if self.curve_points < 0:
            raise ConfigError(f"--curve-points must be >= 0, got {self.curve_points}")


def quick(cfg: DemoConfig) -> DemoConfig:
    return (
        replace(
            cfg,
            demos=4,
            steps=40,
            batch_size=16,
            eval_episodes=4,
            num_envs=2,
            curve_points=2,
            quick=False,
        )
        if cfg.quick
        else cfg
    )


def run(cfg: DemoConfig) -> dict[str, Any]:
    """The whole pipeline; returns the summary written to ``report.json``."""
    from rich.console import Console

    from armgym.eval.cli import EvalConfig, evaluate
    from armgym.train.bc import BCConfig, train

    cfg = quick(cfg)
    console = Console(stderr=True)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    dataset, ckpt = out / "dataset", out / "checkpoint"
    timings: dict[str, float] = {}
    reused: list[str] = []

    console.rule(f"[bold]1/3 scripted demos: {cfg.demos} x {cfg.task}")
    t0 = time.perf_counter()
    if cfg.fresh or not dataset_matches(dataset, cfg):
        collect_demos(dataset, cfg)
    else:
        console.print(f"reusing {dataset} ({cfg.demos} episodes)")
        reused.append("dataset")
    timings["collect_s"] = time.perf_counter() - t0

    console.rule(f"[bold]2/3 train {cfg.policy} for {cfg.steps} steps")
    every = cfg.steps // cfg.curve_points if cfg.curve_points else 0
    bc = BCConfig(
        dataset=dataset,
        out=ckpt,
        policy=cfg.policy,
        steps=cfg.steps,
        batch_size=cfg.batch_size,
        seed=cfg.seed,
        overwrite=True,
        task=cfg.task,
        save_every=max(cfg.steps // 4, 1),
        eval_every=every,
        eval_episodes=10,
        eval_num_envs=min(cfg.num_envs, 10),
        progress=cfg.progress,
    )
    t0 = time.perf_counter()
    summary: dict[str, Any] = {}
    if cfg.fresh or not checkpoint_matches(ckpt, bc):
        summary = train(bc)
    else:
        console.print(f"reusing {ckpt} (trained {cfg.steps} steps with the same settings)")
        reused.append("checkpoint")
    timings["train_s"] = time.perf_counter() - t0

    console.rule(f"[bold]3/3 evaluate {cfg.eval_episodes} episodes on {cfg.num_envs} envs")
    t0 = time.perf_counter()
    report = evaluate(
        EvalConfig(
            checkpoint=ckpt,
            episodes=cfg.eval_episodes,
            seed=cfg.seed,
            num_envs=cfg.num_envs,
            out=out / "eval",
            videos=6,
            progress=cfg.progress,
        )
    )
    timings["eval_s"] = time.perf_counter() - t0

    result = finish(cfg, out, report, timings, summary, reused)
    print_summary(console, result)
    return result


def finish(cfg: DemoConfig, out: Path, report: dict[str, Any], timings: dict[str, float],
           summary: dict[str, Any], reused: list[str]) -> dict[str, Any]:  # fmt: skip
    """Learning curve, rollout video, report.json, index.html and README.md."""
    from armgym.eval.report import plot_learning_curve, write_json

    ckpt = out / "checkpoint"
    title = f"{cfg.policy} BC on {cfg.task}: {cfg.demos} demos"
    curve = plot_learning_curve(ckpt / "log.jsonl", out / "learning_curve.png", title)
    video = out / "rollout.mp4"
    if report["videos"]:
        shutil.copyfile(report["videos"][0], video)
    keys = ("success_rate", "success_ci95", "successes", "episodes", "mean_return", "mean_length")
    result = {
        **{k: report[k] for k in keys},
        "policy": cfg.policy,
        "task": cfg.task,
        "demos": cfg.demos,
        "train_steps": cfg.steps,
        "train_samples_per_s": summary.get("samples_per_s"),
        "timings": timings,
        "total_s": sum(timings.values()),
        "reused": reused,
        "files": {
            "dataset": str(out / "dataset"),
            "checkpoint": str(ckpt),
            "eval_report": report["report_path"],
            "learning_curve": str(curve),
            "rollout_video": str(video) if video.exists() else None,
            "index": str(out / "index.html"),
            "readme": str(out / "README.md"),
        },
    }
    write_json(out / "report.json", result)
    write_pages(out, result)
    return result


def dataset_matches(root: Path, cfg: DemoConfig) -> bool:
    """True if ``root`` holds ``cfg.demos`` state episodes of ``cfg.task`` from our seeds."""
    from armgym.data.reader import LeRobotReader
    from armgym.errors import DatasetError

    try:
        reader = LeRobotReader(root)
        env = reader.env_config() or {}
    except (DatasetError, OSError):
        return False
    seeds = [e.extras.get("armgym/seed", -1) for e in reader.episodes]
    return (
        reader.num_episodes == cfg.demos
        and env.get("task") == cfg.task
        and env.get("obs") == "state"
        and bool(seeds)
        and min(seeds) >= DEMO_SEED_BASE + cfg.seed
    )


def collect_demos(root: Path, cfg: DemoConfig) -> None:
    from armgym.apps.collect import CollectConfig, collect

    collect(
        CollectConfig(
            out=root,
            task=cfg.task,
            episodes=cfg.demos,
            obs="state",
            sim_state=False,
            only_success=True,
            seed=DEMO_SEED_BASE + cfg.seed,
            overwrite=True,
            progress=cfg.progress,
        )
    )


def checkpoint_matches(ckpt: Path, bc: Any) -> bool:
    """True if ``ckpt`` finished a run with the same settings as ``bc``."""
    from armgym.train.bc import RESUMABLE
    from armgym.train.state import TRAIN_STATE, to_jsonable

    try:
        meta = json.loads((ckpt / f"{TRAIN_STATE}.json").read_text())
    except (OSError, json.JSONDecodeError):
        return False
    ignore = RESUMABLE - {"steps"} | {"progress"}
    want = {k: v for k, v in to_jsonable(bc).items() if k not in ignore}
    have = {k: v for k, v in meta.get("config", {}).items() if k not in ignore}
    return meta.get("step") == bc.steps and want == have and (ckpt / "model.safetensors").exists()


def write_pages(out: Path, r: dict[str, Any]) -> None:
    """index.html and README.md listing the results and where the files are."""
    lo, hi = r["success_ci95"]
    rows = [
        (
            "success rate",
            f"{r['success_rate']:.1%} ({r['successes']}/{r['episodes']}; 95% CI {lo:.1%}–{hi:.1%})",
        ),
        (
            "policy",
            f"{r['policy']} trained {r['train_steps']} steps on {r['demos']} "
            f"scripted {r['task']} demos",
        ),
        ("mean return / length", f"{r['mean_return']:.2f} / {r['mean_length']:.1f} steps"),
        (
            "time",
            ", ".join(f"{k[:-2]} {v:.0f} s" for k, v in r["timings"].items())
            + f" (total {r['total_s']:.0f} s)"
            + (f"; reused the existing {' and '.join(r['reused'])}" if r["reused"] else ""),
        ),
    ]
    files = {k: _relative(Path(v), out) for k, v in r["files"].items() if v}
    md = ["# armgym demo report", ""] + [f"- **{k}**: {v}" for k, v in rows]
    md += ["", "## Files", ""] + [f"- {k}: [{p}]({p})" for k, p in files.items()]
    md += ["", "![learning curve](learning_curve.png)", ""]
    (out / "README.md").write_text("\n".join(md) + "\n")
    from armgym.viz.run_report import eval_page, write_run_page

    report = json.loads(Path(r["files"]["eval_report"]).read_text())
    title = f"armgym demo: {r['policy']} BC on {r['task']}"
    links = [(k, Path(v)) for k, v in r["files"].items() if v and k not in ("index",)]
    log = Path(r["files"]["checkpoint"]) / "log.jsonl"
    write_run_page(out, eval_page(report, title, facts=rows[1:], log=log, files=links))


def _relative(path: Path, root: Path) -> Path:
    try:
        return path.resolve().relative_to(root.resolve())
    except ValueError:
        return path


def print_summary(console: Any, r: dict[str, Any]) -> None:
    from rich.table import Table

    lo, hi = r["success_ci95"]
    table = Table(title="armgym demo", show_header=False)
    table.add_row(
        "success rate",
        f"[bold]{r['success_rate']:.1%}[/] "
        f"({r['successes']}/{r['episodes']}, 95% CI {lo:.1%}–{hi:.1%})",
    )
    for k, v in r["timings"].items():
        table.add_row(k.replace("_s", " time"), f"{v:.1f} s")
    table.add_row("total", f"{r['total_s']:.1f} s")
    for k, v in r["files"].items():
        if v:
            table.add_row(k, str(v))
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    cfg = tyro.cli(DemoConfig, args=sys.argv[1:] if argv is None else argv, prog="armgym demo")
    run(cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
