"""``armgym view DIR``: a dataset report a person reads, in one self-contained HTML file.

Writes ``<out>/index.html`` (default ``DIR/report``): the dataset summary; success rate
with its Wilson 95% interval; per-episode figures (length, return, control rate) and a
table of every episode; the feature table (dimension names, statistics; long vectors
such as ``complementary_info.sim_state`` summarised as size and range); and for the first
``--max-episodes`` episodes the videos of every camera side by side and the vectors
plotted in groups by meaning (joints, end effector, gripper, object, action) with legends
and units, named from ``meta/info.json`` (see :mod:`armgym.contracts.names`). Charts are
inline SVG (no matplotlib, no CDN), so 100 episodes take seconds. Videos are the
dataset's own mp4 files, linked relatively.

``--rerun`` also writes ``<out>/dataset.rrd`` for the rerun viewer (``pip install
armgym[viz]``; see :mod:`armgym.viz.rerun_log`).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tyro

from armgym.contracts.names import feature_groups
from armgym.data.reader import EpisodeInfo, LeRobotReader
from armgym.viz.html import Clip, e, figures, page, table, vector_text, video_strip
from armgym.viz.stats import wilson_interval
from armgym.viz.svg import fmt_num, line_chart

#: vector features plotted per episode, in this order (others follow, bookkeeping skipped)
PLOT_ORDER = ("observation.state", "observation.environment_state", "action", "next.reward")
BOOKKEEPING = {"timestamp", "frame_index", "episode_index", "index", "task_index"}


@dataclass(frozen=True)
class ViewConfig:
    """Write an HTML report (videos, named plots, per-episode figures, statistics)."""

    dataset: tyro.conf.Positional[Path]
    """Dataset folder (LeRobot v3.0 or v2.1)."""
    out: Path | None = None
    """Report folder (default: DATASET/report)."""
    max_episodes: int = 20
    """Episodes shown in detail (videos and plots); the table lists all of them."""
    rerun: bool = False
    """Also write OUT/dataset.rrd (cameras, joints, EE trajectory, actions) for rerun."""
    rerun_connect: str | None = None
    """Stream the same to a running rerun viewer instead: its port (9876), host:port, or a
    rerun+http://HOST:PORT/proxy URL (start one with `rerun`)."""


def _plotted_keys(reader: LeRobotReader) -> list[str]:
    keys = [k for k in PLOT_ORDER if k in reader.vector_keys]
    for k in reader.vector_keys:
        f = reader.features[k]
        if k in keys or k in BOOKKEEPING or f["dtype"] in ("string", "bool"):
            continue
        if int(f["shape"][0]) <= 32:  # long vectors (sim_state) are summarised, not plotted
            keys.append(k)
    return keys


def episode_charts(reader: LeRobotReader, ep: dict[str, Any], keys: list[str]) -> list[str]:
    """One SVG chart per feature group of each plotted key of one episode."""
    out = []
    for key in keys:
        if key not in ep:
            continue
        values = np.asarray(ep[key], dtype=np.float64).reshape(len(ep[key]), -1)
        t = np.arange(len(values)) / reader.fps
        for g in feature_groups(key, reader.names(key), values.shape[1]):
            title = g.title if g.title.startswith(key) else f"{key}: {g.title}"
            out.append(
                line_chart(t, values[:, list(g.indices)], g.labels, title=title, unit=g.unit)
            )
    return out


def _extra(info: EpisodeInfo, name: str, default: Any = float("nan")) -> Any:
    v = info.extras.get(f"armgym/{name}", default)
    return default if v is None else v


def episode_rows(reader: LeRobotReader) -> list[list[Any]]:
    """Per-episode table rows (all episodes, metadata only: fast)."""
    rows = []
    for info in reader.episodes:
        target = float(_extra(info, "target_fps"))
        rows.append(
            [
                info.index,
                info.length,
                info.length / reader.fps,
                bool(_extra(info, "success", False)),
                float(_extra(info, "return")),
                int(_extra(info, "seed", -1)),
                target if np.isfinite(target) else reader.fps,
                float(_extra(info, "measured_fps")),
                int(_extra(info, "late_frames", 0)),
                int(_extra(info, "dropped_frames", 0)),
                int(_extra(info, "intervention_frames", 0)),
                "; ".join(info.tasks),
            ]
        )
    return rows


EPISODE_HEADERS = (
    "episode", "frames", "duration [s]", "success", "return", "seed", "target fps",
    "measured fps", "late", "dropped", "intervention frames", "task",
)  # fmt: skip


