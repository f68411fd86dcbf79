"""Resumable training state, shared by the training loops (bc; later sac, residual).

Beside a checkpoint, a run folder holds::

    train_state.safetensors   raw (non-EMA) weights ``model.*`` and optimiser moments
                              ``opt.<param id>.<name>``
    train_state.json          step, elapsed seconds, sha256 of the tensors, run config
    log.jsonl                 one JSON line per step (``{"step": k, ...}``)

:func:`save_train_state` writes both with the package's atomic writer;
:func:`resume_train_state` restores model and optimiser after checking that only
resumable settings changed and that the tensors match their json (else the run was
interrupted while saving).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from armgym.atomic import write_bytes_atomic, write_json_atomic
from armgym.errors import CheckpointError, ConfigError

TRAIN_STATE = "train_state"
LOG_FILE = "log.jsonl"


def to_jsonable(obj: Any) -> Any:
    """Dataclasses -> dicts, paths -> strings, tuples -> lists (recursively)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    return obj


def save_train_state(out: Path, model: torch.nn.Module, opt: torch.optim.Optimizer,
                     step: int, elapsed: float, config: Mapping[str, Any]) -> None:  # fmt: skip
    """Write train_state.safetensors (weights ``model``, optimiser state) then its json."""
    tensors = {f"model.{k}": v.detach().contiguous() for k, v in model.state_dict().items()}
    for pid, st in opt.state_dict()["state"].items():
        for name, value in st.items():
            tensors[f"opt.{pid}.{name}"] = torch.as_tensor(value).contiguous()
    blob = st_save(tensors)
    write_bytes_atomic(out / f"{TRAIN_STATE}.safetensors", blob)
    meta = {
        "step": step,
        "elapsed_s": elapsed,
        "sha256": hashlib.sha256(blob).hexdigest(),
        "config": dict(config),
    }
    write_json_atomic(out / f"{TRAIN_STATE}.json", meta, indent=2)


def start_run(out: Path, *, resume: bool, overwrite: bool) -> bool:
    """Prepare run folder ``out``; True if a run is to be resumed from it.

    A fresh run refuses a folder that already holds one unless ``overwrite``."""
    meta_path = out / f"{TRAIN_STATE}.json"
    if resume:
        if not meta_path.exists():
            raise CheckpointError(f"{meta_path}: missing; nothing to --resume in {out}")
        return True
    if meta_path.exists() and not overwrite:
        raise ConfigError(
            f"{out} already holds a training run; pass --resume to continue "
            "it, --overwrite to start afresh, or another --out"
        )
    out.mkdir(parents=True, exist_ok=True)
    (out / LOG_FILE).write_text("")
    return False


def resume_train_state(out: Path, model: torch.nn.Module, opt: torch.optim.Optimizer,
                       config: Mapping[str, Any], resumable: Collection[str]
                       ) -> tuple[int, float]:  # fmt: skip
    """Restore ``model`` and ``opt`` from ``out``; returns ``(step, elapsed seconds)``.

    ``config`` (JSON form) must equal the saved one except for keys in ``resumable``;
    log lines past the saved step are dropped (they were written after the last save).
    """
    meta = json.loads((out / f"{TRAIN_STATE}.json").read_text())
    same = {k: v for k, v in config.items() if k not in resumable}
    old = {k: v for k, v in meta["config"].items() if k not in resumable}
    if same != old:
        diff = sorted(k for k in same.keys() | old.keys() if same.get(k) != old.get(k))
        raise ConfigError(f"--resume with different settings {diff} than the run in {out}")
    blob = (out / f"{TRAIN_STATE}.safetensors").read_bytes()
    if hashlib.sha256(blob).hexdigest() != meta["sha256"]:
        raise CheckpointError(
            f"{out}/{TRAIN_STATE}.safetensors does not match its json; "
            "the run was interrupted while saving: start with --overwrite"
        )
    tensors = st_load(blob)
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    opt_state = opt.state_dict()
    for key, value in tensors.items():
        if key.startswith("opt."):
            _, pid, name = key.split(".", 2)
            opt_state["state"].setdefault(int(pid), {})[name] = value
    opt.load_state_dict(opt_state)
    step = int(meta["step"])
    log = out / LOG_FILE
    lines = log.read_text().splitlines() if log.exists() else []
    kept = [ln for ln in lines if ln.strip() and json.loads(ln)["step"] <= step]
    log.write_text("".join(ln + "\n" for ln in kept))
    return step, float(meta.get("elapsed_s", 0.0))
