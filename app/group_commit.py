"""Group commit: requests that arrive together are written together, in one transaction.

A DuckDB file has one writer, and each statement costs about as much for one row as for thirty, so writing each
applicant's new case on its own tops out near 36 a second however fast the app is. Here the first caller to find
no batch being written becomes the leader: it takes every waiting request, writes them in one transaction with
one statement per table (the `flush` function's job), and hands each caller its own outcome; requests that
arrive meanwhile wait for the next batch, which one of them leads. Nobody waits on a timer: a lone request is
written at once, and the batch grows only as far as the requests arriving while the previous one was written —
and those already on their way: a caller that announces itself (`arriving`) while it prepares its request (for
file_new: the form checked and its uploads named by their content, a few milliseconds) is waited for by the
leader, for at most half as long as the last batch took to write. Without that, callers that all got their outcome from one batch
come back a moment apart, the first leads a batch of one or two, and the rest wait a whole write for the next:
with 8 applicants the batches settled at two groups of 4 taking turns. Likewise callers not yet on their way: a
leader that finds fewer requests queued or arriving than the last batch held waits (within the same bound) for
as many — the last batch's callers coming back with their next request a moment apart; without it 8 applicants
fell into alternating batches of about 4 and 5 again on a slower machine.

The outcome is the caller's alone: `flush` returns a result or an exception for each request (a refusal of one
does not touch the others), and if the batch's transaction itself fails — a database error — every request of it
is written again on its own, so that the error lands on the request that caused it and nothing is half-saved.
"""
from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy.engine import Connection

from app.db import Database

R = TypeVar("R")

# (transaction, requests, the database) -> one result or exception per request, in order
Flush = Callable[[Connection, Sequence[R], Database], list[Any]]


class _Slot(Generic[R]):
    __slots__ = ("request", "done", "result", "error")

    def __init__(self, request: R):
        self.request = request
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None


class GroupWriter(Generic[R]):
    """Batches `flush` over concurrent callers of `write` on one database (one writer per database and kind)."""

    MAX_WAIT = 0.025   # seconds a leader waits at most for requests on their way (less after quick batches): a
                       # batch of 8 took 40-50 ms to write and its callers 20-25 ms to come back, on 2 slow cores,
                       # when each wrote its own uploads (now 2.5 ms: the batch writes them)

    def __init__(self, db: Database, flush: Flush, *, max_batch: int = 64):
        self.db = db
        self.flush = flush
        self.max_batch = max_batch
        lock = threading.Lock()
        self._cond = threading.Condition(lock)      # a batch written: its callers, and the next leader, wake
        self._arrived = threading.Condition(lock)   # a request queued: only a leader waiting for arrivals wakes
        self._queue: list[_Slot[R]] = []
        self._leading = False
        self._arriving = 0         # callers inside `arriving` that have not queued their request yet
        self._last_write = 0.0     # seconds the last batch took
        self._last_size = 0        # requests the last batch held
        self.batches = 0          # counted for the benchmark's table and the tests
        self.requests = 0

    @contextlib.contextmanager
    def arriving(self) -> Iterator[Callable[[R], Any]]:
        """While the caller prepares its request, a leader waits for it (briefly); gives the `write` to call."""
        arrived = False

        def write(request: R) -> Any:
            nonlocal arrived
            arrived = True
            return self.write(request, _arrival=True)

        with self._cond:
            self._arriving += 1
        try:
            yield write
        finally:
            if not arrived:   # prepared nothing to write (refused, or answered without a write)
                with self._cond:
                    self._arriving -= 1
                    self._arrived.notify()

    def write(self, request: R, *, _arrival: bool = False) -> Any:
        """Write `request` with whatever else is waiting; returns its result or raises its own error."""
        slot: _Slot[R] = _Slot(request)
        with self._cond:
            self._queue.append(slot)
            if _arrival:
                self._arriving -= 1
            self._arrived.notify()   # a leader waiting for it (only the leader: the others wait for a batch)
        while True:
            with self._cond:
                while self._leading and not slot.done:
                    self._cond.wait()
                if slot.done:
                    break
                if slot not in self._queue:   # taken by a leader that died without an outcome (BaseException)
                    raise RuntimeError("the batch holding this write was abandoned")
                self._leading = True
                deadline = time.monotonic() + min(self.MAX_WAIT, self._last_write / 2)
                while len(self._queue) < self.max_batch and (
                        self._arriving > 0 or len(self._queue) + self._arriving < self._last_size):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._arrived.wait(left)
                batch, self._queue = self._queue[:self.max_batch], self._queue[self.max_batch:]
            try:
                self._write(batch)
            finally:
                with self._cond:
                    self._leading = False
                    self._cond.notify_all()
        if slot.error is not None:
            raise slot.error
        return slot.result

    def _write(self, batch: list[_Slot[R]]) -> None:
        requests = [sl.request for sl in batch]
        started = time.monotonic()
        try:
            outcomes = self.db.write(lambda conn: self.flush(conn, requests, self.db))
            if len(outcomes) != len(batch):
                raise RuntimeError(f"flush gave {len(outcomes)} outcomes for {len(batch)} requests")
        except Exception as exc:  # noqa: BLE001 - handed to its own caller below
            if len(batch) == 1:
                outcomes = [exc]
            else:   # the batch's transaction failed as a whole: each request again on its own
                for sl in batch:
                    self._write([sl])
                return
        self._last_write = time.monotonic() - started
        self._last_size = len(batch)
        self.batches += 1
        self.requests += len(batch)
        for sl, outcome in zip(batch, outcomes):
            if isinstance(outcome, BaseException):
                sl.error = outcome
            else:
                sl.result = outcome
            sl.done = True
