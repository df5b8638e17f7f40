"""Executor side: one training round over one partition's rows, as a `mapInArrow` function.

The task loads the Keras model once per Python worker (the packed model is broadcast once per
run, unpacked once per executor), sets the round's broadcast weights, reads its rows as tensors
and returns ONE row: a flat float32 payload (gradient sum in `sync`, sample-weighted weights in
`average`, empty in `evaluate`), the sample count, the loss sum and the metric sums.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Tuple

import numpy as np
import pyarrow as pa

from ..errors import TensorError
from ..inference.cache import ModelRef, local_model_path
from ..signature import TensorSpec
from ..tensors import column_to_tensor

SYNC, AVERAGE, EVALUATE = "sync", "average", "evaluate"
RESULT_SCHEMA = "payload binary, count long, loss double, metrics binary"
_trainers = {}


@dataclass(frozen=True)
class RoundSpec:
    """What every task of a round needs; shipped in the task closure."""

    model: ModelRef
    weights: Any  # Broadcast of the flat weight vector
    round: int
    mode: str
    loss: str
    metrics: Tuple[str, ...]
    features: Tuple[Tuple[TensorSpec, str], ...]
    label: TensorSpec
    label_column: str
    local_batch: int = 0
    optimizer: Optional[dict] = None  # Keras optimizer config, for `average`


def _trainer(spec: RoundSpec):
    """The worker's ShardTrainer for this model and loss (built once per Python worker)."""
    key = (spec.model.fingerprint, spec.loss, spec.metrics)
    if key not in _trainers:
        import keras

        from ..tf.gradients import ShardTrainer

        model = keras.models.load_model(local_model_path(spec.model), compile=False)
        _trainers.clear()  # one training run at a time per worker: free the previous model
        _trainers[key] = ShardTrainer(model, spec.loss, spec.metrics)
    return _trainers[key]


def _tensors(spec: RoundSpec, table: pa.Table):
    features = []
    for tensor_spec, column in spec.features:
        values = column_to_tensor(table.column(column), column, tensor_spec.numpy_dtype, tensor_spec.inner_shape)
        if not np.isfinite(values).all():
            bad = int(np.flatnonzero(~np.isfinite(values.reshape(len(values), -1)).all(axis=1))[0])
            raise TensorError(f"round {spec.round}: column '{column}' holds NaN or infinity (row {bad} of this "
                              f"task's rows); clean the data, e.g. df.na.drop() / F.isnan filters, before train()")
        features.append(values)
    label = column_to_tensor(table.column(spec.label_column), spec.label_column, spec.label.numpy_dtype,
                             spec.label.inner_shape)
    if label.dtype.kind == "f" and not np.isfinite(label).all():
        raise TensorError(f"round {spec.round}: label column '{spec.label_column}' holds NaN or infinity")
    return (features[0] if len(features) == 1 else features), label


def _result(payload: np.ndarray, count: int, loss: float, metrics: np.ndarray) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict({
        "payload": pa.array([payload.astype(np.float32).tobytes()], pa.binary()),
        "count": pa.array([count], pa.int64()), "loss": pa.array([loss], pa.float64()),
        "metrics": pa.array([np.asarray(metrics, np.float64).tobytes()], pa.binary())})


def run_round(spec: RoundSpec, batches) -> pa.RecordBatch:
    """Compute this partition's contribution to the round."""
    from ..tf import gradients

    batches = list(batches)
    table = pa.Table.from_batches(batches) if batches else None
    if table is None or table.num_rows == 0:
        return _result(np.zeros(0, np.float32), 0, 0.0, np.zeros(len(spec.metrics)))
    trainer = _trainer(spec)
    gradients.set_weights(trainer.model, spec.weights.value)
    x, y = _tensors(spec, table)
    if spec.mode == SYNC:
        gradient, loss, metrics = trainer.gradient_sums(x, y)
        return _result(gradient, table.num_rows, loss, metrics)
    if spec.mode == AVERAGE:
        import keras

        optimizer = keras.optimizers.deserialize(spec.optimizer)
        loss, metrics = trainer.local_steps(optimizer, x, y, spec.local_batch)
        return _result(gradients.get_weights(trainer.model) * table.num_rows, table.num_rows, loss, metrics)
    loss, metrics = trainer.evaluate(x, y)
    return _result(np.zeros(0, np.float32), table.num_rows, loss, metrics)


def round_function(spec: RoundSpec):
    """The `mapInArrow` function for a round: batches of rows in, one result row out."""

    def compute(batches):
        yield run_round(spec, batches)

    return compute


def decode(row) -> tuple:
    """Executor/driver: a result Row -> (payload vector, count, loss sum, metric sums)."""
    return (np.frombuffer(row.payload, np.float32).astype(np.float64), row["count"], row.loss,
            np.frombuffer(row.metrics, np.float64))


def combine(a: tuple, b: tuple) -> tuple:
    """Add two partial results (empty payloads are zeros)."""
    if a[0].size == 0:
        payload = b[0]
    elif b[0].size == 0:
        payload = a[0]
    else:
        payload = a[0] + b[0]
    return payload, a[1] + b[1], a[2] + b[2], a[3] + b[3]
