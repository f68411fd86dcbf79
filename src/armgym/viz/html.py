"""Building blocks of armgym's HTML pages: one inline stylesheet, tables, figures, video
strips, the rollout-clip grid and vector summaries. Everything inline: the pages open
offline (no CDN, no script)."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from armgym.viz.svg import fmt_num

#: vectors longer than this are summarised (shape, min/max), not printed
MAX_PRINTED = 8

CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em 2em;color:#222;max-width:1500px}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ddd;padding-top:.6em}
h3{font-size:1em;margin:.8em 0 .3em}
table{border-collapse:collapse;margin:.4em 0}
td,th{border:1px solid #ddd;padding:2px 7px;font-size:12px;vertical-align:top;text-align:left}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#1a7f37;font-weight:600}.fail{color:#c62828;font-weight:600}
.figs{display:flex;flex-wrap:wrap;gap:6px}.videos{display:flex;flex-wrap:wrap;gap:8px}
figure{margin:0}figcaption{font-size:12px;color:#555}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:10px}
.clip{border:3px solid #ccc;border-radius:4px;padding:4px}.clip.s{border-color:#1a7f37}
.clip.f{border-color:#c62828}.clip video{width:100%}
.big{font-size:1.6em;font-weight:600}
svg.chart{background:#fff}svg .frame{fill:none;stroke:#bbb}
svg text{font-size:10px;fill:#333}svg .ct{font-size:11px;font-weight:600}
svg .yt{text-anchor:end}svg .xt,svg .xl{text-anchor:middle}svg .yl{text-anchor:middle}
"""

e = html.escape


def page(title: str, body: Iterable[str]) -> str:
    """A complete HTML document with the inline stylesheet."""
    head = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{e(title)}</title>"
        f"<style>{CSS}</style></head><body>"
    )
    return head + "\n".join(body) + "\n</body></html>\n"


def cell(v: Any) -> str:
    """A table cell: numbers right-aligned and compact (``–`` for NaN), bools as ✓/✗."""
    if isinstance(v, bool | np.bool_):
        return "<td class='ok'>✓</td>" if v else "<td class='fail'>✗</td>"
    if isinstance(v, int | np.integer):
        return f"<td class='num'>{int(v)}</td>"
    if isinstance(v, float | np.floating):
        return f"<td class='num'>{fmt_num(float(v))}</td>"
    return f"<td>{v if isinstance(v, Raw) else e(str(v))}</td>"


class Raw(str):
    """Markup that :func:`cell` inserts unescaped."""


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A table; no header row when ``headers`` is empty."""
    head = "<tr>" + "".join(f"<th>{e(h)}</th>" for h in headers) + "</tr>" if headers else ""
    body = "".join("<tr>" + "".join(cell(v) for v in r) + "</tr>" for r in rows)
    return f"<table>{head}{body}</table>"


def vector_text(v: Any) -> str:
    """A short vector in full (``[0.1, 2, –]``); a long one as its size and range."""
    a = np.asarray(v, dtype=np.float64).reshape(-1)
    if a.size == 0:
        return "–"
    if a.size <= MAX_PRINTED:
        return "[" + ", ".join(fmt_num(x) for x in a) + "]"
    finite = a[np.isfinite(a)]
    if finite.size == 0:
        return f"{a.size} values, none finite"
    return f"{a.size} values in [{fmt_num(finite.min())}, {fmt_num(finite.max())}]"


def figures(svgs: Iterable[str]) -> str:
    return "<div class='figs'>" + "".join(svgs) + "</div>"


@dataclass(frozen=True)
class Clip:
    """One video in a strip or a grid.

    Attributes:
        src: URL relative to the page.
        label: caption (camera name, ``seed 3 · success``).
        start_s / end_s: segment of the file [s] (None = whole file).
        success: frame colour in a grid (None = neutral).
    """

    src: str
    label: str
    start_s: float | None = None
    end_s: float | None = None
    success: bool | None = None

    def tag(self, width: int | None = None) -> str:
        frag = f"#t={self.start_s:.3f},{self.end_s:.3f}" if self.start_s is not None else ""
        w = f" width='{width}'" if width else ""
        return (
            f"<video controls muted loop preload='metadata' playsinline{w} "
            f"src='{e(self.src + frag)}' title='{e(self.label)}'></video>"
        )


def video_strip(clips: Sequence[Clip], width: int = 256) -> str:
    """Videos of one episode side by side (one per camera), each captioned."""
    items = [f"<figure>{c.tag(width)}<figcaption>{e(c.label)}</figcaption></figure>" for c in clips]
    return "<div class='videos'>" + "".join(items) + "</div>"


def clip_grid(clips: Sequence[Clip]) -> str:
    """Rollout clips in a grid, framed green (success) or red (failure), captioned."""
    items = []
    for c in clips:
        kind = "" if c.success is None else (" s" if c.success else " f")
        items.append(
            f"<div class='clip{kind}'>{c.tag()}<div class='{'ok' if c.success else 'fail'}'>"
            f"{e(c.label)}</div></div>"
        )
    return "<div class='grid'>" + "".join(items) + "</div>"
