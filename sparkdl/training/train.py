"""Driver side: `train()` -- data-parallel training by MapReduce-style rounds.

One round: broadcast the weights -> every partition computes its part over the round's rows ->
`treeAggregate` sums the parts -> the driver updates the model -> the broadcast is destroyed.
Two modes:

* sync: a round is one global batch of `batch_size` rows. Partitions return gradient sums; the
  driver divides by the count and applies the Keras optimizer. With the same row order, batch
  size, initial weights and plain SGD this is single-process training, to float tolerance, on
  any number of executors.
* average (model averaging / local SGD): a round covers `local_steps` global batches. Each
  partition takes `local_steps` optimizer steps of batch_size/P rows from the broadcast weights
  and optimizer state, and the driver averages both (weights, moments, step count) by sample
  count, so adaptive optimizers keep their state across rounds. Far fewer
  rounds, so far less overhead, at some cost in accuracy per epoch (see README).

Keeping rounds cheap: the rows are laid out and cached once (data.py), then converted to tensors
once and kept on each executor's disk (shards.py). A round is then a tiny job that ships only
the weights plus the compute, each task placed where its partition's rows are (jobs.py,
executor.py); a task that still lands where its shard is not reports it, and only those
partitions are recomputed from their cached rows.
Checkpoints (weights, optimizer state, position, the run's settings) go to any Hadoop path every
`checkpoint_every` rounds and at each epoch end; an existing checkpoint is resumed from by
default, after checking the run's settings against it (resume.py). A lost executor is a
retried task. The round loop itself is `loop.TrainingRun`.
"""
from __future__ import annotations

import contextlib
import os
import uuid

from .. import fs
from ..errors import ConfigError, TrainingCancelledError
from ..runtime.jobinfo import described
from ..runtime.load_options import load_options
from ..runtime.session import require_classic
from . import checkpoint as ckpt
from . import progress
from . import resume as resuming
from .callbacks import KerasCallbacks
from .config import TrainConfig, bind_training_columns, resolve_keras_model
from .data import prepare
from .loop import TrainingRun
from .result import TrainResult
from .rounds import SYNC
from .tracking import tracking_hook

GROUP_ID_LENGTH = 12  # hex digits of the default job group's id


