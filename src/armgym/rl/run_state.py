"""Run state of an off-policy learner on disk: networks, optimisers, counters, buffer; no pickle.

A run folder holds a policy checkpoint (``model.safetensors`` + ``config.json``, what
``armgym eval`` loads), ``train_state.safetensors`` (every module and optimiser tensor,
flattened to ``<name>.<param>`` / ``opt.<name>.<param id>.<field>``), ``train_state.json``
(counters, RNG states, config, the sha256 of the tensors; written last: the commit point)
and ``buffer/`` (the online replay buffer).

:func:`commit` makes a save all-or-nothing: everything is written into ``<out>/.staging``
first; only when every file is on disk are they renamed into place (renames need no free
space), so a full disk or a crash mid-save leaves the previous checkpoint intact.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from armgym.atomic import write_bytes_atomic
from armgym.errors import CheckpointError
from armgym.policies.checkpoint import CONFIG_FILE, WEIGHTS_FILE

STATE, BUFFER, STAGING = "train_state", "buffer", ".staging"


def state_tensors(
    modules: Mapping[str, torch.nn.Module | torch.Tensor],
    optimizers: Mapping[str, torch.optim.Optimizer],
) -> dict[str, torch.Tensor]:
    """Flatten module state dicts, bare tensors and optimiser states into one tensor dict."""
    out: dict[str, torch.Tensor] = {}
    for name, m in modules.items():
        if isinstance(m, torch.Tensor):
            out[name] = m.detach().clone().contiguous()
        else:
            out |= {f"{name}.{k}": v.detach().contiguous() for k, v in m.state_dict().items()}
    for name, opt in optimizers.items():
        for pid, st in opt.state_dict()["state"].items():
            for field, value in st.items():
                out[f"opt.{name}.{pid}.{field}"] = torch.as_tensor(value).clone().contiguous()
    return out


def load_state_tensors(
    tensors: Mapping[str, torch.Tensor],
    modules: Mapping[str, torch.nn.Module | torch.Tensor],
    optimizers: Mapping[str, torch.optim.Optimizer],
) -> None:
    """Inverse of :func:`state_tensors` (in place)."""
    for name, m in modules.items():
        if isinstance(m, torch.Tensor):
            with torch.no_grad():
                m.copy_(tensors[name])
        else:
            pre = f"{name}."
            m.load_state_dict({k[len(pre) :]: v for k, v in tensors.items() if k.startswith(pre)})
    for name, opt in optimizers.items():
        state = opt.state_dict()
        pre = f"opt.{name}."
        for key, value in tensors.items():
            if key.startswith(pre):
                pid, field = key[len(pre) :].split(".", 1)
                state["state"].setdefault(int(pid), {})[field] = value
        opt.load_state_dict(state)


def stage(out: Path) -> Path:
    """A fresh, empty staging folder inside ``out``."""
    path = Path(out) / STAGING
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def write_state(folder: Path, tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> None:
    """``train_state.safetensors`` + ``train_state.json`` (with the tensors' sha256)."""
    blob = st_save(dict(tensors))
    write_bytes_atomic(folder / f"{STATE}.safetensors", blob)
    full = {**meta, "sha256": hashlib.sha256(blob).hexdigest()}
    write_bytes_atomic(folder / f"{STATE}.json", (json.dumps(full, indent=2) + "\n").encode())


def commit(out: Path) -> None:
    """Rename every staged file into ``out``; ``train_state.json`` last (the commit point)."""
    out, staged = Path(out), Path(out) / STAGING
    if (staged / BUFFER).exists():
        old = out / f"{BUFFER}.old"
        shutil.rmtree(old, ignore_errors=True)
        if (out / BUFFER).exists():
            os.replace(out / BUFFER, old)
        os.replace(staged / BUFFER, out / BUFFER)
        shutil.rmtree(old, ignore_errors=True)
    for name in (WEIGHTS_FILE, CONFIG_FILE, f"{STATE}.safetensors", f"{STATE}.json"):
        os.replace(staged / name, out / name)
    shutil.rmtree(staged, ignore_errors=True)


def recover(out: Path) -> None:
    """Undo what a crash inside :func:`commit` left half done, before reading ``out``.

    A crash between moving ``buffer/`` aside and moving the staged one in leaves only
    ``buffer.old/`` — the buffer of the still-current ``train_state.json``: move it back.
    A leftover ``.staging/`` (a crash before the commit point) is discarded.
    """
    out = Path(out)
    old = out / f"{BUFFER}.old"
    if old.is_dir() and not (out / BUFFER).exists():
        os.replace(old, out / BUFFER)
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(out / STAGING, ignore_errors=True)


def read_state(out: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(tensors, meta) of the run in ``out``; CheckpointError if missing or inconsistent."""
    meta_path = Path(out) / f"{STATE}.json"
    if not meta_path.is_file():
        raise CheckpointError(f"{meta_path}: missing; nothing to --resume in {out}")
    meta = json.loads(meta_path.read_text())
    blob = (Path(out) / f"{STATE}.safetensors").read_bytes()
    if hashlib.sha256(blob).hexdigest() != meta.get("sha256"):
        raise CheckpointError(
            f"{out}/{STATE}.safetensors does not match {STATE}.json; the files were "
            "modified: start a new run with another --out"
        )
    return st_load(blob), meta
