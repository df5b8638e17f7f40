"""Driver side: what a training run tells its observers, and Keras callbacks as one of them.

`TrainingHook` is the small protocol `TrainingRun` calls: train begin/end, epoch begin/end (with
the epoch's history entry as Keras-style logs), round end. `KerasCallbacks` drives a list of
`keras.callbacks.Callback` exactly where `model.fit` would: the model's `stop_training` ends the
run after the epoch (EarlyStopping), and the driver's optimizer is the model's `optimizer` while
the run lasts, so LearningRateScheduler / ReduceLROnPlateau change the learning rate that the
next rounds use.
"""
from __future__ import annotations

from ..errors import ConfigError

HISTORY_ONLY = ("epoch", "samples", "rounds", "seconds")  # history keys that are not Keras logs
CALLBACK_METHODS = ("set_model", "set_params", "on_train_begin", "on_epoch_begin", "on_epoch_end",
                    "on_train_batch_end", "on_train_end")


class TrainingHook:
    """No-op observer of a training run (driver); subclasses override what they need."""

    def on_train_begin(self, run) -> None:
        pass

    def on_epoch_begin(self, epoch: int) -> None:
        pass

    def on_round_end(self, epoch: int, round_in_epoch: int, logs: dict) -> None:
        pass

    def on_epoch_end(self, epoch: int, stats: dict) -> None:
        pass

    def on_train_end(self, history: list, error: BaseException = None) -> None:
        pass


def keras_logs(stats: dict) -> dict:
    """An epoch's history entry as the logs Keras callbacks get (loss, metrics, val_*, samples_per_second)."""
    return {k: v for k, v in stats.items() if k not in HISTORY_ONLY}


class KerasCallbacks(TrainingHook):
    """Runs Keras callbacks at the points `model.fit` runs them (driver)."""

    def __init__(self, callbacks):
        callbacks = list(callbacks)
        wrong = [type(c).__name__ for c in callbacks if not all(hasattr(c, name) for name in CALLBACK_METHODS)]
        if wrong:
            raise ConfigError(f"callbacks must be keras.callbacks.Callback instances, got {wrong}; wrap a function "
                              f"in keras.callbacks.LambdaCallback")
        self.callbacks, self.model, self.saved_optimizer = callbacks, None, None

    def _call(self, method: str, *args) -> None:
        for callback in self.callbacks:
            getattr(callback, method)(*args)

    def on_train_begin(self, run) -> None:
        self.model = run.model
        self.saved_optimizer = getattr(self.model, "optimizer", None)
        self.model.optimizer = run.optimizer  # LR schedules set model.optimizer.learning_rate
        self.model.stop_training = False
        self._call("set_model", self.model)
        self._call("set_params", {"verbose": 0, "epochs": run.config.epochs, "steps": run.rounds_per_epoch})
        self._call("on_train_begin", {})

    def on_epoch_begin(self, epoch: int) -> None:
        self._call("on_epoch_begin", epoch, {})

    def on_round_end(self, epoch: int, round_in_epoch: int, logs: dict) -> None:
        self._call("on_train_batch_end", round_in_epoch, dict(logs))

    def on_epoch_end(self, epoch: int, stats: dict) -> None:
        self._call("on_epoch_end", epoch, keras_logs(stats))  # one dict, shared as in Keras's CallbackList

    def on_train_end(self, history: list, error: BaseException = None) -> None:
        if self.model is None:
            return
        if error is None:
            self._call("on_train_end", keras_logs(history[-1]) if history else {})
        self.model.optimizer = self.saved_optimizer
