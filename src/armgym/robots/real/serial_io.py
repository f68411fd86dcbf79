"""Byte-exact reads with a deadline, shared by the servo-bus packet parsers."""

from __future__ import annotations

import time
from collections.abc import Callable


def exact_reader(
    read: Callable[[int, float], bytes], deadline: float, timeout: type[Exception]
) -> Callable[[int], bytes]:
    """``take(n)``: exactly ``n`` bytes from ``read(n, timeout_s) -> up to n bytes``, or
    ``timeout`` raised once ``deadline`` (``time.monotonic()`` seconds) has passed."""

    def take(n: int) -> bytes:
        out = b""
        while len(out) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise timeout(f"got {len(out)} of {n} bytes before the deadline")
            out += read(n - len(out), left)
        return out

    return take
