"""Executor side: one training round over one partition's rows.

Fast path (`round_task`): a task of a tiny `parallelize` job memory-maps its partition's shard
from the executor's disk (shards.py), sets the round's broadcast weights and computes its part.
Fallback (`fallback_function`, a `mapInArrow` over the cached training rows): used for the
partitions whose task found no shard; it stores the shard on that executor, then computes the same
part. Either way the task returns one result: a flat payload (gradient sum in `sync`,
sample-weighted weights and optimizer state in `average`, empty in `evaluate`), the sample count, the loss sum, the
metric sums, and the partitions it could not serve.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any, Optional, Tuple

import numpy as np
import pyarrow as pa

from ..runtime.models import ModelRef, cached_in_worker, local_model_path
from ..runtime.worker import prepare_task
from ..signature import TensorSpec
from ..tensors import column_to_tensor
from . import shards

log = logging.getLogger("sparkdl")
SYNC, AVERAGE, EVALUATE = "sync", "average", "evaluate"
POSITION = "_sparkdl_pos"
_optimizers = {}


@dataclass(frozen=True)
class RoundSpec:
    """What every task of a round needs; shipped in the task closure."""

    run_id: str
    model: ModelRef
    weights: Any  # Broadcast of the flat weights (then the optimizer state, in `average`)
    round: int
    mode: str
    loss: str
    metrics: Tuple[str, ...]
    features: Tuple[Tuple[TensorSpec, str], ...]
    label: TensorSpec
    label_column: str
    start: int = 0  # training positions [start, stop) of this round
    stop: int = 0
    local_batch: int = 0
    optimizer: Optional[dict] = None  # Keras optimizer config, for `average`


def zero(metrics) -> tuple:
    return np.zeros(0), 0, 0.0, np.zeros(len(metrics)), ()


def combine(a: tuple, b: tuple) -> tuple:
    """Add two partial results (an empty payload counts as zeros)."""
    payload = b[0] if a[0].size == 0 else a[0] if b[0].size == 0 else a[0] + b[0]
    return payload, a[1] + b[1], a[2] + b[2], a[3] + b[3], a[4] + b[4]


def _trainer(spec: RoundSpec):
    """The worker's ShardTrainer for this model, loss and metrics on this task's device, placed and
    budgeted like a scoring task (built once per Python worker, kept in the shared model cache)."""
    placement = prepare_task()

    def build():
        from ..tf import keras_objects
        from ..tf.gradients import ShardTrainer

        model = keras_objects.load(local_model_path(spec.model), placement.device)
        spec.model.loads.add(1)
        log.info("sparkdl: training model %s on %s with %d thread(s), pid %d", spec.model.fingerprint[:12],
                 placement.device or "the default device", placement.threads, os.getpid())
        return ShardTrainer(model, spec.loss, spec.metrics, device=placement.device)

    key = ("train", spec.model.fingerprint, placement.device, repr((spec.loss, spec.metrics)))
    return cached_in_worker(key, build)


def _optimizer(spec: RoundSpec):
    key = (spec.run_id, repr(spec.optimizer))
    if key not in _optimizers:
        from ..tf import keras_objects

        _optimizers.clear()
        _optimizers[key] = keras_objects.optimizer(spec.optimizer)
    return _optimizers[key]


def compute(spec: RoundSpec, shard: shards.Shard) -> tuple:
    """This partition's part of the round, from its shard."""
    x, y = shard.between(spec.start, spec.stop)
    rows = len(y)
    if rows == 0:
        return zero(spec.metrics)
    from ..tf import gradients

    trainer = _trainer(spec)
    vector = spec.weights.value
    weight_count = gradients.set_weights(trainer.model, vector)
    if spec.mode == SYNC:
        gradient, loss, metrics = trainer.gradient_sums(x, y)
        return gradient, rows, loss, metrics, ()  # float32: half the bytes of float64 per round
    if spec.mode == AVERAGE:  # the vector holds the weights, then the optimizer's state
        optimizer = _optimizer(spec)
        loss, metrics = trainer.local_steps(optimizer, vector[weight_count:], x, y, spec.local_batch)
        state = np.concatenate([gradients.get_weights(trainer.model), gradients.optimizer_vector(optimizer)])
        return state * np.float32(rows), rows, loss, metrics, ()
    loss, metrics = trainer.evaluate(x, y)
    return np.zeros(0), rows, loss, metrics, ()


def round_task(spec: RoundSpec, inputs: int):
    """The fast path: `mapPartitionsWithIndex` over range(P), one task per training partition."""

    def run(partition: int, _):
        shard = shards.load(spec.run_id, partition, inputs)
        yield compute(spec, shard) if shard is not None else (*zero(spec.metrics)[:4], (partition,))

    return run


def shard_from_batches(spec: RoundSpec, batches) -> shards.Shard:
    """Turn a partition's Arrow batches (features, label[, position]) into a checked Shard."""
    batches = list(batches)
    if not batches:
        empty = [np.zeros((0, *s.inner_shape), s.numpy_dtype) for s, _ in spec.features]
        return shards.Shard(empty, np.zeros((0,), np.float32), np.zeros(0, np.int64))
    table = pa.Table.from_batches(batches)
    positions = table.column(POSITION).to_numpy() if POSITION in table.column_names else np.arange(table.num_rows)
    features = []
    for tensor_spec, column in spec.features:
        values = column_to_tensor(table.column(column), column, tensor_spec.numpy_dtype, tensor_spec.inner_shape)
        shards.check_finite(column, values, positions)
        features.append(np.ascontiguousarray(values))
    label = column_to_tensor(table.column(spec.label_column), spec.label_column, spec.label.numpy_dtype,
                             spec.label.inner_shape)
    shards.check_finite(spec.label_column, label, positions)
    return shards.Shard(features, np.ascontiguousarray(label), positions)


RESULT_SCHEMA = "part binary"


def _as_batch(result: tuple) -> pa.RecordBatch:
    import pickle

    return pa.RecordBatch.from_pydict({"part": pa.array([pickle.dumps(result)], pa.binary())})


def fallback_function(spec: RoundSpec, store_only: bool = False):
    """`mapInArrow` over the cached rows: store this partition's shard on this executor, then
    compute its part of the round (or, with store_only, just report the row count)."""
    from pyspark import TaskContext

    def run(batches):
        shard = shard_from_batches(spec, batches)
        shards.store(spec.run_id, TaskContext.get().partitionId(), shard)
        if store_only:
            yield _as_batch((np.zeros(0), len(shard.label), 0.0, np.zeros(len(spec.metrics)), ()))
        else:
            yield _as_batch(compute(spec, shard))

    return run


def evaluate_function(spec: RoundSpec):
    """`mapInArrow` over validation rows: loss and metric sums of the partition (nothing stored)."""

    def run(batches):
        yield _as_batch(compute(spec, shard_from_batches(spec, batches)))

    return run
