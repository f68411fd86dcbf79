"""armgym.atomic: complete files only, also with concurrent writers and on errors."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from armgym import atomic


def test_concurrent_writers_of_one_file_never_interleave(tmp_path: Path) -> None:
    """Eight threads rewrite the same file 25 times each: every read sees one writer's
    complete bytes, and no temporary file is left behind (a shared ``<name>.tmp`` would
    let one writer rename another's half-written file)."""
    path = tmp_path / "model.xml"
    payloads = [bytes([65 + i]) * (200_000 + i) for i in range(8)]
    errors: list[BaseException] = []

    def writer(data: bytes) -> None:
        try:
            for _ in range(25):
                atomic.write_bytes_atomic(path, data)
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(p,)) for p in payloads]
    for t in threads:
        t.start()
    seen = set()
    while any(t.is_alive() for t in threads):
        if path.exists():
            seen.add(path.read_bytes())
    for t in threads:
        t.join()
    assert not errors
    seen.add(path.read_bytes())
    assert seen <= set(payloads)
    assert [p.name for p in tmp_path.iterdir()] == ["model.xml"]


def test_a_failed_write_leaves_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.json"
    atomic.write_json_atomic(path, {"step": 1})

    def no_rename(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", no_rename)
    with pytest.raises(OSError, match="disk full"):
        atomic.write_json_atomic(path, {"step": 2})
    assert path.read_text() == '{\n    "step": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_written_files_get_the_umask_permissions(tmp_path: Path) -> None:
    """Not mkstemp's 0600: a checkpoint is as readable as any file the user writes."""
    old = os.umask(0o022)
    try:
        atomic.write_text_atomic(tmp_path / "a" / "b.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "a" / "b.txt").stat().st_mode & 0o777 == 0o644
