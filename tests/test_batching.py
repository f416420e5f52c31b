"""Serving micro-batching: concurrent requests share forwards, each gets exactly its own answers.

No timing assumptions: the worker is held at a gate until the requests under test are queued."""

from __future__ import annotations

import threading

import pytest

from paddle_electra.errors import StoreError
from paddle_electra.hub.batching import MicroBatcher


def _until(condition, limit: int = 10_000_000) -> None:
    for _ in range(limit):  # spin on state, not on the clock
        if condition():
            return
        threading.Event().wait(0.001)
    raise AssertionError("condition never met")


def test_concurrent_requests_share_forwards_and_get_their_own_results():
    gate, calls, waiting = threading.Event(), [], []

    def run(items, scale):
        waiting.append(len(items) // 2)  # requests in this forward
        gate.wait()
        calls.append(len(items))
        return [item * scale for item in items]

    batcher = MicroBatcher(run, max_items=16, max_wait_s=0.001)
    answers = {}

    def client(i):
        answers[i] = batcher.submit([i, i + 1000], scale=2)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    # one forward is held at the gate; every other request is queued (or held as the next batch's head)
    _until(lambda: waiting and batcher._queue.qsize() + (batcher._held is not None) + waiting[0] == 24)
    gate.set()
    for t in threads:
        t.join(timeout=120)
    assert answers == {i: [2 * i, 2 * (i + 1000)] for i in range(24)}
    assert sum(calls) == 48 and max(calls) <= 16 and len(calls) <= 4  # 24 requests in at most 4 forwards


def test_requests_with_other_options_are_not_mixed_and_a_failure_stays_alone():
    gate = threading.Event()

    def run(items, mode):
        gate.wait()
        if "bad" in items:
            raise ValueError("bad item")
        return [f"{mode}:{x}" for x in items]

    batcher = MicroBatcher(run, max_wait_s=0.001)
    out, errors = {}, {}

    def client(name, items, mode):
        try:
            out[name] = batcher.submit(items, mode=mode)
        except ValueError as err:
            errors[name] = str(err)

    threads = [threading.Thread(target=client, args=args) for args in
               [("a", ["x"], "m"), ("b", ["y"], "n"), ("c", ["bad"], "m"), ("d", ["z"], "m")]]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join(timeout=120)
    assert out == {"a": ["m:x"], "b": ["n:y"], "d": ["m:z"]} and errors == {"c": "bad item"}


def test_a_full_queue_refuses_at_once():
    entered, gate = threading.Event(), threading.Event()

    def run(items):
        entered.set()
        gate.wait()
        return items

    batcher = MicroBatcher(run, max_items=1, max_queued=1, max_wait_s=0.001)
    first = threading.Thread(target=lambda: batcher.submit([1]))
    first.start()
    entered.wait(120)  # the worker is inside request 1's forward
    second = threading.Thread(target=lambda: batcher.submit([2]))
    second.start()
    _until(lambda: batcher._queue.qsize() == 1)  # request 2 fills the one slot
    with pytest.raises(StoreError, match="server is busy"):
        batcher.submit([3])
    gate.set()
    first.join(timeout=120)
    second.join(timeout=120)
