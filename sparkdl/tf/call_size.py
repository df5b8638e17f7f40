"""Executor side: find how many rows per model call score fastest on this worker's device.

The best call size depends on the model and the device, and by a lot. Measured on one CPU
thread here: the example CNN scores 3,145 rows/s in calls of 128 rows but 2,128 in calls of 1,024
(its activations fall out of the caches), while the example MLP scores 130,587 rows/s in calls of
128 and 362,355 in calls of 4,096 (per-call overhead dominates). So `batch_size=None` (the
default) lets each Python worker measure instead of guessing.

The measurement is the worker's first real calls, so no rows are scored twice. The search starts
at 256 rows and compares each next size with the fastest so far, alternating calls between the
two, so that both see the same load: on these 2-core machines, timings of one size taken a moment
apart differed by up to 25%, enough to stop a search at 512 rows for a model 1.3x faster at 1024.
It climbs to larger sizes while each is faster, then, only if no larger size beat 256, from 256
down in the same way (throughput against call size rises, peaks and falls). Sizes larger than
every batch the worker was given are never tried. Each size gets one untimed call first
(TensorFlow builds its kernels for a new shape); in a comparison, each size then gets at least
`MIN_TIMED_CALLS` timed calls and `MIN_TIMED_SECONDS`, of which the fastest counts. On a CPU,
calls are timed in this process's CPU seconds: Spark's JVM and the other tasks' workers share
the cores (here two workers and two JVM task threads share 2), and wall time would measure their
load, not the call size. A reader thread in the same process (score_files' prefetch) would add its
CPU seconds to the calls it overlaps, so each timed call holds `CALL_TIMING`, which such readers
take around each read. On a GPU it is wall time. Running out of device memory ends the search
below the failing size. The choice lasts as long as the loaded model (the life of the worker)
and is logged once: "sparkdl.tf.call_size: model on ... scores in calls of N rows (...)".
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Dict, Optional, Set, Tuple

log = logging.getLogger(__name__)

CANDIDATES = (32, 64, 128, 256, 512, 1024, 2048, 4096)
MIN_TIMED_CALLS = 3
MIN_TIMED_SECONDS = 0.05
START = 256
CALL_TIMING = threading.Lock()  # held by a timed call; readers in this process wait for it (see above)


class CallSizeTuner:
    """Chooses rows per call for one loaded model on one device; feed it every call's timing."""

    def __init__(self, candidates=CANDIDATES, label: str = "model", gpu: bool = False):
        self.clock = time.perf_counter if gpu else time.process_time  # time calls with this
        self._candidates = tuple(candidates)
        self._label = label
        self._start = self._candidates.index(START) if START in self._candidates else len(self._candidates) // 2
        self._index = self._start  # the size being measured
        self._best: Optional[int] = None  # index of the fastest size so far (None before the first)
        self._step = 1  # +1 while climbing to larger sizes, -1 once going down
        self._turn = 0  # calls recorded in this comparison: they alternate between its sizes
        self._warm: Set[int] = set()  # sizes whose first, untimed call is done
        self._timings: Dict[int, Tuple[int, float, float]] = {}  # size -> (timed calls, seconds, best rows/s)
        self._largest_batch: Optional[int] = None  # rows of the largest batch offered: no call can be larger
        self.rates: Dict[int, float] = {}  # candidate -> best rows/s of its timed calls, in its last comparison
        self.chosen: Optional[int] = None

    @property
    def searching(self) -> bool:
        """Whether calls are still being timed."""
        return self.chosen is None

    def _compared(self) -> Tuple[int, ...]:
        """The sizes timed now: the one measured and, after the first, the fastest so far."""
        measured = self._candidates[self._index]
        return (measured,) if self._best is None else (measured, self._candidates[self._best])

    def offer(self, rows: int) -> None:
        """A batch of `rows` rows is about to be scored: sizes above the largest batch are never tried
        (their calls could never be full, so never timed; CNN images capped at 32 MB per batch are
        2,730 rows, below 4,096)."""
        self._largest_batch = max(self._largest_batch or 0, rows)

    def next_size(self) -> int:
        """Rows for the next call (the last call of a batch takes what is left)."""
        if self.chosen is not None:
            return self.chosen
        compared = self._compared()
        return compared[self._turn % len(compared)]

    def record(self, rows: int, seconds: float) -> None:
        """Report a call of `rows` rows that took `seconds`; partial calls teach nothing."""
        if self.chosen is not None or rows != self.next_size():
            return
        self._turn += 1
        if rows not in self._warm:
            self._warm.add(rows)
            return  # the untimed call: kernels for this shape were built inside it
        calls, timed, rate = self._timings.get(rows, (0, 0.0, 0.0))
        self._timings[rows] = (calls + 1, timed + seconds, max(rate, rows / max(seconds, 1e-9)))
        if all(self._timed_enough(size) for size in self._compared()):
            self._decide()

    def _timed_enough(self, size: int) -> bool:
        calls, seconds, _ = self._timings.get(size, (0, 0.0, 0.0))
        return calls >= MIN_TIMED_CALLS and seconds >= MIN_TIMED_SECONDS

    def _can_try(self, index: int) -> bool:
        """Whether candidate `index` exists and some batch was large enough for a full call of it."""
        return 0 <= index < len(self._candidates) and (
            self._largest_batch is None or self._candidates[index] <= self._largest_batch)

    def _decide(self) -> None:
        """Both sizes are timed: keep the faster, then measure the next size or settle."""
        rates = {size: rate for size, (_, _, rate) in self._timings.items()}
        self.rates.update(rates)
        measured = self._candidates[self._index]
        best = rates[self._candidates[self._best]] if self._best is not None else 0.0
        faster = rates[measured] > best
        if faster:
            self._best = self._index
        following = self._index + self._step
        if faster and self._can_try(following):
            self._index = following
        elif self._step == 1 and self._start > 0 and self._best == self._start:
            self._step, self._index = -1, self._start - 1  # no larger size beat the start: try smaller
        else:
            self._settle("measured", self._candidates[self._best])
            return
        self._timings, self._turn = {}, 0

    def out_of_memory(self, rows: int) -> bool:
        """A call of `rows` ran out of device memory: settle below it; False if nothing smaller is left."""
        smaller = [size for size in self._candidates if size < rows]
        if not smaller:
            return False
        best = self._candidates[self._best] if self._best is not None else rows
        self.rates = {size: rate for size, rate in self.rates.items() if size < rows}
        self._settle(f"out of device memory at {rows}", best if best < rows else smaller[-1])
        return True

    def _settle(self, why: str, size: int) -> None:
        self.chosen = size
        measured = ", ".join(f"{size}: {rate:,.0f}" for size, rate in sorted(self.rates.items()))
        log.info("%s scores in calls of %d rows (%s; rows/s by call size: %s)",
                 self._label, self.chosen, why, measured)
