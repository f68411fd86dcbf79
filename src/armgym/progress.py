"""Progress bars that behave in logs: tqdm on a terminal, one line every few seconds
otherwise.

On a TTY, :func:`progress` returns a regular ``tqdm`` bar. When the stream is not a
terminal (CI, ``> log.txt``, a pipe), carriage-return updates would fill the log with
thousands of overwritten bars; :class:`LineProgress` instead prints one complete line
(tqdm's own meter text) at most every ``interval_s`` seconds, and a final line on close.
Both have the interface armgym uses: ``update(n)``, ``set_postfix(**kw)``, ``write(s)``,
``close()``, iteration over ``iterable`` and use as a context manager.

A leaf module (tqdm and the standard library only); every progress bar in armgym is made
here.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TextIO, TypeVar

from tqdm import tqdm

T = TypeVar("T")

DEFAULT_INTERVAL_S = 5.0


class LineProgress:
    """A progress report for non-terminal streams: whole lines, at most one per interval.

    Args:
        iterable: optional iterable to wrap (``for x in bar``).
        total: expected number of units (None: unknown).
        desc: label at the start of each line.
        unit: unit name (``step``, ``ep``).
        initial: units already done (a resumed run).
        disable: print nothing at all.
        file: the stream (default ``sys.stderr``, as tqdm).
        interval_s: least time between two lines [s].
        clock: monotonic time source [s] (tests pass a fake one).
    """

    def __init__(self, iterable: Iterable[Any] | None = None, *, total: float | None = None,
                 desc: str = "", unit: str = "it", initial: float = 0, disable: bool = False,
                 file: TextIO | None = None, interval_s: float = DEFAULT_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic):  # fmt: skip
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        self.iterable, self.total, self.desc, self.unit = iterable, total, desc, unit
        self.n, self.disable, self.interval_s = initial, disable, interval_s
        self.file, self.clock = file or sys.stderr, clock
        self.postfix = ""
        self._start = self._last = clock()
        self._initial, self._closed = initial, False
        self._printed_n: float | None = None

    def __iter__(self) -> Iterator[Any]:
        if self.iterable is None:
            raise TypeError("LineProgress was made without an iterable")
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, n: float = 1) -> None:
        self.n += n
        now = self.clock()
        if now - self._last >= self.interval_s:
            self._emit(now)

    def set_postfix(self, **kwargs: Any) -> None:
        self.postfix = ", ".join(f"{k}={v}" for k, v in kwargs.items())

    def write(self, s: str) -> None:
        if not self.disable:
            self.file.write(s.rstrip("\n") + "\n")
            self.file.flush()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._printed_n != self.n:
                self._emit(self.clock())

    def _emit(self, now: float) -> None:
        self._last = now
        if self.disable:
            return
        self._printed_n = self.n
        elapsed = now - self._start
        rate = (self.n - self._initial) / elapsed if elapsed > 0 else None
        line = tqdm.format_meter(self.n, self.total, elapsed, ncols=0, prefix=self.desc,
                                 unit=self.unit, rate=rate, postfix=self.postfix or None,
                                 initial=self._initial)  # fmt: skip
        self.write(line)


def is_terminal(stream: TextIO) -> bool:
    """True if ``stream`` is an interactive terminal."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or file-like without isatty
        return False


def progress(iterable: Iterable[T] | None = None, *, total: float | None = None,
             desc: str = "", unit: str = "it", initial: float = 0, disable: bool = False,
             file: TextIO | None = None, interval_s: float = DEFAULT_INTERVAL_S) -> Any:  # fmt: skip
    """A progress bar on ``file`` (default stderr): ``tqdm`` on a terminal, else a
    :class:`LineProgress` printing one line every ``interval_s`` seconds."""
    stream = file or sys.stderr
    kwargs = dict(total=total, desc=desc, unit=unit, initial=initial, disable=disable)
    if is_terminal(stream):
        return tqdm(iterable, file=stream, dynamic_ncols=True, **kwargs)  # type: ignore[call-overload]
    return LineProgress(iterable, file=stream, interval_s=interval_s, **kwargs)  # type: ignore[arg-type]
