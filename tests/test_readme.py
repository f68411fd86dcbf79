"""README stays honest: its Python snippet and its shell tour are run as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_readme_starts_with_the_two_commands() -> None:
    first = _blocks("bash")[0].strip().splitlines()
    assert [ln.split()[:2] for ln in first] == [["make", "demo"], ["make", "test"]]
    ci = (REPO / ".ci" / "run").read_text()
    assert "make test" in ci and "make demo" in ci


def test_readme_python_snippet_runs() -> None:
    (snippet,) = _blocks("python")
    out = subprocess.run(
        [sys.executable, "-c", snippet], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "armgym/PickCube-v0" in out.stdout


def test_readme_shell_tour_runs(tmp_path: Path) -> None:
    (tour,) = [b for b in _blocks("bash") if "armgym envs" in b]
    script = "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n" + tour
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    out = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env
    )
    assert out.returncode == 0, (out.stdout[-3000:], out.stderr[-3000:])
    assert (tmp_path / "runs/demos/meta/info.json").is_file()
    assert (tmp_path / "runs/demos/report/index.html").is_file()
    assert (tmp_path / "runs/mlp/model.safetensors").is_file()
    assert (tmp_path / "runs/mlp/eval/report.json").is_file()
    assert list((tmp_path / "runs/rlds").rglob("*.tfrecord*"))
    assert (tmp_path / "runs/demos-packed/meta/episodes/chunk-000/file-000.parquet").is_file()
