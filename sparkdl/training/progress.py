"""Driver side: watching and stopping a training run.

* Logging: one line per epoch on the `sparkdl` logger; when neither it nor the root logger has a
  handler, `ensure_handler` adds one (stderr, `time level message`).
* Inside an epoch: a tqdm bar when the session is interactive and tqdm is installed, otherwise a
  round counter in the log every ~10% of the epoch.
* Job group: a whole `train` call runs under one Spark job group (`sparkdl-train-<12 hex digits>`
  or the caller's `job_group`); `sc.cancelJobGroup(group)` stops the running round, and the run raises
  `TrainingCancelledError` naming its last checkpoint. A cancel between two round jobs cancels
  nothing in Spark, so `cancel(spark, group)` (public as `sparkdl.cancel_training`) also marks
  the group for the loop to stop at the next round. The group covers the whole call, from the
  job that lays out the rows on.
"""
from __future__ import annotations

import contextlib
import logging
import sys

from ..errors import TrainingCancelledError  # noqa: F401  (re-exported: sparkdl.training.progress)
from ..runtime.jobinfo import describe
from ..runtime.worker import LOG_FORMAT
from .callbacks import TrainingHook

log = logging.getLogger(__name__)
GROUP = "spark.jobGroup.id"
_cancelled = set()  # job groups cancel() was called for (driver process)


def ensure_handler() -> None:
    """Give the `sparkdl` logger a stderr handler at INFO when logging is not configured at all."""
    root, package = logging.getLogger(), logging.getLogger("sparkdl")
    if root.handlers or package.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    package.addHandler(handler)
    if package.level == logging.NOTSET:
        package.setLevel(logging.INFO)


def cancel(spark, group: str) -> None:
    """Stop the training run of job group `group` (driver, any thread): its running job now, or its
    next round; the `train` call raises TrainingCancelledError. Public as `sparkdl.cancel_training`."""
    _cancelled.add(group)
    spark.sparkContext.cancelJobGroup(group)


def check_not_cancelled(group: str) -> None:
    if group in _cancelled:
        raise TrainingCancelledError(f"training job group {group!r} was cancelled")


def is_cancellation(error: BaseException, group: str) -> bool:
    """Whether a Spark job failed because job group `group` was cancelled."""
    text = str(error)
    return group in _cancelled or ("cancel" in text.lower() and group in text)


@contextlib.contextmanager
def job_group(sc, group: str, description: str):
    """Every job started inside belongs to `group` (interrupting tasks on cancel); the caller's
    group, description and interrupt setting are put back after. Inside a block of the same group
    this changes nothing (a pending cancel() stays pending)."""
    keys = (GROUP, "spark.job.description", "spark.job.interruptOnCancel")
    previous = {key: sc.getLocalProperty(key) for key in keys}
    if previous[GROUP] == group:
        yield
        return
    sc.setJobGroup(group, description, interruptOnCancel=True)
    _cancelled.discard(group)
    try:
        yield
    finally:
        _cancelled.discard(group)
        for key, value in previous.items():
            sc.setLocalProperty(key, value)


def interactive() -> bool:
    """A notebook kernel or a terminal session."""
    return "ipykernel" in sys.modules or hasattr(sys, "ps1") or sys.stderr.isatty()


class Progress(TrainingHook):
    """Job descriptions per round, and progress inside an epoch: a tqdm bar or a counter in the log."""

    def __init__(self, spark):
        self.spark, self.run, self.bar, self.every = spark, None, None, 1

    def on_train_begin(self, run) -> None:
        self.run = run
        self.every = max(1, run.rounds_per_epoch // 10)

    def on_epoch_begin(self, epoch: int) -> None:
        self.describe_round(epoch, 0)
        if interactive():
            with contextlib.suppress(ImportError):
                from tqdm.auto import tqdm

                self.bar = tqdm(total=self.run.rounds_per_epoch, desc=f"epoch {epoch + 1}/{self.run.config.epochs}",
                                unit="round", leave=False)

    def describe_round(self, epoch: int, round_in_epoch: int) -> None:
        """The description the next round's jobs carry (1-based numbers, as in the log)."""
        describe(self.spark, f"sparkdl train: epoch {epoch + 1}/{self.run.config.epochs} "
                             f"round {round_in_epoch + 1}/{self.run.rounds_per_epoch}")

    def on_round_end(self, epoch: int, round_in_epoch: int, logs: dict) -> None:
        done = round_in_epoch + 1
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{logs['loss']:.4f}", refresh=False)
        elif done % self.every == 0 and done < self.run.rounds_per_epoch:
            log.info("progress: round %d/%d of epoch %d/%d, loss=%.4f", done, self.run.rounds_per_epoch,
                     epoch + 1, self.run.config.epochs, logs["loss"])
        if done < self.run.rounds_per_epoch:
            self.describe_round(epoch, done)

    def on_epoch_end(self, epoch: int, stats: dict) -> None:
        self._close()

    def on_train_end(self, history: list, error: BaseException = None) -> None:
        self._close()

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