def overview(reader: LeRobotReader, rows: list[list[Any]]) -> list[str]:
    """Success rate with interval and per-episode figures across the dataset."""
    if not rows:
        return ["<p>No episodes.</p>"]
    a = np.array([[r[0], r[1], r[4], r[7], r[6]] for r in rows], dtype=np.float64)
    k = sum(bool(r[3]) for r in rows)
    lo, hi = wilson_interval(k, len(rows))
    rets = a[:, 2][np.isfinite(a[:, 2])]
    text = (
        f"<p class='big'>success {k}/{len(rows)} = {k / len(rows):.0%} "
        f"<small>(95% CI {lo:.0%}–{hi:.0%})</small></p>"
        f"<p>mean length {a[:, 1].mean():.1f} frames ({a[:, 1].mean() / reader.fps:.1f} s), "
        f"mean return {fmt_num(float(rets.mean()) if rets.size else float('nan'))}</p>"
    )
    x, dots = a[:, 0], len(rows) <= 200
    charts = [
        line_chart(x, a[:, 1], ["frames"], title="episode length", unit="frames",
                   xlabel="episode", markers=dots),
        line_chart(x, a[:, 2], ["return"], title="episode return", unit="sum of rewards",
                   xlabel="episode", markers=dots),
        line_chart(x, a[:, 3:5], ["measured", "target"], title="control rate", unit="Hz",
                   xlabel="episode", markers=dots),
    ]  # fmt: skip
    return [text, figures(charts)]


def feature_rows(reader: LeRobotReader) -> list[list[Any]]:
    stats = reader.stats
    rows = []
    for key, feat in reader.features.items():
        s = stats.get(key, {})
        names = reader.names(key) if feat.get("dtype") not in ("video", "image") else None
        shown = "" if not names else ", ".join(names[:8]) + (" …" if len(names) > 8 else "")
        rows.append(
            [key, feat["dtype"], str(feat["shape"]), shown]
            + [vector_text(s[n]) if n in s else "" for n in ("mean", "std", "min", "max")]
        )
    return rows


def episode_section(reader: LeRobotReader, info: EpisodeInfo, out: Path, keys: list[str]) -> str:
    ep = reader.episode(info.index, keys=keys, decode_videos=False)
    success = bool(_extra(info, "success", False))
    head = (
        f"<h3 id='ep{info.index}'>episode {info.index} · {info.length} frames "
        f"({info.length / reader.fps:.1f} s) · "
        f"<span class='{'ok' if success else 'fail'}'>{'success' if success else 'no success'}"
        f"</span> · {e(', '.join(info.tasks))}</h3>"
    )
    clips = [
        Clip(os.path.relpath(path, out), key.removeprefix("observation.images."),
             from_ts, from_ts + info.length / reader.fps)
        for key, (path, from_ts) in info.videos.items()
    ]  # fmt: skip
    return head + (video_strip(clips) if clips else "") + figures(episode_charts(reader, ep, keys))


def write_report(cfg: ViewConfig) -> Path:
    """Write the report; return the path of index.html."""
    reader = LeRobotReader(cfg.dataset)
    out = (cfg.out or reader.root / "report").resolve()
    out.mkdir(parents=True, exist_ok=True)
    rows = episode_rows(reader)
    keys = _plotted_keys(reader)
    body = [
        f"<h1>{e(reader.root.name)}</h1>",
        f"<p>{e(str(reader.root))} · LeRobot {reader.version} · {reader.num_episodes} episodes · "
        f"{reader.num_frames} frames · {reader.fps:g} fps · robot "
        f"{e(str(reader.info.get('robot_type') or '–'))} · cameras "
        f"{', '.join(k.removeprefix('observation.images.') for k in reader.video_keys) or '–'}"
        f"</p><p>tasks: {e('; '.join(reader.tasks)) or '–'}</p>",
        "<h2>Episodes</h2>",
        *overview(reader, rows),
        table(EPISODE_HEADERS, rows),
        "<h2>Features</h2>",
        table(("key", "dtype", "shape", "names", "mean", "std", "min", "max"),
              feature_rows(reader)),
        "<h2>Episode details</h2>",
    ]  # fmt: skip
    for info in reader.episodes[: cfg.max_episodes]:
        body.append(episode_section(reader, info, out, keys))
    if reader.num_episodes > cfg.max_episodes:
        body.append(
            f"<p>({reader.num_episodes - cfg.max_episodes} more episodes not shown in detail; "
            "use --max-episodes)</p>"
        )
    index = out / "index.html"
    index.write_text(page(f"armgym · {reader.root.name}", body))
    if cfg.rerun or cfg.rerun_connect is not None:
        from armgym.viz.rerun_log import log_dataset

        where = log_dataset(reader, out / "dataset.rrd", cfg.max_episodes,
                            connect=cfg.rerun_connect)  # fmt: skip
        print(f"rerun: {where}")
    return index


def main(argv: list[str] | None = None) -> int:
    cfg = tyro.cli(ViewConfig, args=sys.argv[1:] if argv is None else argv, prog="armgym view")
    print(f"wrote {write_report(cfg)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
