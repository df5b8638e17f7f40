"""Driver side: log a training run to MLflow (`train(..., mlflow=...)`).

mlflow=True, or None with an active run: log into the active run, or a new run in the current
experiment (ended when training ends: FINISHED, or FAILED on an error). mlflow=<run id>: log into
that run. False: never. Logged: params (mode, batch_size, epochs, local_steps, partitions, loss,
metrics, optimizer.*), per-epoch metrics (loss, metrics, val_*, samples_per_second) with
step=epoch (1, 2, ...), and at the end the trained model as an MLflow TensorFlow/Keras model under
`model` (registered as `register_as` when given).
"""
from __future__ import annotations

import logging
from typing import Optional

from ..errors import ConfigError
from ..runtime.mlflow_models import require_mlflow
from .callbacks import TrainingHook, keras_logs

log = logging.getLogger(__name__)
ARTIFACT = "model"
MAX_PARAM = 500  # characters kept of one param value


def tracking_hook(mlflow, register_as=None) -> Optional["MlflowTracking"]:
    """The hook for train's `mlflow` argument, or None when nothing is to be logged."""
    if mlflow is False or (mlflow is None and register_as is None and not _active_run()):
        return None
    if not (mlflow is None or isinstance(mlflow, (bool, str))):
        raise ConfigError(f"mlflow must be True, False, None or an MLflow run id, got {type(mlflow).__name__}")
    return MlflowTracking(mlflow if isinstance(mlflow, str) else None, register_as)


def _active_run():
    try:
        import mlflow
    except ImportError:
        return None
    return mlflow.active_run()


def _params(run) -> dict:
    config = run.config
    params = {"mode": config.mode, "batch_size": config.batch_size, "epochs": config.epochs,
              "partitions": run.data.partitions, "loss": str(config.loss), "metrics": ",".join(run.metric_names),
              "rows": run.data.rows, "optimizer": type(run.optimizer).__name__}
    if config.mode == "average":
        params["local_steps"] = config.local_steps
    for key, value in run.optimizer.get_config().items():
        if isinstance(value, (int, float, str, bool)):
            params[f"optimizer.{key}"] = value
    return {k: str(v)[:MAX_PARAM] for k, v in params.items()}


class MlflowTracking(TrainingHook):
    """Params at the start, metrics per epoch, the model at the end (driver)."""

    def __init__(self, run_id: Optional[str], register_as: Optional[str]):
        self.mlflow = require_mlflow()
        self.run_id, self.register_as, self.started, self.model = run_id, register_as, False, None
        self.model_uri = None

    def on_train_begin(self, run) -> None:
        mlflow, active = self.mlflow, self.mlflow.active_run()
        if active is None or (self.run_id and active.info.run_id != self.run_id):
            mlflow.start_run(run_id=self.run_id, nested=active is not None)
            self.started = True
        self.run_id, self.model = mlflow.active_run().info.run_id, run.model
        if not run.history:  # a resumed run logged its params already
            mlflow.log_params(_params(run))
        log.info("logging to MLflow run %s (%s)", self.run_id, mlflow.get_tracking_uri())

    def on_epoch_end(self, epoch: int, stats: dict) -> None:
        self.mlflow.log_metrics(_scalars(keras_logs(stats)), step=stats["epoch"], run_id=self.run_id)

    def on_train_end(self, history: list, error: BaseException = None) -> None:
        try:
            if error is None:
                info = self.mlflow.tensorflow.log_model(self.model, name=ARTIFACT,
                                                        registered_model_name=self.register_as)
                self.model_uri = info.model_uri
                log.info("model logged to MLflow as %s%s", info.model_uri,
                         f", registered as {self.register_as} version {info.registered_model_version}"
                         if self.register_as else "")
        finally:
            if self.started:
                self.mlflow.end_run(status="FINISHED" if error is None else "FAILED")


def _scalars(logs: dict) -> dict:
    """MLflow metrics from an epoch's logs: a per-class list (F1Score() without average=) becomes
    one metric per class, `<name>_<class>`."""
    metrics = {}
    for name, value in logs.items():
        if isinstance(value, (list, tuple)):
            metrics.update({f"{name}_{index}": float(item) for index, item in enumerate(value)})
        elif isinstance(value, (int, float)):
            metrics[name] = float(value)
    return metrics
