"""The one durable file writer of armgym: write a temp file, fsync it, rename it over the
target, fsync the folder.

After any of these functions returns, the file is either fully there or not there at all,
even if the process is SIGKILLed or the machine loses power right after. Checkpoints,
datasets, training state and evaluation reports all write through here. A leaf module:
standard library only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

TMP_SUFFIX = ".tmp"


def fsync_dir(path: Path) -> None:
    """fsync a directory so that a rename inside it survives a crash (no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def tmp_path(path: Path) -> Path:
    """The temporary name ``path`` is staged under (``<name>.tmp`` beside it)."""
    return path.with_name(path.name + TMP_SUFFIX)


def commit(tmp: Path, final: Path) -> None:
    """fsync ``tmp``, rename it over ``final`` and fsync the folder."""
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, final)
    fsync_dir(final.parent)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically and durably (parent folders are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path(path)
    tmp.write_bytes(data)
    commit(tmp, path)


def write_text_atomic(path: Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically and durably."""
    write_bytes_atomic(path, text.encode())


def write_json_atomic(path: Path, obj: Any, *, indent: int = 4) -> None:
    """Write ``obj`` as indented JSON (+ newline) atomically and durably."""
    write_bytes_atomic(path, (json.dumps(obj, indent=indent) + "\n").encode())
