"""``armgym view DIR``: a static HTML report of a dataset.

Writes ``<out>/index.html`` (default ``DIR/report``) with the dataset summary, the
feature table with statistics, and per episode: its videos (the dataset's own mp4 files,
linked relatively), and a PNG of ``observation.state`` and ``action`` over time
(matplotlib, Agg backend), plus armgym's timing/success metadata.
"""

from __future__ import annotations

import html
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tyro

from armgym.data.reader import LeRobotReader


@dataclass(frozen=True)
class ViewConfig:
    """Write an HTML report (videos, state/action plots, statistics) of a dataset."""

    dataset: tyro.conf.Positional[Path]
    """Dataset folder (LeRobot v3.0 or v2.1)."""
    out: Path | None = None
    """Report folder (default: DATASET/report)."""
    max_episodes: int = 20
    """Episodes to plot at most."""


def plot_episode(ep: dict, path: Path, fps: float) -> None:
    """PNG with observation.state and action of one episode against time [s]."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in ("observation.state", "action") if k in ep]
    fig, axes = plt.subplots(len(keys), 1, figsize=(8, 2.4 * len(keys)), sharex=True, squeeze=False)
    for ax, key in zip(axes[:, 0], keys, strict=True):
        values = np.asarray(ep[key]).reshape(len(ep[key]), -1)
        t = np.arange(len(values)) / fps
        ax.plot(t, values, linewidth=0.8)
        ax.set_ylabel(key, fontsize=8)
    axes[-1, 0].set_xlabel("time [s]")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _stats_rows(reader: LeRobotReader) -> str:
    stats = reader.stats
    rows = []
    for key, feat in reader.features.items():
        s = stats.get(key, {})

        def fmt_stat(name: str, s: dict = s) -> str:
            v = s.get(name)
            return (
                ""
                if v is None
                else html.escape(
                    np.array2string(
                        np.asarray(v, dtype=float).reshape(-1), precision=3, max_line_width=60
                    )
                )
            )

        rows.append(
            f"<tr><td>{html.escape(key)}</td><td>{feat['dtype']}</td>"
            f"<td>{feat['shape']}</td><td>{fmt_stat('mean')}</td><td>{fmt_stat('std')}"
            f"</td><td>{fmt_stat('min')}</td><td>{fmt_stat('max')}</td></tr>"
        )
    return "\n".join(rows)


def write_report(cfg: ViewConfig) -> Path:
    """Write the report; return the path of index.html."""
    reader = LeRobotReader(cfg.dataset)
    out = cfg.out or reader.root / "report"
    out.mkdir(parents=True, exist_ok=True)
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>armgym dataset</title>",
        "<style>body{font-family:sans-serif;margin:2em}td,th{border:1px solid #ccc;"
        "padding:2px 6px;font-size:12px;vertical-align:top}table{border-collapse:collapse}"
        "video{margin-right:8px}</style></head><body>",
        f"<h1>{html.escape(str(reader.root))}</h1>",
        f"<p>format {reader.version}, {reader.num_episodes} episodes, {reader.num_frames} "
        f"frames, {reader.fps:g} fps, robot {html.escape(str(reader.info.get('robot_type')))}"
        f"</p><p>tasks: {html.escape('; '.join(reader.tasks))}</p>",
        "<h2>Features</h2><table><tr><th>key</th><th>dtype</th><th>shape</th><th>mean</th>"
        f"<th>std</th><th>min</th><th>max</th></tr>{_stats_rows(reader)}</table>",
        "<h2>Episodes</h2>",
    ]
    for info in reader.episodes[: cfg.max_episodes]:
        ep = reader.episode(info.index, decode_videos=False)
        png = out / f"episode_{info.index:06d}.png"
        plot_episode(ep, png, reader.fps)
        extras = ", ".join(
            f"{k.removeprefix('armgym/')}={v:.3g}"
            if isinstance(v, float)
            else f"{k.removeprefix('armgym/')}={v}"
            for k, v in info.extras.items()
        )
        parts.append(
            f"<h3>episode {info.index}: {info.length} frames, "
            f"{html.escape('; '.join(info.tasks))}</h3><p>{html.escape(extras)}</p>"
        )
        for key, (path, from_ts) in info.videos.items():
            rel = os.path.relpath(path, out)
            to_ts = from_ts + info.length / reader.fps
            parts.append(
                f"<video controls muted width='256' title='{html.escape(key)}' "
                f"src='{html.escape(rel)}#t={from_ts:.3f},{to_ts:.3f}'></video>"
            )
        parts.append(f"<br><img src='{png.name}' alt='state and action'>")
    if reader.num_episodes > cfg.max_episodes:
        parts.append(
            f"<p>({reader.num_episodes - cfg.max_episodes} more episodes not shown; "
            "use --max-episodes)</p>"
        )
    parts.append("</body></html>")
    index = out / "index.html"
    index.write_text("\n".join(parts))
    return index


def main(argv: list[str] | None = None) -> int:
    cfg = tyro.cli(ViewConfig, args=sys.argv[1:] if argv is None else argv, prog="armgym view")
    print(f"wrote {write_report(cfg)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
