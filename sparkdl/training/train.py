"""Driver side: `train()` -- data-parallel training by MapReduce-style rounds.

One round: broadcast the weights -> every partition computes its part over the round's rows ->
`treeAggregate` sums the parts -> the driver updates the model -> the broadcast is destroyed.
Two modes:

* sync: a round is one global batch of `batch_size` rows. Partitions return gradient sums; the
  driver divides by the count and applies the Keras optimizer. With the same row order, batch
  size, initial weights and plain SGD this is single-process training, to float tolerance.
* average (model averaging / local SGD): a round covers `local_steps` global batches. Each
  partition takes `local_steps` optimizer steps of batch_size/P rows from the broadcast weights
  and optimizer state, and the driver averages both (weights, moments, step count) by sample
  count, so adaptive optimizers keep their state across rounds. Far fewer
  rounds, so far less overhead, at some cost in accuracy per epoch (see README).

Keeping rounds cheap: the rows are laid out and cached once (data.py), then converted to tensors
once and kept on each executor's disk (shards.py). A round is then a tiny `parallelize` job that
ships only the weights plus the compute; a task that lands where its shard is not falls back to
the cached rows. Checkpoints (weights, optimizer
state, position) go to any Hadoop path every `checkpoint_every` rounds and at each epoch end;
an existing checkpoint is resumed from by default. A lost executor is a retried task.
"""
from __future__ import annotations

import logging
import math
import pickle
import time
import uuid

import numpy as np

from ..errors import ConfigError, TensorError, raised_on_executor
from ..runtime.models import ship_archive
from . import checkpoint as ckpt
from .config import TrainConfig, bind_training_columns, resolve_keras_model
from .data import prepare
from .executor import (
    AVERAGE,
    EVALUATE,
    RESULT_SCHEMA,
    SYNC,
    RoundSpec,
    combine,
    evaluate_function,
    fallback_function,
    round_task,
    zero,
)
from .result import TrainResult

log = logging.getLogger("sparkdl")


def _collect(parts_df, spec: RoundSpec, result=None) -> tuple:
    """Add the pickled parts a `mapInArrow` job returned to `result`."""
    result = result or zero(spec.metrics)
    for row in parts_df.collect():
        result = combine(result, pickle.loads(row.part))
    return result


def _run_round(sc, data, spec: RoundSpec) -> tuple:
    """One round: the fast path over resident shards, then the fallback for partitions without one."""
    tasks = sc.parallelize(range(data.partitions), data.partitions)
    result = tasks.mapPartitionsWithIndex(round_task(spec, len(spec.features))) \
        .treeAggregate(zero(spec.metrics), combine, combine, depth=2)
    missing = result[4]
    if missing:
        log.info("sparkdl: round %d: %d partition(s) ran where their rows were not resident; recomputing them "
                 "from the cached rows", spec.round, len(missing))
        parts = data.partitions_of(missing).mapInArrow(fallback_function(spec), RESULT_SCHEMA)
        result = _collect(parts, spec, (*result[:4], ()))
    return result


def _means(prefix: str, metrics, loss_sum: float, metric_sums, count: int) -> dict:
    values = {f"{prefix}loss": loss_sum / max(count, 1)}
    values.update({f"{prefix}{name}": float(s) / max(count, 1) for name, s in zip(metrics, metric_sums)})
    return values


