"""What one training round sends to executors (`RoundSpec`) and what comes back (`RoundResult`).

Both travel between the driver and executors (in task closures and `treeAggregate`), so they
are plain picklable values. The column names below are added to the training rows by data.py
and read by executor.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple, Optional, Tuple

import numpy as np

from ..signature import TensorSpec

SYNC, AVERAGE, EVALUATE = "sync", "average", "evaluate"
POSITION = "_sparkdl_pos"  # a row's place in the training order: 0 .. rows-1
PARTITION = "_sparkdl_part"  # the training partition a row belongs to
ALL_POSITIONS = 2 ** 62  # a window [0, ALL_POSITIONS) that holds every row (validation)
RESULT_SCHEMA = "part binary"  # one pickled RoundResult per task of a `mapInArrow` job


@dataclass(frozen=True)
class RoundSpec:
    """What every task of a round needs; shipped in the task closure (driver -> executors)."""

    run_id: str
    model: Any  # runtime.models.ModelRef
    weights: Any  # Broadcast of the flat weights (then the optimizer state, in `average`)
    round: int
    mode: str
    loss: Any  # TrainConfig.loss, unchanged
    metrics: Tuple[Any, ...]  # TrainConfig.metrics, unchanged
    features: Tuple[Tuple[TensorSpec, str], ...]
    label: TensorSpec
    label_column: str
    start: int = 0  # training positions [start, stop) of this round
    stop: int = 0
    local_batch: int = 0
    optimizer: Optional[dict] = None  # Keras optimizer config, for `average`
    partition_rows: Tuple[int, ...] = ()  # rows of each training partition: a shard must hold exactly these


class RoundResult(NamedTuple):
    """One task's (or the sum of several tasks') part of a round (executors -> driver).

    payload: gradient sum (`sync`), sample-weighted weights and optimizer state (`average`), or
    empty (`evaluate`, shard stores); count: rows used; loss_sum: the loss summed over those rows;
    metric_state: the metrics' Keras state variables over those rows, flat float64 (summed across
    partitions, turned into values by the driver's `gradients.MetricState.results`; empty: zeros);
    missing_partitions: partitions whose task found no usable shard on its executor.
    """

    payload: np.ndarray
    count: int
    loss_sum: float
    metric_state: np.ndarray
    missing_partitions: Tuple[int, ...] = ()

    @classmethod
    def zero(cls, metrics=()) -> "RoundResult":
        """No rows. `metrics` (the round's metric specs) is accepted for the callers' sake: an empty
        metric state stands for the zero state of any metrics."""
        return cls(np.zeros(0), 0, 0.0, np.zeros(0), ())


def _add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a + b, where an empty array counts as zeros of the other's shape."""
    return b if a.size == 0 else a if b.size == 0 else a + b


def combine(a: RoundResult, b: RoundResult) -> RoundResult:
    """Add two partial results (empty payloads and metric states count as zeros); the seq and comb
    op of the round."""
    return RoundResult(_add(a.payload, b.payload), a.count + b.count, a.loss_sum + b.loss_sum,
                       _add(a.metric_state, b.metric_state), a.missing_partitions + b.missing_partitions)