def train(df, model, *, features, label, loss, optimizer="sgd", epochs: int = 1, batch_size: int = 256,
          mode: str = SYNC, local_steps: int = 8, metrics=(), checkpoint_dir=None, checkpoint_every: int = 0,
          resume=None, validation_df=None, partitions=None, shuffle: bool = False, seed: int = 0, callbacks=(),
          mlflow=None, register_as=None, job_group=None, custom_objects=None, imports=None) -> TrainResult:
    """Train a Keras model on a DataFrame with Spark; return a TrainResult.

    model: a Keras model, or the path/URI of a `.keras` file. features: a column or list of
    columns (one per model input, in order); label: a column. loss: a Keras loss name
    ("mse", "sparse_categorical_crossentropy", ...). optimizer: a Keras optimizer, name or config.
    batch_size: the global batch (rows per optimizer step across all partitions). mode: "sync"
    or "average" (with `local_steps` steps per round). metrics: as compile takes them (Keras
    metric names, keras.metrics.Metric objects, functions fn(y_true, y_pred)).
    checkpoint_dir: any Hadoop path; checkpoint_every: also checkpoint every N rounds (0: epoch
    ends only). resume: None (default) continues from the newest checkpoint when one exists,
    True requires one, False starts over; resuming checks that mode, batch_size, shuffle/seed,
    features, label, loss, optimizer, the model's architecture and (average mode) local_steps and
    partitions are the checkpoint's (ConfigError naming each difference); "force" resumes anyway.
    validation_df: scored after each epoch (val_loss, val_<metric>). shuffle: train in a seeded
    shuffled order (fixed across epochs) instead of the DataFrame's order.
    callbacks: Keras callbacks, run where model.fit runs them (EarlyStopping, LearningRateScheduler, ...).
    mlflow: True (or None inside an active run) logs params, per-epoch metrics and the model to
    MLflow; a run id logs into that run; False never logs. register_as: also register the model.
    job_group: the Spark job group of the whole call, from laying out the rows on (default
    sparkdl-train-<12 hex digits>, logged); sparkdl.cancel_training(spark, group) (or
    sc.cancelJobGroup(group) while a job runs) stops it with TrainingCancelledError, leaving the
    last checkpoint.
    custom_objects / imports: as `predict` ({"Name": cls}; modules with @register_keras_serializable
    layers, imported on the driver and in every executor worker before the model loads).
    """
    from ..tf import keras_objects

    spark = df.sparkSession
    require_classic(spark, "sparkdl.train", "score on Spark Connect with predict, train on a classic session")
    config = TrainConfig(features=features, label=label, loss=loss, epochs=epochs, batch_size=batch_size, mode=mode,
                         local_steps=local_steps, metrics=metrics, checkpoint_every=checkpoint_every,
                         partitions=partitions or spark.sparkContext.defaultParallelism)
    claim_checkpoint_dir(checkpoint_dir, spark)
    progress.ensure_handler()
    tracking = tracking_hook(mlflow, register_as)
    hooks = [progress.Progress(spark), *([KerasCallbacks(callbacks)] if callbacks else []),
             *([tracking] if tracking else [])]
    options = load_options(custom_objects, imports)
    keras_model, archive = resolve_keras_model(model, spark, options)
    optimizer_obj = keras_objects.optimizer(optimizer)
    columns = bind_training_columns(df.schema, keras_model, config)
    if validation_df is not None:
        bind_training_columns(validation_df.schema, keras_model, config)
    settings = resuming.run_settings(config, keras_model, keras_objects.optimizer_config(optimizer_obj), shuffle,
                                     seed)
    resume_from = resuming.find(checkpoint_dir, resume, spark)
    checkpoint = resuming.load_checked(resume_from, settings, resume, spark) if resume_from else None

    group = job_group or f"sparkdl-train-{uuid.uuid4().hex[:GROUP_ID_LENGTH]}"
    with progress.job_group(spark.sparkContext, group, "sparkdl train"):
        data = _lay_out(df, config, shuffle, seed, group)
        try:
            run = TrainingRun(spark, config, keras_model, optimizer_obj, data, columns, settings,
                              checkpoint_dir=checkpoint_dir, validation_df=validation_df, hooks=hooks,
                              job_group=group)
            history = run.run(archive, checkpoint, options)
        except BaseException:
            with contextlib.suppress(Exception):  # the first error is the one to see
                ckpt.discard_partial(checkpoint_dir, spark)
            raise
        finally:
            data.release()
    return TrainResult(model=keras_model, history=history, checkpoint_dir=checkpoint_dir,
                       mlflow_run_id=tracking.run_id if tracking else None,
                       mlflow_model_uri=tracking.model_uri if tracking else None)


def _lay_out(df, config: TrainConfig, shuffle: bool, seed: int, group: str):
    """Driver: the training rows laid out and cached (the first jobs of the run's group); a cancel
    meanwhile is a TrainingCancelledError, as in the rounds (no round ran, no checkpoint changed)."""
    cancelled = TrainingCancelledError(f"training cancelled (Spark job group {group!r}) while laying out the rows, "
                                       f"before any round; no checkpoint was written or changed")
    try:
        with described(df.sparkSession, "sparkdl train: laying out the rows"):
            data = prepare(df, config.columns, config.partitions, shuffle, seed)
    except Exception as error:
        if progress.is_cancellation(error, group):
            raise cancelled from None
        raise
    try:
        progress.check_not_cancelled(group)  # cancel_training between two layout jobs
    except TrainingCancelledError:
        data.release()
        raise cancelled from None
    return data


def claim_checkpoint_dir(checkpoint_dir, spark) -> None:
    """Before any job: `checkpoint_dir` must be writable (a marker file is created and deleted, so an
    unwritable, read-only or full directory fails now, not after an epoch); the partial `_tmp-ckpt-*`
    copies a killed run left there are deleted."""
    if checkpoint_dir is None:
        return
    if not isinstance(checkpoint_dir, (str, os.PathLike)) or not str(checkpoint_dir):
        raise ConfigError(f"checkpoint_dir must be a path or URI (hdfs://..., s3a://..., /local/dir), got "
                          f"{checkpoint_dir!r}")
    fs.check_writable(str(checkpoint_dir), "checkpoint_dir", spark)
    ckpt.discard_partial(str(checkpoint_dir), spark)
