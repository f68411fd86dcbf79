"""One small scalar logger for every training loop: JSONL always, TensorBoard when installed.

    with ScalarLogger(out) as log:
        log.log(step, {"loss": 0.3, "lr": 1e-4})              # -> log.jsonl + tb "train/loss"
        log.log(step, {"eval": {"success_rate": 0.8, ...}})   # -> tb "eval/success_rate" ...

Each call appends one JSON line ``{"step": step, **row}`` to ``<out>/log.jsonl`` (the file
:func:`armgym.viz.run_report.read_log` and the learning curves read). With the
``tensorboard`` package installed (``pip install armgym[viz]``) every finite number in the
row is also written as a TensorBoard scalar under ``<out>/tb/``: top-level keys as
``train/<key>``, nested dicts as ``<outer>/<inner>``, two-element lists (intervals such as
``success_ci95``) as ``<key>_low`` / ``<key>_high``. Open them with
``tensorboard --logdir <out>/tb``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

TB_DIR = "tb"


def scalars(row: Mapping[str, Any], prefix: str = "train") -> Iterator[tuple[str, float]]:
    """TensorBoard tags and values of one log row (finite numbers only)."""
    for key, v in row.items():
        if key == "step":
            continue
        if isinstance(v, Mapping):
            yield from scalars(v, key)
        elif (
            isinstance(v, list | tuple)
            and len(v) == 2
            and all(isinstance(x, int | float) for x in v)
        ):
            yield f"{prefix}/{key}_low", float(v[0])
            yield f"{prefix}/{key}_high", float(v[1])
        elif isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
            yield f"{prefix}/{key}", float(v)


def tensorboard_available() -> bool:
    try:
        import tensorboard  # noqa: F401
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError:
        return False
    return True


class ScalarLogger:
    """Append rows to ``<out>/log.jsonl`` and, when available, TensorBoard ``<out>/tb``.

    Args:
        out: run folder.
        tensorboard: write TensorBoard scalars (True: when the package is installed).
    """

    def __init__(self, out: Path, *, tensorboard: bool = True):
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        # line-buffered: every row is on disk when log() returns (a crash loses nothing,
        # and a benchmark reading the log of a running job sees whole lines)
        self._file: TextIO = open(self.out / "log.jsonl", "a", buffering=1)  # noqa: SIM115
        self.tb: Any = None
        if tensorboard and tensorboard_available():
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(self.out / TB_DIR))

    def log(self, step: int, row: Mapping[str, Any]) -> None:
        """One JSON line ``{"step": step, **row}``; its numbers as TensorBoard scalars."""
        self._file.write(json.dumps({"step": int(step), **row}, default=float) + "\n")
        if self.tb is not None:
            for tag, value in scalars(row):
                self.tb.add_scalar(tag, value, int(step))

    def flush(self) -> None:
        self._file.flush()
        if self.tb is not None:
            self.tb.flush()

    def close(self) -> None:
        self._file.close()
        if self.tb is not None:
            self.tb.close()

    def __enter__(self) -> ScalarLogger:
        return self

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
