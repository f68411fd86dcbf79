"""Inline SVG line charts: fast (no matplotlib), self-contained, with legend and units.

A chart of ``T`` samples of ``k`` lines costs a few string joins; long series are thinned
to at most ``MAX_POINTS`` samples per line (every n-th, the last kept) so that a page of
hundreds of charts stays small.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np

MAX_POINTS = 400
#: matplotlib's tab10, so charts match the rest of the ecosystem
COLORS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip


def fmt_num(v: float) -> str:
    """Compact number for axes and tables; ``–`` for NaN/inf (never ``nan``)."""
    if not np.isfinite(v):
        return "–"
    if v == 0 or 1e-3 <= abs(v) < 1e4:
        return f"{v:.3g}"
    return f"{v:.2e}"


def _thin(x: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(x) <= MAX_POINTS:
        return x, ys
    idx = np.unique(np.r_[np.arange(0, len(x), int(np.ceil(len(x) / MAX_POINTS))), len(x) - 1])
    return x[idx], ys[idx]


def _range(v: np.ndarray) -> tuple[float, float]:
    finite = v[np.isfinite(v)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    pad = 0.05 * (hi - lo)
    return lo - pad, hi + pad


def line_chart(
    x: Sequence[float] | np.ndarray,
    ys: np.ndarray,
    labels: Sequence[str],
    *,
    title: str,
    unit: str = "",
    xlabel: str = "time [s]",
    band: tuple[np.ndarray, np.ndarray] | None = None,
    markers: bool = False,
    y_range: tuple[float, float] | None = None,
    width: int = 380,
    height: int = 190,
) -> str:
    """An ``<svg>`` with ``k`` lines (``ys``: [T] or [T, k]) against ``x`` [T].

    ``labels`` (k) form the legend, ``unit`` the y-axis label; ``band`` (low, high) [T]
    shades an interval around the first line; ``markers`` draws a dot per sample.
    """
    xs = np.asarray(x, dtype=np.float64)
    v = np.asarray(ys, dtype=np.float64).reshape(len(xs), -1)
    xs, v = _thin(xs, v)
    x0, x1 = (float(xs.min()), float(xs.max())) if len(xs) else (0.0, 1.0)
    if x1 - x0 < 1e-12:
        x1 = x0 + 1.0
    y0, y1 = y_range or _range(v if band is None else np.c_[v, band[0], band[1]])
    left, right, top, bottom = 46, 8, 20, 30
    legend_rows = (len(labels) + 3) // 4 if len(labels) > 1 else 0
    h_total = height + 6 + 14 * legend_rows
    pw, ph = width - left - right, height - top - bottom

    def px(a: np.ndarray) -> np.ndarray:
        return left + (a - x0) / (x1 - x0) * pw

    def py(a: np.ndarray) -> np.ndarray:
        return top + (1 - (a - y0) / (y1 - y0)) * ph

    e = html.escape
    out = [
        f"<svg class='chart' xmlns='http://www.w3.org/2000/svg' width='{width}' "
        f"height='{h_total}' viewBox='0 0 {width} {h_total}' role='img'>",
        f"<title>{e(title)}</title>",
        f"<text x='{left}' y='13' class='ct'>{e(title)}</text>",
        f"<rect x='{left}' y='{top}' width='{pw}' height='{ph}' class='frame'/>",
    ]
    for frac in (0.0, 0.5, 1.0):
        yv, xv = y0 + frac * (y1 - y0), x0 + frac * (x1 - x0)
        yy, xx = float(py(np.array(yv))), float(px(np.array(xv)))
        out.append(f"<text x='{left - 3}' y='{yy + 3:.1f}' class='yt'>{fmt_num(yv)}</text>")
        out.append(f"<text x='{xx:.1f}' y='{top + ph + 11}' class='xt'>{fmt_num(xv)}</text>")
    out.append(
        f"<text x='{left + pw / 2:.0f}' y='{top + ph + 24}' class='xl'>{e(xlabel)}</text>"
        f"<text transform='translate(10 {top + ph / 2:.0f}) rotate(-90)' class='yl'>"
        f"{e(unit)}</text>"
    )
    if band is not None:
        lo, hi = (np.asarray(b, np.float64)[: len(xs)] for b in band)
        pts = np.r_[np.c_[px(xs), py(hi)], np.c_[px(xs), py(lo)][::-1]]
        path = " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)
        out.append(f"<polygon points='{path}' fill='{COLORS[0]}' opacity='0.15'/>")
    for j in range(v.shape[1]):
        color = COLORS[j % len(COLORS)]
        ok = np.isfinite(v[:, j])
        pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px(xs[ok]), py(v[ok, j]), strict=True))
        out.append(f"<polyline points='{pts}' fill='none' stroke='{color}' stroke-width='1.3'/>")
        if markers:
            out += [
                f"<circle cx='{a:.1f}' cy='{b:.1f}' r='2.2' fill='{color}'/>"
                for a, b in zip(px(xs[ok]), py(v[ok, j]), strict=True)
            ]
    for j, label in enumerate(labels if legend_rows else ()):
        lx, ly = left + (j % 4) * (pw / 4), height + 8 + 14 * (j // 4)
        out.append(
            f"<rect x='{lx:.0f}' y='{ly - 7}' width='10' height='3' "
            f"fill='{COLORS[j % len(COLORS)]}'/><text x='{lx + 13:.0f}' y='{ly}' "
            f"class='lg'>{e(label)}</text>"
        )
    out.append("</svg>")
    return "".join(out)
