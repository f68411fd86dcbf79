"""Micro-batching of concurrent requests for :class:`~armgym.serve.policy_server.PolicyServer`.

With ``--max-batch B`` (> 1) and ``--batch-window-ms W`` the server stacks observations
from several connections into one ``policy.infer_batch(list_of_obs) -> list_of_results``
call, run in a worker thread so the event loop keeps accepting frames meanwhile.

A batch is dispatched when the first of these happens:

* ``B`` requests are waiting;
* every open lockstep session has a request waiting (no other request can arrive, so
  waiting longer would only add latency);
* ``W`` ms have passed since the batch's first request arrived (``W = 0``: take what is
  queued when the policy becomes free).

While one batch computes, the next one collects. Each request is validated on its own
connection before it is queued, so a malformed observation is answered with its own
``ProtocolError`` and never enters a batch. If ``infer_batch`` raises on a batch of
several requests, each request is retried alone (``infer_batch([obs])``), so only the
request that makes the policy fail gets the error.

Two batched-call contracts:

* a shared policy's ``infer_batch(list[dict]) -> list[dict]``, one result per
  observation, in order (:func:`batch_function`);
* per-connection policies (forks of one model, e.g. armgym's learned policies) with
  ``infer_sessions(list[(policy, obs)]) -> list[dict]``: each request carries its
  connection's policy, whose observation history and noise generator stay its own
  (:func:`session_batch_function`).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from armgym.contracts.policy import BatchPolicy, Policy, SessionPolicy
from armgym.errors import ConfigError

BatchFn = Callable[[list[Any]], Sequence[Any]]
"""``fn(items) -> results``: items are observations, or ``(policy, obs)`` pairs."""


def batch_function(policy: Policy) -> tuple[BatchFn | None, str]:
    """The shared policy's list-based ``infer_batch`` (a :class:`BatchPolicy`), or
    ``None`` and why not."""
    if not isinstance(policy, BatchPolicy):
        return None, f"{type(policy).__name__} has no infer_batch(list_of_obs)"
    return policy.infer_batch, ""


def session_batch_function(probe: Policy) -> tuple[BatchFn | None, str]:
    """``probe.infer_sessions`` for per-connection policies (a :class:`SessionPolicy`),
    or ``None`` and why not."""
    if not isinstance(probe, SessionPolicy):
        return None, (
            f"each connection has its own {type(probe).__name__} (factory=) and it has no "
            "infer_sessions(list of (policy, obs))"
        )
    return probe.infer_sessions, ""


@dataclass
class _Request:
    obs: Any  # an observation dict, or (policy, obs)
    future: asyncio.Future[tuple[Any, int, float, float]]
    t_submit: float


class Batcher:
    """Collect requests on the event loop, run them as batches in a worker thread.

    Args:
        fn: ``infer_batch(list_of_obs) -> list_of_results``.
        max_batch: most requests in one call (>= 1).
        window_s: how long a batch's first request may wait for company [s].
        lock: held around every call of ``fn`` (shared with the server's other policy
            calls, e.g. ``reset``).
        waiting_limit: returns how many requests can be outstanding at most (the number
            of open sessions); reaching it dispatches at once. ``None``: no such bound.
    """

    def __init__(
        self,
        fn: BatchFn,
        *,
        max_batch: int,
        window_s: float,
        lock: threading.Lock | None = None,
        waiting_limit: Callable[[], int] | None = None,
    ):
        if max_batch < 1 or window_s < 0:
            raise ConfigError(f"need max_batch >= 1 and window_s >= 0, got {max_batch}, {window_s}")
        self._fn = fn
        self.max_batch, self.window_s = max_batch, window_s
        self._lock = lock or threading.Lock()
        self._waiting_limit = waiting_limit
        self._pending: list[_Request] = []
        self._arrived: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self.batch_sizes: list[int] = []  # recent sizes, for tests and logs (bounded)

    async def submit(self, obs: Any) -> tuple[Any, int, float, float]:
        """Queue ``obs``; return ``(result, batch_size, queue_ms, infer_ms)``.

        ``result`` is the policy's answer for ``obs``; raises what the policy raised for it.
        """
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done():
            self._arrived = asyncio.Event()
            self._task = loop.create_task(self._collect(), name="armgym-batcher")
        fut: asyncio.Future[tuple[Any, int, float, float]] = loop.create_future()
        self._pending.append(_Request(obs, fut, time.perf_counter()))
        assert self._arrived is not None
        self._arrived.set()
        return await fut

    async def _collect(self) -> None:
        arrived = self._arrived
        assert arrived is not None
        while True:
            await arrived.wait()
            arrived.clear()
            if not self._pending:
                continue
            deadline = self._pending[0].t_submit + self.window_s
            while not self._full():
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                try:
                    await asyncio.wait_for(arrived.wait(), remaining)
                except TimeoutError:
                    break
                arrived.clear()
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            batch = [r for r in batch if not r.future.done()]  # e.g. cancelled handlers
            if batch:
                await self._dispatch(batch)
            if self._pending:
                arrived.set()

    def _full(self) -> bool:
        n = len(self._pending)
        if n >= self.max_batch:
            return True
        return self._waiting_limit is not None and n >= self._waiting_limit()

    async def _dispatch(self, batch: list[_Request]) -> None:
        t_start = time.perf_counter()
        try:
            outcomes, infer_ms = await asyncio.to_thread(self._run, [r.obs for r in batch])
        except BaseException:  # cancelled (server shutting down): release every waiter
            for r in batch:
                r.future.cancel()
            raise
        size = len(batch)
        if len(self.batch_sizes) >= 4096:
            del self.batch_sizes[:2048]
        self.batch_sizes.append(size)
        for r, (ok, value) in zip(batch, outcomes, strict=True):
            if r.future.done():
                continue
            if ok:
                r.future.set_result((value, size, (t_start - r.t_submit) * 1e3, infer_ms))
            else:
                r.future.set_exception(value)

    def _run(self, obs: list[Any]) -> tuple[list[tuple[bool, Any]], float]:
        """Worker thread: one ``fn`` call (+ single retries if a batch of several fails)."""
        with self._lock:
            t0 = time.perf_counter()
            try:
                results = self._call(obs)
                outcomes: list[tuple[bool, Any]] = [(True, r) for r in results]
            except Exception as exc:
                if len(obs) == 1:
                    outcomes = [(False, exc)]
                else:
                    outcomes = []
                    for o in obs:  # isolate the request(s) the policy fails on
                        try:
                            outcomes.append((True, self._call([o])[0]))
                        except Exception as single:
                            outcomes.append((False, single))
            return outcomes, (time.perf_counter() - t0) * 1e3

    def _call(self, obs: list[Any]) -> Sequence[Any]:
        results = self._fn(obs)
        if not isinstance(results, Sequence) or len(results) != len(obs):
            got = len(results) if isinstance(results, Sequence) else type(results).__name__
            raise RuntimeError(
                f"policy.infer_batch must return one result per observation "
                f"(a list of {len(obs)}), got {got}"
            )
        return results
