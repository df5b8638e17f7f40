"""Executor side: one training round over one partition's rows.

Fast path (`round_task`): a task of a tiny job with no rows memory-maps its partition's shard
from the executor's disk (shards.py), sets the round's broadcast weights and computes its part.
A shard counts only when it holds exactly the partition's rows (`RoundSpec.partition_rows`);
otherwise the task reports the partition missing. Fallback (`fallback_function`, a `mapInArrow`
over the cached rows of the missing partitions only): stores the shard on that executor, then
computes the same part. Either way a task returns one `RoundResult`.
"""
from __future__ import annotations

import logging
import os
import pickle

import numpy as np
import pyarrow as pa

from ..errors import TensorError
from ..runtime.models import cached_in_worker, local_model_path
from ..runtime.worker import prepare_task
from ..tensors import column_to_tensor
from . import shards
from .rounds import AVERAGE, PARTITION, POSITION, SYNC, RoundResult, RoundSpec

log = logging.getLogger(__name__)
_optimizers = {}


def _trainer(spec: RoundSpec):
    """The worker's ShardTrainer for this model, loss and metrics on this task's device, placed and
    budgeted like a scoring task (built once per Python worker, kept in the shared model cache)."""
    placement = prepare_task()

    def build():
        from ..tf import keras_objects
        from ..tf.gradients import ShardTrainer

        model = keras_objects.load(local_model_path(spec.model), placement.device, spec.model.options)
        spec.model.loads.add(1)
        log.info("training model %s on %s with %d thread(s), pid %d", spec.model.fingerprint[:12],
                 placement.device or "the default device", placement.threads, os.getpid())
        return ShardTrainer(model, spec.loss, spec.metrics, device=placement.device)

    key = ("train", spec.model.fingerprint, spec.model.options.key(), placement.device, repr((spec.loss, spec.metrics)))
    return cached_in_worker(key, build)


def _optimizer(spec: RoundSpec):
    """The worker's optimizer of this run, for `average` (rebuilt when the run changes)."""
    key = (spec.run_id, repr(spec.optimizer))
    if key not in _optimizers:
        from ..tf import keras_objects

        _optimizers.clear()
        _optimizers[key] = keras_objects.optimizer(spec.optimizer)
    return _optimizers[key]


def compute(spec: RoundSpec, shard: shards.Shard) -> RoundResult:
    """Executor: this partition's part of the round, over its rows in the round's window."""
    x, y = shard.between(spec.start, spec.stop)
    rows = len(y)
    if rows == 0:
        return RoundResult.zero(spec.metrics)
    from ..tf import gradients

    trainer = _trainer(spec)
    vector = spec.weights.value
    weight_count = gradients.set_weights(trainer.model, vector)
    if spec.mode == SYNC:
        gradient, loss, metrics = trainer.gradient_sums(x, y)
        return RoundResult(gradient, rows, loss, metrics)  # float32: half the bytes of float64 per round
    if spec.mode == AVERAGE:  # the vector holds the weights, then the optimizer's state
        optimizer = _optimizer(spec)
        loss, metrics = trainer.local_steps(optimizer, vector[weight_count:], x, y, spec.local_batch)
        state = np.concatenate([gradients.get_weights(trainer.model), gradients.optimizer_vector(optimizer)])
        return RoundResult(state * np.float32(rows), rows, loss, metrics)
    loss, metrics = trainer.evaluate(x, y)
    return RoundResult(np.zeros(0), rows, loss, metrics)


def round_task(spec: RoundSpec):
    """The fast path: `mapPartitionsWithIndex`, one task per training partition (data.round_tasks)."""
    inputs = len(spec.features)

    def run(partition: int, rows):
        for _ in rows:  # none: the round maps over the cached partitions with no row selected
            pass
        shard = shards.load(spec.run_id, partition, inputs)
        if shard is None or len(shard.label) != spec.partition_rows[partition]:
            yield RoundResult.zero(spec.metrics)._replace(missing_partitions=(partition,))
        else:
            yield compute(spec, shard)

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
    return shards.Shard(features, np.ascontiguousarray(label), positions, _partitions(table))


def _partitions(table: pa.Table):
    return table.column(PARTITION).to_numpy() if PARTITION in table.column_names else None


def _partition_shard(spec: RoundSpec, batches) -> tuple:
    """(partition id, its Shard): the task's rows, checked to be exactly that partition's rows."""
    from pyspark import TaskContext

    partition = TaskContext.get().partitionId()
    shard = shard_from_batches(spec, batches)
    foreign = shard.partitions is not None and bool((shard.partitions != partition).any())
    if foreign or len(shard.label) != spec.partition_rows[partition]:
        raise TensorError(f"training partition {partition} holds {len(shard.label)} row(s) where the layout "
                          f"counted {spec.partition_rows[partition]}; the input DataFrame changed while training "
                          f"(a recomputed, non-deterministic source): cache or write it out before train()")
    return partition, shard


def _as_batch(result: RoundResult) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict({"part": pa.array([pickle.dumps(result)], pa.binary())})


def store_function(spec: RoundSpec):
    """`mapInArrow` over all cached rows, once per run: store each partition's shard on its
    executor; the result's count is the partition's rows."""

    def run(batches):
        partition, shard = _partition_shard(spec, batches)
        shards.store(spec.run_id, partition, shard)
        yield _as_batch(RoundResult.zero(spec.metrics)._replace(count=len(shard.label)))

    return run


def fallback_function(spec: RoundSpec, missing):
    """`mapInArrow` over the cached rows of the `missing` partitions: store the shard on this
    executor, then compute the partition's part. A task of any other partition (it sees no rows:
    the driver's filter removed them) stores nothing and returns nothing."""
    missing = frozenset(missing)

    def run(batches):
        from pyspark import TaskContext

        if TaskContext.get().partitionId() not in missing:
            for _ in batches:
                pass
            return
        partition, shard = _partition_shard(spec, batches)
        shards.store(spec.run_id, partition, shard)
        yield _as_batch(compute(spec, shard))

    return run


def evaluate_function(spec: RoundSpec):
    """`mapInArrow` over validation rows: the partition's loss sum and metric state (nothing stored)."""

    def run(batches):
        yield _as_batch(compute(spec, shard_from_batches(spec, batches)))

    return run
