"""Shared by the benchmark scripts: machine description and JSON output."""

from __future__ import annotations

import datetime as dt
import importlib.metadata as md
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def machine_info(
    packages: tuple[str, ...] = ("armgym", "numpy", "mujoco", "gymnasium"),
) -> dict[str, Any]:
    """CPU, core count, load, Python and package versions, date and command line."""
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(
                (ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu
            )
    except OSError:
        pass
    versions = {}
    for p in packages:
        try:
            versions[p] = md.version(p)
        except md.PackageNotFoundError:
            versions[p] = None
    return {
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "loadavg": os.getloadavg(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "versions": versions,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
    }


def write_json(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(payload, indent=2, default=float) + "\n")
    return path


def human_config(pairs: list[str]) -> Any:
    """A ``ScriptedHumanConfig`` from ``FIELD=VALUE`` strings (``--human`` of the HIL
    benchmarks); each value is cast to the type of the field's default."""
    import dataclasses

    from armgym.teleop.scripted_human import ScriptedHumanConfig

    default = ScriptedHumanConfig()
    names = [f.name for f in dataclasses.fields(default)]
    kw: dict[str, Any] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key not in names:
            raise SystemExit(f"--human {pair}: no field {key!r}; fields: {', '.join(names)}")
        kind = type(getattr(default, key))
        kw[key] = value.lower() in ("1", "true", "yes") if kind is bool else kind(value)
    return dataclasses.replace(default, **kw)
