"""Driver side: `TrainingRun`, the round loop of one `train()` call.

It holds what the rounds share -- the laid-out rows, the shipped model, the driver's Keras model
and optimizer, the history -- and runs epoch after epoch of rounds: broadcast the training state,
run the round's job (jobs.py), update the model from the summed `RoundResult`, checkpoint every
`checkpoint_every` rounds and at each epoch end, score the validation rows after each epoch.
Observers (`callbacks.TrainingHook`: Keras callbacks, progress, MLflow) see train/epoch/round
begin and end; the model's `stop_training` ends the run after an epoch. The whole run is one Spark
job group; a cancelled group raises `progress.TrainingCancelledError` naming the last checkpoint.
"""
from __future__ import annotations

import logging
import math
import time
import uuid

import numpy as np

from ..errors import TensorError
from ..runtime.jobinfo import describe
from ..runtime.load_options import DEFAULT, LoadOptions
from ..runtime.models import ship_archive
from . import checkpoint as ckpt
from . import jobs, progress
from .rounds import ALL_POSITIONS, AVERAGE, EVALUATE, SYNC, RoundResult, RoundSpec, combine

log = logging.getLogger(__name__)
RUN_ID_LENGTH = 12  # hex digits of the run id that names this run's shards on executors


class TrainingRun:
    """Driver: one training run -- rows, model, optimizer, history -- and its round loop."""

    def __init__(self, spark, config, model, optimizer, data, columns, settings: dict, *, checkpoint_dir=None,
                 validation_df=None, hooks=(), job_group: str):
        from ..tf import keras_objects
        from ..tf.gradients import MetricState

        self.spark, self.sc = spark, spark.sparkContext
        self.config, self.model, self.optimizer, self.data = config, model, optimizer, data
        self.features, self.label = columns
        self.settings, self.checkpoint_dir, self.validation_df = settings, checkpoint_dir, validation_df
        self.run_id = uuid.uuid4().hex[:RUN_ID_LENGTH]
        self.window = config.batch_size * (config.local_steps if config.mode == AVERAGE else 1)
        self.rounds_per_epoch = math.ceil(data.rows / self.window)
        self.local_batch = max(1, config.batch_size // data.partitions)
        self.optimizer_config = keras_objects.optimizer_config(optimizer) if config.mode == AVERAGE else None
        self.metric_names = tuple(getattr(config, "metric_names", config.metrics))
        # the driver's copies of the metrics: the summed state of a round or a validation pass goes
        # into their variables, their result() into the history
        self.metric_state = MetricState(config.metrics, self.label.shape, tuple(model.outputs[0].shape))
        self.history, self.ref, self._apply_mean_gradient = [], None, None
        self.hooks, self.last_checkpoint = list(hooks), None
        self.job_group = job_group

    def run(self, archive, checkpoint: ckpt.Checkpoint = None, options: LoadOptions = DEFAULT) -> list:
        """Ship the model (loaded on executors with `options`), store the shards, run the epochs from
        the checkpoint's position; the history."""
        start_epoch, start_round = self._restore(checkpoint)
        if start_epoch >= self.config.epochs:  # the checkpoint's run already did every epoch
            return self.history
        self.last_checkpoint = (start_epoch, start_round) if checkpoint is not None else None
        log.info("training run %s: %d epoch(s) of %d rounds, Spark job group %r (sparkdl.cancel_training stops it)",
                 self.run_id, self.config.epochs, self.rounds_per_epoch, self.job_group)
        self.ref = ship_archive(self.sc, archive, options)
        with progress.job_group(self.sc, self.job_group, f"sparkdl train: run {self.run_id}"):
            try:
                self._run_epochs(start_epoch, start_round)
            finally:
                self.ref.broadcast.destroy()
        return self.history

    def _run_epochs(self, start_epoch: int, start_round: int) -> None:
        """The epochs, between the hooks' train begin and end; a cancelled job group becomes one error."""
        for hook in self.hooks:
            hook.on_train_begin(self)
        error = None
        try:
            describe(self.spark, "sparkdl train: storing shards")
            jobs.store_shards(self.data, self._spec(0, SYNC, 0, 0))
            for epoch in range(start_epoch, self.config.epochs):
                self.train_epoch(epoch, start_round if epoch == start_epoch else 0)
                if getattr(self.model, "stop_training", False):
                    log.info("stopped after epoch %d/%d: model.stop_training was set (a callback)", epoch + 1,
                             self.config.epochs)
                    break
        except BaseException as failure:  # KeyboardInterrupt too: hooks must not log a finished run
            error = self._cancelled(failure) if progress.is_cancellation(failure, self.job_group) else failure
            raise error from (None if error is failure else failure)
        finally:
            for hook in self.hooks:
                hook.on_train_end(self.history, error)

    def _cancelled(self, failure) -> progress.TrainingCancelledError:
        if self.last_checkpoint is None:
            where = ("nothing was saved (no checkpoint_dir)" if not self.checkpoint_dir else
                     f"no checkpoint was written yet in {self.checkpoint_dir!r}")
        else:
            epoch, round_in_epoch = self.last_checkpoint
            where = (f"the last checkpoint, in {self.checkpoint_dir!r}, is at epoch {epoch + 1} round "
                     f"{round_in_epoch}: call train again with the same checkpoint_dir to resume")
        return progress.TrainingCancelledError(f"training cancelled (Spark job group {self.job_group!r}); {where}")

    def _restore(self, checkpoint) -> tuple:
        """Weights, optimizer state and history from `checkpoint`; (epoch, round in epoch) to start at."""
        from ..tf import gradients

        if checkpoint is None:
            self.optimizer.build(self.model.trainable_variables)
            start = (0, 0)
        else:
            state = checkpoint.state
            gradients.set_weights(self.model, checkpoint.weights)
            if checkpoint.optimizer:
                gradients.restore_optimizer(self.optimizer, self.model, checkpoint.optimizer)
            self.history = list(state["history"])
            start = (state["epoch"], state["round_in_epoch"])
            if state.get("rows", self.data.rows) != self.data.rows:
                log.warning("the training rows number %d, the checkpoint's run had %d: the run resumes at "
                            "the same round, not the same rows", self.data.rows, state["rows"])
            log.info("resuming from %s (epoch %d, round %d)", checkpoint.uri, start[0] + 1, start[1])
        if self.config.mode == SYNC:
            self._apply_mean_gradient = gradients.MeanGradientApplier(self.model, self.optimizer)
        return start

    def _spec(self, round_number: int, mode: str, start: int, stop: int, weights=None) -> RoundSpec:
        return RoundSpec(run_id=self.run_id, model=self.ref, weights=weights, round=round_number, mode=mode,
                         loss=self.config.loss, metrics=self.config.metrics, features=self.features,
                         label=self.label, label_column=self.config.label, start=start, stop=stop,
                         local_batch=self.local_batch, optimizer=self.optimizer_config,
                         partition_rows=self.data.partition_rows)

    def _training_state(self) -> np.ndarray:
        """What a round broadcasts: the weights, plus the optimizer state that `average` averages."""
        from ..tf import gradients

        weights = gradients.get_weights(self.model)
        if self.config.mode != AVERAGE:
            return weights
        return np.concatenate([weights, gradients.optimizer_vector(self.optimizer)])

    def _with_weights(self, job, round_number: int, mode: str, start: int, stop: int) -> RoundResult:
        """Run `job(spec)` with the training state broadcast for this round only."""
        weights = self.sc.broadcast(self._training_state())
        try:
            return job(self._spec(round_number, mode, start, stop, weights=weights))
        finally:
            weights.destroy()

    def values(self, prefix: str, result: RoundResult) -> dict:
        """The loss (its sum over the rows / the rows) and each metric's Keras result() for the summed
        state, keyed as fit's logs: "loss", "auc", or "val_loss", "val_auc" with prefix "val_"."""
        values = {f"{prefix}loss": result.loss_sum / max(result.count, 1)}
        values.update({f"{prefix}{name}": value for name, value in
                       zip(self.metric_names, self.metric_state.results(result.metric_state))})
        return values

    def train_round(self, global_round: int, start: int) -> RoundResult:
        """One round over positions [start, start + window): the job, then the model update."""
        progress.check_not_cancelled(self.job_group)
        result = self._with_weights(lambda spec: jobs.run_round(self.sc, self.data, spec), global_round,
                                    self.config.mode, start, start + self.window)
        if not math.isfinite(result.loss_sum):
            raise TensorError(f"round {global_round} (epoch {global_round // self.rounds_per_epoch + 1}): the loss "
                              f"became {result.loss_sum}; lower the learning rate or check the data for extreme "
                              f"values")
        self._update(result)
        return result

    def _update(self, result: RoundResult) -> None:
        """sync: apply the mean gradient; average: take the sample-weighted mean weights and optimizer state."""
        from ..tf import gradients

        if self.config.mode == SYNC:
            self._apply_mean_gradient(result.payload, result.count)
        else:
            mean = (result.payload / result.count).astype(np.float32)
            gradients.set_optimizer_vector(self.optimizer, mean[gradients.set_weights(self.model, mean):])

    def train_epoch(self, epoch: int, first_round: int) -> dict:
        """Rounds first_round.. of `epoch`, then its history entry, validation, log line and checkpoint."""
        started, total = time.perf_counter(), RoundResult.zero(self.config.metrics)
        self._begin_epoch(epoch)
        for round_in_epoch in range(first_round, self.rounds_per_epoch):
            result = self.train_round(epoch * self.rounds_per_epoch + round_in_epoch, round_in_epoch * self.window)
            total = combine(total, result._replace(payload=np.zeros(0)))
            logs = self.values("", result) if self.hooks else None
            for hook in self.hooks:
                hook.on_round_end(epoch, round_in_epoch, logs)
            every = self.config.checkpoint_every
            if every and (round_in_epoch + 1) % every == 0 and round_in_epoch + 1 < self.rounds_per_epoch:
                self.checkpoint(epoch, round_in_epoch + 1)
        seconds = time.perf_counter() - started
        stats = {"epoch": epoch + 1, **self.values("", total), "samples": total.count,
                 "rounds": self.rounds_per_epoch - first_round, "seconds": round(seconds, 3),
                 "samples_per_second": total.count / seconds if seconds else 0.0}
        if self.validation_df is not None:
            describe(self.spark, f"sparkdl train: epoch {epoch + 1}/{self.config.epochs} validation")
            stats.update(self.validate())
        self.history.append(stats)
        self._log_epoch(stats, seconds)
        self.checkpoint(epoch + 1, 0)
        for hook in self.hooks:
            hook.on_epoch_end(epoch, stats)
        return stats

    def _begin_epoch(self, epoch: int) -> None:
        """Hooks first (an LR schedule sets the rate), then the optimizer config `average` rounds ship."""
        for hook in self.hooks:
            hook.on_epoch_begin(epoch)
        if self.config.mode == AVERAGE:
            from ..tf import keras_objects

            self.optimizer_config = keras_objects.optimizer_config(self.optimizer)

    def validate(self) -> dict:
        """val_loss and val_<metric> over every validation row, with the current weights."""
        result = self._with_weights(lambda spec: jobs.evaluate(self.validation_df, self.config.columns, spec),
                                    -1, EVALUATE, 0, ALL_POSITIONS)
        return self.values("val_", result)

    def _log_epoch(self, stats: dict, seconds: float) -> None:
        epochs, epoch = self.config.epochs, stats["epoch"]
        shown = " ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in stats.items()
                         if "loss" in k or k in self.metric_names or k.startswith("val_"))
        log.info("epoch %d/%d %s | %.0f samples/s | ETA %.0fs", epoch, epochs, shown,
                 stats["samples_per_second"], seconds * (epochs - epoch))

    def checkpoint(self, epoch: int, round_in_epoch: int) -> None:
        """Save weights, optimizer state, position, history and the run's settings (with a checkpoint_dir)."""
        if not self.checkpoint_dir:
            return
        from ..tf import gradients

        state = {"epoch": epoch, "round_in_epoch": round_in_epoch,
                 "global_round": epoch * self.rounds_per_epoch + round_in_epoch, "history": self.history,
                 "rows": self.data.rows, "settings": self.settings}
        ckpt.save(self.checkpoint_dir, ckpt.Checkpoint(gradients.get_weights(self.model),
                                                       gradients.optimizer_state(self.optimizer), state), self.spark)
        self.last_checkpoint = (epoch, round_in_epoch)
