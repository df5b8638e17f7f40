"""Executor side: read ahead of the model in a thread, through a bounded queue.

pyarrow decodes and TensorFlow computes with the GIL released, so a reader thread that keeps a
few batches ready lets a task read batch n+1 while the model scores batch n. The queue holds at
most `depth` batches, so memory stays bounded whatever the input size. A reader error is raised
in the consuming thread; a consumer that stops early (an error while scoring) stops the reader.
While a worker still times its model calls (sparkdl.tf.call_size), each read waits for the timed
call to end, so the call's measured CPU seconds are its own.
"""
from __future__ import annotations

import queue
import threading
from typing import Iterable, Iterator

from ..tf.call_size import CALL_TIMING

_END = object()


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


def _produce(items: Iterable, ready: queue.Queue, stop: threading.Event) -> None:
    def put(item) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    try:
        iterator = iter(items)
        while True:
            with CALL_TIMING:  # not while a call is timed: its CPU seconds would include this read
                item = next(iterator, _END)
            if not put(item) or item is _END:
                return
    except BaseException as error:  # handed to the consumer, which raises it
        put(_Failed(error))


def prefetched(items: Iterable, depth: int) -> Iterator:
    """Yield `items` in order, produced by a thread that stays at most `depth` items ahead (0: no thread)."""
    if depth <= 0:
        yield from items
        return
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    reader = threading.Thread(target=_produce, args=(items, ready, stop), name="sparkdl-prefetch", daemon=True)
    reader.start()
    try:
        while True:
            item = ready.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        reader.join()
