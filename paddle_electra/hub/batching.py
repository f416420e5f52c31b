"""Micro-batching for ``hub serving``: concurrent requests share one forward pass.

Why: the server answers each connection on its own thread, but one model can only run one forward at a time;
run one request after another and 64 concurrent one-text clients cost 64 forwards. Here request threads put
their items on a bounded queue; one worker takes what is queued plus, while requests overlap, what arrives within
``max_wait_s`` (up to ``max_items``; a lone client never waits), runs
``predict`` once on all of them (requests with the same options only), and hands each request its own slice.
Items are independent of their batch-mates (an item's result does not depend on the rest of its batch), so
answers are the same as one request at a time. A full queue answers at once with an error instead of queueing
without bound.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import StoreError

MAX_ITEMS = 64  # texts in one forward
MAX_WAIT_S = 0.005  # how long the first request of a batch waits for company
MAX_QUEUED = 256  # requests waiting; more are refused (the client retries) rather than piling up


@dataclass
class _Request:
    items: list[Any]
    options: tuple
    done: threading.Event = field(default_factory=threading.Event)
    result: list[Any] | None = None
    error: BaseException | None = None


class MicroBatcher:
    """``submit(items, **options)`` from any thread; ``run(items, **options)`` is called on the worker thread."""

    def __init__(self, run: Callable[..., list[Any]], max_items: int = MAX_ITEMS, max_wait_s: float = MAX_WAIT_S,
                 max_queued: int = MAX_QUEUED):
        self._run, self.max_items, self.max_wait_s = run, max_items, max_wait_s
        self._queue: queue.Queue[_Request] = queue.Queue(maxsize=max_queued)
        self._held: _Request | None = None  # taken from the queue but with other options: next batch's head
        self.batches = 0  # forwards run (for tests and the benchmark)
        self._overlapping = False  # did the last batch hold more than one request, or leave some queued?
        threading.Thread(target=self._work, name="electra-microbatch", daemon=True).start()

    def submit(self, items: list[Any], **options: Any) -> list[Any]:
        request = _Request(list(items), tuple(sorted(options.items())))
        try:
            self._queue.put_nowait(request)
        except queue.Full:
            raise StoreError(f"the server is busy ({self._queue.maxsize} requests waiting); retry shortly") from None
        request.done.wait()
        if request.error is not None:
            raise request.error
        return request.result  # type: ignore[return-value]

    def _next_batch(self) -> list[_Request]:
        """The oldest request plus what is already queued with the same options (up to ``max_items``), then
        whatever arrives until ``max_wait_s`` after the batch started."""
        import time

        first = self._held or self._queue.get()
        self._held = None
        batch, count = [first], len(first.items)
        # wait for company only when requests have been overlapping: a lone client pays no wait
        deadline = time.monotonic() + (self.max_wait_s if self._overlapping else 0.0)
        while count < self.max_items:
            try:
                nxt = self._queue.get_nowait()  # already waiting: never left behind for the clock
            except queue.Empty:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    nxt = self._queue.get(timeout=left)
                except queue.Empty:
                    break
            if nxt.options != first.options or count + len(nxt.items) > self.max_items:
                self._held = nxt
                break
            batch.append(nxt)
            count += len(nxt.items)
        return batch

    def _work(self) -> None:
        while True:
            batch = self._next_batch()
            self._overlapping = len(batch) > 1 or self._held is not None or not self._queue.empty()
            items = [item for request in batch for item in request.items]
            try:
                results = self._run(items, **dict(batch[0].options))
                self.batches += 1
                start = 0
                for request in batch:
                    request.result = results[start:start + len(request.items)]
                    start += len(request.items)
            except BaseException as err:  # noqa: BLE001 - handed to the waiting request threads
                if len(batch) == 1:
                    batch[0].error = err
                else:  # one request's failure must not fail the others: run each on its own
                    for request in batch:
                        self._alone(request)
            for request in batch:
                request.done.set()

    def _alone(self, request: _Request) -> None:
        try:
            request.result = self._run(request.items, **dict(request.options))
            self.batches += 1
        except BaseException as err:  # noqa: BLE001 - handed to the waiting request thread
            request.error = err
