"""Executor side: find how many rows per model call score fastest on this worker's device.

The best call size depends on the model and the device, and by a lot. Measured on one CPU
thread here: the example CNN scores 3,145 rows/s in calls of 128 rows but 2,128 in calls of 1,024
(its activations fall out of the caches), while the example MLP scores 130,587 rows/s in calls of
128 and 362,355 in calls of 4,096 (per-call overhead dominates). So `batch_size=None` (the
default) lets each Python worker measure instead of guessing.

The measurement is the worker's first real calls, so no rows are scored twice. The search climbs
from 256 rows to larger sizes while each is faster than the best so far, then from 256 down to
smaller sizes in the same way (throughput against call size rises, peaks and falls). Each size
it visits gets one untimed call (TensorFlow builds its kernels for a new shape), then timed calls,
at least `MIN_TIMED_CALLS` and `MIN_TIMED_SECONDS` in all, of which the fastest counts. On a CPU,
calls are timed in this process's CPU seconds: Spark's JVM and the other tasks' workers share
the cores (here two workers and two JVM task threads share 2), and wall time would measure their
load, not the call size. On a GPU it is wall time. Running out of device memory ends the search
below the failing size. The choice lasts as long as the loaded model (the life of the worker)
and is logged once: "sparkdl.tf.call_size: model on ... scores in calls of N rows (...)".
"""
from __future__ import annotations

import logging
import time
from typing import Dict, Optional

log = logging.getLogger(__name__)

CANDIDATES = (32, 64, 128, 256, 512, 1024, 2048, 4096)
MIN_TIMED_CALLS = 3
MIN_TIMED_SECONDS = 0.2
START = 256


class CallSizeTuner:
    """Chooses rows per call for one loaded model on one device; feed it every call's timing."""

    def __init__(self, candidates=CANDIDATES, label: str = "model", gpu: bool = False):
        self.clock = time.perf_counter if gpu else time.process_time  # time calls with this
        self._candidates = tuple(candidates)
        self._label = label
        self._start = self._candidates.index(START) if START in self._candidates else len(self._candidates) // 2
        self._index = self._start
        self._step = 1  # +1 while climbing to larger sizes, -1 once going down
        self._calls = 0  # calls made at the current candidate
        self._timed = 0.0  # seconds of its timed calls
        self.rates: Dict[int, float] = {}  # candidate -> best rows/s of its timed calls
        self.chosen: Optional[int] = None

    def next_size(self) -> int:
        """Rows for the next call (the last call of a batch takes what is left)."""
        return self.chosen if self.chosen is not None else self._candidates[self._index]

    def record(self, rows: int, seconds: float) -> None:
        """Report a call of `rows` rows that took `seconds`; partial calls teach nothing."""
        if self.chosen is not None or rows != self._candidates[self._index]:
            return
        self._calls += 1
        if self._calls == 1:
            return  # the untimed call: kernels for this shape were built inside it
        rate = rows / max(seconds, 1e-9)
        self.rates[rows] = max(rate, self.rates.get(rows, 0.0))
        self._timed += seconds
        if self._calls <= MIN_TIMED_CALLS or self._timed < MIN_TIMED_SECONDS:
            return
        following = self._index + self._step
        if self.rates[rows] < max(self.rates.values()) or not 0 <= following < len(self._candidates):
            if self._step == 1 and self._start > 0:
                self._step, following = -1, self._start - 1  # done climbing up: now try smaller
            else:
                self._settle("measured")
                return
        self._index = following
        self._calls, self._timed = 0, 0.0

    def out_of_memory(self, rows: int) -> bool:
        """A call of `rows` ran out of device memory: settle below it; False if nothing smaller is left."""
        smaller = [size for size in self._candidates if size < rows]
        if not smaller:
            return False
        if not any(size < rows for size in self.rates):
            self.rates[smaller[-1]] = 0.0  # not measured, but the largest size that may fit
        self.rates = {size: rate for size, rate in self.rates.items() if size < rows}
        self._settle(f"out of device memory at {rows}")
        return True

    def _settle(self, why: str) -> None:
        self.chosen = max(self.rates, key=self.rates.get)
        measured = ", ".join(f"{size}: {rate:,.0f}" for size, rate in sorted(self.rates.items()))
        log.info("%s scores in calls of %d rows (%s; rows/s by call size: %s)",
                 self._label, self.chosen, why, measured)
