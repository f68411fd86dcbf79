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
import secrets
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
    """The fixed temporary name ``<name>.tmp`` beside ``path``, for a file that one writer
    streams into before :func:`commit` (a dataset's parquet chunk, a video). The
    ``write_*_atomic`` functions stage under a unique name instead, so concurrent writers
    of the same file never share a temporary file."""
    return path.with_name(path.name + TMP_SUFFIX)


def commit(tmp: Path, final: Path) -> None:
    """fsync ``tmp``, rename it over ``final`` and fsync the folder."""
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, final)
    fsync_dir(final.parent)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically and durably (parent folders are created).

    Staged under ``<name>.<pid>.<random>.tmp`` beside ``path`` (created exclusively, the
    umask's permissions), so two processes writing the same file at once each rename a
    complete file of their own over it: the last rename wins, nothing is interleaved. On an
    error the temporary file is removed and ``path`` is as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TMP_SUFFIX}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_text_atomic(path: Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically and durably."""
    write_bytes_atomic(path, text.encode())


def write_json_atomic(path: Path, obj: Any, *, indent: int = 4) -> None:
    """Write ``obj`` as indented JSON (+ newline) atomically and durably."""
    write_bytes_atomic(path, (json.dumps(obj, indent=indent) + "\n").encode())
