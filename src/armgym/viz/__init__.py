"""Pages people read: self-contained HTML (inline SVG charts, inline CSS, no CDN), the
one run-report layout of ``armgym eval`` / ``demo`` / training runs, rerun recordings and
TensorBoard scalars.

A leaf layer (numpy and the standard library; rerun-sdk and tensorboard are optional and
imported where used), so data, eval, train and apps all use it.
"""

from armgym.viz.stats import wilson_interval

__all__ = ["wilson_interval"]
