"""Episodes split across Ray tasks (``armgym eval --ray-address local|auto|ray://...``).

The checkpoint's two files travel by value (the object store), so workers on other
machines need no shared filesystem. Task ``t`` runs a contiguous block of episode indices
with their usual seeds; since every episode's outcome depends only on its seed (see
:mod:`armgym.eval.rollout`), the report equals a local run's.

``local`` starts a private Ray instance (``num_cpus`` CPUs, no dashboard, auth disabled) and
shuts it down afterwards; any other address connects to a running cluster.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from armgym.errors import ConfigError
from armgym.eval.rollout import EpisodeOutcome, RolloutConfig
from armgym.policies.checkpoint import CONFIG_FILE, WEIGHTS_FILE


def _run_block(
    files: dict[str, bytes],
    env: dict[str, Any],
    seeds: list[int],
    first_index: int,
    opts: dict[str, Any],
) -> tuple[list[dict[str, Any]], dict[int, np.ndarray]]:
    """Ray task body: load the checkpoint from bytes, roll out ``seeds``."""
    import torch

    from armgym.eval.bases import open_base
    from armgym.eval.rollout import rollout
    from armgym.policies.learned import load_checkpoint

    torch.set_num_threads(int(opts.pop("num_threads", 1)))
    with tempfile.TemporaryDirectory() as tmp:
        for name, blob in files.items():
            (Path(tmp) / name).write_bytes(blob)
        policy = load_checkpoint(tmp, opener=open_base)
    cfg = RolloutConfig(**{**opts, "first_index": first_index})
    results, videos = rollout(policy, env, seeds, cfg)
    return [r.to_dict() for r in results], videos


@contextmanager
def ray_session(address: str = "local", num_cpus: int = 2) -> Iterator[Any]:
    """The ``ray`` module, initialised for the duration of the block.

    ``local`` starts a private Ray instance on this machine (``num_cpus`` CPUs, no dashboard,
    ``RAY_AUTH_MODE=disabled`` and workers at normal priority, ``RAY_worker_niceness=0``,
    unless set) and shuts it down afterwards; any other address
    (``auto``, ``HOST:PORT``, ``ray://HOST:PORT``) connects to a running cluster. If Ray is
    already initialised in this process it is used as it is and left running.
    """
    try:
        import ray
    except ImportError:
        raise ConfigError("the Ray backend needs ray: pip install 'armgym[ray]'") from None
    started = False
    if not ray.is_initialized():
        if address == "local":
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")
            # Ray starts its workers at nice 15; on a busy machine an env actor then
            # starves behind the learner (torch's import alone took 45 s instead of 2 s
            # at load 5 on 2 cores). Run them at the driver's priority unless told otherwise.
            os.environ.setdefault("RAY_worker_niceness", "0")
            ray.init(
                num_cpus=num_cpus,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
        else:
            ray.init(address=address, log_to_driver=False)
        started = True
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


def rollout_ray(
    checkpoint: Path,
    env: Mapping[str, Any],
    seeds: Sequence[int],
    *,
    address: str = "local",
    num_tasks: int = 2,
    num_cpus: int = 2,
    cfg: RolloutConfig | None = None,
    num_threads: int = 1,
    on_episode: Callable[[EpisodeOutcome], None] | None = None,
) -> tuple[list[EpisodeOutcome], dict[int, np.ndarray]]:
    """Like :func:`~armgym.eval.rollout.rollout`, on ``num_tasks`` Ray tasks
    (``num_threads``: torch CPU threads per task)."""
    opts = {**dataclasses.asdict(cfg or RolloutConfig()), "num_threads": num_threads}
    opts.pop("first_index")
    if num_tasks < 1:
        raise ConfigError("--ray-tasks must be >= 1")
    with ray_session(address, num_cpus) as ray:
        files = {n: (Path(checkpoint) / n).read_bytes() for n in (CONFIG_FILE, WEIGHTS_FILE)}
        files_ref = ray.put(files)
        task = ray.remote(num_cpus=1)(_run_block)
        blocks = np.array_split(np.arange(len(seeds)), min(num_tasks, len(seeds)))
        pending = {
            task.remote(files_ref, dict(env), [int(seeds[i]) for i in b], int(b[0]), dict(opts)): b
            for b in blocks
            if len(b)
        }
        results: list[EpisodeOutcome] = []
        videos: dict[int, np.ndarray] = {}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            rows, vids = ray.get(done[0])
            del pending[done[0]]
            for row in rows:
                res = EpisodeOutcome.from_dict(row)
                results.append(res)
                if on_episode is not None:
                    on_episode(res)
            videos.update(vids)
    results.sort(key=lambda r: r.index)
    return results, videos
