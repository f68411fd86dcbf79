"""One page layout for every run that ends in rollouts: ``armgym eval``, ``armgym demo`` and
training runs (``index.html`` beside their ``report.json`` / ``log.jsonl``).

Sections, in order: the headline (success k/n with its Wilson 95% interval), facts
(policy, task, timings), a grid of rollout clips framed green/red and labelled with seed
and outcome (failures first), the per-seed table, and the learning curve (training loss,
smoothed, and periodic evaluation success with its interval) read from ``log.jsonl``.
Self-contained like every armgym page: inline CSS and SVG, videos linked relatively.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from armgym.atomic import write_text_atomic
from armgym.viz.html import Clip, clip_grid, e, figures, page, table
from armgym.viz.stats import wilson_interval
from armgym.viz.svg import line_chart


@dataclass(frozen=True)
class RunPage:
    """What a run report shows.

    Attributes:
        title: page heading (``BC mlp on PickCube``).
        episodes: per-episode dicts with ``index``, ``seed``, ``success``, ``return``
            (or ``ret``), ``length`` [steps] and optionally ``error`` (``report.json``'s
            ``per_episode``).
        videos: episode index -> mp4 of that rollout.
        facts: (name, value) rows under the headline.
        log: a training ``log.jsonl`` for the learning curve (None: no curve).
        files: (name, path) links at the end.
    """

    title: str
    episodes: Sequence[Mapping[str, Any]] = ()
    videos: Mapping[int, Path] = field(default_factory=dict)
    facts: Sequence[tuple[str, str]] = ()
    log: Path | None = None
    files: Sequence[tuple[str, Path]] = ()


def read_log(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``log.jsonl`` of a training run -> (loss lines, eval lines); lines that are not
    JSON objects (a run killed mid-write) are skipped."""
    losses: list[dict[str, Any]] = []
    evals: list[dict[str, Any]] = []
    for line in Path(path).read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and "step" in row:
            if "eval" in row:
                evals.append(row)
            elif "loss" in row:
                losses.append(row)
    return losses, evals


def learning_curve_charts(log: Path) -> list[str]:
    """SVG charts of ``log.jsonl``: loss (raw + moving mean) and eval success with its CI."""
    losses, evals = read_log(log)
    charts = []
    if losses:
        steps = np.array([r["step"] for r in losses], np.float64)
        loss = np.array([r["loss"] for r in losses], np.float64)
        w = max(1, len(loss) // 50)
        smooth = np.convolve(loss, np.ones(w) / w, mode="full")[: len(loss)] / np.minimum(
            np.arange(1, len(loss) + 1) / w, 1.0
        )
        charts.append(
            line_chart(steps, np.c_[loss, smooth], ["loss", f"{w}-step mean"],
                       title="training loss", unit="loss", xlabel="training step",
                       width=480, height=220)
        )  # fmt: skip
    if evals:
        steps = np.array([r["step"] for r in evals], np.float64)
        rate = np.array([r["eval"]["success_rate"] for r in evals], np.float64)
        ci = np.array([r["eval"]["success_ci95"] for r in evals], np.float64).reshape(-1, 2)
        charts.append(
            line_chart(steps, rate, ["success rate (band: 95% CI)"], title="evaluation success",
                       unit="success rate", xlabel="training step", band=(ci[:, 0], ci[:, 1]),
                       markers=True, y_range=(-0.02, 1.02), width=480, height=220)
        )  # fmt: skip
    return charts


def _ret(ep: Mapping[str, Any]) -> float:
    return float(ep.get("return", ep.get("ret", float("nan"))))


def headline(episodes: Sequence[Mapping[str, Any]]) -> str:
    n = len(episodes)
    k = sum(bool(ep.get("success")) for ep in episodes)
    if not n:
        return "<p>No evaluation episodes.</p>"
    lo, hi = wilson_interval(k, n)
    rets = np.array([_ret(ep) for ep in episodes])
    lens = np.array([float(ep.get("length", 0)) for ep in episodes])
    return (
        f"<p class='big'>success {k}/{n} = {k / n:.0%} <small>(95% CI {lo:.0%}–{hi:.0%})"
        f"</small></p><p>mean return {np.nanmean(rets):.3g} · mean length "
        f"{lens.mean():.1f} steps</p>"
    )


def clips(out: Path, page_: RunPage) -> list[Clip]:
    """Rollout clips, failures first, labelled ``episode i · seed s · success/failure``."""
    by_index = {int(ep["index"]): ep for ep in page_.episodes}
    items = []
    for i, path in sorted(page_.videos.items()):
        ep = by_index.get(int(i), {})
        ok = bool(ep.get("success"))
        label = f"episode {i} · seed {ep.get('seed', '?')} · {'success' if ok else 'failure'}"
        items.append(Clip(os.path.relpath(path, out), label, success=ok))
    return sorted(items, key=lambda c: bool(c.success))


def render(out: Path, p: RunPage) -> str:
    """The page's HTML (``out``: the folder it will live in, for relative links)."""
    body = [f"<h1>{e(p.title)}</h1>", headline(p.episodes)]
    if p.facts:
        body.append(table((), p.facts))
    if p.videos:
        body += ["<h2>Rollouts</h2>", clip_grid(clips(out, p))]
    if p.episodes:
        rows = [
            [int(ep["index"]), int(ep.get("seed", -1)), bool(ep.get("success")), _ret(ep),
             int(ep.get("length", 0)), str(ep.get("error") or "")]
            for ep in p.episodes
        ]  # fmt: skip
        body += ["<h2>Per seed</h2>", table(("episode", "seed", "success", "return",
                                              "length", "error"), rows)]  # fmt: skip
    charts = learning_curve_charts(p.log) if p.log and p.log.is_file() else []
    if charts:
        body += ["<h2>Learning curve</h2>", figures(charts)]
    if p.files:
        links = "".join(
            f"<li>{e(name)}: <a href='{e(os.path.relpath(path, out))}'>"
            f"{e(os.path.relpath(path, out))}</a></li>"
            for name, path in p.files
        )
        body += ["<h2>Files</h2>", f"<ul>{links}</ul>"]
    return page(p.title, body)


def write_run_page(out: Path, p: RunPage) -> Path:
    """Write ``out/index.html`` (atomically); return its path."""
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    index = out / "index.html"
    write_text_atomic(index, render(out, p))
    return index


def eval_page(report: Mapping[str, Any], title: str, **kw: Any) -> RunPage:
    """A :class:`RunPage` from an ``armgym eval`` report (``per_episode``, ``videos``)."""
    videos = {int(Path(v).stem.rsplit("_", 1)[-1]): Path(v) for v in report.get("videos", [])}
    env = report.get("env", {})
    facts = [
        ("policy", f"{report.get('policy', '?')} · {report.get('checkpoint', '')}"),
        ("env", ", ".join(f"{k}={v}" for k, v in env.items())),
        ("backend", f"{report.get('backend', '')}, {report.get('num_envs', '')} envs, "
                    f"{report.get('episodes_per_min', 0):.0f} episodes/min"),
    ]  # fmt: skip
    return RunPage(title, report.get("per_episode", []), videos, [*facts, *kw.pop("facts", [])],
                   **kw)  # fmt: skip
