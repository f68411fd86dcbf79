"""Timing helpers shared by ``benchmarks/env_throughput.py`` and the peer runners.

Standard library + numpy only, so each peer's own virtual environment can import it
(peer scripts run as ``<peer venv>/bin/python benchmarks/peers/<peer>_bench.py``, which
puts this folder on ``sys.path``).

A *figure* is a dict: ``value`` (median over samples), ``unit``, ``samples`` (one rate per
timed repeat), ``n_samples``, ``min``/``max``, ``count`` (steps counted over all samples),
``seconds`` (wall time over all samples), ``cpu_share`` (this process's CPU seconds /
wall seconds over the samples: < 1 for a one-thread loop means other processes took the
core; threads and child processes make it differ) and optional ``note``.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any


def figure(
    samples: list[float],
    unit: str,
    *,
    count: int = 0,
    seconds: float = 0.0,
    cpu_seconds: float | None = None,
    cpu_shares: list[float] | None = None,
    note: str = "",
) -> dict[str, Any]:
    """Summarise per-repeat rates ``samples`` as one figure (median, spread, counts)."""
    out: dict[str, Any] = {
        "value": statistics.median(samples) if samples else float("nan"),
        "unit": unit,
        "samples": [round(s, 4) for s in samples],
        "n_samples": len(samples),
        "min": min(samples) if samples else float("nan"),
        "max": max(samples) if samples else float("nan"),
        "count": int(count),
        "seconds": round(seconds, 4),
    }
    if cpu_seconds is not None and seconds > 0:
        out["cpu_share"] = round(cpu_seconds / seconds, 3)
    if cpu_shares:
        out["cpu_share_samples"] = [round(c, 3) for c in cpu_shares]
    if note:
        out["note"] = note
    return out


def scale(fig: dict[str, Any], factor: float, unit: str, note: str = "") -> dict[str, Any]:
    """A figure derived from ``fig`` by a constant factor (e.g. steps/s → sim s per wall s)."""
    out = figure(
        [s * factor for s in fig["samples"]],
        unit,
        count=fig["count"],
        seconds=fig["seconds"],
        note=note or fig.get("note", ""),
    )
    for key in ("cpu_share", "cpu_share_samples"):
        if key in fig:
            out[key] = fig[key]
    return out


def rate(
    step: Callable[[], int | None],
    *,
    duration: float,
    repeats: int,
    unit: str,
    min_calls: int = 3,
    warmup: int = 2,
    note: str = "",
) -> dict[str, Any]:
    """Call ``step`` repeatedly for ≥ ``duration`` s (and ≥ ``min_calls`` calls) per repeat.

    ``step`` returns how many units it did (e.g. ``num_envs`` env steps) or ``None`` for 1.
    Each repeat gives one sample = units / elapsed wall seconds.
    """
    for _ in range(warmup):
        step()
    samples, shares, total, secs, cpu = [], [], 0, 0.0, 0.0
    for _ in range(repeats):
        n, calls = 0, 0
        c0 = time.process_time()
        t0 = time.perf_counter()
        while True:
            n += step() or 1
            calls += 1
            elapsed = time.perf_counter() - t0
            if elapsed >= duration and calls >= min_calls:
                break
        c = time.process_time() - c0
        cpu += c
        shares.append(c / elapsed)
        samples.append(n / elapsed)
        total += n
        secs += elapsed
    return figure(
        samples, unit, count=total, seconds=secs, cpu_seconds=cpu, cpu_shares=shares, note=note
    )


def rate_many(
    steps: dict[str, Callable[[], int | None]],
    *,
    duration: float,
    repeats: int,
    units: dict[str, str],
    notes: dict[str, str] | None = None,
    warmup: int = 2,
    log: Callable[[str], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Like :func:`rate` for several loops, sampled round-robin (A B C, A B C, ...).

    On a shared machine the load drifts over minutes; interleaving gives every loop the same
    share of quiet and busy periods, so ratios between them (see :func:`paired`) stay fair.
    """
    raw: dict[str, list[tuple[float, int, float, float]]] = {k: [] for k in steps}
    for fn in steps.values():
        for _ in range(warmup):
            fn()
    for r in range(repeats):
        if log:
            log(f"round {r + 1}/{repeats} over {len(steps)} configurations")
        for name, fn in steps.items():
            raw[name].append(_sample(fn, duration, 3))
    out = {}
    for name, rows in raw.items():
        out[name] = figure(
            [n / t for t, n, _, _ in rows],
            units[name],
            count=sum(n for _, n, _, _ in rows),
            seconds=sum(t for t, _, _, _ in rows),
            cpu_seconds=sum(c for _, _, c, _ in rows),
            cpu_shares=[sh for _, _, _, sh in rows],
            note=(notes or {}).get(name, ""),
        )
    return out


def _sample(step: Callable[[], int | None], duration: float, min_calls: int):
    """One timed sample -> (wall s, units, cpu s, cpu share)."""
    n, calls = 0, 0
    c0 = time.process_time()
    t0 = time.perf_counter()
    while True:
        n += step() or 1
        calls += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= duration and calls >= min_calls:
            break
    c = time.process_time() - c0
    return elapsed, n, c, c / elapsed


def paired(num: dict[str, Any], den: dict[str, Any], note: str = "") -> dict[str, Any]:
    """Ratio figure of two figures sampled in the same rounds (sample i / sample i)."""
    ratios = [a / b for a, b in zip(num["samples"], den["samples"], strict=True)]
    return figure(ratios, "ratio", count=len(ratios), note=note)


def machine() -> dict[str, Any]:
    """CPU model, cores, load average, python: the facts a figure is meaningless without."""
    model = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count() or 0
    return {
        "cpu_model": model,
        "nproc": os.cpu_count(),
        "cpus_usable": affinity,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "loadavg": list(os.getloadavg()),
        "cpu_pressure": cpu_pressure(),
    }


def cpu_pressure() -> str:
    """Linux PSI line ``some avg10=.. avg60=..``: % of time runnable tasks waited for a CPU."""
    try:
        with open("/proc/pressure/cpu") as f:
            return f.readline().strip()
    except OSError:
        return ""