def train(df, model, *, features, label, loss, optimizer="sgd", epochs: int = 1, batch_size: int = 256,
          mode: str = SYNC, local_steps: int = 8, metrics=(), checkpoint_dir=None, checkpoint_every: int = 0,
          resume=None, validation_df=None, partitions=None, shuffle: bool = False, seed: int = 0) -> TrainResult:
    """Train a Keras model on a DataFrame with Spark; return a TrainResult.

    model: a Keras model, or the path/URI of a `.keras` file. features: a column or list of
    columns (one per model input, in order); label: a column. loss: a Keras loss name
    ("mse", "sparse_categorical_crossentropy", ...). optimizer: a Keras optimizer, name or config.
    batch_size: the global batch (rows per optimizer step across all partitions). mode: "sync"
    or "average" (with `local_steps` steps per round). metrics: any of "accuracy", "mae", "mse".
    checkpoint_dir: any Hadoop path; checkpoint_every: also checkpoint every N rounds (0: epoch
    ends only). resume: continue from the newest checkpoint (default: when one exists).
    validation_df: scored after each epoch (val_loss, val_<metric>). shuffle: train in a seeded
    shuffled order (fixed across epochs) instead of the DataFrame's order.
    """
    from ..tf import gradients, keras_objects

    spark = df.sparkSession
    sc = spark.sparkContext
    config = TrainConfig(features=features, label=label, loss=loss, epochs=epochs, batch_size=batch_size, mode=mode,
                         local_steps=local_steps, metrics=metrics, checkpoint_every=checkpoint_every,
                         partitions=partitions or sc.defaultParallelism)
    keras_model, archive = resolve_keras_model(model, spark)
    optimizer_obj = keras_objects.optimizer(optimizer)
    feature_specs, label_spec = bind_training_columns(df.schema, keras_model, config)
    if validation_df is not None:
        bind_training_columns(validation_df.schema, keras_model, config)

    resume_from = ckpt.latest(checkpoint_dir, spark) if resume in (None, True) else None
    if resume is True and resume_from is None:
        raise ConfigError(f"resume=True but checkpoint_dir={checkpoint_dir!r} holds no checkpoint")
    data = prepare(df, config.columns, config.partitions, shuffle, seed)
    ref = ship_archive(sc, archive)
    run_id = uuid.uuid4().hex[:12]
    window = config.batch_size * (config.local_steps if config.mode == AVERAGE else 1)
    rounds_per_epoch = math.ceil(data.rows / window)
    history, start_epoch, start_round = [], 0, 0
    if resume_from:
        state = ckpt.load(resume_from, spark)
        gradients.set_weights(keras_model, state.weights)
        if state.optimizer:
            gradients.restore_optimizer(optimizer_obj, keras_model, state.optimizer)
        history = state.state["history"]
        start_epoch, start_round = state.state["epoch"], state.state["round_in_epoch"]
        log.info("sparkdl: resuming from %s (epoch %d, round %d)", resume_from, start_epoch + 1, start_round)
    else:
        optimizer_obj.build(keras_model.trainable_variables)
    local_batch = max(1, config.batch_size // data.partitions)
    optimizer_config = keras_objects.optimizer_config(optimizer_obj) if config.mode == AVERAGE else None

    def round_spec(round_number: int, round_mode: str, start: int, stop: int, weights=None) -> RoundSpec:
        return RoundSpec(run_id=run_id, model=ref, weights=weights, round=round_number, mode=round_mode,
                         loss=config.loss, metrics=config.metrics, features=feature_specs, label=label_spec,
                         label_column=config.label, start=start, stop=stop, local_batch=local_batch,
                         optimizer=optimizer_config)

    def training_state() -> np.ndarray:
        """What a round broadcasts: the weights, plus the optimizer state that `average` averages."""
        weights = gradients.get_weights(keras_model)
        if config.mode != AVERAGE:
            return weights
        return np.concatenate([weights, gradients.optimizer_vector(optimizer_obj)])

    def with_weights(job, *args):
        weights = sc.broadcast(training_state())
        try:
            return job(round_spec(*args, weights=weights))
        finally:
            weights.destroy()

    apply_mean_gradient = gradients.MeanGradientApplier(keras_model, optimizer_obj) if config.mode == SYNC else None

    def save_checkpoint(epoch: int, round_in_epoch: int, global_round: int):
        if checkpoint_dir:
            state = {"epoch": epoch, "round_in_epoch": round_in_epoch, "global_round": global_round,
                     "history": history, "mode": config.mode, "batch_size": config.batch_size}
            ckpt.save(checkpoint_dir, ckpt.Checkpoint(gradients.get_weights(keras_model),
                                                      gradients.optimizer_state(optimizer_obj), state), spark)

    try:
        # one pass over the rows: every partition stores its shard on its executor (NaN/inf fail here)
        try:
            _collect(data.df.mapInArrow(fallback_function(round_spec(0, SYNC, 0, 0), store_only=True),
                                        RESULT_SCHEMA), round_spec(0, SYNC, 0, 0))
        except Exception as error:
            raise raised_on_executor(error) or error
        for epoch in range(start_epoch, config.epochs):
            started, seen, loss_sum = time.perf_counter(), 0, 0.0
            metric_sums = np.zeros(len(config.metrics))
            first = start_round if epoch == start_epoch else 0
            for round_in_epoch in range(first, rounds_per_epoch):
                global_round = epoch * rounds_per_epoch + round_in_epoch
                lo = round_in_epoch * window
                payload, count, part_loss, part_metrics, _ = with_weights(
                    lambda spec: _run_round(sc, data, spec), global_round, config.mode, lo, lo + window)
                if not math.isfinite(part_loss):
                    raise TensorError(f"round {global_round} (epoch {epoch + 1}): the loss became {part_loss}; "
                                      f"lower the learning rate or check the data for extreme values")
                if config.mode == SYNC:
                    apply_mean_gradient(payload, count)
                else:
                    mean = (payload / count).astype(np.float32)
                    gradients.set_optimizer_vector(optimizer_obj, mean[gradients.set_weights(keras_model, mean):])
                seen, loss_sum, metric_sums = seen + count, loss_sum + part_loss, metric_sums + part_metrics
                if config.checkpoint_every and (round_in_epoch + 1) % config.checkpoint_every == 0 \
                        and round_in_epoch + 1 < rounds_per_epoch:
                    save_checkpoint(epoch, round_in_epoch + 1, global_round + 1)
            seconds = time.perf_counter() - started
            stats = {"epoch": epoch + 1, **_means("", config.metrics, loss_sum, metric_sums, seen),
                     "samples": seen, "rounds": rounds_per_epoch - first, "seconds": round(seconds, 3),
                     "samples_per_second": seen / seconds if seconds else 0.0}
            if validation_df is not None:
                _, count, val_loss, val_metrics, _ = with_weights(
                    lambda spec: _collect(validation_df.select(*config.columns).mapInArrow(
                        evaluate_function(spec), RESULT_SCHEMA), spec), -1, EVALUATE, 0, 2 ** 62)
                stats.update(_means("val_", config.metrics, val_loss, val_metrics, count))
            history.append(stats)
            eta = seconds * (config.epochs - epoch - 1)
            log.info("sparkdl: epoch %d/%d %s | %.0f samples/s | ETA %.0fs", epoch + 1, config.epochs,
                     " ".join(f"{k}={v:.4f}" for k, v in stats.items() if "loss" in k or k in config.metrics
                              or k.startswith("val_")), stats["samples_per_second"], eta)
            save_checkpoint(epoch + 1, 0, (epoch + 1) * rounds_per_epoch)
    finally:
        ref.broadcast.destroy()
        data.release()
    return TrainResult(model=keras_model, history=history, checkpoint_dir=checkpoint_dir)
