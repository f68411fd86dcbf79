"""Record a mapped run (a LIBERO-schema stand-in server, ``armgym run --mapping libero
--record``) for check_lerobot.py: the dataset a user fine-tunes on after a mapped eval.

usage: python record_mapped.py OUT_DIR     (project venv; repo root as working directory)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from _openpi_standins import standin_server

from armgym.apps import run

if __name__ == "__main__":
    with standin_server("libero", np.array([0.2, 0, 0, 0, 0, 0, -1.0])) as (_, port):
        run.main(["--policy", f"ws://127.0.0.1:{port}", "--mapping", "libero", "--task", "Reach",
                  "--episodes", "2", "--max-steps", "6", "--record", sys.argv[1]])  # fmt: skip
