"""Stand-in servers for generalist policies, as openpi's ``serve_policy.py`` speaks.

Each server sends a metadata frame, then checks every observation against the schema its
policy family's openpi example sends (keys, dtypes, shapes, prompt type) and answers
``{"actions": float32[H, D]}`` of the shape that policy returns, or, like openpi's server,
a text frame naming the problem and a close. Frames are packed with openpi-client's own
``msgpack_numpy``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from openpi_client import msgpack_numpy
from websockets.sync.server import ServerConnection, serve

IMG = ("uint8", (224, 224, 3))
#: family -> (observation schema {key or key/sub: (dtype kind or name, shape)}, answer shape)
SCHEMAS: dict[str, tuple[dict[str, Any], tuple[int, int]]] = {
    "libero": (
        {"observation/image": IMG, "observation/wrist_image": IMG,
         "observation/state": ("f", (8,)), "prompt": "str"},
        (10, 7),
    ),
    "droid": (
        {"observation/exterior_image_1_left": IMG, "observation/wrist_image_left": IMG,
         "observation/joint_position": ("f", (7,)), "observation/gripper_position": ("f", (1,)),
         "prompt": "str"},
        (10, 8),
    ),
    "aloha": (
        {"state": ("f", (14,)), "images": {"cam_high": ("uint8", (3, 224, 224))}, "prompt": "str"},
        (50, 14),
    ),
    "cogact": ({"image": IMG, "prompt": "str"}, (16, 7)),
}  # fmt: skip


def schema_problems(obs: Any, schema: dict[str, Any], where: str = "") -> list[str]:
    """Every difference between ``obs`` and ``schema`` (exact key set)."""
    if not isinstance(obs, dict):
        return [f"{where or 'observation'} is a {type(obs).__name__}, not a map"]
    problems = [f"unexpected key {where}{k}" for k in obs if k not in schema]
    for key, spec in schema.items():
        value = obs.get(key)
        name = where + key
        if value is None:
            problems.append(f"missing key {name}")
        elif isinstance(spec, dict):
            problems += schema_problems(value, spec, name + "/")
        elif spec == "str":
            if not isinstance(value, str) or not value:
                problems.append(f"{name} must be a non-empty str, got {type(value).__name__}")
        else:
            kind, shape = spec
            ok = (
                isinstance(value, np.ndarray)
                and value.shape == shape
                and (value.dtype.kind == kind if len(kind) == 1 else value.dtype == np.dtype(kind))
            )
            if not ok:
                problems.append(f"{name}: expected {kind}{shape}, got "
                                f"{getattr(value, 'dtype', type(value).__name__)}{getattr(value, 'shape', '')}")  # fmt: skip
    return problems


class StandIn:
    """A policy family's server: answers a constant action row (``row``), records prompts."""

    def __init__(self, family: str, row: np.ndarray | None = None):
        self.schema, (self.horizon, self.dim) = SCHEMAS[family]
        self.row = np.zeros(self.dim, np.float32) if row is None else np.asarray(row, np.float32)
        self.prompts: list[str] = []
        self.requests = 0

    def handle(self, ws: ServerConnection) -> None:
        ws.send(msgpack_numpy.packb({"name": "stand-in"}))
        for frame in ws:
            obs = msgpack_numpy.unpackb(frame)
            problems = schema_problems(obs, self.schema)
            if problems:
                ws.send("observation does not match the schema: " + "; ".join(problems))
                ws.close()
                return
            self.requests += 1
            self.prompts.append(obs["prompt"])
            actions = np.tile(self.row, (self.horizon, 1)).astype(np.float32)
            ws.send(msgpack_numpy.packb({"actions": actions}))


@contextmanager
def standin_server(family: str, row: np.ndarray | None = None) -> Iterator[tuple[StandIn, int]]:
    """Serve a :class:`StandIn` on 127.0.0.1 (free port); yields (stand-in, port)."""
    standin = StandIn(family, row)
    with serve(standin.handle, "127.0.0.1", 0) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield standin, server.socket.getsockname()[1]
        finally:
            server.shutdown()
            thread.join(timeout=5)
